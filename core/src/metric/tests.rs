use super::*;
use serde_json::json;

const NOW: i64 = 1_795_000_000_000;

fn spec(v: Value) -> MetricSpec {
    MetricSpec::from_json(&v).unwrap()
}

fn err(v: Value) -> String {
    MetricSpec::from_json(&v).unwrap_err().to_string()
}

fn metric(v: Value) -> Metric {
    Metric::create("p", spec(v), NOW, None)
}

/// `m` patched with `ops` in project `p` at `NOW`.
fn patch(m: &Metric, ops: Value) -> Result<Metric, Error> {
    m.patched("p", &ops, NOW)
}

#[test]
fn custom_binary_count_and_numeric() {
    let b = spec(json!({"key":"buy","kind":"custom","eventKey":"Order placed"}));
    assert_eq!(b.name, "buy", "name defaults to the key");
    assert!(!b.is_numeric);
    assert_eq!(b.unit_aggregation_type, UnitAggregation::Average);
    assert_eq!(b.randomization_units, ["user"]);
    assert_eq!(b.success_criteria, SuccessCriteria::HigherThanBaseline);
    let c = spec(json!({"key":"n","kind":"custom","eventKey":"e","unitAggregationType":"sum"}));
    assert_eq!(c.unit_aggregation_type, UnitAggregation::Sum);
    let n = spec(
        json!({"key":"rev","kind":"custom","eventKey":"e","isNumeric":true,"unit":"USD",
        "unitAggregationType":"sum","analysisType":"percentile","percentileValue":90,
        "eventDefault":{"disabled":true,"value":0},"successCriteria":"LowerThanBaseline"}),
    );
    assert_eq!(n.percentile_value, Some(90));
    assert!(n.event_default.disabled);
    assert_eq!(n.success_criteria, SuccessCriteria::LowerThanBaseline);
}

#[test]
fn click_and_pageview() {
    let c = spec(json!({"key":"buy-click","kind":"click","selector":"#buy",
        "urls":[{"kind":"substring","substring":"/product"}]}));
    assert_eq!(c.selector.as_deref(), Some("#buy"));
    let p = spec(json!({"key":"checkout","kind":"pageview",
        "urls":[{"kind":"canonical","url":"https://shop.example/checkout"}]}));
    assert_eq!(p.urls.len(), 1);
}

