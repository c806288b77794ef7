"""Drive the metrics routes with LaunchDarkly's generated Python client (launchdarkly-api).

Usage: python ld_api_client_check.py BASE_URL WRITER_TOKEN SUFFIX
Exits non-zero (with the failing step) if any call fails or a response does not deserialize.
"""
import sys

import launchdarkly_api
from launchdarkly_api.api import metrics_api
from launchdarkly_api.exceptions import ApiException
from launchdarkly_api.models import MetricPost, PatchOperation, UrlPost

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
print("launchdarkly-api compatibility: OK")
