//! Bot classification cost per request (`core::bots::classify`, default filter), run under
//! callgrind by `bench/callgrind.sh` (ITERS=0 and ITERS=N; the difference per request is
//! printed), in three modes (`MODE`):
//! - `person`: a desktop Chrome user agent never seen by the isolate (every list entry, the
//!   look-around checks and the regular expressions run: a person is the slowest verdict);
//! - `crawler`: Googlebot, never seen;
//! - `cached`: the same Chrome user agent again (what most requests are: the isolate's cache);
//! - `overrides`: that cached user agent through `overrides::verdict` with three running
//!   experiments overriding the filter (the per-request cost of experiments' own filters).
//!
//! "Never seen" user agents differ by a counter appended to them (its formatting is counted).

use edge_exp_core::bots::overrides::{verdict, FilterOverride};
use edge_exp_core::bots::serve_control::{BotControls, Control};
use edge_exp_core::bots::{classify, BotFilter, Signals};
use std::hint::black_box;

const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const GOOGLEBOT: &str = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";

fn main() {
    let iters: usize = std::env::var("ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let filter = BotFilter::default();
    // The regular expressions are compiled once per isolate: before the counted loop.
    black_box(classify(
        &filter,
        &Signals {
            user_agent: Some("warm-up"),
            ..Signals::default()
        },
    ));
    let mode = std::env::var("MODE").unwrap_or_else(|_| "person".into());
    if mode == "overrides" {
        let controls = three_overrides();
        let signals = Signals {
            user_agent: Some(CHROME),
            ..Signals::default()
        };
        for _ in 0..iters {
            black_box(verdict(&filter, &controls, black_box(&signals), |_| None));
        }
        return;
    }
    for i in 0..iters {
        let agent = match mode.as_str() {
            "crawler" => format!("{GOOGLEBOT} {i}"),
            "cached" => CHROME.to_owned(),
            _ => format!("{CHROME} {i}"),
        };
        let signals = Signals {
            user_agent: Some(&agent),
            ..Signals::default()
        };
        black_box(classify(&filter, black_box(&signals)));
    }
}

/// Three running experiments with filters of their own: one counting user-agent bots, one with
/// a deny list, one with the filter off.
fn three_overrides() -> BotControls {
    let bodies = [
        serde_json::json!({"tiers": {"userAgent": false}}),
        serde_json::json!({"denyUserAgents": ["acme-probe", "internal-monitor"]}),
        serde_json::json!({"enabled": false}),
    ];
    let mut controls = BotControls::default();
    for (i, body) in bodies.into_iter().enumerate() {
        let filter = FilterOverride::parse(body.as_object().cloned().unwrap_or_default())
            .expect("a valid override");
        controls.0.insert(
            format!("flag-{i}"),
            vec![Control {
                rule: None,
                variation: 0,
                experiment: format!("experiment-{i}"),
                serve_control: false,
                filter,
            }],
        );
    }
    controls
}
