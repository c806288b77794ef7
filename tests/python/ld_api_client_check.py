"""Drive the metrics, segments and flags routes with LaunchDarkly's generated Python client
(launchdarkly-api): metrics of every kind; a segment created and given targets and a rule; a
flag created and given a rule that uses the segment.

Usage: python ld_api_client_check.py BASE_URL WRITER_TOKEN SUFFIX
Exits non-zero (with the failing step) if any call fails or a response does not deserialize.
"""
import json
import sys

import launchdarkly_api
from launchdarkly_api.api import feature_flags_api, metrics_api, segments_api
from launchdarkly_api.exceptions import ApiException
from launchdarkly_api.models import (FeatureFlagBody, MetricPost, PatchOperation, PatchWithComment,
                                    SegmentBody, UrlPost, Variation)

base, token, suffix = sys.argv[1:4]
cfg = launchdarkly_api.Configuration(host=base)
cfg.api_key["ApiKey"] = token
tag = f"compat{suffix}"

bodies = [
    MetricPost(key=f"py-binary-{suffix}", kind="custom", event_key="purchase", is_numeric=False,
               name="Purchases", tags=[tag], success_criteria="HigherThanBaseline"),
    MetricPost(key=f"py-numeric-{suffix}", kind="custom", event_key="revenue", is_numeric=True,
               unit="USD", unit_aggregation_type="sum", analysis_type="mean", tags=[tag],
               randomization_units=["user"]),
    MetricPost(key=f"py-click-{suffix}", kind="click", selector="#buy", tags=[tag],
               urls=[UrlPost(kind="substring", substring="/product")]),
    MetricPost(key=f"py-pageview-{suffix}", kind="pageview", tags=[tag],
               urls=[UrlPost(kind="canonical", url="https://shop.example/checkout")]),
]

with launchdarkly_api.ApiClient(cfg) as client:
    api = metrics_api.MetricsApi(client)
    for body in bodies:
        created = api.post_metric("default", body)
        assert created is not None, f"create {body.key}: no body (status not 201?)"
        assert created.key == body.key and created.kind == body.kind, created
        assert isinstance(created.creation_date, int) and created.id and created.version_id
        got = api.get_metric("default", body.key)
        assert got.key == body.key and got.data_source.key, got
        print(f"created and read {body.kind} metric {body.key}")

    listed = api.get_metrics("default", limit=50, sort="name", filter=f"tags:{tag}")
    keys = [m.key for m in listed.items]
    assert listed.total_count == 4 and sorted(keys) == keys and len(keys) == 4, listed
    print(f"listed {keys}")

    patched = api.patch_metric("default", bodies[0].key, [
        PatchOperation(op="replace", path="/name", value="Completed purchases"),
        PatchOperation(op="add", path="/tags/-", value="checkout"),
    ])
    assert patched.name == "Completed purchases" and "checkout" in patched.tags, patched
    assert patched.version == 2, patched.version
    print("patched", patched.key, "to version", patched.version)

    try:
        api.patch_metric("default", bodies[0].key, [PatchOperation(op="test", path="/_version", value=1)])
        raise AssertionError("a stale _version test must fail")
    except ApiException as e:
        assert e.status == 409, e.status
    print("stale version rejected with 409")

    for body in bodies:
        api.delete_metric("default", body.key)
        try:
            api.get_metric("default", body.key)
            raise AssertionError(f"{body.key} still there after delete")
        except ApiException as e:
            assert e.status == 404, e.status
    print("deleted all four")

    # A segment, as LaunchDarkly's clients make one: created bare, then given targets and a rule.
    segments = segments_api.SegmentsApi(client)
    seg_key = f"py-beta-{suffix}"
    seg = segments.post_segment("default", "production", SegmentBody(name="Beta testers", key=seg_key, tags=[tag]))
    assert seg.key == seg_key and seg.version == 1 and seg.deleted is False and seg.rules == [], seg
    seg = segments.patch_segment("default", "production", seg_key, PatchWithComment(comment="add testers", patch=[
        PatchOperation(op="add", path="/included/-", value="py-user-1"),
        PatchOperation(op="add", path="/rules/-", value={"clauses": [
            {"contextKind": "user", "attribute": "email", "op": "endsWith", "values": ["@example.com"], "negate": False}]}),
    ]))
    assert seg.version == 2 and seg.included == ["py-user-1"] and seg.rules[0].id, seg
    assert seg.rules[0].clauses[0].op == "endsWith", seg.rules[0]
    listed = segments.get_segments("default", "production")
    assert seg_key in [s.key for s in listed.items], listed
    print("created segment", seg_key, "with a rule", seg.rules[0].id)

    # A flag with a rule on that segment. LaunchDarkly's `FeatureFlag` model requires fields our
    # flag representation does not have yet (`kind`, `temporary`, `customProperties`, per
    # environment `sel`, `_site`, ...): the answers are read as JSON, not as that model.
    flags = feature_flags_api.FeatureFlagsApi(client)
    flag_key = f"py-flag-{suffix}"
    r = flags.post_feature_flag_without_preload_content("default", FeatureFlagBody(
        name="Beta banner", key=flag_key, variations=[Variation(value=False), Variation(value=True)]))
    assert r.status == 201, (r.status, r.data)
    r = flags.patch_feature_flag_without_preload_content("default", flag_key, PatchWithComment(patch=[
        PatchOperation(op="replace", path="/environments", value={"production": {
            "on": True, "offVariation": 0, "fallthrough": {"variation": 0},
            "rules": [{"clauses": [{"attribute": "segmentMatch", "op": "segmentMatch", "values": [seg_key], "negate": False}],
                       "variation": 1}]}}),
    ]))
    flag = json.loads(r.data)
    assert r.status == 200, (r.status, flag)
    rules = flag["environments"]["production"]["rules"]
    assert flag["_version"] == 2 and len(rules) == 1 and rules[0]["_id"], flag
    print("created flag", flag_key, "with rule", rules[0]["_id"], "on segment", seg_key)
    try:
        segments.delete_segment("default", "production", seg_key)
        raise AssertionError("a segment a flag uses must not be deleted")
    except ApiException as e:
        assert e.status == 409, e.status
    print("deleting the used segment: 409")
print("launchdarkly-api compatibility: OK")
