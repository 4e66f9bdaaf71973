"""plan, apply, destroy, show and import through the CLI: Terraform's spellings, flags that used to be
ignored, the state lock during plan, and read-only runs that leave the directory as it was."""

from __future__ import annotations

import io
import json
import os
from contextlib import contextmanager
from types import SimpleNamespace

import pytest
from rich.console import Console

NS = "tenant.globex.kubernetes.v1.Namespace.ecp-ai-globex"
ROLE = "tenant.acme.postgres.role.acme_app"


def tree(root) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@contextmanager
def held_lock(ecpctl, operation="apply"):
    """The workspace lock, held by a live process (this one) as a running apply would."""
    from state.store import StateStore
    store = StateStore.open(None, data_dir=ecpctl.data_dir)
    lock = store.lock("default", operation)
    try:
        yield lock
    finally:
        store.unlock(lock)
        store.close()


# --- Terraform's spellings -----------------------------------------------------------------------

def test_single_dash_out_target_and_detailed_exitcode(ecpctl, spec_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = ecpctl("plan", str(spec_dir), "-out=tfplan", f"-target={NS}", "-detailed-exitcode",
               "-parallelism=3", "-lock-timeout=1m30s")
    assert r.exit_code == 2, r.output
    assert (tmp_path / "tfplan").is_file() and not (tmp_path / "ut=tfplan").exists()
    assert "Plan: 1 to add, 0 to change, 0 to destroy." in r.output
    r = ecpctl("apply", "tfplan", "-parallelism=1")
    assert r.exit_code == 0, r.output
    assert "Apply complete! Resources: 1 added" in r.output


def test_single_dash_auto_approve_and_replace(ecpctl, spec_dir):
    r = ecpctl("apply", str(spec_dir), "-auto-approve", "-target=acme")
    assert r.exit_code == 0, r.output
    r = ecpctl("plan", str(spec_dir), f"-replace={ROLE}", "-target=acme", "--json")
    doc = json.loads(r.stdout)
    role = next(c for c in doc["resource_changes"] if c["address"] == ROLE)
    assert role["actions"] != ["no-op"]
    r = ecpctl("apply", str(spec_dir), "-auto-approve", "-replace", ROLE, "-target=acme")
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize("value, seconds", [("30s", 30.0), ("5m", 300.0), ("1m30s", 90.0),
                                            ("45", 45.0), ("0.5", 0.5)])
def test_durations_read_as_written(value, seconds):
    from ecpctl.cli.options import DURATION
    assert DURATION.convert(value, None, None) == seconds


def test_a_malformed_duration_is_a_one_line_usage_error(ecpctl, spec_dir):
    r = ecpctl("plan", str(spec_dir), "--lock-timeout", "soon")
    assert r.exit_code == 1
    assert "malformed duration 'soon'" in r.output
    r = ecpctl("apply", str(spec_dir), "--timeout", "-5", "--auto-approve")
    assert r.exit_code == 1


# --- flags that used to be ignored ----------------------------------------------------------------

def test_destroy_refuses_replace_and_strict(ecpctl, spec_dir):
    for flag in (["--replace", ROLE], ["--strict"]):
        r = ecpctl("destroy", str(spec_dir), "--auto-approve", *flag)
        assert r.exit_code == 1
        assert f"No such option '{flag[0]}'" in r.output


@pytest.mark.parametrize("flag", [["--target", "acme"], ["--exclude", "acme"], ["--replace", ROLE],
                                  ["--destroy"], ["--no-refresh"], ["--refresh"], ["--strict"]])
def test_a_saved_plan_refuses_options_that_would_shape_a_new_one(ecpctl, spec_dir, tmp_path, flag):
    out = tmp_path / "p.plan"
    assert ecpctl("plan", str(spec_dir), "-o", str(out)).exit_code == 0
    r = ecpctl("apply", str(out), *flag)
    assert r.exit_code == 1
    assert "cannot be used with a saved plan" in r.output
    assert not ecpctl.live.exists() or not any(ecpctl.live.iterdir())   # nothing applied


def test_apply_json_needs_auto_approve(ecpctl, spec_dir):
    r = ecpctl("apply", str(spec_dir), "--json")
    assert r.exit_code == 1
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert lines[-1]["type"] == "diagnostic" and "--auto-approve" in lines[-1]["@message"]
    assert not (ecpctl.data_dir / "state.db").exists() or "Creating" not in r.stdout


def test_apply_destroy_is_destroy(ecpctl, spec_dir):
    assert ecpctl("apply", str(spec_dir), "--auto-approve", "--target", "globex").exit_code == 0
    r = ecpctl("apply", str(spec_dir), "--destroy", "--auto-approve", "--target", "globex")
    assert r.exit_code == 0, r.output
    assert "Destroy complete!" in r.output
    assert ecpctl("state", "list").stdout.strip() == ""


def test_graph_format_and_json_exclude_each_other(ecpctl, spec_dir):
    r = ecpctl("graph", str(spec_dir), "--format", "mermaid", "--json")
    assert r.exit_code == 1 and "exclude each other" in r.output


# --- the lock during plan -------------------------------------------------------------------------

def test_plan_waits_for_and_reports_a_held_lock(ecpctl, spec_dir):
    assert ecpctl("apply", str(spec_dir), "--auto-approve", "--target", "globex").exit_code == 0
    with held_lock(ecpctl):
        r = ecpctl("plan", str(spec_dir))
        assert r.exit_code == 1
        assert "state is locked by" in r.output and f"(pid {os.getpid()})" in r.output
        r = ecpctl("plan", str(spec_dir), "-lock-timeout=1s")
        assert r.exit_code == 1 and "timed out after 1s waiting for the lock" in r.output
        r = ecpctl("plan", str(spec_dir), "-lock=false")
        assert r.exit_code == 0, r.output
        r = ecpctl("plan", str(spec_dir), "--no-lock")
        assert r.exit_code == 0, r.output
    assert ecpctl("plan", str(spec_dir)).exit_code == 0


def test_plan_releases_the_lock_it_took(ecpctl, spec_dir):
    assert ecpctl("apply", str(spec_dir), "--auto-approve", "--target", "globex").exit_code == 0
    assert ecpctl("plan", str(spec_dir)).exit_code == 0
    with held_lock(ecpctl):      # would fail if plan had left its lock behind
        pass


# --- read-only runs -------------------------------------------------------------------------------

@pytest.mark.parametrize("args", [["plan", "{spec}", "--no-refresh"], ["plan", "{spec}"],
                                  ["plan", "{spec}", "--json"], ["graph", "{spec}"],
                                  ["graph", "{spec}", "--json"], ["show"], ["show", "--json"]])
def test_read_only_commands_leave_an_empty_directory_as_it_was(ecpctl, spec_dir, args):
    before = tree(ecpctl.root)
    r = ecpctl(*[a.format(spec=spec_dir) for a in args])
    assert r.exit_code == 0, r.output
    assert not ecpctl.data_dir.exists()
    assert tree(ecpctl.root) - before <= {"live"}       # the fake provider's own directory


def test_show_a_saved_plan_and_the_state(ecpctl, spec_dir, tmp_path):
    out = tmp_path / "p.plan"
    assert ecpctl("plan", str(spec_dir), "--target", "globex", "-o", str(out)).exit_code == 0
    human = ecpctl("show", str(out))
    assert human.exit_code == 0 and f"# {NS} will be created" in human.stdout
    doc = json.loads(ecpctl("show", str(out), "--json").stdout)
    assert doc["command"] == "show" and doc["ok"] is True
    assert NS in {c["address"] for c in doc["resource_changes"]}
    assert "No state" in ecpctl("show").stdout
    assert ecpctl("apply", str(out)).exit_code == 0
    state = json.loads(ecpctl("show", "--json").stdout)
    assert NS in {r["address"] for r in state["resources"]}
    assert state["serial"] > 0 and state["lineage"]
    assert f"# {NS}:" in ecpctl("show").stdout


def test_show_redacts_sensitive_values(ecpctl, spec_dir):
    assert ecpctl("apply", str(spec_dir), "--auto-approve", "--target", "acme").exit_code == 0
    from tests.fakes.provider import read_live
    secret = read_live(ROLE)["password"]
    for args in (["show"], ["show", "--json"]):
        out = ecpctl(*args).stdout
        assert secret not in out and "(sensitive value)" in out


def test_show_refuses_a_file_that_is_not_a_plan(ecpctl, spec_dir):
    r = ecpctl("show", str(spec_dir / "acme.yaml"))
    assert r.exit_code == 1 and "not an ecpctl saved plan" in r.output


# --- the heartbeat and JSON held in strings -------------------------------------------------------

class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def _change(action_name="CREATE"):
    """What the views read of a change (its identity and action)."""
    from ecpctl.plan import Action
    return SimpleNamespace(address=NS, provider="kubernetes", type="v1.Namespace",
                           name="ecp-ai-globex", tenant="globex", action=Action[action_name])


@pytest.mark.parametrize("action, word", [("CREATE", "Still creating..."),
                                          ("UPDATE", "Still modifying..."),
                                          ("DELETE", "Still destroying...")])
def test_long_waits_print_a_heartbeat_every_ten_seconds(action, word):
    from ecpctl.views.apply_human import ProgressView
    buf, clock = io.StringIO(), FakeClock()
    view = ProgressView(Console(file=buf, no_color=True, width=200), clock=clock, interval=10)
    change = _change(action)
    view.started(change)
    for now in (105, 110.5, 115, 121, 140.2):
        clock.now = now
        view.heartbeat.tick()
    view.finished(change, None, 41.0)
    clock.now = 200
    view.heartbeat.tick()
    view.close()
    lines = [line for line in buf.getvalue().splitlines() if "Still" in line]
    assert lines == [f"{NS}: {word} [10s elapsed]", f"{NS}: {word} [20s elapsed]",
                     f"{NS}: {word} [40s elapsed]"]


def test_the_json_stream_carries_the_heartbeat():
    from ecpctl.views.apply_json import ApplyJsonView
    lines, clock = [], FakeClock()
    view = ApplyJsonView(lines.append, clock=clock, interval=10)
    change = _change()
    view.started(change)
    clock.now = 121
    view.heartbeat.tick()
    view.finished(change, None, 21.0)
    view.close()
    msgs = [json.loads(line) for line in lines]
    assert [m["type"] for m in msgs] == ["apply_start", "apply_progress", "apply_complete"]
    assert msgs[1]["hook"]["elapsed_seconds"] == 20
    assert msgs[1]["@message"] == f"{NS}: Still creating... [20s elapsed]"


def test_a_dashboard_in_a_configmap_is_diffed_as_a_document(ecpctl, spec_dir):
    assert ecpctl("apply", str(spec_dir), "--auto-approve", "--target", "acme").exit_code == 0
    acme = spec_dir / "acme.yaml"
    acme.write_text(acme.read_text().replace('availability: "99.5%"', 'availability: "99.9%"'))
    r = ecpctl("plan", str(spec_dir), "--target",
               "tenant.acme.kubernetes.v1.ConfigMap.ecp-ai-dashboard-slo")
    assert r.exit_code == 0, r.output
    assert '~ "acme-slo.json" = jsonencode(' in r.stdout
    assert '~ description = "Target 99.5%." -> "Target 99.9%."' in r.stdout
    assert "~ value = 0.995 -> 0.999" in r.stdout
    longest = max(len(line) for line in r.stdout.splitlines())
    assert longest < 300, "a dashboard was printed as one escaped line"


def test_a_plan_saved_without_refresh_is_refused_and_applies_nothing(ecpctl, spec_dir, tmp_path):
    # offline, it recorded no target (cluster identity, database) and checked no live owner: it
    # could apply anywhere, over anyone's objects
    out = tmp_path / "offline.plan"
    assert ecpctl("plan", str(spec_dir), "--no-refresh", "-o", str(out)).exit_code == 0
    r = ecpctl("apply", str(out))
    assert r.exit_code == 1
    assert "saved plan refused: it was made with --no-refresh" in r.output
    assert not any(ecpctl.live.glob("*.json"))
    listed = ecpctl("state", "list")
    assert listed.exit_code == 0 and listed.output.strip() == ""
    # the lock was released: a refreshed plan saved and applied goes through
    assert ecpctl("plan", str(spec_dir), "-o", str(out)).exit_code == 0
    assert ecpctl("apply", str(out)).exit_code == 0
    assert any(ecpctl.live.glob("*.json"))     # the fake's live objects, absent before


def test_a_target_that_matches_nothing_is_a_warning(ecpctl, spec_dir):
    r = ecpctl("plan", str(spec_dir), "--target", "nobody", "--target", "acme")
    assert r.exit_code == 0, r.output
    warnings = [line for line in r.output.splitlines() if line.startswith("Warning: ")]
    assert warnings == ["Warning: --target nobody matches no resource in the specs or the state"]
