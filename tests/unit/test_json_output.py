"""`--json` of plan, apply, destroy, graph, import and show through the CLI: exactly one document on
stdout (apply and destroy: one message per line) on success and on every kind of failure, with
the same exit codes as the human view; the envelopes are pinned under tests/unit/expected/json/.
Regenerate deliberately with ECPCTL_UPDATE_EXPECTED=1."""

from __future__ import annotations

import json
import os
import re
from contextlib import contextmanager
from pathlib import Path

import pytest

EXPECTED = Path(__file__).parent / "expected" / "json"
NS = "tenant.globex.kubernetes.v1.Namespace.ecp-ai-globex"
VOLATILE = {"ecpctl_version": "X", "@timestamp": "T", "config_digest": "DIGEST"}


def normal(value, roots: dict[str, str]):
    """The document with what changes from run to run replaced by fixed markers."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k in VOLATILE:
                out[k] = VOLATILE[k]
            elif k == "lineage" and v:
                out[k] = "LINEAGE"
            elif k == "elapsed_seconds":
                out[k] = 0
            else:
                out[k] = normal(v, roots)
        return out
    if isinstance(value, list):
        return [normal(v, roots) for v in value]
    if isinstance(value, str):
        for path, marker in roots.items():
            value = value.replace(path, marker)
        value = re.sub(r"after \d+\.\ds", "after 0.0s", value)
        return re.sub(r"ecpctl \d+\.\d+\.\d+\S*", "ecpctl X", value)
    return value


def check(name: str, docs) -> None:
    text = json.dumps(docs, indent=2, ensure_ascii=False) + "\n"
    path = EXPECTED / name
    if os.environ.get("ECPCTL_UPDATE_EXPECTED") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    assert text == path.read_text()


def one_document(r) -> dict:
    """stdout holds exactly one JSON document (json.loads refuses anything after it)."""
    doc = json.loads(r.stdout)
    assert doc["format_version"] == "1.0" and isinstance(doc["diagnostics"], list)
    for d in doc["diagnostics"]:
        assert {"severity", "summary", "detail", "address", "file", "line", "column"} <= set(d)
    return doc


def stream(r) -> list[dict]:
    """Every stdout line is one message with Terraform's common keys."""
    msgs = [json.loads(line) for line in r.stdout.splitlines()]
    for m in msgs:
        assert {"@level", "@message", "@module", "@timestamp", "type"} <= set(m), m
    assert msgs[0]["type"] == "version"
    return msgs


@pytest.fixture
def run(ecpctl, spec_dir):
    roots = {str(spec_dir): "<specs>", str(ecpctl.root): "<tmp>"}

    def invoke(*args, env=None, code=0):
        r = ecpctl(*[a.format(spec=spec_dir, tmp=ecpctl.root) for a in args], env=env)
        assert r.exit_code == code, r.output
        return r
    invoke.normal = lambda doc: normal(doc, roots)
    return invoke


@contextmanager
def held_lock(ecpctl):
    from state.store import StateStore
    store = StateStore.open(None, data_dir=ecpctl.data_dir)
    lock = store.lock("default", "apply")
    try:
        yield
    finally:
        store.unlock(lock)
        store.close()


def break_spec(spec_dir: Path) -> None:
    acme = spec_dir / "acme.yaml"
    acme.write_text(acme.read_text().replace("preset: auto", "preset: huge"))


# --- pinned envelopes -----------------------------------------------------------------------------

def test_plan(run):
    doc = one_document(run("plan", "{spec}", "--no-refresh", "--target", NS, "--json"))
    assert doc["ok"] is True and doc["command"] == "plan"
    check("plan.json", run.normal(doc))


def test_plan_with_a_provider_error_prints_the_plan_and_its_diagnostics(run):
    r = run("plan", "{spec}", "--target", NS, "--json", env={"ECPCTL_FAKE_READ_ERROR": NS}, code=1)
    doc = one_document(r)
    assert doc["ok"] is False and doc["resource_changes"]
    assert "injected failure" in r.stderr
    check("plan_provider_error.json", run.normal(doc))


def test_plan_with_a_config_error(run, spec_dir):
    break_spec(spec_dir)
    doc = one_document(run("plan", "{spec}", "--json", code=1))
    assert doc["ok"] is False
    bad = doc["diagnostics"][0]
    assert bad["file"].endswith("acme.yaml") and bad["line"] and bad["column"]
    check("plan_config_error.json", run.normal(doc))


def test_graph(run):
    doc = one_document(run("graph", "{spec}", "--tenant", "globex", "--json"))
    assert {n["address"] for n in doc["nodes"]} >= {NS}
    for e in doc["edges"]:
        assert e["from"] in next(n for n in doc["nodes"] if n["address"] == e["to"])["depends_on"]
    check("graph.json", run.normal(doc))


def test_graph_of_an_unknown_tenant(run):
    doc = one_document(run("graph", "{spec}", "--tenant", "initech", "--json", code=1))
    assert doc["ok"] is False and doc["command"] == "graph"
    check("graph_error.json", run.normal(doc))


def test_apply_and_destroy_stream(run):
    msgs = stream(run("apply", "{spec}", "--target", NS, "--auto-approve", "--json"))
    assert [m["type"] for m in msgs] == ["version", "planned_change", "change_summary",
                                         "apply_start", "apply_complete", "change_summary"]
    check("apply.jsonl.json", run.normal(msgs))
    msgs = stream(run("destroy", "{spec}", "--target", NS, "--auto-approve", "--json"))
    assert msgs[-1]["changes"] == {"add": 0, "change": 0, "remove": 1, "operation": "destroy"}
    check("destroy.jsonl.json", run.normal(msgs))


