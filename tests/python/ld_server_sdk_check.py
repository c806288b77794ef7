"""LaunchDarkly's Python server SDK (launchdarkly-server-sdk, in .venv) against the Worker: it
initialises by streaming (GET /all) and by polling (GET /sdk/latest-all), evaluates contexts exactly
as the Worker's evalx does, and sends its events to /bulk. Prints, as JSON, the experiment
exposures it made (key → variation) for the caller to check against the first-variation read-out.

Usage: ld_server_sdk_check.py BASE SDK_KEY CLIENT_SIDE_ID FLAG_KEY
"""
import json
import sys
import urllib.request

import ldclient
from ldclient import Context
from ldclient.config import Config

base, sdk_key, client_side_id, flag_key = sys.argv[1:5]


def evalx(context):
    req = urllib.request.Request(f"{base}/sdk/evalx/{client_side_id}/context?withReasons=true",
                                 data=json.dumps(context).encode(), method="REPORT",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)[flag_key]


exposed = {}
for stream in (True, False):
    config = Config(sdk_key, base_uri=base, stream_uri=base, events_uri=base, stream=stream,
                    initial_reconnect_delay=0.1, flush_interval=1, diagnostic_opt_out=True)
    client = ldclient.LDClient(config=config, start_wait=10)
    assert client.is_initialized(), f"stream={stream}: the SDK did not initialise"
    for i in range(200):
        country = ["DE", "FR", "US"][i % 3]
        raw = {"kind": "user", "key": f"py-{stream}-{i}", "country": country}
        d = client.variation_detail(flag_key, Context.from_dict(raw), "default")
        theirs = evalx(raw)
        ours = (d.value, d.variation_index, d.reason)
        expected = (theirs["value"], theirs["variation"], theirs["reason"])
        assert ours == expected, f"stream={stream} {raw}: SDK {ours} != evalx {expected}"
        if d.reason.get("inExperiment"):
            exposed[raw["key"]] = d.variation_index
    client.close()  # flushes its events to /bulk and waits
print(json.dumps(exposed))
print("launchdarkly-server-sdk delivery: OK", file=sys.stderr)
