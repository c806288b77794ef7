//! The client's state (one per page), options, contexts and event construction.

use crate::{console_error, console_warn, get, now, set};
use edge_exp_core::matcher::Goal;
use js_sys::{Array, Object};
use std::cell::RefCell;
use wasm_bindgen::prelude::*;

pub struct Options {
    pub base_url: String,
    pub events_url: String,
    pub flush_interval_ms: i32,
    pub send_events_on_all_flags: bool,
    pub capacity: usize,
}

impl Options {
    pub fn from_js(o: &JsValue) -> Self {
        let origin = web_sys::window()
            .and_then(|w| w.location().origin().ok())
            .unwrap_or_default();
        let string = |k: &str| {
            get(o, k)
                .as_string()
                .map(|s| s.trim_end_matches('/').to_owned())
        };
        let base_url = string("baseUrl").unwrap_or(origin);
        Options {
            events_url: string("eventsUrl").unwrap_or_else(|| base_url.clone()),
            base_url,
            flush_interval_ms: get(o, "flushInterval")
                .as_f64()
                .filter(|v| *v >= 100.0)
                .map_or(5000, |v| v as i32),
            send_events_on_all_flags: get(o, "sendEventsOnAllFlags").as_bool().unwrap_or(true),
            capacity: get(o, "capacity")
                .as_f64()
                .filter(|v| *v >= 1.0)
                .map_or(100, |v| v as usize),
        }
    }
}

pub struct State {
    pub client_side_id: String,
    pub context: JsValue,
    pub options: Options,
    pub flags: JsValue,
    pub goals: Vec<Goal>,
    pub queue: Vec<JsValue>,
    pub dropped: u32,
    pub sent: u32,
    /// Set after a 401/403/404 from the events route: like LaunchDarkly's SDKs, stop sending.
    pub disabled: bool,
    pub last_href: String,
    pub timer: Option<i32>,
}

thread_local! {
    static STATE: RefCell<Option<State>> = const { RefCell::new(None) };
}

/// Run `f` on the state if the client is initialised (never across an await).
pub fn with_state<R>(f: impl FnOnce(&mut State) -> R) -> Option<R> {
    STATE.with(|s| s.borrow_mut().as_mut().map(f))
}

pub fn install(state: State) -> bool {
    STATE.with(|s| {
        let mut slot = s.borrow_mut();
        if slot.is_some() {
            return false;
        }
        *slot = Some(state);
        true
    })
}

pub fn uninstall() {
    if let Some(s) = STATE.with(|s| s.borrow_mut().take()) {
        if let (Some(w), Some(t)) = (web_sys::window(), s.timer) {
            w.clear_interval_with_handle(t);
        }
    }
}

pub fn error_reason(kind: &str) -> JsValue {
    let r: JsValue = Object::new().into();
    set(&r, "kind", &JsValue::from_str("ERROR"));
    set(&r, "errorKind", &JsValue::from_str(kind));
    r
}

/// Random hex from the browser's CSPRNG.
fn random_key() -> String {
    let mut buf = [0u8; 16];
    if getrandom::getrandom(&mut buf).is_err() {
        // No CSPRNG: fall back to time + Math.random (keys only need to be unique).
        let t = (now() as u64).to_le_bytes();
        let r = ((js_sys::Math::random() * 1e15) as u64).to_le_bytes();
        return crate::hex(&[t, r].concat());
    }
    crate::hex(&buf)
}

/// Give an anonymous (or keyless) single context a key that survives reloads (localStorage), so a
/// returning visitor keeps their variation.
fn fill_anonymous_key(ctx: &JsValue, kind: &str) {
    let key = get(ctx, "key").as_string().unwrap_or_default();
    if !key.is_empty() {
        return;
    }
    let storage = web_sys::window().and_then(|w| w.local_storage().ok().flatten());
    let slot = crate::cat(&["edge-exp:anonymous:", kind]);
    let stored = storage
        .as_ref()
        .and_then(|s| s.get_item(&slot).ok().flatten());
    let key = stored.unwrap_or_else(|| {
        let k = random_key();
        if let Some(s) = &storage {
            let _ = s.set_item(&slot, &k);
        }
        k
    });
    set(ctx, "key", &JsValue::from_str(&key));
    set(ctx, "anonymous", &JsValue::TRUE);
}