#[test]
fn every_bad_field_is_named() {
    let cases = [
        (json!([]), "body must be a JSON object"),
        (json!({"kind":"custom","eventKey":"e"}), "`key` is required"),
        (
            json!({"key":"-bad","kind":"custom","eventKey":"e"}),
            "`key` must start with a letter or digit",
        ),
        (
            json!({"key":"a b","kind":"custom","eventKey":"e"}),
            "`key` must start",
        ),
        (json!({"key":"k"}), "`kind` is required"),
        (
            json!({"key":"k","kind":"trace"}),
            "`kind` must be one of `custom`, `click`, `pageview`, got \"trace\"",
        ),
        (
            json!({"key":"k","kind":"custom"}),
            "`eventKey` is required for custom metrics",
        ),
        (
            json!({"key":"k","kind":"custom","eventKey":" "}),
            "`eventKey` must not be empty",
        ),
        (
            json!({"key":"k","kind":"custom","eventKey":5}),
            "`eventKey` must be a string",
        ),
        (
            json!({"key":"k","kind":"click","urls":[{"kind":"exact","url":"https://a/"}]}),
            "`selector` is required for click metrics",
        ),
        (
            json!({"key":"k","kind":"click","selector":"#a"}),
            "`urls` is required for click metrics",
        ),
        (
            json!({"key":"k","kind":"pageview","urls":[]}),
            "`urls` is required for page-view metrics",
        ),
        (
            json!({"key":"k","kind":"pageview","urls":[{"kind":"regex","pattern":"(x"}]}),
            "`urls[0]`: regex `(x` is invalid",
        ),
        (
            json!({"key":"k","kind":"pageview","urls":[{"kind":"glob"}]}),
            "`urls[0]` must be",
        ),
        (
            json!({"key":"k","kind":"pageview","urls":[{"kind":"exact","url":"u"}],"eventKey":"e"}),
            "`eventKey` applies only to custom metrics",
        ),
        (
            json!({"key":"k","kind":"custom","eventKey":"e","selector":"#x"}),
            "`selector` applies only to click metrics",
        ),
        (
            json!({"key":"k","kind":"custom","eventKey":"e","isNumeric":"yes"}),
            "`isNumeric` must be true or false",
        ),
        (
            json!({"key":"k","kind":"custom","eventKey":"e","isNumeric":true,"analysisType":"percentile"}),
            "`percentileValue` is required when `analysisType` is `percentile`",
        ),
        (
            json!({"key":"k","kind":"custom","eventKey":"e","isNumeric":true,"analysisType":"percentile","percentileValue":101}),
            "`percentileValue` must be an integer from 1 to 99",
        ),
        (
            json!({"key":"k","kind":"custom","eventKey":"e","isNumeric":true,"analysisType":"percentile","percentileValue":100}),
            "`percentileValue` must be an integer from 1 to 99",
        ),
        (
            json!({"key":"k","kind":"custom","eventKey":"e","unit":"USD"}),
            "`unit` applies only to numeric metrics",
        ),
        (
            json!({"key":"k","kind":"custom","eventKey":"e","unitAggregationType":"median"}),
            "`unitAggregationType` must be one of `average`, `sum`",
        ),
        (
            json!({"key":"k","kind":"custom","eventKey":"e","successCriteria":"Better"}),
            "`successCriteria` must be one of",
        ),
        (
            json!({"key":"k","kind":"custom","eventKey":"e","randomizationUnits":[]}),
            "`randomizationUnits` must name at least one context kind",
        ),
        (
            json!({"key":"k","kind":"custom","eventKey":"e","randomizationUnits":["us er"]}),
            "`randomizationUnits` entry `us er`",
        ),
        (
            json!({"key":"k","kind":"custom","eventKey":"e","tags":["ok","no good"]}),
            "tag `no good`",
        ),
        (
            json!({"key":"k","kind":"custom","eventKey":"e","tags":"x"}),
            "`tags` must be an array of strings",
        ),
        (
            json!({"key":"k","kind":"custom","eventKey":"e","isNumeric":true,"eventDefault":{"value":"0"}}),
            "`eventDefault.value` must be a number",
        ),
    ];
    for (input, expected) in cases {
        let got = err(input.clone());
        assert!(
            got.starts_with(expected),
            "{input}: got `{got}`, want `{expected}...`"
        );
    }
}

#[test]
fn representation_has_what_generated_clients_require() {
    let m =
        metric(json!({"key":"buy","kind":"custom","eventKey":"Order placed","tags":["b","a","a"]}));
    let rep = m.to_rep("proj");
    for f in [
        "_id",
        "_versionId",
        "key",
        "name",
        "kind",
        "_links",
        "tags",
        "_creationDate",
        "dataSource",
    ] {
        assert!(rep.get(f).is_some(), "{f}");
    }
    assert!(rep["_creationDate"].is_i64());
    assert_eq!(rep["tags"], json!(["a", "b"]));
    assert_eq!(rep["_links"]["self"]["href"], "/api/v2/metrics/proj/buy");
    assert_eq!(rep["dataSource"]["key"], "edge");
    assert_eq!(rep["lastModified"]["date"], rfc3339(NOW));
    // The representation parses back to the same spec (patches rely on this round trip).
    for v in [
        json!({"key":"n","kind":"custom","eventKey":"e","isNumeric":true,"analysisType":"percentile","percentileValue":95,"unit":"ms"}),
        json!({"key":"c","kind":"click","selector":"a.buy","urls":[{"kind":"exact","url":"https://a/"}],"description":"d","maintainerId":"m"}),
        json!({"key":"v","kind":"pageview","urls":[{"kind":"regex","pattern":"a+"}]}),
    ] {
        let m = metric(v);
        assert_eq!(MetricSpec::from_json(&m.to_rep("p")).unwrap(), m.spec);
    }
}

#[test]
fn rfc3339_dates() {
    assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
    assert_eq!(rfc3339(951_782_400_123), "2000-02-29T00:00:00.123Z");
    assert_eq!(rfc3339(1_795_000_000_000), "2026-11-18T11:06:40.000Z");
}

