//! Callbacks from JavaScript into the snippet without Rust closures, an async runtime or an
//! exported class.
//!
//! A callback is the wasm export [`crate::dispatch::handle`] itself, bound (`Function#bind`) to an
//! [`Action`] and one number: a plain JavaScript function usable as an event listener, a timer, a
//! promise reaction or a `history` method, that holds no Rust memory (nothing to free when the
//! page drops it). What each action does is `dispatch.rs`; the number is whatever the action
//! needs (a post's attempt number, a delay, which `history` method). Promise chains (fetch →
//! JSON → store; post → retry) are built from these. A leaf module: the modules that schedule
//! actions (sending, goals, state) depend on it, and it on none of them.

use crate::js::{self, PromiseExt};
use js_sys::Function;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// The name of the export every callback is bound from (`dispatch::handle`'s `js_name`).
pub const EXPORT: &str = "__h";

/// What a callback does (its number is the first argument the export is bound to).
#[derive(Clone, Copy)]
pub enum Action {
    /// A fetch `Response` → its JSON if the status is OK, else `null`.
    Json,
    /// A rejection → `null` (a network error is an answer, not an exception).
    Null,
    /// `[flags, goals]` loaded by `init` → the client starts; resolves `init`'s promise.
    Loaded,
    /// Flags loaded by `identify`.
    Identified,
    /// The answer (a `Response`, or `null` on a network error) to the events post of attempt `n`.
    Posted,
    /// The retry of the post whose attempt `n` failed, after its delay.
    Resend,
    /// The answers of a flush's posts → `true` if every one was accepted.
    Every,
    /// A promise executor `(resolve) => setTimeout(resolve, n)`.
    Sleep,
    /// Flush now (the timer, or a full queue).
    Flush,
    /// `pagehide` / `visibilitychange`: flush with a keep-alive request if the page is going away.
    Leaving,
    /// A click anywhere in the document.
    Click,
    /// `popstate` / `hashchange`.
    Navigated,
    /// A wrapped `history` method (`n`: which one): the original, then a navigation check.
    History,
}

impl Action {
    /// The action a callback was bound to (`None` for a number no callback is bound to).
    pub fn from_number(n: u32) -> Option<Action> {
        use Action::*;
        [
            Json, Null, Loaded, Identified, Posted, Resend, Every, Sleep, Flush, Leaving, Click,
            Navigated, History,
        ]
        .get(n as usize)
        .copied()
    }
}

/// A JavaScript function that runs `action` with `n`: the export bound to both.
pub fn callback(action: Action, n: u32) -> Function {
    let handle: Function = js::get(&wasm_bindgen::exports(), EXPORT).unchecked_into();
    handle
        .bind2(
            &JsValue::NULL,
            &JsValue::from(action as u32),
            &JsValue::from(n),
        )
        .unchecked_into()
}

/// `promise` settles after `ms` milliseconds (a timer, no closure).
pub fn sleep(ms: u32) -> js_sys::Promise {
    js::promise(&callback(Action::Sleep, ms))
}

/// `promise.then(f)` with the function for `action`.
pub fn then(promise: &js_sys::Promise, action: Action, n: u32) -> js_sys::Promise {
    promise.then_call(&callback(action, n))
}
