//! Click and page-view goals: page views on load and on every single-page navigation
//! (`history.pushState` / `replaceState`, `popstate`, `hashchange`), and one delegated click
//! listener that sends at most one `click` event per goal per click, however many nested
//! elements match the selector (LaunchDarkly's SDKs send one per matching ancestor).

use crate::state::{current_href, with_state};
use crate::{get, set};
use edge_exp_core::matcher::{Goal, GoalKind, UrlMatcher};
use js_sys::{Array, Function, Reflect, RegExp};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// Goals from the goals route's JSON; entries that do not parse are skipped.
pub fn parse(items: &Array) -> Vec<Goal> {
    items
        .iter()
        .filter_map(|g| {
            let key = get(&g, "key").as_string()?;
            let kind = match get(&g, "kind").as_string()?.as_str() {
                "click" => GoalKind::Click,
                "pageview" => GoalKind::Pageview,
                _ => return None,
            };
            let urls = Array::from(&get(&g, "urls"))
                .iter()
                .filter_map(|u| {
                    let s = |k: &str| get(&u, k).as_string();
                    Some(match s("kind")?.as_str() {
                        "exact" => UrlMatcher::Exact { url: s("url")? },
                        "canonical" => UrlMatcher::Canonical { url: s("url")? },
                        "substring" => UrlMatcher::Substring {
                            substring: s("substring")?,
                        },
                        "regex" => UrlMatcher::Regex {
                            pattern: s("pattern")?,
                        },
                        _ => return None,
                    })
                })
                .collect();
            Some(Goal {
                key,
                kind,
                urls,
                selector: get(&g, "selector").as_string(),
            })
        })
        .collect()
}

/// JavaScript `RegExp` search, as LaunchDarkly's SDK does it; a pattern the browser rejects
/// matches nothing.
fn js_regex_search(pattern: &str, text: &str) -> bool {
    let ctor: JsValue =
        Reflect::get(&js_sys::global(), &JsValue::from_str("RegExp")).unwrap_or(JsValue::UNDEFINED);
    let Ok(ctor) = ctor.dyn_into::<Function>() else {
        return false;
    };
    Reflect::construct(&ctor, &Array::of1(&JsValue::from_str(pattern)))
        .ok()
        .and_then(|re| re.dyn_into::<RegExp>().ok())
        .is_some_and(|re| re.test(text))
}

/// Send page views for the current URL's page-view goals.
fn page_views() {
    let href = current_href();
    with_state(|s| {
        s.last_href = href.clone();
        let matching: Vec<String> = s
            .goals
            .iter()
            .filter(|g| g.kind == GoalKind::Pageview && g.matches_page_with(&href, js_regex_search))
            .map(|g| g.key.clone())
            .collect();
        for key in matching {
            s.queue_goal_event("pageview", &key, None);
        }
    });
}

/// After a possible navigation: page views if the URL changed.
fn location_changed() {
    let href = current_href();
    if with_state(|s| s.last_href != href).unwrap_or(false) {
        page_views();
    }
}

fn on_click(event: web_sys::Event) {
    let Some(target) = event
        .target()
        .and_then(|t| t.dyn_into::<web_sys::Node>().ok())
    else {
        return;
    };
    // A click on a text node starts at its parent element.
    let element = match target.dyn_ref::<web_sys::Element>() {
        Some(e) => Some(e.clone()),
        None => target.parent_element(),
    };
    let Some(element) = element else { return };
    let href = current_href();
    with_state(|s| {
        let hits: Vec<(String, String)> = s
            .goals
            .iter()
            .filter(|g| g.kind == GoalKind::Click && g.matches_page_with(&href, js_regex_search))
            .filter_map(|g| {
                let selector = g.selector.as_deref()?;
                // `closest` finds the element itself or its nearest matching ancestor: one hit per
                // goal, never one per matching ancestor. An invalid selector matches nothing.
                element
                    .closest(selector)
                    .ok()
                    .flatten()
                    .map(|_| (g.key.clone(), selector.to_owned()))
            })
            .collect();
        for (key, selector) in hits {
            s.queue_goal_event("click", &key, Some(&selector));
        }
    });
}

/// Wrap `history[name]` so single-page navigations are noticed.
fn patch_history(history: &web_sys::History, name: &str) {
    let Ok(original) =
        Reflect::get(history, &JsValue::from_str(name)).and_then(|f| f.dyn_into::<Function>())
    else {
        return;
    };
    let target = history.clone();
    let wrapper = Closure::<dyn FnMut(JsValue, JsValue, JsValue) -> JsValue>::new(
        move |a: JsValue, b: JsValue, c: JsValue| {
            let result = original
                .call3(&target, &a, &b, &c)
                .unwrap_or(JsValue::UNDEFINED);
            location_changed();
            result
        },
    );
    set(history, name, wrapper.as_ref());
    wrapper.forget(); // lives as long as the page
}

/// Install the listeners and send the first page views.
pub fn start() {
    let Some(window) = web_sys::window() else {
        return;
    };
    if let Ok(history) = window.history() {
        patch_history(&history, "pushState");
        patch_history(&history, "replaceState");
    }
    let nav = Closure::<dyn FnMut(web_sys::Event)>::new(|_| location_changed());
    let _ = window.add_event_listener_with_callback("popstate", nav.as_ref().unchecked_ref());
    let _ = window.add_event_listener_with_callback("hashchange", nav.as_ref().unchecked_ref());
    nav.forget();
    if let Some(document) = window.document() {
        let click = Closure::<dyn FnMut(web_sys::Event)>::new(on_click);
        // Capture phase: seen even if the page stops propagation.
        let _ = document.add_event_listener_with_callback_and_bool(
            "click",
            click.as_ref().unchecked_ref(),
            true,
        );
        click.forget();
    }
    page_views();
}
