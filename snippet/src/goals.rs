//! Click and page-view goals: page views on load and on every single-page navigation
//! (`history.pushState` / `replaceState`, `popstate`, `hashchange`), and one delegated click
//! listener that sends at most one `click` event per goal per click, however many nested
//! elements match the selector (LaunchDarkly's SDKs send one per matching ancestor).

use crate::action::{callback, Action};
use crate::js::{self, get};
use crate::state::{with_state, State};
use alloc::vec::Vec;
use edge_exp_core::matcher::{Goal, GoalKind, UrlMatcher};
use js_sys::Array;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// `value` if it is a JavaScript array, else an empty one.
fn array(value: &JsValue) -> Array {
    if Array::is_array(value) {
        value.clone().unchecked_into()
    } else {
        Array::new()
    }
}

/// The elements of a JavaScript array (none if `value` is not one).
fn items(value: &JsValue) -> impl Iterator<Item = JsValue> {
    array(value).into_iter()
}

fn url_matcher(u: &JsValue) -> Option<UrlMatcher> {
    let s = |k: &str| get(u, k).as_string();
    let kind = get(u, "kind");
    Some(if js::is(&kind, "exact") {
        UrlMatcher::Exact { url: s("url")? }
    } else if js::is(&kind, "canonical") {
        UrlMatcher::Canonical { url: s("url")? }
    } else if js::is(&kind, "substring") {
        UrlMatcher::Substring {
            substring: s("substring")?,
        }
    } else if js::is(&kind, "regex") {
        UrlMatcher::Regex {
            pattern: s("pattern")?,
        }
    } else {
        return None;
    })
}

/// Goals from the goals route's JSON; entries that do not parse are skipped.
pub fn parse(goals: &JsValue) -> Vec<Goal> {
    let mut parsed = Vec::new();
    for g in items(goals) {
        let kind = get(&g, "kind");
        let kind = if js::is(&kind, "click") {
            GoalKind::Click
        } else if js::is(&kind, "pageview") {
            GoalKind::Pageview
        } else {
            continue;
        };
        let Some(key) = get(&g, "key").as_string() else {
            continue;
        };
        let mut urls = Vec::new();
        for u in items(&get(&g, "urls")) {
            urls.extend(url_matcher(&u));
        }
        parsed.push(Goal {
            key,
            kind,
            urls,
            selector: get(&g, "selector").as_string(),
        });
    }
    parsed
}

/// JavaScript `RegExp` search, as LaunchDarkly's SDK does it; a pattern the browser rejects
/// matches nothing.
fn js_regex_search(pattern: &str, text: &str) -> bool {
    js::Pattern::new(pattern).is_ok_and(|re| re.test(text))
}

/// Run `each` on the state and every goal of `kind` whose URLs match `href` (the goals are set
/// aside meanwhile, so `each` may queue events; no key or selector is copied).
fn each_matching(kind: GoalKind, href: &str, each: &mut dyn FnMut(&mut State, &Goal)) {
    with_state(|s| {
        let goals = core::mem::take(&mut s.goals);
        for goal in &goals {
            if goal.kind == kind && goal.matches_page_with(href, js_regex_search) {
                each(s, goal);
            }
        }
        s.goals = goals;
    });
}

/// Send page views for the current URL's page-view goals.
fn page_views() {
    let href = js::href();
    each_matching(GoalKind::Pageview, &href, &mut |s, goal| {
        s.queue_goal_event("pageview", &goal.key, None);
    });
    with_state(|s| s.last_href = href);
}

/// After a possible navigation: page views if the URL changed.
pub fn location_changed() {
    let href = js::href();
    if with_state(|s| s.last_href != href) == Some(true) {
        page_views();
    }
}

/// A click anywhere: one `click` event per click goal of this page whose selector matches an
/// element on the click's composed path: the clicked element or an ancestor, also inside open
/// shadow roots (at the document, a click inside a component reports only its host as target).
/// In a light-DOM page that is `target.closest(selector)`, LaunchDarkly's semantics.
pub fn clicked(event: &JsValue) {
    let path = array(&js::call(
        event,
        "composedPath",
        &JsValue::UNDEFINED,
        &JsValue::UNDEFINED,
    ));
    let href = js::href();
    each_matching(GoalKind::Click, &href, &mut |s, goal| {
        let Some(selector) = &goal.selector else {
            return;
        };
        // One hit per goal, never one per matching element. What is no element (a text node, a
        // shadow root, the document, the window) has no `matches`, and an invalid selector makes
        // it throw: both no match.
        let hit = path
            .iter()
            .any(|item| js::call_str(&item, "matches", selector).is_truthy());
        if hit {
            s.queue_goal_event("click", &goal.key, Some(selector));
        }
    });
}

/// Wrap `history[name]` so single-page navigations are noticed.
fn wrap_history(history: &JsValue, name: &str) {
    let original = get(history, name);
    if let Some(n) = crate::state::keep_original(&original) {
        js::set(history, name, &callback(Action::History, n));
    }
}

/// A wrapped `history` method was called: the original (kept as number `n`) with the page's
/// arguments, then a page view if the URL changed. What the original throws is thrown on.
pub fn history_called(n: u32, a: &JsValue, b: &JsValue, c: &JsValue) -> JsValue {
    let Some(original) = crate::state::original(n) else {
        return JsValue::UNDEFINED;
    };
    let history = js::get(&js::window(), "history");
    match original.call3(&history, a, b, c) {
        Ok(result) => {
            location_changed();
            result
        }
        Err(e) => wasm_bindgen::throw_val(e),
    }
}

/// Install the page listeners (once per page: navigation, clicks, and the flush when the page is
/// hidden or left) and send the current page's page views.
pub fn start() {
    if crate::state::first_start() {
        listen();
    }
    page_views();
}

fn listen() {
    let window = js::window();
    let history = js::get(&window, "history");
    wrap_history(&history, "pushState");
    wrap_history(&history, "replaceState");
    let navigated = callback(Action::Navigated, 0);
    let leaving = callback(Action::Leaving, 0);
    js::listen(&window, "pagehide", &leaving, false);
    js::listen(&window, "popstate", &navigated, false);
    js::listen(&window, "hashchange", &navigated, false);
    let document = js::get(&window, "document");
    // Capture phase: seen even if the page stops propagation.
    js::listen(&document, "click", &callback(Action::Click, 0), true);
    js::listen(&document, "visibilitychange", &leaving, false);
}
