//! Callbacks from JavaScript into the snippet without Rust closures or an async runtime.
//!
//! A [`Callback`] is an exported class instance whose `handleEvent` runs one [`Action`] (what
//! each action does is `dispatch.rs`); [`callback`] binds that method into a plain JavaScript
//! function usable as an event listener, a timer, a promise reaction or a `history` method.
//! Promise chains (fetch → JSON → store; post → retry) are built from these, so the wasm carries
//! no executor, wakers or closure shims. A leaf module: the modules that schedule actions
//! (sending, goals, state) depend on it, and it on none of them.

use crate::batch::Batch;
use crate::js::{self, PromiseExt};
use js_sys::Function;
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
    /// The answers of a flush's posts → `true` if every one was accepted.
    Every,
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
    pub(crate) action: Action,
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