#[test]
fn partner_user_agents() {
    assert_eq!(
        Integration::from_user_agent("MetricImport-acme-int/1.2.0"),
        Some(Integration {
            product: "MetricImport".into(),
            source: "acme".into(),
            version: "1.2.0".into()
        })
    );
    assert!(Integration::from_user_agent("python-requests/2.31").is_none());
    assert!(Integration::from_user_agent("OpenAPI-Generator/25.0.1/python").is_none());
    assert!(Integration::from_user_agent("-x-int/1").is_none());
}

#[test]
fn patch_replaces_validates_and_bumps_the_version() {
    let m = metric(json!({"key":"buy","kind":"custom","eventKey":"e"}));
    let p = m
        .patched("p", &json!([{"op":"replace","path":"/name","value":"Buy"}]), NOW + 5)
        .unwrap();
    assert_eq!(p.spec.name, "Buy");
    assert_eq!(p.version, 2);
    assert_eq!(p.last_modified, NOW + 5);
    assert_eq!(p.creation_date, NOW);
    // Wrapped form with a comment, and adding tags.
    let q = patch(&p, json!({"comment":"c","patch":[{"op":"add","path":"/tags/-","value":"web"}]}))
        .unwrap();
    assert_eq!(q.spec.tags, ["web"]);
    // A no-op patch does not bump the version.
    let same = patch(&q, json!([{"op":"replace","path":"/name","value":"Buy"}]))
        .unwrap();
    assert_eq!(same.version, q.version);
}

#[test]
fn patch_errors() {
    let m = metric(json!({"key":"buy","kind":"custom","eventKey":"e"}));
    let e = |ops: Value| patch(&m, ops).unwrap_err();
    assert!(matches!(
        e(json!([{"op":"test","path":"/_version","value":7}])),
        Error::VersionConflict(ref m) if m == "metric `buy` is at version 1, not 7: reload and retry"
    ));
    assert!(patch(&m, json!([{"op":"test","path":"/_version","value":1},{"op":"replace","path":"/name","value":"x"}])).is_ok());
    assert_eq!(
        e(json!([{"op":"test","path":"/name","value":"nope"}])).to_string(),
        "patch operation 0 failed: value did not match"
    );
    assert!(e(json!([{"op":"replace","path":"/_id","value":"x"}]))
        .to_string()
        .contains("`_id` is set by the server"));
    assert_eq!(
        e(json!([{"op":"replace","path":"/key","value":"other"}])).to_string(),
        "`key` cannot be changed"
    );
    assert_eq!(
        e(json!([{"op":"remove","path":"/eventKey"}])).to_string(),
        "`eventKey` is required for custom metrics"
    );
    assert!(e(json!([{"op":"jump","path":"/name"}]))
        .to_string()
        .starts_with("invalid JSON Patch"));
    assert!(e(json!({"op":"replace"}))
        .to_string()
        .starts_with("body must be a JSON Patch array"));
    assert!(e(json!([{"op":"remove","path":"/nothing/here"}]))
        .to_string()
        .starts_with("patch operation 0 failed"));
}

#[test]
fn running_experiments_protect_kind_event_key_and_deletion() {
    let mut m = metric(json!({"key":"buy","kind":"custom","eventKey":"e"}));
    assert!(m.check_deletable().is_ok());
    m.running_experiments.insert("exp-1".into());
    assert!(matches!(m.check_deletable(), Err(Error::Conflict(_))));
    let e = patch(&m, json!([{"op":"replace","path":"/eventKey","value":"f"}]))
        .unwrap_err();
    assert!(matches!(e, Error::Conflict(ref s) if s.contains("exp-1")));
    // Other fields may still change. (`replace` needs an existing target, per RFC 6902.)
    assert!(patch(&m, json!([{"op":"replace","path":"/description","value":"d"}]))
        .is_err());
    assert!(patch(&m, json!([{"op":"add","path":"/description","value":"d"}]))
        .is_ok());
}

fn parse(pairs: &[(&str, &str)]) -> Result<ListQuery, Error> {
    let owned: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    ListQuery::parse(&owned)
}

fn q(pairs: &[(&str, &str)]) -> ListQuery {
    parse(pairs).unwrap()
}

