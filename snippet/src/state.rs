//! The client's state (one per page), options, contexts and event construction.

use crate::action::{self, Action};
use crate::batch::Batch;
use crate::js::{self, error, get, set, set_str, warn};
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};
use edge_exp_core::matcher::Goal;
use js_sys::{Object, Promise, JSON};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// Keep-alive requests of a page may carry 64 KiB of bodies in flight, all together (Fetch
/// standard; `sendBeacon` shares the same budget).
pub const KEEPALIVE_BUDGET: usize = 65_536;
/// A flush starts once this much JSON is queued, and no post is larger (an event larger than it
/// goes alone): a quarter of the budget, so several fit in it when the page is left.
pub const FLUSH_BYTES: usize = KEEPALIVE_BUDGET / 4;

pub struct Options {
    pub base_url: JsValue,
    pub events_url: JsValue,
    pub flush_interval_ms: i32,
    pub send_events_on_all_flags: bool,
    pub capacity: u32,
}

impl Options {
    pub fn from_js(o: &JsValue) -> Self {
        // A URL option without its trailing slashes (paths are appended to it).
        let url = |k: &str, default: &JsValue| {
            let url = js::trim_slashes(&get(o, k));
            if url.is_undefined() {
                default.clone()
            } else {
                url
            }
        };
        let number = |k: &str, min: f64| get(o, k).as_f64().filter(|v| *v >= min);
        let base_url = url("baseUrl", &js::location("origin"));
        Options {
            events_url: url("eventsUrl", &base_url),
            base_url,
            flush_interval_ms: number("flushInterval", 100.0).map_or(5000, |v| v as i32),
            send_events_on_all_flags: get(o, "sendEventsOnAllFlags").as_bool().unwrap_or(true),
            capacity: number("capacity", 1.0).map_or(100, |v| v as u32),
        }
    }
}

pub struct State {
    pub client_side_id: JsValue,
    pub context: JsValue,
    pub options: Options,
    pub flags: JsValue,
    pub goals: Vec<Goal>,
    /// Events waiting to be sent, as JSON text (`JSON.stringify` when queued: their size is known)
    /// and its UTF-8 size.
    pub queue: Vec<(JsValue, usize)>,
    /// Bytes of the queue's JSON: a flush starts once it reaches a quarter of the keep-alive budget.
    pub queued_bytes: usize,
    /// A flush is scheduled (once, however many events arrive before it runs).
    pub flush_due: bool,
    /// Bytes of keep-alive bodies in flight (the browser allows 64 KiB per page, all together).
    pub keepalive_bytes: usize,
    /// Every payload posted and not yet answered, or waiting for its retry. Those not posted with
    /// keep-alive are what a page exit would lose.
    pub posts: Vec<Batch>,
    /// The last post's attempt number.
    pub attempts: u32,
    pub dropped: u32,
    pub sent: u32,
    /// Set after a 401/403/404 from the events route: like LaunchDarkly's SDKs, stop sending.
    pub disabled: bool,
    pub last_href: String,
    pub timer: Option<i32>,
    /// The page runs under automation (`navigator.webdriver`, or a global an automation tool
    /// defines: [`automated`]): said to the Worker as `wd=1` on
    /// evalx and events requests, so its bot filter keeps the page out of experiments.
    pub webdriver: bool,
}

/// The page's one client, and whether the page listeners are installed (once per page: they
/// outlive `close()` and find no client until the next `init`).
struct Page {
    state: RefCell<Option<State>>,
    listening: Cell<bool>,
    /// The `history` methods the page's wrappers call (`keep_original`).
    originals: RefCell<Vec<js_sys::Function>>,
}

// SAFETY: wasm32-unknown-unknown without the atomics feature runs the snippet on the page's one
// thread; nothing else can reach this static.
unsafe impl Sync for Page {}

static PAGE: Page = Page {
    state: RefCell::new(None),
    listening: Cell::new(false),
    originals: RefCell::new(Vec::new()),
};

/// Keep a function the page's wrapper will call; its number. `None` if it is not a function.
pub fn keep_original(f: &JsValue) -> Option<u32> {
    let mut kept = PAGE.originals.try_borrow_mut().ok()?;
    kept.push(f.clone().dyn_into().ok()?);
    Some(kept.len() as u32 - 1)
}

/// The function kept as number `n`.
pub fn original(n: u32) -> Option<js_sys::Function> {
    PAGE.originals.try_borrow().ok()?.get(n as usize).cloned()
}

/// Run `f` on the state if the client is initialised. `None` also if the state is already in use
/// further up the stack (a re-entrant call from a synchronous event), so nothing can panic.
pub fn with_state<R>(f: impl FnOnce(&mut State) -> R) -> Option<R> {
    PAGE.state.try_borrow_mut().ok()?.as_mut().map(f)
}

pub fn install(state: State) -> bool {
    match PAGE.state.try_borrow_mut() {
        Ok(mut slot) if slot.is_none() => {
            *slot = Some(state);
            true
        }
        _ => false,
    }
}

