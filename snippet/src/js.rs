//! Small helpers over JavaScript values, and the few bindings js-sys offers only in a form that
//! needs Rust closures (promise chaining, a `RegExp` constructor that may throw).

use alloc::string::String;
use js_sys::{Function, Object, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// The snippet's whole reach into the page, besides promises and JSON: read a property, write
/// one, call a method. Each swallows what the page can throw at it (a getter, a `Proxy`, a
/// `SecurityError` for a sandboxed `localStorage`, a method that is not there) and answers
/// `undefined`, so Rust needs no `Result` per call and no binding per property or method
/// (web-sys would add a glue function and a wasm import for each).
#[wasm_bindgen(inline_js = "export function w(){return globalThis.window}\
export function g(o,k){try{return o[k]}catch(e){}}\
export function s(o,k,v){try{o[k]=v}catch(e){}}\
export function c(o,m,a,b,d){try{return o[m](a,b,d)}catch(e){}}\
export function t(o,m,a,b){try{o[m](a,b);return!0}catch(e){return!1}}\
export function u(s){return new TextEncoder().encode(s).length}\
export function j(a){return'['+a.join()+']'}\
export function i(v,s){return v===s}\
export function k(v){try{return JSON.parse(JSON.stringify(v))}catch(e){}}\
export function p(t){try{return JSON.parse(t)}catch(e){}}\
export function a(...x){return x.join('')}\
export function r(s){return typeof s=='string'?s.replace(/\\/+$/,''):void 0}")]
extern "C" {
    /// The page's `window` (`undefined` in a worker, where every read of it answers `undefined`).
    #[wasm_bindgen(js_name = w)]
    pub fn window() -> JsValue;
    /// `target[key]`, `undefined` if it throws (or `target` is `null` / `undefined`).
    #[wasm_bindgen(js_name = g)]
    pub fn get(target: &JsValue, key: &str) -> JsValue;
    #[wasm_bindgen(js_name = g)]
    pub fn get_key(target: &JsValue, key: &JsValue) -> JsValue;
    /// `target[key] = value`, ignored if it throws.
    #[wasm_bindgen(js_name = s)]
    pub fn set(target: &JsValue, key: &str, value: &JsValue);
    #[wasm_bindgen(js_name = s)]
    pub fn set_str(target: &JsValue, key: &str, value: &str);
    #[wasm_bindgen(js_name = s)]
    pub fn set_key(target: &JsValue, key: &JsValue, value: &JsValue);
    /// `target[method](a, b)`, `undefined` if it throws or is not a method.
    #[wasm_bindgen(js_name = c)]
    pub fn call(target: &JsValue, method: &str, a: &JsValue, b: &JsValue) -> JsValue;
    #[wasm_bindgen(js_name = c)]
    pub fn call_str(target: &JsValue, method: &str, a: &str) -> JsValue;
    #[wasm_bindgen(js_name = c)]
    fn call_listen(target: &JsValue, method: &str, kind: &str, f: &Function, capture: bool);
    /// `target[method](a, b)` ran without throwing.
    #[wasm_bindgen(js_name = t)]
    pub fn tried_value(target: &JsValue, method: &str, a: &str, b: &JsValue) -> bool;
    /// The UTF-8 size of a JavaScript string: what it weighs in a request body.
    #[wasm_bindgen(js_name = u)]
    pub fn utf8_len(text: &JsValue) -> usize;
    /// `[a[0],a[1],…]`: JSON texts joined into the text of a JSON array.
    #[wasm_bindgen(js_name = j)]
    pub fn json_array(texts: &js_sys::Array) -> JsValue;
    /// `value === text`: a string compared where it is, without copying it into the wasm.
    #[wasm_bindgen(js_name = i)]
    pub fn is(value: &JsValue, text: &str) -> bool;
    /// A copy of a plain-JSON value, `undefined` if it is not JSON (a cycle, a BigInt, a function).
    #[wasm_bindgen(js_name = k)]
    pub fn json_copy(value: &JsValue) -> JsValue;
    /// `prefix + text`, a JavaScript string.
    #[wasm_bindgen(js_name = a)]
    pub fn concat(prefix: &str, text: &JsValue) -> JsValue;
    /// `base + path + id + query` (`undefined` pieces are empty).
    #[wasm_bindgen(js_name = a)]
    pub fn url(base: &JsValue, path: &str, id: &JsValue, query: &str) -> JsValue;
    /// A string without its trailing slashes (`undefined` if it is not a string).
    #[wasm_bindgen(js_name = r)]
    pub fn trim_slashes(text: &JsValue) -> JsValue;
    /// `JSON.parse(text)`, `undefined` if it is not JSON.
    #[wasm_bindgen(js_name = p)]
    pub fn json_parse(text: &JsValue) -> JsValue;
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    fn console_error(prefix: &str, message: &str);
    #[wasm_bindgen(js_namespace = console, js_name = warn)]
    fn console_warn(prefix: &str, message: &str);

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

/// `console.error("[edge-exp]", message)`: the two arguments print as one line, and the prefix
/// costs no string building here.
pub fn error(message: &str) {
    console_error("[edge-exp]", message);
}

pub fn warn(message: &str) {
    console_warn("[edge-exp]", message);
}

/// `target.addEventListener(kind, f, capture)`.
pub fn listen(target: &JsValue, kind: &str, f: &Function, capture: bool) {
    call_listen(target, "addEventListener", kind, f, capture);
}

/// `window[timer](f, ms)` (`setTimeout`, `setInterval`): the timer's handle.
pub fn timer(timer: &str, f: &Function, ms: i32) -> Option<i32> {
    call(&window(), timer, f, &JsValue::from(ms))
        .as_f64()
        .map(|h| h as i32)
}

/// A property of `window.location` (`undefined` outside a window).
pub fn location(key: &str) -> JsValue {
    get(&get(&window(), "location"), key)
}

/// `location.href` of the page ("" outside a window).
pub fn href() -> String {
    location("href").as_string().unwrap_or_default()
}

/// The page's `localStorage` (`undefined` or `null` if it has none it may use: every call on it
/// then answers `undefined`).
pub fn storage() -> JsValue {
    get(&window(), "localStorage")
}

/// 16 random bytes in lowercase hex, as a JavaScript string (no `String` is built); with `uuid`,
/// a UUID v4: its version and variant bits set, `-` before bytes 4, 6, 8 and 10.
pub fn random_id(uuid: bool) -> JsValue {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut bytes = random_bytes();
    if uuid {
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
    }
    let mut text = [0u8; 36];
    let mut n = 0;
    for (i, b) in bytes.iter().enumerate() {
        if uuid && matches!(i, 4 | 6 | 8 | 10) {
            text[n] = b'-';
            n += 1;
        }
        text[n] = DIGITS[usize::from(b >> 4)];
        text[n + 1] = DIGITS[usize::from(b & 15)];
        n += 2;
    }
    // SAFETY: hex digits and `-` are ASCII, so valid UTF-8.
    JsValue::from_str(unsafe { core::str::from_utf8_unchecked(&text[..n]) })
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