/// Validate and copy a context, filling anonymous keys. `None` (logged) when it is unusable.
pub fn prepare_context(context: &JsValue) -> Option<JsValue> {
    if !context.is_object() {
        console_error("context must be an object like {kind: 'user', key: 'u1'}");
        return None;
    }
    let copy = js_sys::JSON::parse(&js_sys::JSON::stringify(context).ok()?.as_string()?).ok()?;
    let kind = get(&copy, "kind")
        .as_string()
        .unwrap_or_else(|| "user".into());
    if kind == "multi" {
        let kinds = Object::keys(&Object::from(copy.clone()));
        let mut any = false;
        for k in kinds
            .iter()
            .filter_map(|k| k.as_string())
            .filter(|k| k != "kind")
        {
            let part = get(&copy, &k);
            if !part.is_object() {
                console_error(&crate::cat(&["context.", &k, " must be an object"]));
                return None;
            }
            fill_anonymous_key(&part, &k);
            any = true;
        }
        if !any {
            console_error("a multi-kind context needs at least one kind");
            return None;
        }
    } else {
        set(&copy, "kind", &JsValue::from_str(&kind));
        let key = get(&copy, "key");
        if !key.is_undefined() && !key.is_null() && key.as_string().is_none() {
            console_error("context.key must be a string");
            return None;
        }
        fill_anonymous_key(&copy, &kind);
    }
    Some(copy)
}

/// `{kind: key}` for every kind of a context (click and page-view events use this form).
pub fn context_keys(ctx: &JsValue) -> JsValue {
    let out: JsValue = Object::new().into();
    if get(ctx, "kind").as_string().as_deref() == Some("multi") {
        for k in Object::keys(&Object::from(ctx.clone()))
            .iter()
            .filter_map(|k| k.as_string())
        {
            if k != "kind" {
                set(&out, &k, &get(&get(ctx, &k), "key"));
            }
        }
    } else {
        set(
            &out,
            &get(ctx, "kind")
                .as_string()
                .unwrap_or_else(|| "user".into()),
            &get(ctx, "key"),
        );
    }
    out
}

pub fn current_href() -> String {
    web_sys::window()
        .and_then(|w| w.location().href().ok())
        .unwrap_or_default()
}

impl State {
    pub fn new(client_side_id: String, context: JsValue, options: Options) -> Self {
        State {
            client_side_id,
            context,
            options,
            flags: Object::new().into(),
            goals: Vec::new(),
            queue: Vec::new(),
            dropped: 0,
            sent: 0,
            disabled: false,
            last_href: current_href(),
            timer: None,
        }
    }

    fn event(&self, kind: &str, key: &str) -> JsValue {
        let e: JsValue = Object::new().into();
        set(&e, "kind", &JsValue::from_str(kind));
        set(&e, "key", &JsValue::from_str(key));
        set(&e, "creationDate", &JsValue::from_f64(now().floor()));
        e
    }

    /// Queue an event; when the queue is full, the event is dropped (counted, warned once), and a
    /// flush is started.
    pub fn enqueue(&mut self, event: JsValue) {
        if self.disabled {
            return;
        }
        if self.queue.len() >= self.options.capacity {
            if self.dropped == 0 {
                console_warn("event queue is full; dropping events until the next flush");
            }
            self.dropped += 1;
            return;
        }
        self.queue.push(event);
        if self.queue.len() >= self.options.capacity {
            wasm_bindgen_futures::spawn_local(async {
                crate::send::flush(false).await;
            });
        }
    }

