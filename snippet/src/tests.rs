//! Unit tests that need a browser: run in headless Chromium by wasm-bindgen-test-runner.

use crate::js::{get, set};
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
    let id = crate::batch::payload_id();
    assert_eq!(id.len(), 36);
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
        with_state(|s| {
            s.queue
                .iter()
                .filter(|e| get(e, "kind").as_string().as_deref() == Some("click"))
                .count()
        })
        .unwrap()
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
    let event = with_state(|s| s.queue.get(s.queue.length() - 1)).unwrap();
    assert_eq!(get(&event, "selector").as_string().unwrap(), ".buy");
    assert_eq!(
        get(&get(&event, "contextKeys"), "user")
            .as_string()
            .unwrap(),
        "u"
    );
    set(&event, "checked", &JsValue::TRUE);
    state::uninstall();
    root.remove();
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
    assert_eq!(o.base_url, "https://edge.example");
    assert_eq!(o.events_url, "https://edge.example");
    assert_eq!(o.flush_interval_ms, 5000, "below 100 ms: the default");
    assert_eq!(o.capacity, 100);
    assert!(o.send_events_on_all_flags);
}