def test_apply_with_a_provider_error_streams_the_failure(run):
    r = run("apply", "{spec}", "--target", "globex", "--auto-approve", "--json", "--parallelism", "1",
            env={"ECPCTL_FAKE_FAIL": NS}, code=1)
    msgs = stream(r)
    errored = [m for m in msgs if m["type"] == "apply_errored"]
    assert [m["hook"]["resource"]["addr"] for m in errored] == [NS]
    diags = [m for m in msgs if m["type"] == "diagnostic"]
    assert diags[0]["@level"] == "error" and diags[0]["diagnostic"]["address"] == NS
    assert all(m["@level"] == "warn" for m in diags[1:])       # the skipped dependents
    assert msgs[-1]["type"] == "change_summary" and msgs[-1]["@level"] == "error"
    check("apply_provider_error.jsonl.json", run.normal(msgs))


def test_apply_with_a_config_error(run, spec_dir):
    break_spec(spec_dir)
    msgs = stream(run("apply", "{spec}", "--auto-approve", "--json", code=1))
    assert msgs[-1]["type"] == "diagnostic" and msgs[-1]["@level"] == "error"
    assert msgs[-1]["diagnostic"]["line"]
    check("apply_config_error.jsonl.json", run.normal(msgs))


def test_show_state_and_saved_plan(run):
    doc = one_document(run("show", "--json"))
    assert doc["resources"] == [] and doc["serial"] == 0
    run("plan", "{spec}", "--target", NS, "-o", "{tmp}/p.plan")
    doc = one_document(run("show", "{tmp}/p.plan", "--json"))
    assert doc["command"] == "show"
    check("show_plan.json", run.normal(doc))
    run("apply", "{tmp}/p.plan")
    check("show_state.json", run.normal(one_document(run("show", "--json"))))


def test_show_of_a_missing_plan_file_is_a_usage_error_in_the_envelope(run):
    doc = one_document(run("show", "{tmp}/nope.plan", "--json", code=1))
    assert doc["ok"] is False and "nope.plan" in doc["diagnostics"][0]["summary"]


def test_import(run):
    run("apply", "{spec}", "--target", NS, "--auto-approve")
    run("state", "rm", NS)
    doc = one_document(run("import", NS, "ecp-ai-globex", "--path", "{spec}", "--json"))
    assert doc["ok"] is True and doc["address"] == NS
    check("import.json", run.normal(doc))
    doc = one_document(run("import", NS, "ecp-ai-globex", "--path", "{spec}", "--json", code=1))
    assert "already managed" in doc["diagnostics"][0]["summary"]
    check("import_error.json", run.normal(doc))


# --- every command, every kind of failure ---------------------------------------------------------

ONE_DOCUMENT = [["plan", "{spec}", "--json"], ["import", NS, "ecp-ai-globex", "--path", "{spec}",
                                                "--json"]]
STREAMED = [["apply", "{spec}", "--auto-approve", "--json"],
            ["destroy", "{spec}", "--auto-approve", "--json"]]


@pytest.mark.parametrize("args", ONE_DOCUMENT + STREAMED, ids=lambda a: a[0])
def test_a_held_lock_fails_in_json(run, ecpctl, args):
    run("apply", "{spec}", "--target", NS, "--auto-approve")
    if args[0] == "import":
        run("state", "rm", NS)
    with held_lock(ecpctl):
        r = run(*args, code=1)
    if args in ONE_DOCUMENT:
        doc = one_document(r)
        assert doc["ok"] is False and doc["command"] == args[0]
        summary = doc["diagnostics"][0]["summary"]
    else:
        last = stream(r)[-1]
        assert last["type"] == "diagnostic" and last["@level"] == "error"
        summary = last["diagnostic"]["summary"]
    assert summary.startswith("state is locked by ") and f"(pid {os.getpid()})" in summary


@pytest.mark.parametrize("args", ONE_DOCUMENT + STREAMED + [["graph", "{spec}", "--json"]],
                         ids=lambda a: a[0])
def test_a_config_error_fails_in_json(run, spec_dir, args):
    break_spec(spec_dir)
    r = run(*args, code=1)
    if args in STREAMED:
        diag = stream(r)[-1]["diagnostic"]
    else:
        doc = one_document(r)
        assert doc["ok"] is False and doc["command"] == args[0]
        diag = doc["diagnostics"][0]
    assert diag["severity"] == "error" and diag["file"].endswith("acme.yaml")
    assert f"{diag['file']}:{diag['line']}:{diag['column']}" in r.stderr   # the human line too


@pytest.mark.parametrize("args", [["plan", "{spec}", "--json"],
                                  ["apply", "{spec}", "--auto-approve", "--json"]],
                         ids=lambda a: a[0])
def test_a_provider_error_exits_1_like_the_human_view(run, args):
    env = {"ECPCTL_FAKE_READ_ERROR": NS}
    human = run(*[a for a in args if a != "--json"], env=env, code=1)
    r = run(*args, env=env, code=1)
    assert "injected failure" in human.stderr and "injected failure" in r.stderr
    assert "Creating..." not in human.stdout + r.stdout       # nothing applied
