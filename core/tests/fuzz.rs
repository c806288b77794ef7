//! Property-based fuzzing (stable Rust; `cargo fuzz` needs nightly): every entry point that takes
//! input from the network is fed arbitrary bytes and arbitrary JSON and must return, never panic.

use edge_exp_core::experiment::{parse_instructions, Experiment};
use edge_exp_core::flag::{Flag, FlagSpec};
use edge_exp_core::matcher::UrlMatcher;
use edge_exp_core::metric::{ListQuery, Metric, MetricSpec};
use edge_exp_core::resource::Resource;
use edge_exp_core::resource::Spec;
use edge_exp_core::{decode_body, parse_batch, patch, Context};
use proptest::prelude::*;
use serde_json::{json, Value};

/// Arbitrary JSON, biased towards the field names and values the parsers look at.
fn any_json() -> impl Strategy<Value = Value> {
    let names = prop::sample::select(vec![
        "kind",
        "key",
        "creationDate",
        "context",
        "contextKeys",
        "variation",
        "metricValue",
        "url",
        "selector",
        "features",
        "counters",
        "count",
        "startDate",
        "endDate",
        "eventKey",
        "urls",
        "isNumeric",
        "percentileValue",
        "eventDefault",
        "tags",
        "variations",
        "environments",
        "fallthrough",
        "rollout",
        "weight",
        "on",
        "targets",
        "treatments",
        "metrics",
        "flagKey",
        "pattern",
        "substring",
        "op",
        "path",
        "value",
        "instructions",
        "user",
        "multi",
        "reason",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "[a-z0-9_./#?:*()\\[\\]-]{0,12}".prop_map(Value::String),
        prop::sample::select(vec![
            "feature",
            "custom",
            "click",
            "pageview",
            "summary",
            "multi",
            "user",
            "exact",
            "canonical",
            "substring",
            "regex",
            "experiment",
            "replace",
            "add",
            "test",
            "/name"
        ])
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(4, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((names.clone(), inner), 0..8).prop_map(|kv| Value::Object(
                kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
            )),
        ]
    })
}

/// Cases per property: 2,000 in `npm test`; `npm run fuzz` sets `FUZZ_CASES` (200,000 × 5
/// properties = 1,000,000 generated inputs).
fn cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000)
}

/// Text shaped like an events payload: brackets, braces, strings, escapes (lone surrogates
/// included), numbers and junk, so the structural splitter and both decoders see hard cases.
fn payload_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("[".to_string()),
        Just("]".to_string()),
        Just("{".to_string()),
        Just("}".to_string()),
        Just(",".to_string()),
        Just(":".to_string()),
        Just("\"".to_string()),
        Just("\\".to_string()),
        Just("\\ud83d".to_string()),
        Just("\\ude00".to_string()),
        Just("\\u12".to_string()),
        Just("\"kind\":\"custom\"".to_string()),
        Just("\"kind\":\"feature\"".to_string()),
        Just("\"key\":\"k\"".to_string()),
        Just("\"creationDate\":1800000000000".to_string()),
        Just("\"contextKeys\":{\"user\":\"u\"}".to_string()),
        Just("\"context\":{\"kind\":\"multi\"".to_string()),
        Just("1e400".to_string()),
        Just("-0".to_string()),
        Just("null".to_string()),
        "\\PC{0,6}",
    ];
    prop::collection::vec(piece, 0..40).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn payload_shaped_text_never_panics(text in payload_text()) {
        let _ = parse_batch(text.as_bytes(), 1_800_000_000_000);
        let _ = parse_batch(format!("[{text}]").as_bytes(), 1_800_000_000_000);
        let _ = edge_exp_core::raw::split_array(&text);
        let _ = edge_exp_core::raw::replace_lone_surrogates(&text);
    }

    #[test]
    fn event_payloads_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_batch(&bytes, 1_800_000_000_000);
        let _ = decode_body(bytes.clone(), Some("gzip"));
    }

    #[test]
    fn json_inputs_never_panic(v in any_json(), w in any_json()) {
        let now = 1_800_000_000_000;
        let _ = parse_batch(serde_json::to_string(&json!([v.clone(), w.clone()])).unwrap().as_bytes(), now);
        let _ = Context::from_context(&v);
        let _ = Context::from_context_keys(&v);
        if let Ok(spec) = MetricSpec::from_json(&v) {
            let m = Metric::create("p", spec, now, None);
            let _ = m.patched("p", &w, now);
        }
        if let Ok(spec) = FlagSpec::from_json(&v) {
            let f = Flag::create("p", spec, now, None);
            let _ = f.patched("p", &w, now);
            let _ = edge_exp_core::publish::client_flag(&edge_exp_core::targeting::AllData::default(), &f.sdk("production"), &w, true);
        }
        // Any flag data the SDK model reads, for any context: evaluation never panics.
        if let Ok(data) = serde_json::from_value::<edge_exp_core::targeting::FlagData>(v.clone()) {
            let _ = edge_exp_core::targeting::evaluate(&edge_exp_core::targeting::AllData::default(), &data, &w);
        }
        let _ = Experiment::from_json(&v, "production", 3, now);
        let _ = parse_instructions(&v);
        let _ = patch::apply(&v, &w, 1, &["_version"]);
        if let Ok(m) = serde_json::from_value::<UrlMatcher>(v.clone()) {
            let _ = m.validate();
            let _ = m.matches(&w.to_string());
        }
    }

    #[test]
    fn list_queries_never_panic(pairs in prop::collection::vec(("[a-z]{0,8}", "[a-zA-Z0-9:,+ -]{0,24}"), 0..5)) {
        let pairs: Vec<(String, String)> = pairs;
        if let Ok(q) = ListQuery::parse(&pairs) {
            let _ = q.links("/api/v2/metrics/p", 1234);
            let _ = q.apply(std::iter::empty());
        }
    }

    #[test]
    fn url_matching_never_panics(href in "\\PC{0,40}", s in "\\PC{0,10}") {
        for m in [UrlMatcher::Exact { url: s.clone() }, UrlMatcher::Canonical { url: s.clone() },
                  UrlMatcher::Substring { substring: s.clone() }, UrlMatcher::Regex { pattern: s.clone() }] {
            let _ = m.matches(&href);
        }
    }
}
