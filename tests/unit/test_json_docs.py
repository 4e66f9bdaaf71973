"""Every JSON example in docs/json-output.md is what ecpctl really prints: the command written above
each example is run (in document order, in one directory with the basic specs) and its output must
have the example's keys and types, and its values where they do not change from run to run."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "json-output.md"
EXAMPLE = re.compile(r"<!-- (example|example-stream): (.+?) -->\n```json\n(.*?)```", re.S)
STABLE = {"format_version", "command", "ok", "workspace", "destroy", "refreshed", "type",
          "@level", "@module", "operation", "severity", "provider", "tenant", "address", "addr",
          "name", "id", "resource_type", "resource_name", "action", "field", "line", "column"}
FREE = {"before", "after", "attributes", "observed", "requests"}    # the resource's own data


def kind(value) -> str:
    if value is None or isinstance(value, (bool, str, dict, list)):
        return type(value).__name__
    return "number"


def same_shape(doc, real, where: str) -> None:
    assert kind(doc) == kind(real), f"{where}: the docs show a {kind(doc)}, ecpctl prints {real!r}"
    if isinstance(doc, dict):
        assert set(doc) == set(real), f"{where}: keys differ: {sorted(set(doc) ^ set(real))}"
        for k, v in doc.items():
            if k in FREE:
                assert kind(v) == kind(real[k]), f"{where}.{k}"
                continue
            same_shape(v, real[k], f"{where}.{k}")
            if k in STABLE and not isinstance(v, (dict, list)):
                assert v == real[k], f"{where}.{k}: the docs show {v!r}, ecpctl prints {real[k]!r}"
    elif isinstance(doc, list) and doc:
        assert real, f"{where}: the docs show items, ecpctl prints none"
        for item in doc:
            same_shape(item, _counterpart(item, real), f"{where}[]")


def _counterpart(item, real: list):
    """The real element the documented one stands for: same address (or type), else the first."""
    if isinstance(item, dict):
        for key in ("address", "type"):
            if key in item:
                for r in real:
                    if isinstance(r, dict) and r.get(key) == item[key]:
                        return r
    return real[0]


def _run(ecpctl, line: str, spec: Path, broken: Path):
    result = None
    for command in line.split(" ; "):
        args = [a.format(spec=spec, spec_broken=broken) for a in command.split()]
        result = ecpctl(*args)
    return result


def test_every_json_example_in_the_docs_matches_real_output(ecpctl, spec_dir, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(spec_dir, broken)
    acme = broken / "acme.yaml"
    acme.write_text(acme.read_text().replace("preset: auto", "preset: huge"))
    examples = EXAMPLE.findall(DOC.read_text())
    assert len(examples) >= 6
    for form, line, body in examples:
        r = _run(ecpctl, line, spec_dir, broken)
        if form == "example":
            doc = json.loads(body)
            assert r.exit_code == (0 if doc["ok"] else 1), (line, r.output)
            same_shape(doc, json.loads(r.stdout), line)
        else:
            assert r.exit_code == 0, (line, r.output)
            real = [json.loads(x) for x in r.stdout.splitlines()]
            documented = [json.loads(x) for x in body.splitlines() if x.strip()]
            assert [m["type"] for m in documented] == [m["type"] for m in real], line
            for doc_msg, real_msg in zip(documented, real):
                same_shape(doc_msg, real_msg, f"{line}: {doc_msg['type']}")