pub fn uninstall() {
    let Some(s) = PAGE.state.try_borrow_mut().ok().and_then(|mut s| s.take()) else {
        return;
    };
    if let Some(t) = s.timer {
        js::call(
            &js::window(),
            "clearInterval",
            &JsValue::from(t),
            &JsValue::UNDEFINED,
        );
    }
}

/// `true` the first time it is called on a page.
pub fn first_start() -> bool {
    !PAGE.listening.replace(true)
}

pub fn error_reason(kind: &str) -> JsValue {
    let r = js::object();
    set_str(&r, "kind", "ERROR");
    set_str(&r, "errorKind", kind);
    r
}

/// Give an anonymous (or keyless) single context a key that survives reloads (localStorage), so a
/// returning visitor keeps their variation.
fn fill_anonymous_key(ctx: &JsValue, kind: &JsValue) {
    let key = get(ctx, "key");
    if key.is_string() && !js::is(&key, "") {
        return;
    }
    let storage = js::storage();
    let slot = js::concat("edge-exp:anonymous:", kind);
    let mut key = js::call(&storage, "getItem", &slot, &JsValue::UNDEFINED);
    if !key.is_string() {
        key = js::random_id(false);
        js::call(&storage, "setItem", &slot, &key);
    }
    set(ctx, "key", &key);
    set(ctx, "anonymous", &JsValue::TRUE);
}

/// Validate and copy a context, filling anonymous keys. `None` (logged) when it is unusable.
pub fn prepare_context(context: &JsValue) -> Option<JsValue> {
    let copy = js::json_copy(context);
    if !context.is_object() || !copy.is_object() {
        error("context must be an object like {kind: 'user', key: 'u1'}");
        return None;
    };
    let kind = kind_of(&copy);
    if js::is(&kind, "multi") {
        let mut any = false;
        for k in kinds(&copy) {
            let part = js::get_key(&copy, &k);
            if !part.is_object() {
                error("each kind of a multi-kind context must be an object");
                return None;
            }
            fill_anonymous_key(&part, &k);
            any = true;
        }
        if !any {
            error("a multi-kind context needs at least one kind");
            return None;
        }
    } else {
        set(&copy, "kind", &kind);
        let key = get(&copy, "key");
        if !key.is_undefined() && !key.is_null() && !key.is_string() {
            error("context.key must be a string");
            return None;
        }
        fill_anonymous_key(&copy, &kind);
    }
    Some(copy)
}

/// A context's `kind` ("user" when it has none that is a string).
fn kind_of(ctx: &JsValue) -> JsValue {
    let kind = get(ctx, "kind");
    if kind.is_string() {
        kind
    } else {
        JsValue::from_str("user")
    }
}

/// The kinds of a multi-kind context (its keys other than `kind`).
fn kinds(multi: &JsValue) -> impl Iterator<Item = JsValue> {
    Object::keys(multi.unchecked_ref::<Object>())
        .into_iter()
        .filter(|k| !js::is(k, "kind"))
}

/// `{kind: key}` for every kind of a context (click and page-view events use this form).
pub fn context_keys(ctx: &JsValue) -> JsValue {
    let out = js::object();
    let kind = kind_of(ctx);
    if js::is(&kind, "multi") {
        for k in kinds(ctx) {
            js::set_key(&out, &k, &get(&js::get_key(ctx, &k), "key"));
        }
    } else {
        js::set_key(&out, &kind, &get(ctx, "key"));
    }
    out
}

/// Globals that automation tools leave in the pages they drive, one per tool family: PhantomJS,
/// Nightmare (Electron), Chrome's automation extension (`domAutomation`, also Selenium's
/// ChromeDriver of old), Playwright's bindings. Each costs its bytes in every visitor's
/// download, so only these (PhantomJS's `_phantom`, Selenium's `_selenium` and the like come with
/// `navigator.webdriver` set anyway).
const AUTOMATION_GLOBALS: [&str; 4] = [
    "callPhantom",
    "__nightmare",
    "domAutomation",
    "__playwright__binding__",
];

/// The page runs under automation: `navigator.webdriver` (set by every WebDriver and CDP
/// driver unless hidden), or a global one of the tools above defines.
fn automated(window: &JsValue) -> bool {
    get(&get(window, "navigator"), "webdriver").is_truthy()
        || AUTOMATION_GLOBALS
            .iter()
            .any(|name| !get(window, name).is_undefined())
}

/// `{kind, key?, creationDate}`: the start of every event.
fn event(kind: &str, key: &JsValue) -> JsValue {
    let e = js::object();
    set_str(&e, "kind", kind);
    if !key.is_undefined() {
        set(&e, "key", key);
    }
    set(&e, "creationDate", &JsValue::from_f64(js_sys::Date::now()));
    e
}

impl State {
    pub fn new(client_side_id: JsValue, context: JsValue, options: Options) -> Self {
        State {
            client_side_id,
            context,
            options,
            flags: js::object(),
            goals: Vec::new(),
            queue: Vec::new(),
            queued_bytes: 0,
            flush_due: false,
            keepalive_bytes: 0,
            posts: Vec::new(),
            attempts: 0,
            dropped: 0,
            sent: 0,
            disabled: false,
            last_href: js::href(),
            timer: None,
            webdriver: automated(&js::window()),
        }
    }

