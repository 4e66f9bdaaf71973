"""plan / apply / destroy through the CLI against the fake provider: what a user sees and gets."""

from __future__ import annotations

import json
import re
from tests.fakes.provider import read_live, write_live

NS = "tenant.acme.kubernetes.v1.Namespace.ecp-ai-acme"
DEPLOY = "tenant.acme.kubernetes.apps/v1.Deployment.chatbot"
ROLE = "tenant.acme.postgres.role.acme_app"


def count(pattern: str, text: str) -> int:
    return len(re.findall(pattern, text))


def test_plan_then_apply_then_no_changes(ecpctl, spec_dir):
    r = ecpctl("plan", str(spec_dir), "--no-refresh")
    assert r.exit_code == 0, r.output
    assert "Plan: 44 to add, 0 to change, 0 to destroy." in r.output
    assert f"# {NS} will be created" in r.output

    r = ecpctl("apply", str(spec_dir), "--auto-approve")
    assert r.exit_code == 0, r.output
    assert "Apply complete! Resources: 44 added, 0 changed, 0 destroyed." in r.output

    r = ecpctl("plan", str(spec_dir), "--detailed-exitcode")
    assert r.exit_code == 0, r.output
    assert "No changes." in r.output


def test_detailed_exitcode_and_config_change(ecpctl, spec_dir):
    assert ecpctl("apply", str(spec_dir), "--auto-approve").exit_code == 0
    acme = spec_dir / "acme.yaml"
    acme.write_text(acme.read_text().replace("chatbot: 20", "chatbot: 45"))
    r = ecpctl("plan", str(spec_dir), "--detailed-exitcode")
    assert r.exit_code == 2, r.output
    assert f"# {DEPLOY} will be updated in-place" in r.output
    assert "(configuration changed)" in r.output
    assert "CHATBOT_MAX_SESSIONS" in r.output


def test_drift_shows_exactly_the_changed_field_and_apply_restores(ecpctl, spec_dir):
    assert ecpctl("apply", str(spec_dir), "--auto-approve").exit_code == 0
    live = read_live(DEPLOY)
    wanted = live["spec"]["replicas"]
    live["spec"]["replicas"] = wanted + 5
    write_live(DEPLOY, live)
    r = ecpctl("plan", str(spec_dir))
    assert "(changed outside ecpctl)" in r.output
    assert f"~ replicas = {wanted + 5} -> {wanted}" in r.output
    assert "Plan: 0 to add, 1 to change, 0 to destroy." in r.output
    assert ecpctl("apply", str(spec_dir), "--auto-approve").exit_code == 0
    assert read_live(DEPLOY)["spec"]["replicas"] == wanted
    assert "No changes." in ecpctl("plan", str(spec_dir)).output


def test_object_deleted_out_of_band_is_recreated(ecpctl, spec_dir):
    assert ecpctl("apply", str(spec_dir), "--auto-approve").exit_code == 0
    from tests.fakes.provider import _file
    _file(DEPLOY).unlink()
    r = ecpctl("plan", str(spec_dir))
    assert f"# {DEPLOY} will be created" in r.output
    assert "(deleted outside ecpctl)" in r.output
    assert ecpctl("apply", str(spec_dir), "--auto-approve").exit_code == 0
    assert "No changes." in ecpctl("plan", str(spec_dir)).output


def test_removed_service_is_pruned(ecpctl, spec_dir):
    assert ecpctl("apply", str(spec_dir), "--auto-approve").exit_code == 0
    acme = spec_dir / "acme.yaml"
    acme.write_text(acme.read_text().replace("    chatbot: 20\n", ""))
    r = ecpctl("plan", str(spec_dir))
    for kind in ("apps/v1.Deployment", "v1.Service", "policy/v1.PodDisruptionBudget",
                 "autoscaling/v2.HorizontalPodAutoscaler"):
        assert f"# tenant.acme.kubernetes.{kind}.chatbot will be destroyed" in r.output
    assert "(no longer in configuration)" in r.output
    r = ecpctl("apply", str(spec_dir), "--auto-approve")
    assert r.exit_code == 0
    assert "4 destroyed" in r.output
    assert DEPLOY not in ecpctl("state", "list").output