#[test]
fn list_filters_sorts_and_pages() {
    let mut ms = Vec::new();
    for (i, (key, kind, tags)) in [
        ("alpha", "custom", vec!["web"]),
        ("beta", "click", vec!["web", "checkout"]),
        ("gamma", "pageview", vec!["checkout"]),
        ("delta", "custom", vec![]),
    ]
    .into_iter()
    .enumerate()
    {
        let mut body = json!({"key":key,"kind":kind,"tags":tags});
        match kind {
            "custom" => body["eventKey"] = json!(format!("{key}-event")),
            "click" => {
                body["selector"] = json!("#b");
                body["urls"] = json!([{"kind":"substring","substring":"/"}]);
            }
            _ => body["urls"] = json!([{"kind":"substring","substring":"/"}]),
        }
        ms.push(Metric::create("p", spec(body), NOW + i as i64, None));
    }
    let keys = |(page, _): (Vec<&Metric>, usize)| {
        page.iter().map(|m| m.spec.key.clone()).collect::<Vec<_>>()
    };
    assert_eq!(
        keys(q(&[]).apply(&ms)),
        ["delta", "gamma", "beta", "alpha"],
        "newest first by default"
    );
    assert_eq!(
        keys(q(&[("sort", "name")]).apply(&ms)),
        ["alpha", "beta", "delta", "gamma"]
    );
    assert_eq!(
        keys(q(&[("filter", "tags:web checkout")]).apply(&ms)),
        ["beta"]
    );
    assert_eq!(
        keys(q(&[("filter", "tags:checkout,eventKind:pageview")]).apply(&ms)),
        ["gamma"]
    );
    assert_eq!(
        keys(q(&[("filter", "query:ALPHA-EV")]).apply(&ms)),
        ["alpha"]
    );
    assert_eq!(
        keys(
            q(&[
                ("filter", "isNumeric:false,eventKind:custom"),
                ("sort", "-name")
            ])
            .apply(&ms)
        ),
        ["delta", "alpha"]
    );
    let page = q(&[("limit", "2"), ("offset", "2"), ("sort", "name")]);
    let (items, total) = page.apply(&ms);
    assert_eq!((items.len(), total), (2, 4));
    let links = page.links("/api/v2/metrics/p", total);
    assert_eq!(
        links["prev"]["href"],
        "/api/v2/metrics/p?limit=2&sort=name&offset=0"
    );
    assert!(links.get("next").is_none());
    assert_eq!(
        links["last"]["href"],
        "/api/v2/metrics/p?limit=2&sort=name&offset=2"
    );
    assert_eq!(
        q(&[("limit", "1")]).links("/m", 4)["next"]["href"],
        "/m?limit=1&offset=1"
    );
}

#[test]
fn list_query_errors() {
    let e = |pairs: &[(&str, &str)]| parse(pairs).unwrap_err().to_string();
    assert_eq!(
        e(&[("limit", "51")]),
        "`limit` must be an integer from 1 to 50"
    );
    assert_eq!(
        e(&[("limit", "0")]),
        "`limit` must be an integer from 1 to 50"
    );
    assert_eq!(
        e(&[("offset", "-1")]),
        "`offset` must be a non-negative integer"
    );
    assert!(e(&[("sort", "color")]).starts_with("`sort` must be `name` or `createdAt`"));
    assert!(e(&[("filter", "color:red")]).starts_with("unknown filter field `color`"));
    assert!(e(&[("filter", "nocolon")]).starts_with("filter term `nocolon`"));
    assert!(e(&[("filter", "eventKind:trace")]).contains("got `trace`"));
    assert_eq!(e(&[("page", "2")]), "unknown query parameter `page`");
    assert_eq!(
        e(&[("expand", "experimentCount,experiments")]),
        "`expand` of the metrics list takes only `experimentCount` (always included), got `experiments`"
    );
    let ok = |v: &str| ListQuery::parse(&[("expand".to_string(), v.to_string())]).is_ok();
    assert!(ok("experimentCount") && ok("experimentCount, experimentCount"));
}

#[test]
fn goals_come_from_click_and_pageview_metrics() {
    let c = metric(
        json!({"key":"buy","kind":"click","selector":"#buy","urls":[{"kind":"exact","url":"https://a/"}]}),
    );
    assert_eq!(c.goal().unwrap().selector.as_deref(), Some("#buy"));
    assert!(metric(json!({"key":"x","kind":"custom","eventKey":"e"}))
        .goal()
        .is_none());
}