    /// A `feature` event, for flags that track events (experiments) or while debugging.
    pub fn queue_feature_event(&mut self, key: &str, flag: &JsValue, default: &JsValue) {
        if !get(flag, "trackEvents").as_bool().unwrap_or(false) {
            return;
        }
        let e = self.event("feature", key);
        set(&e, "context", &self.context);
        set(&e, "value", &get(flag, "value"));
        set(&e, "default", default);
        let variation = get(flag, "variation");
        if variation.as_f64().is_some() {
            set(&e, "variation", &variation);
        }
        let version = get(flag, "flagVersion");
        set(
            &e,
            "version",
            &if version.is_undefined() {
                get(flag, "version")
            } else {
                version
            },
        );
        if get(flag, "trackReason").as_bool().unwrap_or(false) {
            set(&e, "reason", &get(flag, "reason"));
        }
        self.enqueue(e);
    }

    pub fn queue_custom(&mut self, key: &str, data: &JsValue, metric_value: &JsValue) {
        let e = self.event("custom", key);
        set(&e, "context", &self.context);
        set(&e, "url", &JsValue::from_str(&current_href()));
        if !data.is_undefined() && !data.is_null() {
            set(&e, "data", data);
        }
        if metric_value.as_f64().is_some() {
            set(&e, "metricValue", metric_value);
        }
        self.enqueue(e);
    }

    pub fn queue_goal_event(&mut self, kind: &str, key: &str, selector: Option<&str>) {
        let e = self.event(kind, key);
        set(&e, "url", &JsValue::from_str(&current_href()));
        set(&e, "contextKeys", &context_keys(&self.context));
        if let Some(sel) = selector {
            set(&e, "selector", &JsValue::from_str(sel));
        }
        self.enqueue(e);
    }
}

pub fn queue_identify() {
    with_state(|s| {
        let e = s.event("identify", "");
        let _ =
            js_sys::Reflect::delete_property(&Object::from(e.clone()), &JsValue::from_str("key"));
        set(&e, "context", &s.context);
        s.enqueue(e);
    });
}

/// Evaluate the flags for the current context. `false` if the server could not be reached.
pub async fn load_flags() -> bool {
    let Some((url, body)) = with_state(|s| {
        (
            crate::cat(&[
                &s.options.base_url,
                "/sdk/evalx/",
                &s.client_side_id,
                "/context",
            ]),
            js_sys::JSON::stringify(&s.context)
                .ok()
                .and_then(|j| j.as_string())
                .unwrap_or_default(),
        )
    }) else {
        return false;
    };
    match crate::send::fetch_json("REPORT", &url, Some(&body)).await {
        Some(flags) if flags.is_object() => {
            with_state(|s| s.flags = flags);
            true
        }
        _ => {
            console_error("could not load flags; variation() returns defaults");
            false
        }
    }
}

pub async fn load_flags_and_goals() -> bool {
    let goals_url =
        with_state(|s| crate::cat(&[&s.options.base_url, "/sdk/goals/", &s.client_side_id]))
            .unwrap_or_default();
    let (flags_ok, goals) = futures_join(
        load_flags(),
        crate::send::fetch_json("GET", &goals_url, None),
    )
    .await;
    let parsed = goals
        .map(|g| crate::goals::parse(&Array::from(&g)))
        .unwrap_or_default();
    with_state(|s| s.goals = parsed);
    flags_ok
}

/// Await two futures concurrently (tiny, to avoid a futures dependency).
async fn futures_join<A, B>(
    a: impl std::future::Future<Output = A>,
    b: impl std::future::Future<Output = B>,
) -> (A, B) {
    let pa = Box::pin(a);
    let pb = Box::pin(b);
    let (mut ra, mut rb) = (None, None);
    let mut pa = Some(pa);
    let mut pb = Some(pb);
    std::future::poll_fn(move |cx| {
        if let Some(f) = pa.as_mut() {
            if let std::task::Poll::Ready(v) = f.as_mut().poll(cx) {
                ra = Some(v);
                pa = None;
            }
        }
        if let Some(f) = pb.as_mut() {
            if let std::task::Poll::Ready(v) = f.as_mut().poll(cx) {
                rb = Some(v);
                pb = None;
            }
        }
        match (ra.take(), rb.take()) {
            (Some(a), Some(b)) => std::task::Poll::Ready((a, b)),
            (a, b) => {
                ra = a;
                rb = b;
                std::task::Poll::Pending
            }
        }
    })
    .await
}
