//! What each [`Action`] does when JavaScript calls its [`Callback`]: the one module that depends
//! on sending, goals and state together (nothing depends on it).

use crate::action::{Action, Callback};
use crate::{goals, js, net, send, state};
use js_sys::Array;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[wasm_bindgen]
impl Callback {
    /// Run the action. The arguments are whatever JavaScript passes (an event, a promise's value,
    /// `history` arguments). Exceptions are only ever the page's own (from the original
    /// `history` method), passed on unchanged.
    #[wasm_bindgen(js_name = handleEvent)]
    pub fn handle_event(&self, a: JsValue, b: JsValue, c: JsValue) -> Result<JsValue, JsValue> {
        Ok(match &self.action {
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
            Action::Posted(batch) => send::answered(batch, &a),
            Action::Resend(batch) => send::resend(batch),
            Action::Every => {
                let answers: Array = a.unchecked_into();
                JsValue::from_bool((0..answers.length()).all(|i| answers.get(i).is_truthy()))
            }
            Action::Sleep(ms) => {
                if let Some(w) = js::window() {
                    let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(
                        a.unchecked_ref(),
                        *ms,
                    );
                }
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
