//! What each [`Action`] does when JavaScript calls a callback: the one module that depends on
//! sending, goals and state together (nothing depends on it).

use crate::action::Action;
use crate::{goals, js, net, send, state};
use js_sys::Array;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// Run the action `action` with its number `n`. The arguments are whatever JavaScript passes (an
/// event, a promise's value, `history` arguments). Called as a raw wasm export (bound by
/// `action::callback`), so it takes numbers and JavaScript values and returns a value; an
/// exception is only ever the page's own (from the original `history` method), thrown on
/// unchanged.
// The name is `action::EXPORT`, where callbacks find it.
#[wasm_bindgen(js_name = __h)]
pub fn handle(action: u32, n: u32, a: JsValue, b: JsValue, c: JsValue) -> JsValue {
    let Some(action) = Action::from_number(action) else {
        return JsValue::UNDEFINED;
    };
    match action {
        Action::Json => net::json_of(&a),
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
        Action::Posted => send::answered(n, &a),
        Action::Resend => send::resend(n),
        Action::Every => {
            let answers: Array = a.unchecked_into();
            JsValue::from_bool((0..answers.length()).all(|i| answers.get(i).is_truthy()))
        }
        Action::Sleep => {
            js::timer("setTimeout", a.unchecked_ref(), n as i32);
            JsValue::UNDEFINED
        }
        Action::Flush => send::flush().into(),
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
        Action::History => goals::history_called(n, &a, &b, &c),
    }
}
