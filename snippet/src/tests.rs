//! Unit tests that need a browser: run in headless Chromium by wasm-bindgen-test-runner.

use crate::js::get;
use crate::state::{self, with_state, Options, State};
use crate::{goals, send};
use js_sys::Object;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn json(text: &str) -> JsValue {
    js_sys::JSON::parse(text).expect("test JSON")
}

#[wasm_bindgen_test]
fn anonymous_contexts_get_a_stable_key() {
    let storage = web_sys::window().unwrap().local_storage().unwrap().unwrap();
    storage.remove_item("edge-exp:anonymous:user").unwrap();
    let a = state::prepare_context(&json(r#"{"kind":"user","anonymous":true}"#)).unwrap();
    let key = get(&a, "key").as_string().unwrap();
    assert_eq!(key.len(), 32);
    let b = state::prepare_context(&json(r#"{"anonymous":true}"#)).unwrap();
    assert_eq!(
        get(&b, "key").as_string().unwrap(),
        key,
        "kept in localStorage"
    );
    assert_eq!(
        get(&b, "kind").as_string().unwrap(),
        "user",
        "kind defaults to user"
    );
    let named = state::prepare_context(&json(r#"{"kind":"user","key":"u1"}"#)).unwrap();
    assert_eq!(get(&named, "key").as_string().unwrap(), "u1");
    assert!(state::prepare_context(&JsValue::from_str("u1")).is_none());
    assert!(state::prepare_context(&json(r#"{"kind":"user","key":5}"#)).is_none());
    assert!(state::prepare_context(&json(r#"{"kind":"multi"}"#)).is_none());
}

#[wasm_bindgen_test]
fn context_keys_of_multi_contexts() {
    let ctx = state::prepare_context(&json(
        r#"{"kind":"multi","user":{"key":"u1"},"org":{"key":"o1"}}"#,
    ))
    .unwrap();
    let keys = state::context_keys(&ctx);
    assert_eq!(get(&keys, "user").as_string().unwrap(), "u1");
    assert_eq!(get(&keys, "org").as_string().unwrap(), "o1");
}

#[wasm_bindgen_test]
fn goals_parse_and_match_with_the_shared_matchers() {
    let parsed = goals::parse(&json(
        r#"[{"key":"buy","kind":"click","selector":".b","urls":[{"kind":"regex","pattern":"/p/\\d+$"}]},
            {"key":"pv","kind":"pageview","urls":[{"kind":"canonical","url":"https://a.example/checkout"}]},
            {"key":"bad","kind":"hover","urls":[]},
            {"key":"no-urls","kind":"pageview"}, null, 7]"#,
    ));
    assert_eq!(parsed.len(), 3, "unknown kinds and non-objects are skipped");
    assert!(
        parsed[2].urls.is_empty(),
        "a goal without urls matches nothing"
    );
    assert!(goals::parse(&JsValue::NULL).is_empty());
    let regex = |p: &str, t: &str| js_sys::RegExp::new(p, "").test(t);
    assert!(parsed[0].matches_page_with("https://a.example/p/42?x=1", regex));
    assert!(!parsed[0].matches_page_with("https://a.example/p/x", regex));
    assert!(parsed[1].matches_page_with("https://a.example/checkout/?step=2#top", regex));
}

#[wasm_bindgen_test]
fn payload_ids_are_uuid_v4() {
    let id = crate::batch::payload_id().as_string().unwrap();
    assert_eq!(id.len(), 36);
    assert_eq!(
        [8, 13, 18, 23].map(|i| &id[i..=i]),
        ["-"; 4],
        "dashes between 4-2-2-2-6 bytes"
    );
    assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"), "variant 10xx");
    assert_eq!(&id[14..15], "4");
    assert!(id.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
}

#[wasm_bindgen_test]
fn one_click_event_per_goal_however_many_ancestors_match() {
    state::uninstall();
    let doc = web_sys::window().unwrap().document().unwrap();
    let root = doc.create_element("div").unwrap();
    root.set_inner_html(r##"<div class="buy"><button class="buy" id="t-buy"><span id="t-label">Buy</span></button></div><p id="t-other">x</p>"##);
    doc.body().unwrap().append_child(&root).unwrap();
    let options = Options::from_js(&Object::new().into());
    assert!(state::install(State::new(
        "cid".into(),
        json(r#"{"kind":"user","key":"u"}"#),
        options
    )));
    with_state(|s| {
        s.goals = goals::parse(&json(
            r##"[{"key":"buy","kind":"click","selector":".buy","urls":[{"kind":"substring","substring":"/"}]},
                {"key":"other","kind":"click","selector":"#nothing","urls":[{"kind":"substring","substring":"/"}]},
                {"key":"bad-selector","kind":"click","selector":"[[","urls":[{"kind":"regex","pattern":"("}]}]"##,
        ))
    });
    goals::start();
    let clicks = || {
        queued_events()
            .iter()
            .filter(|e| get(e, "kind").as_string().as_deref() == Some("click"))
            .count()
    };
    doc.get_element_by_id("t-label")
        .unwrap()
        .dyn_into::<web_sys::HtmlElement>()
        .unwrap()
        .click();
    assert_eq!(
        clicks(),
        1,
        "the label has two matching ancestors: still one event"
    );
    doc.get_element_by_id("t-other")
        .unwrap()
        .dyn_into::<web_sys::HtmlElement>()
        .unwrap()
        .click();
    assert_eq!(clicks(), 1, "a click elsewhere sends nothing");
    let event = queued_events().pop().unwrap();
    assert_eq!(get(&event, "selector").as_string().unwrap(), ".buy");
    assert_eq!(
        get(&get(&event, "contextKeys"), "user")
            .as_string()
            .unwrap(),
        "u"
    );
    state::uninstall();
    root.remove();
}

/// The queued events, parsed back from their JSON.
fn queued_events() -> Vec<JsValue> {
    with_state(|s| {
        s.queue
            .iter()
            .map(|(e, _)| json(&e.as_string().unwrap()))
            .collect()
    })
    .unwrap()
}

fn client_with_goals(goals_json: &str) {
    state::uninstall();
    let options = Options::from_js(&json(r#"{"capacity":100000}"#));
    assert!(state::install(State::new(
        "cid".into(),
        json(r#"{"kind":"user","key":"u"}"#),
        options
    )));
    with_state(|s| s.goals = goals::parse(&json(goals_json)));
    goals::start();
}

#[wasm_bindgen_test]
fn a_click_inside_an_open_shadow_root_matches_its_goal_once() {
    let doc = web_sys::window().unwrap().document().unwrap();
    let host = doc.create_element("div").unwrap();
    doc.body().unwrap().append_child(&host).unwrap();
    let shadow = host
        .attach_shadow(&web_sys::ShadowRootInit::new(web_sys::ShadowRootMode::Open))
        .unwrap();
    shadow
        .set_inner_html(r#"<div class="cta"><button class="cta"><span>Buy</span></button></div>"#);
    client_with_goals(
        r#"[{"key":"cta","kind":"click","selector":".cta","urls":[{"kind":"substring","substring":"/"}]},
            {"key":"host","kind":"click","selector":"div > .cta","urls":[{"kind":"substring","substring":"/"}]}]"#,
    );
    let span = shadow.query_selector("span").unwrap().unwrap();
    span.dyn_into::<web_sys::HtmlElement>().unwrap().click();
    let keys: Vec<String> = queued_events()
        .iter()
        .filter(|e| get(e, "kind").as_string().as_deref() == Some("click"))
        .map(|e| get(e, "key").as_string().unwrap())
        .collect();
    assert_eq!(
        keys,
        ["cta", "host"],
        "each goal once, matched inside the shadow tree"
    );
    state::uninstall();
    host.remove();
}

#[wasm_bindgen_test]
fn a_flush_splits_the_queue_into_posts_that_fit_the_keepalive_budget() {
    client_with_goals("[]");
    for i in 0..600 {
        with_state(|s| {
            s.queue_custom(
                &alloc_key(i).into(),
                &JsValue::UNDEFINED,
                &JsValue::UNDEFINED,
            )
        });
    }
    let queued = with_state(|s| s.queued_bytes).unwrap();
    assert!(
        queued > 4 * state::FLUSH_BYTES,
        "the test needs several posts' worth ({queued})"
    );
    let batches = send::take_batches().unwrap();
    assert!(batches.len() >= 5, "{} posts", batches.len());
    let events: u32 = batches.iter().map(|b| b.events).sum();
    assert_eq!(events, 600, "every event in exactly one post");
    for b in &batches {
        let body = b.body.as_string().unwrap();
        assert_eq!(b.bytes, body.len(), "the body's UTF-8 size is counted");
        assert!(
            b.bytes <= state::FLUSH_BYTES,
            "no post over {} bytes ({})",
            state::FLUSH_BYTES,
            b.bytes
        );
        let parsed: js_sys::Array = json(&body).dyn_into().unwrap();
        assert_eq!(
            parsed.length(),
            b.events,
            "the body is a JSON array of its events"
        );
    }
    let ids: std::collections::BTreeSet<_> =
        batches.iter().map(|b| b.id.as_string().unwrap()).collect();
    assert_eq!(ids.len(), batches.len(), "a payload ID per post");
    // As many posts as fit the 64 KiB budget go with keep-alive, the rest do not.
    let keepalive = with_state(|s| {
        batches
            .iter()
            .filter(|b| s.reserve_keepalive(b.bytes))
            .count()
    })
    .unwrap();
    assert_eq!(keepalive, state::KEEPALIVE_BUDGET / state::FLUSH_BYTES);
    assert!(with_state(|s| s.keepalive_bytes).unwrap() <= state::KEEPALIVE_BUDGET);
    assert_eq!(
        with_state(|s| s.queue.len()).unwrap(),
        0,
        "the queue was taken"
    );
    state::uninstall();
}

fn alloc_key(i: u32) -> String {
    format!("event-{i}")
}

#[wasm_bindgen_test]
fn the_outbox_keeps_payloads_for_the_next_page() {
    crate::outbox::take(|_| ());
    let batches = [
        crate::batch::Batch::new(
            "https://e.example/events/bulk/c".into(),
            "[{\"kind\":\"custom\",\"data\":\"é\"}]".into(),
            1,
            "id-1".into(),
        ),
        crate::batch::Batch::new(
            "https://e.example/events/bulk/c".into(),
            "[1,2]".into(),
            2,
            "id-2".into(),
        ),
    ];
    assert!(crate::outbox::keep(&batches[..1]));
    assert!(
        crate::outbox::keep(&batches[1..]),
        "appended to what is kept"
    );
    let taken = core::cell::RefCell::new(Vec::new());
    crate::outbox::take(|b| taken.borrow_mut().push(b));
    let taken = taken.into_inner();
    assert_eq!(taken.len(), 2);
    let text = |v: &JsValue| v.as_string().unwrap();
    assert_eq!(
        (text(&taken[0].id), taken[0].events, text(&taken[0].body)),
        (
            "id-1".into(),
            1,
            "[{\"kind\":\"custom\",\"data\":\"é\"}]".into()
        )
    );
    assert_eq!(taken[0].bytes, 31, "UTF-8 bytes, not UTF-16 units");
    assert_eq!(
        (text(&taken[1].id), taken[1].events, text(&taken[1].url)),
        ("id-2".into(), 2, "https://e.example/events/bulk/c".into())
    );
    let again = core::cell::Cell::new(0);
    crate::outbox::take(|_| again.set(again.get() + 1));
    assert_eq!(again.get(), 0, "taken once");
}

#[wasm_bindgen_test]
fn reentrant_state_access_is_refused_not_a_panic() {
    state::uninstall();
    let options = Options::from_js(&Object::new().into());
    assert!(state::install(State::new(
        "cid".into(),
        json(r#"{"kind":"user","key":"u"}"#),
        options
    )));
    assert_eq!(with_state(|_| with_state(|_| ()).is_none()), Some(true));
    assert!(
        !state::install(State::new(
            "other".into(),
            json(r#"{"key":"v"}"#),
            Options::from_js(&JsValue::NULL)
        )),
        "one client per page"
    );
    state::uninstall();
    assert!(with_state(|_| ()).is_none());
}

#[wasm_bindgen_test]
fn options_drop_trailing_slashes_and_bad_numbers() {
    let o = Options::from_js(&json(
        r#"{"baseUrl":"https://edge.example//","flushInterval":5,"capacity":0}"#,
    ));
    assert_eq!(o.base_url.as_string().unwrap(), "https://edge.example");
    assert_eq!(o.events_url.as_string().unwrap(), "https://edge.example");
    assert_eq!(o.flush_interval_ms, 5000, "below 100 ms: the default");
    assert_eq!(o.capacity, 100);
    assert!(o.send_events_on_all_flags);
}

#[wasm_bindgen_test]
fn callbacks_are_the_export_bound_to_their_action() {
    use crate::action::{callback, Action};
    let null = callback(Action::Null, 0).call1(&JsValue::NULL, &JsValue::from(7));
    assert!(null.unwrap().is_null(), "a rejection becomes null");
    let answers = js_sys::Array::of2(&JsValue::TRUE, &JsValue::TRUE);
    let every = callback(Action::Every, 0).call1(&JsValue::NULL, &answers);
    assert_eq!(every.unwrap(), JsValue::TRUE);
    answers.push(&JsValue::FALSE);
    let every = callback(Action::Every, 0).call1(&JsValue::NULL, &answers);
    assert_eq!(
        every.unwrap(),
        JsValue::FALSE,
        "one refused post: not every one accepted"
    );
    // A number no action has does nothing.
    let handle: js_sys::Function =
        get(&wasm_bindgen::exports(), crate::action::EXPORT).unchecked_into();
    let none = handle.call2(&JsValue::NULL, &JsValue::from(99), &JsValue::from(0));
    assert!(none.unwrap().is_undefined());
}

#[wasm_bindgen_test]
fn a_wrapped_history_method_calls_the_original_and_throws_what_it_throws() {
    use crate::action::{callback, Action};
    let calls = js_sys::Array::new();
    let ok = js_sys::Function::new_with_args("a", "this.push(a); return 'done'");
    let n = state::keep_original(&ok.bind0(&calls)).unwrap();
    let wrapped = callback(Action::History, n);
    assert_eq!(
        wrapped.call1(&JsValue::NULL, &JsValue::from(1)).unwrap(),
        JsValue::from_str("done")
    );
    assert_eq!(calls.length(), 1);
    let throws = js_sys::Function::new_no_args("throw new TypeError('page error')");
    let n = state::keep_original(&throws).unwrap();
    let err = callback(Action::History, n)
        .call0(&JsValue::NULL)
        .unwrap_err();
    assert!(
        err.is_instance_of::<js_sys::TypeError>(),
        "the page's own exception, unchanged"
    );
}
