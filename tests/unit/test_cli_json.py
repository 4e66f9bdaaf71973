"""`--json` of validate, calc, state list/show/history, tenants, status and workspace list, through
the CLI with the fake provider: stdout is exactly one JSON envelope on success and on failure, the
exit code is the human view's, and each envelope is pinned in tests/unit/expected/json/.

Pinned files hold the envelope with what changes between runs replaced: the temporary directory
(<root>), the ecpctl version, lineages (<uuid>), timestamps (<time>) and serials (<n>: each
recorded resource bumps it, so they follow the expansion). Regenerate deliberately with
ECPCTL_UPDATE_EXPECTED=1.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from ecpctl import __version__

EXPECTED = Path(__file__).parent / "expected" / "json"
SPECS = Path(__file__).parent / "specs" / "basic"
DEPLOY = "tenant.acme.kubernetes.apps/v1.Deployment.callbot"
NAMESPACE = "tenant.acme.kubernetes.v1.Namespace.ecp-ai-acme"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TIME = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)?")
_SERIAL = re.compile(r'("(?:serial|version)": )\d+')
KEYS = {"format_version", "ecpctl_version", "command", "ok", "diagnostics"}
DIAGNOSTIC_KEYS = {"severity", "summary", "detail", "address", "file", "line", "column", "field",
                   "message"}


@pytest.fixture
def cli(ecpctl, tmp_path, monkeypatch):
    """`ecpctl` run from a directory that holds the basic specs as ./specs (relative paths)."""
    shutil.copytree(SPECS, tmp_path / "specs")
    monkeypatch.chdir(tmp_path)
    return ecpctl


def envelope(r, command: str, *, ok: bool, exit_code: int) -> dict:
    """The one document on stdout (json.loads refuses anything after it), checked for its frame."""
    assert r.exit_code == exit_code, r.output
    doc = json.loads(r.stdout)
    assert KEYS <= set(doc), doc
    assert (doc["format_version"], doc["ecpctl_version"], doc["command"], doc["ok"]) == (
        "1.0", __version__, command, ok)
    assert list(doc)[-1] == "diagnostics"
    for d in doc["diagnostics"]:
        assert set(d) == DIAGNOSTIC_KEYS, d
    if not ok:
        assert any(d["severity"] == "error" for d in doc["diagnostics"])
        # the human line is on stderr, the same words as the diagnostic's message
        assert doc["diagnostics"][0]["message"] in r.stderr
    return doc


def pinned(name: str, r, root: Path) -> None:
    text = r.stdout.replace(str(root), "<root>").replace(f'"{__version__}"', '"<version>"')
    text = _SERIAL.sub(r'\1"<n>"', _TIME.sub("<time>", _UUID.sub("<uuid>", text)))
    path = EXPECTED / f"{name}.json"
    if os.environ.get("ECPCTL_UPDATE_EXPECTED") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert text == path.read_text()


def applied(cli) -> None:
    r = cli("apply", "specs", "--auto-approve")
    assert r.exit_code == 0, r.output


def write_bad_specs(root: Path) -> Path:
    bad = root / "bad"
    bad.mkdir()
    (bad / "t.yaml").write_text(
        "apiVersion: ecp.ai/v1\nkind: Tenant\nmetadata:\n  name: Bad_Name\nspec:\n"
        "  preset: huge\n  services:\n    chatbot: -1\n  sla:\n    availability: \"101%\"\n")
    return bad


# --- validate -------------------------------------------------------------------------------------

def test_validate_json_lists_the_tenants_it_checked(cli, tmp_path):
    r = cli("validate", "specs", "--json")
    doc = envelope(r, "validate", ok=True, exit_code=0)
    assert [t["tenant"] for t in doc["tenants"]] == ["acme", "globex"]
    pinned("validate", r, tmp_path)


def test_validate_json_gives_one_diagnostic_per_problem_and_exits_1(cli, tmp_path):
    write_bad_specs(tmp_path)
    human = cli("validate", "bad")
    r = cli("validate", "bad", "--json")
    doc = envelope(r, "validate", ok=False, exit_code=1)
    assert len(doc["diagnostics"]) >= 3
    # one diagnostic per problem, each the human view's line, at its file:line:col
    assert [f"Error: {d['message']}" for d in doc["diagnostics"]] == human.output.splitlines()
    assert all(d["file"] == "bad/t.yaml" and d["line"] and d["column"] for d in doc["diagnostics"])
    pinned("validate_errors", r, tmp_path)


def test_validate_json_of_a_missing_path(cli, tmp_path):
    r = cli("validate", "nowhere", "--json")
    doc = envelope(r, "validate", ok=False, exit_code=1)
    assert doc["diagnostics"][0]["file"] == "nowhere"


# --- calc -----------------------------------------------------------------------------------------

def test_calc_json_carries_the_figures_in_the_envelope(cli, tmp_path):
    r = cli("calc", "specs", "--json")
    doc = envelope(r, "calc", ok=True, exit_code=0)
    assert {"source", "digest", "currency", "price", "tenants", "total"} <= set(doc)
    assert doc["total"]["monthly_cost"] == str(
        sum(__import__("decimal").Decimal(t["monthly_cost"]) for t in doc["tenants"]))
    pinned("calc", r, tmp_path)


def test_calc_json_of_bad_specs(cli, tmp_path):
    write_bad_specs(tmp_path)
    r = cli("calc", "bad", "--json")
    envelope(r, "calc", ok=False, exit_code=1)
    pinned("calc_errors", r, tmp_path)


# --- state list / show / history ------------------------------------------------------------------

def test_state_list_json(cli, tmp_path):
    applied(cli)
    r = cli("state", "list", "globex", "--json")
    doc = envelope(r, "state list", ok=True, exit_code=0)
    assert doc["serial"] > 0 and doc["lineage"]
    assert {x["tenant"] for x in doc["resources"]} == {"globex"}
    assert [x["address"] for x in doc["resources"]] == cli("state", "list", "globex").output.split()
    pinned("state_list", cli("state", "list", "tenant.acme.postgres.*", "--json"), tmp_path)


def test_state_list_json_of_no_state_yet(cli, tmp_path):
    r = cli("state", "list", "--json")
    doc = envelope(r, "state list", ok=True, exit_code=0)
    assert (doc["lineage"], doc["serial"], doc["resources"]) == (None, 0, [])
    pinned("state_list_empty", r, tmp_path)


def test_state_list_json_of_a_missing_workspace(cli, tmp_path):
    r = cli("-w", "nope", "state", "list", "--json")
    envelope(r, "state list", ok=False, exit_code=1)
    pinned("state_list_no_workspace", r, tmp_path)


def test_state_show_json_redacts_and_names_a_missing_address(cli, tmp_path):
    applied(cli)
    r = cli("state", "show", DEPLOY, "--json")
    doc = envelope(r, "state show", ok=True, exit_code=0)
    assert doc["address"] == DEPLOY and doc["attributes"]["spec"]["replicas"] == 1
    pinned("state_show", cli("state", "show", NAMESPACE, "--json"), tmp_path)
    secret = cli("state", "show", "tenant.acme.kubernetes.v1.Secret.ecp-ai-db", "--json")
    assert json.loads(secret.stdout)["attributes"]["data"] == "(sensitive value)"

    r = cli("state", "show", "tenant.acme.kubernetes.v1.Service.nope", "--json")
    doc = envelope(r, "state show", ok=False, exit_code=1)
    assert doc["diagnostics"][0]["address"] == "tenant.acme.kubernetes.v1.Service.nope"
    pinned("state_show_missing", r, tmp_path)


def test_state_history_json(cli, tmp_path):
    applied(cli)
    assert cli("state", "rm", DEPLOY).exit_code == 0
    r = cli("state", "history", "--json")
    doc = envelope(r, "state history", ok=True, exit_code=0)
    assert [v["operation"] for v in doc["versions"]][:2] == ["state rm", "apply"]
    assert doc["versions"][0]["version"] > doc["versions"][1]["version"]
    pinned("state_history", r, tmp_path)


def test_state_history_json_of_a_missing_workspace(cli, tmp_path):
    r = cli("-w", "nope", "state", "history", "--json")
    envelope(r, "state history", ok=False, exit_code=1)


def test_state_reads_fail_as_one_envelope_on_a_damaged_database(cli, tmp_path):
    cli.data_dir.mkdir()
    (cli.data_dir / "state.db").write_bytes(b"this is not a database" * 100)
    for args, command in ((["state", "list"], "state list"), (["tenants"], "tenants"),
                          (["workspace", "list"], "workspace list"),
                          (["state", "history"], "state history")):
        r = cli(*args, "--json")
        doc = envelope(r, command, ok=False, exit_code=1)
        assert "not a database" in doc["diagnostics"][0]["summary"]
        assert "Traceback" not in r.output


# --- reads while a lock is held -------------------------------------------------------------------

def test_reads_answer_while_a_lock_is_held_and_writes_name_the_holder(cli, tmp_path):
    from state.store import StateStore
    applied(cli)
    with StateStore.open(None, data_dir=cli.data_dir) as other:
        held = other.lock("default", "apply")
        doc = envelope(cli("state", "list", "--json"), "state list", ok=True, exit_code=0)
        assert len(doc["resources"]) == 44
        envelope(cli("tenants", "--json"), "tenants", ok=True, exit_code=0)
        envelope(cli("state", "history", "--json"), "state history", ok=True, exit_code=0)
        r = cli("state", "rm", DEPLOY)
        assert r.exit_code == 1
        assert f"lock {held.id}" in r.output or held.holder in r.output, r.output
        other.unlock(held)
    assert cli("state", "rm", DEPLOY).exit_code == 0


# --- tenants --------------------------------------------------------------------------------------

def test_tenants_json(cli, tmp_path):
    applied(cli)
    r = cli("tenants", "--json")
    doc = envelope(r, "tenants", ok=True, exit_code=0)
    assert [t["tenant_id"] for t in doc["tenants"]] == ["acme", "globex"]
    assert doc["tenants"][0]["name"] == "Acme 콜센터"
    pinned("tenants", r, tmp_path)


def test_tenants_json_of_a_missing_workspace(cli, tmp_path):
    r = cli("-w", "nope", "tenants", "--json")
    envelope(r, "tenants", ok=False, exit_code=1)
    pinned("tenants_no_workspace", r, tmp_path)


# --- workspace list -------------------------------------------------------------------------------

def test_workspace_list_json(cli, tmp_path):
    assert cli("workspace", "new", "demo").exit_code == 0
    r = cli("workspace", "list", "--json")
    doc = envelope(r, "workspace list", ok=True, exit_code=0)
    assert doc["selected"] == "demo"
    pinned("workspace_list", r, tmp_path)


def test_workspace_list_json_of_a_bad_state_url(cli, tmp_path):
    r = cli("--state-url", "mysql://x@localhost/db", "workspace", "list", "--json")
    doc = envelope(r, "workspace list", ok=False, exit_code=1)
    assert "unsupported database 'mysql'" in doc["diagnostics"][0]["summary"]
    pinned("workspace_list_bad_url", r, tmp_path)


# --- status (against a real cluster in tests/integration/test_kubernetes_lifecycle.py) -----------

def test_status_json_of_bad_specs(cli, tmp_path):
    write_bad_specs(tmp_path)
    r = cli("status", "--path", "bad", "--json")
    envelope(r, "status", ok=False, exit_code=1)
    pinned("status_errors", r, tmp_path)


def test_status_json_of_an_unknown_tenant(cli, tmp_path):
    r = cli("status", "nope", "--path", "specs", "--json")
    doc = envelope(r, "status", ok=False, exit_code=1)
    assert doc["diagnostics"][0]["summary"] == "no tenant nope in specs (it has: acme, globex)"


def test_status_json_without_a_cluster_is_one_envelope(cli, tmp_path):
    r = cli("status", "--path", "specs", "--json", env={"ECPCTL_PROVIDER_OVERRIDES": ""})
    # the Project's kubernetes provider has no cluster here: a one-line error, never a traceback
    doc = envelope(r, "status", ok=False, exit_code=1)
    assert "Traceback" not in r.output
    assert doc["diagnostics"][0]["summary"]


# --- usage errors in JSON mode --------------------------------------------------------------------

def test_a_usage_error_in_json_mode_is_one_envelope_too(cli, tmp_path):
    r = cli("state", "list", "--json", "--no-such-flag")
    envelope(r, "state list", ok=False, exit_code=1)
