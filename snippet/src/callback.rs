//! Callbacks from JavaScript into the snippet without Rust closures or an async runtime.
//!
//! A [`Callback`] is an exported class instance whose `handleEvent` runs one [`Action`];
//! [`callback`] binds that method into a plain JavaScript function usable as an event listener,
//! a timer, a promise reaction or a `history` method. Promise chains (fetch → JSON → store;
//! post → retry) are built from these, so the wasm carries no executor, wakers or closure shims.

use crate::js::{self, PromiseExt};
use crate::send::{self, Batch};
use crate::{goals, state};
use js_sys::{Array, Function};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

pub enum Action {
    /// A fetch `Response` → its JSON if the status is OK, else `null`.
    Json,
    /// A rejection → `null` (a network error is an answer, not an exception).
    Null,
    /// `[flags, goals]` loaded by `init` → the client starts; resolves `init`'s promise.
    Loaded,
    /// Flags loaded by `identify`.
    Identified,
    /// The answer (a `Response`, or `null` on a network error) to an events post.
    Posted(Batch),
    /// The retry of an events post, after its delay.
    Resend(Batch),
    /// A promise executor `(resolve) => setTimeout(resolve, ms)`.
    Sleep(i32),
    /// Flush now (the timer, or a full queue).
    Flush,
    /// `pagehide` / `visibilitychange`: flush with a keep-alive request if the page is going away.
    Leaving,
    /// A click anywhere in the document.
    Click,
    /// `popstate` / `hashchange`.
    Navigated,
    /// A wrapped `history.pushState` / `replaceState`: the original, then a navigation check.
    History(Function),
}

#[wasm_bindgen]
pub struct Callback {
    action: Action,
}

#[wasm_bindgen]
impl Callback {
    /// Run the action. The arguments are whatever JavaScript passes (an event, a promise's value,
    /// `history` arguments). Exceptions are only ever the page's own (from the original
    /// `history` method), passed on unchanged.
    #[wasm_bindgen(js_name = handleEvent)]
    pub fn handle_event(&self, a: JsValue, b: JsValue, c: JsValue) -> Result<JsValue, JsValue> {
        Ok(match &self.action {
            Action::Json => send::json_of(&a),
            Action::Null => JsValue::NULL,
            Action::Loaded => {
                let loaded: Array = a.unchecked_into();
                let flags_ok = state::store_flags(loaded.get(0));
                let goals = goals::parse(&loaded.get(1));
                let live = state::with_state(|s| s.goals = goals).is_some();
                if live {
                    goals::start();
                    state::queue_identify();
                    send::start_timer();
                }
                JsValue::from_bool(flags_ok && live)
            }
            Action::Identified => {
                let ok = state::store_flags(a);
                state::queue_identify();
                JsValue::from_bool(ok)
            }
            Action::Posted(batch) => send::answered(batch, &a),
            Action::Resend(batch) => send::post(batch.clone()).into(),
            Action::Sleep(ms) => {
                if let Some(w) = js::window() {
                    let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(
                        a.unchecked_ref(),
                        *ms,
                    );
                }
                JsValue::UNDEFINED
            }
            Action::Flush => send::flush(false).into(),
            Action::Leaving => {
                send::leaving(&a);
                JsValue::UNDEFINED
            }
            Action::Click => {
                goals::clicked(&a);
                JsValue::UNDEFINED
            }
            Action::Navigated => {
                goals::location_changed();
                JsValue::UNDEFINED
            }
            Action::History(original) => {
                let history = js::window().map_or(JsValue::UNDEFINED, |w| {
                    w.history().map_or(JsValue::UNDEFINED, JsValue::from)
                });
                let result = original.call3(&history, &a, &b, &c)?;
                goals::location_changed();
                result
            }
        })
    }
}

/// A JavaScript function that runs `action`: `Callback#handleEvent` bound to a new instance.
pub fn callback(action: Action) -> Function {
    let handler = JsValue::from(Callback { action });
    let method: Function = js::get(&handler, "handleEvent").unchecked_into();
    method.bind0(&handler)
}

/// `promise` settles after `ms` milliseconds (a timer, no closure).
pub fn sleep(ms: i32) -> js_sys::Promise {
    js::promise(&callback(Action::Sleep(ms)))
}

/// `promise.then(f)` with the function for `action`.
pub fn then(promise: &js_sys::Promise, action: Action) -> js_sys::Promise {
    promise.then_call(&callback(action))
}
