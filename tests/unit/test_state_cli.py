"""workspace, state and import commands through the CLI (SQLite state, fake provider)."""

from __future__ import annotations

import json
import os
import stat

from tests.fakes.provider import write_live

DEPLOY = "tenant.globex.kubernetes.apps/v1.Deployment.chatbot"


def applied(ecpctl, spec_dir):
    r = ecpctl("apply", str(spec_dir), "--auto-approve")
    assert r.exit_code == 0, r.output
    return r


def test_workspaces_keep_separate_states(ecpctl, spec_dir):
    applied(ecpctl, spec_dir)
    assert ecpctl("workspace", "list").output == "* default\n"
    r = ecpctl("workspace", "new", "demo")
    assert r.exit_code == 0 and 'Created and switched to workspace "demo"' in r.output
    assert ecpctl("workspace", "show").output == "demo\n"
    assert ecpctl("state", "list").output == ""
    assert "Plan: 44 to add" in ecpctl("plan", str(spec_dir), "--no-refresh").output
    assert ecpctl("workspace", "list").output == "  default\n* demo\n"
    r = ecpctl("workspace", "delete", "demo")
    assert r.exit_code == 1 and "is selected" in r.output
    assert ecpctl("workspace", "select", "default").exit_code == 0
    r = ecpctl("workspace", "select", "nope")
    assert r.exit_code == 1 and "ecpctl workspace new nope" in r.output
    assert ecpctl("workspace", "delete", "demo").exit_code == 0
    assert ecpctl("workspace", "list").output == "* default\n"
    r = ecpctl("workspace", "delete", "default")
    assert r.exit_code == 1 and "cannot be deleted" in r.output


def test_state_db_is_private(ecpctl, spec_dir):
    applied(ecpctl, spec_dir)
    mode = stat.S_IMODE(os.stat(ecpctl.data_dir / "state.db").st_mode)
    assert mode == 0o600


def test_state_list_show_json(ecpctl, spec_dir):
    applied(ecpctl, spec_dir)
    doc = json.loads(ecpctl("state", "list", "--json").output)
    assert doc["format_version"] == "1.0" and len(doc["resources"]) == 44
    assert ecpctl("state", "list", "globex").output.count("\n") == 14
    r = ecpctl("state", "show", DEPLOY, "--json")
    shown = json.loads(r.output)
    assert shown["attributes"]["spec"]["replicas"] == 1
    r = ecpctl("state", "show", "tenant.globex.nope.x.y")
    assert r.exit_code == 1 and "no such resource in state" in r.output


def test_state_rm_then_import(ecpctl, spec_dir):
    applied(ecpctl, spec_dir)
    assert ecpctl("state", "rm", DEPLOY).exit_code == 0
    assert DEPLOY not in ecpctl("state", "list").output
    r = ecpctl("plan", str(spec_dir))
    assert "exists but is not in state; it will be adopted" in r.output
    r = ecpctl("import", DEPLOY, "ecp-ai-globex/chatbot", "--path", str(spec_dir))
    assert r.exit_code == 0, r.output
    assert f"Import successful: {DEPLOY}" in r.output
    assert "No changes." in ecpctl("plan", str(spec_dir)).output
    r = ecpctl("import", DEPLOY, "ecp-ai-globex/chatbot", "--path", str(spec_dir))
    assert r.exit_code == 1 and "already managed" in r.output
    r = ecpctl("import", "tenant.globex.kubernetes.apps/v1.Deployment.nope", "x",
               "--path", str(spec_dir))
    assert r.exit_code == 1 and "not declared by the spec files" in r.output


def test_import_reports_what_differs(ecpctl, spec_dir):
    applied(ecpctl, spec_dir)
    assert ecpctl("state", "rm", DEPLOY).exit_code == 0
    from tests.fakes.provider import read_live
    live = read_live(DEPLOY)
    live["spec"]["replicas"] = 4
    write_live(DEPLOY, live)
    assert ecpctl("import", DEPLOY, "ecp-ai-globex/chatbot", "--path", str(spec_dir)).exit_code == 0
    r = ecpctl("plan", str(spec_dir))
    assert "~ replicas = 4 -> 1" in r.output


def test_state_mv(ecpctl, spec_dir):
    applied(ecpctl, spec_dir)
    new = DEPLOY.replace("chatbot", "chatbot2")
    assert ecpctl("state", "mv", DEPLOY, new).exit_code == 0
    listed = ecpctl("state", "list").output
    assert new in listed and DEPLOY + "\n" not in listed
    r = ecpctl("state", "mv", DEPLOY, new)
    assert r.exit_code == 1
    r = ecpctl("state", "mv", "garbage", new)
    assert r.exit_code == 1 and "is not a resource address" in r.output


def test_history_pull_push(ecpctl, spec_dir, tmp_path):
    applied(ecpctl, spec_dir)
    assert ecpctl("state", "rm", DEPLOY).exit_code == 0
    hist = json.loads(ecpctl("state", "history", "--json").output)["versions"]
    assert [h["operation"] for h in hist][:2] == ["state rm", "apply"]
    older = hist[1]["version"]
    doc = json.loads(ecpctl("state", "pull", "--version", str(older)).output)
    assert any(r["address"] == DEPLOY for r in doc["resources"])
    saved = tmp_path / "old.json"
    saved.write_text(json.dumps(doc))
    r = ecpctl("state", "push", str(saved))
    assert r.exit_code == 1 and "lower than" in r.output
    r = ecpctl("state", "push", str(saved), "--force")
    assert r.exit_code == 0, r.output
    assert DEPLOY in ecpctl("state", "list").output
    assert "No changes." in ecpctl("plan", str(spec_dir)).output
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    r = ecpctl("state", "push", str(bad))
    assert r.exit_code == 1 and "not a JSON state document" in r.output


def test_force_unlock_of_unknown_lock(ecpctl, spec_dir):
    r = ecpctl("force-unlock", "nope", "--yes")
    assert r.exit_code == 1 and "holds no lock with id nope" in r.output
