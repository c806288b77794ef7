//! Small helpers over JavaScript values, and the few bindings js-sys offers only in a form that
//! needs Rust closures (promise chaining, a `RegExp` constructor that may throw).

use alloc::string::String;
use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(thread_local_v2, js_name = window)]
    static WINDOW: Option<web_sys::Window>;

    /// A promise, seen through the methods used here.
    type Thenable;
    /// `promise.then(f)` with any function (js-sys wants a Rust closure).
    #[wasm_bindgen(method)]
    fn then(this: &Thenable, f: &Function) -> Promise;
    /// `promise.catch(f)`.
    #[wasm_bindgen(method)]
    fn catch(this: &Thenable, f: &Function) -> Promise;

    #[wasm_bindgen(js_name = Promise)]
    type NewPromise;
    /// `new Promise(executor)` with any function.
    #[wasm_bindgen(constructor, js_class = "Promise")]
    fn new(executor: &Function) -> NewPromise;

    /// `Promise.all(values)`.
    #[wasm_bindgen(js_namespace = Promise, js_name = all)]
    pub fn all(values: &JsValue) -> Promise;
    /// `Promise.resolve(value)`.
    #[wasm_bindgen(js_namespace = Promise, js_name = resolve)]
    pub fn resolved(value: &JsValue) -> Promise;

    #[wasm_bindgen(js_name = RegExp)]
    pub type Pattern;
    /// `new RegExp(pattern)`, which throws on a pattern the browser rejects.
    #[wasm_bindgen(catch, constructor, js_class = "RegExp")]
    pub fn new(pattern: &str) -> Result<Pattern, JsValue>;
    /// `regexp.test(text)`.
    #[wasm_bindgen(method)]
    pub fn test(this: &Pattern, text: &str) -> bool;
}

/// Promise chaining with plain JavaScript functions (our [`crate::action::callback`]s).
pub trait PromiseExt {
    fn then_call(&self, f: &Function) -> Promise;
    fn catch_call(&self, f: &Function) -> Promise;
}

impl PromiseExt for Promise {
    fn then_call(&self, f: &Function) -> Promise {
        self.unchecked_ref::<Thenable>().then(f)
    }
    fn catch_call(&self, f: &Function) -> Promise {
        self.unchecked_ref::<Thenable>().catch(f)
    }
}

/// A promise from an executor function `(resolve, reject) => ...`.
pub fn promise(executor: &Function) -> Promise {
    NewPromise::new(executor).unchecked_into()
}

pub fn object() -> JsValue {
    Object::new().into()
}

pub fn get_key(target: &JsValue, key: &JsValue) -> JsValue {
    Reflect::get(target, key).unwrap_or(JsValue::UNDEFINED)
}

pub fn set_key(target: &JsValue, key: &JsValue, value: &JsValue) {
    let _ = Reflect::set(target, key, value);
}

pub fn get(target: &JsValue, key: &str) -> JsValue {
    get_key(target, &JsValue::from_str(key))
}

pub fn set(target: &JsValue, key: &str, value: &JsValue) {
    set_key(target, &JsValue::from_str(key), value);
}

pub fn set_str(target: &JsValue, key: &str, value: &str) {
    set(target, key, &JsValue::from_str(value));
}

/// `console.error("[edge-exp]", message)`: the two arguments print as one line, and the prefix
/// costs no string building here.
pub fn error(message: &str) {
    web_sys::console::error_2(
        &JsValue::from_str("[edge-exp]"),
        &JsValue::from_str(message),
    );
}

pub fn warn(message: &str) {
    web_sys::console::warn_2(
        &JsValue::from_str("[edge-exp]"),
        &JsValue::from_str(message),
    );
}

/// The page's `window` (none in a worker). One binding instead of `web_sys::window()`, which
/// probes four global names and checks `instanceof Window`.
pub fn window() -> Option<web_sys::Window> {
    WINDOW.with(Clone::clone)
}

/// `location.href` of the page ("" outside a window).
pub fn href() -> String {
    window()
        .and_then(|w| w.location().href().ok())
        .unwrap_or_default()
}

/// The page's `localStorage`, if it has one it may use.
pub fn storage() -> Option<web_sys::Storage> {
    window()?.local_storage().ok().flatten()
}

/// The pieces joined (`[..].concat()` brings a generic join with panic paths into the wasm).
pub fn cat(parts: &[&str]) -> String {
    let mut s = String::new();
    for part in parts {
        s.push_str(part);
    }
    s
}

/// Lowercase hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

/// Bytes from the browser's CSPRNG (getrandom), or from `Math.random` where there
/// is none: keys and payload IDs only need to be unique.
pub fn random_bytes() -> [u8; 16] {
    let mut buf = [0u8; 16];
    if getrandom::fill(&mut buf).is_err() {
        for byte in buf.iter_mut() {
            *byte = (js_sys::Math::random() * 256.0) as u8;
        }
    }
    buf
}