def test_failure_skips_dependents_and_other_branches_finish(ecpctl, spec_dir):
    r = ecpctl("apply", str(spec_dir), "--auto-approve", env={"ECPCTL_FAKE_FAIL": NS})
    assert r.exit_code == 1
    assert f"Error: {NS}: injected failure" in r.output
    assert count(r"Skipped tenant\.acme\.kubernetes\.", r.output) > 5
    assert "Skipped tenant.globex" not in r.output
    listed = ecpctl("state", "list").output
    assert "tenant.globex.kubernetes.apps/v1.Deployment.chatbot" in listed
    assert "tenant.acme.postgres.role.acme_app" in listed      # another branch finished
    assert NS not in listed
    # the failure is reported once, not repeated for every dependent
    assert r.output.count("injected failure") == 1
    r = ecpctl("apply", str(spec_dir), "--auto-approve")
    assert r.exit_code == 0
    assert "No changes." in ecpctl("plan", str(spec_dir)).output


def test_retryable_error_is_retried(ecpctl, spec_dir):
    r = ecpctl("apply", str(spec_dir), "--auto-approve",
               env={"ECPCTL_FAKE_RETRYABLE_ONCE": DEPLOY})
    assert r.exit_code == 0, r.output
    assert "retrying in" in r.output


def test_saved_plan_applies_and_stale_plan_is_refused(ecpctl, spec_dir, tmp_path):
    planfile = tmp_path / "tf.plan"
    r = ecpctl("plan", str(spec_dir), "-o", str(planfile))
    assert r.exit_code == 0 and planfile.exists()
    assert oct(planfile.stat().st_mode & 0o777) == "0o600"
    stale = tmp_path / "stale.plan"
    planfile.rename(stale)
    r = ecpctl("plan", str(spec_dir), "-o", str(planfile))
    r = ecpctl("apply", str(planfile))
    assert r.exit_code == 0, r.output
    assert "Apply complete! Resources: 44 added" in r.output
    tenants = json.loads(ecpctl("tenants", "--json").output)["tenants"]
    assert {t["tenant_id"]: t["status"] for t in tenants} == {"acme": "running", "globex": "running"}
    r = ecpctl("apply", str(stale))
    assert r.exit_code == 1
    assert "saved plan is stale" in r.output


def test_apply_asks_for_confirmation(ecpctl, spec_dir):
    r = ecpctl("apply", str(spec_dir), input="no\n")
    assert r.exit_code == 1
    assert "apply cancelled" in r.output
    assert ecpctl("state", "list").output == ""
    r = ecpctl("apply", str(spec_dir), input="yes\n")
    assert r.exit_code == 0
    assert "Apply complete!" in r.output


def test_secrets_never_appear_in_output(ecpctl, spec_dir, tmp_path):
    outputs = [ecpctl("plan", str(spec_dir)).output,
               ecpctl("plan", str(spec_dir), "--json").output,
               ecpctl("apply", str(spec_dir), "--auto-approve").output]
    doc = json.loads(ecpctl("state", "pull").output)
    password = next(r["attributes"]["password"] for r in doc["resources"] if r["address"] == ROLE)
    assert len(password) >= 24
    outputs += [ecpctl("state", "show", ROLE).output,
                ecpctl("state", "show", "tenant.acme.kubernetes.v1.Secret.ecp-ai-db").output,
                ecpctl("plan", str(spec_dir), "-replace", ROLE).output,
                ecpctl("plan", str(spec_dir), "--json", "-replace", ROLE).output]
    import base64
    encoded = base64.b64encode(password.encode()).decode()
    for text in outputs:
        assert password not in text
        assert encoded not in text
    assert "(sensitive value)" in outputs[0]


def test_replace_rotates_the_generated_password(ecpctl, spec_dir):
    assert ecpctl("apply", str(spec_dir), "--auto-approve").exit_code == 0

    def password():
        doc = json.loads(ecpctl("state", "pull").output)
        return next(r["attributes"]["password"] for r in doc["resources"] if r["address"] == ROLE)

    before = password()
    r = ecpctl("plan", str(spec_dir), "-replace", ROLE)
    assert f"# {ROLE} must be replaced" in r.output
    assert "replacement requested with -replace" in r.output
    # the Secret that carries the password changes with it
    assert "# tenant.acme.kubernetes.v1.Secret.ecp-ai-db will be updated in-place" in r.output
    assert ecpctl("apply", str(spec_dir), "--auto-approve", "-replace", ROLE).exit_code == 0
    assert password() != before
    assert "No changes." in ecpctl("plan", str(spec_dir)).output