    /// `base` + `path` + the client-side ID + `query`.
    pub fn url(&self, base: &JsValue, path: &str, query: &str) -> JsValue {
        js::url(base, path, &self.client_side_id, query)
    }

    /// Queue an event; when the queue is full, the event is dropped (counted, warned once). A
    /// flush starts once the queue is full or its JSON reaches [`FLUSH_BYTES`], so what is queued
    /// stays small enough to go with keep-alive requests if the page is left.
    pub fn enqueue(&mut self, event: JsValue) {
        if self.disabled {
            // Refused by the Worker (401/403/404): nothing more is sent, and nothing silently.
            self.dropped += 1;
            return;
        }
        if self.queue.len() >= self.options.capacity as usize {
            if self.dropped == 0 {
                warn("event queue is full; dropping events until the next flush");
            }
            self.dropped += 1;
            return;
        }
        // Events hold only JSON copies, so this does not fail; if it did, the event is counted.
        let Ok(text) = JSON::stringify(&event) else {
            self.dropped += 1;
            return;
        };
        let text = JsValue::from(text);
        let bytes = js::utf8_len(&text);
        self.queued_bytes += bytes + 1;
        self.queue.push((text, bytes));
        let full = self.queue.len() >= self.options.capacity as usize;
        if !self.flush_due && (full || self.queued_bytes >= FLUSH_BYTES) {
            self.flush_due = true;
            // After this call returns: the flush needs the state this call is holding.
            let _ = action::then(&js::resolved(&JsValue::NULL), Action::Flush, 0);
        }
    }

    /// Take `bytes` of the keep-alive budget if they fit in what is left of it.
    pub fn reserve_keepalive(&mut self, bytes: usize) -> bool {
        let fits = self.keepalive_bytes + bytes <= KEEPALIVE_BUDGET;
        if fits {
            self.keepalive_bytes += bytes;
        }
        fits
    }

    /// Take the post of attempt `attempt` out of those in flight (`None`: it was handed on at
    /// exit, and its answer decides nothing).
    pub fn take_post(&mut self, attempt: u32) -> Option<Batch> {
        let i = self.posts.iter().position(|p| p.attempt == attempt)?;
        Some(self.posts.swap_remove(i))
    }

    /// A `feature` event, for flags that track events (experiments).
    pub fn queue_feature_event(&mut self, key: &JsValue, flag: &JsValue, default: &JsValue) {
        if get(flag, "trackEvents").as_bool() != Some(true) {
            return;
        }
        let e = event("feature", key);
        set(&e, "context", &self.context);
        set(&e, "value", &get(flag, "value"));
        set(&e, "default", default);
        let variation = get(flag, "variation");
        if variation.as_f64().is_some() {
            set(&e, "variation", &variation);
        }
        let version = get(flag, "flagVersion");
        let version = if version.is_undefined() {
            get(flag, "version")
        } else {
            version
        };
        set(&e, "version", &version);
        if get(flag, "trackReason").as_bool() == Some(true) {
            set(&e, "reason", &get(flag, "reason"));
        }
        self.enqueue(e);
    }

    pub fn queue_custom(&mut self, key: &JsValue, data: &JsValue, metric_value: &JsValue) {
        let e = event("custom", key);
        set(&e, "context", &self.context);
        set_str(&e, "url", &js::href());
        if !data.is_undefined() && !data.is_null() {
            set(&e, "data", data);
        }
        if metric_value.as_f64().is_some() {
            set(&e, "metricValue", metric_value);
        }
        self.enqueue(e);
    }

    pub fn queue_goal_event(&mut self, kind: &str, key: &str, selector: Option<&str>) {
        let e = event(kind, &JsValue::from_str(key));
        set_str(&e, "url", &js::href());
        set(&e, "contextKeys", &context_keys(&self.context));
        if let Some(sel) = selector {
            set_str(&e, "selector", sel);
        }
        self.enqueue(e);
    }
}

pub fn queue_identify() {
    with_state(|s| {
        let e = event("identify", &JsValue::UNDEFINED);
        set(&e, "context", &s.context);
        s.enqueue(e);
    });
}

/// Evaluate the flags for the current context: a promise of the flags' JSON, or `null` if the
/// server could not be reached.
pub fn load_flags() -> Promise {
    let request = with_state(|s| {
        let path = if s.webdriver {
            "/context?wd=1"
        } else {
            "/context"
        };
        (
            s.url(&s.options.base_url, "/sdk/evalx/", path),
            JSON::stringify(&s.context).map(JsValue::from),
        )
    });
    match request {
        Some((url, Ok(body))) => crate::net::fetch_json("REPORT", &url, Some(&body)),
        _ => js::resolved(&JsValue::NULL),
    }
}

/// Keep evaluated flags. `false` (logged) if they could not be loaded.
pub fn store_flags(flags: JsValue) -> bool {
    if !flags.is_object() {
        error("could not load flags; variation() returns defaults");
        return false;
    }
    with_state(|s| s.flags = flags).is_some()
}
