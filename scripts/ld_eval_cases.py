#!/usr/bin/env python3
"""Writes core/tests/data/ld-eval-cases.json: the project's table of flag-evaluation cases, taken from
the facts of LaunchDarkly's SDK conformance suite (github.com/launchdarkly/sdk-test-harness,
Apache-2.0), data/data-files/server-side-eval/*.yml.

Those files are templates: `constants` and `parameters` are substituted into the text (a quoted
"<NAME>" becomes the value with its JSON type, a bare <NAME> inside a string its text; parameters
given as an array of arrays are combined as a cartesian product), as the harness's own loader
(data/substitutions.go) does. Each expanded file is one suite: flags and segments in the SDK data
model (each given its map key as `key`), and evaluations with the context, the default and the
expected value, variation index and reason.

Run once against a checkout of the harness; the output is committed (the tests never need it):
    python3 scripts/ld_eval_cases.py /path/to/sdk-test-harness
"""
import itertools
import json
import pathlib
import sys

import re

import yaml


class Yaml12Loader(yaml.SafeLoader):
    """YAML 1.2 booleans (only true/false), as the harness's Go parser reads them: PyYAML's 1.1
    rules would turn the key `on` into a boolean."""


Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def json_text(value):
    return json.dumps(value, separators=(",", ":"))


def substitute(text, substs):
    text = text.replace("\\u003c", "<").replace("\\u003e", ">")
    for name, value in substs.items():
        typed = json_text(value)
        text = text.replace('"<' + name + '>"', typed)
        text = text.replace("<" + name + ">", value if isinstance(value, str) else typed)
    return text


def parameter_sets(params):
    if not params:
        return []
    if isinstance(params[0], dict):
        return params
    # A list of lists: every combination, one entry of each list merged.
    return [dict(kv for part in combo for kv in part.items()) for combo in itertools.product(*params)]


def expand(path):
    raw = yaml.load(path.read_text(), Loader=Yaml12Loader)
    constants = raw.get("constants") or {}
    sets = parameter_sets(raw.get("parameters") or [])
    # Work on JSON text, as the harness does (YAML anchors and merges are resolved by the parse).
    base = json_text({k: v for k, v in raw.items() if k not in ("constants", "parameters")})
    if not sets:
        return [json.loads(substitute(base, constants))]
    suites = []
    for params in sets:
        text = substitute(substitute(substitute(base, constants), params), constants)
        suites.append(json.loads(text))
    return suites


def normalise(suite, source):
    data = suite.get("sdkData") or {}
    flags = {k: {"key": k, **v} for k, v in (data.get("flags") or {}).items()}
    segments = {k: {"key": k, **v} for k, v in (data.get("segments") or {}).items()}
    evaluations = []
    for e in suite.get("evaluations") or []:
        expect = e["expect"]
        evaluations.append({
            "name": e.get("name", ""),
            "flagKey": e["flagKey"],
            "context": e.get("context"),
            "default": e.get("default"),
            "expect": {
                "value": expect.get("value"),
                "variationIndex": expect.get("variationIndex"),
                "reason": expect.get("reason"),
            },
        })
    return {"name": suite.get("name", ""), "source": source, "flags": flags, "segments": segments,
            "evaluations": evaluations}


def main():
    harness = pathlib.Path(sys.argv[1])
    folder = harness / "data" / "data-files" / "server-side-eval"
    suites = []
    for path in sorted(folder.glob("*.yml")):
        for suite in expand(path):
            suites.append(normalise(suite, f"server-side-eval/{path.name}"))
    out = pathlib.Path(__file__).resolve().parent.parent / "core" / "tests" / "data" / "ld-eval-cases.json"
    # One suite per line: small, and a regenerated table diffs by suite.
    lines = ",\n".join(json.dumps(s, sort_keys=True, separators=(",", ":")) for s in suites)
    about = ("Flag-evaluation cases from the facts of LaunchDarkly's sdk-test-harness (Apache-2.0), "
             "data/data-files/server-side-eval; written by scripts/ld_eval_cases.py.")
    out.write_text('{"about":' + json.dumps(about) + ',"suites":[\n' + lines + "\n]}\n")
    cases = sum(len(s["evaluations"]) for s in suites)
    print(f"{len(suites)} suites, {cases} evaluations -> {out}")


if __name__ == "__main__":
    main()