def test_target_and_exclude(ecpctl, spec_dir):
    r = ecpctl("plan", str(spec_dir), "--target", "globex")
    assert "tenant.acme" not in r.output
    assert "Plan: 14 to add" in r.output
    r = ecpctl("plan", str(spec_dir), "--target", "tenant.acme.kubernetes.apps/v1.Deployment.*")
    assert "# tenant.acme.kubernetes.v1.Namespace.ecp-ai-acme will be created" in r.output
    assert "HorizontalPodAutoscaler" not in r.output
    r = ecpctl("plan", str(spec_dir), "--exclude", "tenant.acme.postgres.*")
    assert "postgres" not in r.output
    assert "v1.Secret.ecp-ai-db" not in r.output       # depends on the excluded role
    assert "v1.Namespace.ecp-ai-acme will be created" in r.output


def test_destroy_walks_in_reverse(ecpctl, spec_dir):
    assert ecpctl("apply", str(spec_dir), "--auto-approve").exit_code == 0
    r = ecpctl("destroy", str(spec_dir), "--auto-approve", "--target", "acme", "--parallelism", "1")
    assert r.exit_code == 0, r.output
    assert "Destroy complete! Resources: 0 added, 0 changed, 30 destroyed." in r.output
    order = re.findall(r"^(\S+): Destroying\.\.\.$", r.output, re.M)
    assert order.index(NS) > order.index(DEPLOY)
    assert order.index("tenant.acme.postgres.role.acme_owner") > order.index(
        "tenant.acme.postgres.database.acme")
    listed = ecpctl("state", "list").output
    assert "tenant.acme" not in listed and "tenant.globex" in listed
    tenants = json.loads(ecpctl("tenants", "--json").output)["tenants"]
    assert [t["tenant_id"] for t in tenants] == ["globex"]


def test_plan_destroy_json_lists_deletes(ecpctl, spec_dir):
    assert ecpctl("apply", str(spec_dir), "--auto-approve").exit_code == 0
    doc = json.loads(ecpctl("plan", str(spec_dir), "--destroy", "--json").output)
    assert doc["destroy"] is True
    assert {tuple(c["actions"]) for c in doc["resource_changes"]} == {("delete",)}
    assert doc["summary"] == {"add": 0, "change": 0, "destroy": 44, "no_op": 0}



def test_tenant_removed_from_config_is_destroyed_and_leaves_the_registry(ecpctl, spec_dir):
    assert ecpctl("apply", str(spec_dir), "--auto-approve").exit_code == 0
    tenants = json.loads(ecpctl("tenants", "--json").output)["tenants"]
    assert {t["tenant_id"]: t["status"] for t in tenants} == {"acme": "running", "globex": "running"}
    (spec_dir / "globex.yaml").unlink()
    r = ecpctl("apply", str(spec_dir), "--auto-approve")
    assert r.exit_code == 0, r.output
    assert "14 destroyed" in r.output
    tenants = json.loads(ecpctl("tenants", "--json").output)["tenants"]
    assert [t["tenant_id"] for t in tenants] == ["acme"]
    assert tenants[0]["preset"] == "small" and tenants[0]["service_requirements"] == {
        "callbot": 10, "chatbot": 20}


def test_a_command_leaves_nothing_frozen_out_of_the_collector(ecpctl, spec_dir, monkeypatch):
    """The engine freezes the plan's objects out of the cyclic GC while the command runs; commands
    run one after another in one process must not keep each other's objects frozen."""
    import gc
    froze: list[int] = []
    freeze = gc.freeze

    def counted() -> None:
        freeze()
        froze.append(gc.get_freeze_count())

    monkeypatch.setattr(gc, "freeze", counted)
    r = ecpctl("plan", str(spec_dir))
    assert r.exit_code == 0, r.output
    assert froze and max(froze) > 0
    assert gc.get_freeze_count() == 0
