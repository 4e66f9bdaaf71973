"""Expected-output tests: the human and JSON plan views and the apply order are pinned in files
under tests/unit/expected/. Regenerate deliberately with ECPCTL_UPDATE_EXPECTED=1."""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path

from rich.console import Console

from ecpctl.plan import Action, ActionReason, Plan, ResourceChange
from ecpctl.kernel import Address
from ecpctl.kernel import Resource
from ecpctl.views.plan_human import render_plan
from ecpctl.views.plan_json import plan_document
from ecpctl.kernel import ResourceState

EXPECTED = Path(__file__).parent / "expected"


def check(name: str, actual: str) -> None:
    path = EXPECTED / name
    if os.environ.get("ECPCTL_UPDATE_EXPECTED") == "1":
        path.write_text(actual)
    assert actual == path.read_text()


def _res(address, rtype, name, attrs, sensitive=(), deps=()):
    provider = address.split(".")[2]
    return Resource(addr=Address("acme", provider, rtype, name), attributes=attrs, sensitive=sensitive, depends_on=deps)


def sample_plan() -> Plan:
    role = _res("tenant.acme.postgres.role.acme_app", "role", "acme_app",
                {"name": "acme_app", "login": True, "password": "hunter2-secret"}, ("password",))
    dep_before = {"metadata": {"name": "callbot", "labels": {"a": "1", "b": "2"}},
                  "spec": {"replicas": 5, "template": {"spec": {"containers": [
                      {"name": "callbot", "image": "ecp-ai/callbot:1.0"}]}}}}
    dep_after = {"metadata": {"name": "callbot", "labels": {"a": "1", "c": "3"}},
                 "spec": {"replicas": 2, "template": {"spec": {"containers": [
                     {"name": "callbot", "image": "ecp-ai/callbot:1.1"}]}}}}
    deploy = _res("tenant.acme.kubernetes.apps/v1.Deployment.callbot", "apps/v1.Deployment",
                  "callbot", dep_after)
    secret_before = {"data": {"PGPASSWORD": "b2xk"}, "type": "Opaque"}
    secret_after = {"data": {"PGPASSWORD": "bmV3"}, "type": "Opaque"}
    secret = _res("tenant.acme.kubernetes.v1.Secret.ecp-ai-db", "v1.Secret", "ecp-ai-db",
                  secret_after, ("data",))
    db_prior = ResourceState(addr=Address("acme", "postgres", "database", "acme"),
                             attributes={"name": "acme", "encoding": "LATIN1"},
                             observed={"name": "acme", "encoding": "LATIN1"})
    db = _res("tenant.acme.postgres.database.acme", "database", "acme",
              {"name": "acme", "encoding": "UTF8"})
    gone = ResourceState(addr=Address("acme", "kubernetes", "v1.Service", "tts"),
                         attributes={"spec": {"ports": [{"port": 80}]}},
                         observed={"spec": {"ports": [{"port": 80}]}})

    def ch(r, action, before, after, reason, **kw):
        return ResourceChange(addr=r.addr, action=action, before=before, after=after,
                              reason=reason, sensitive=r.sensitive, depends_on=r.depends_on,
                              desired=r if action is not Action.DELETE else None, **kw)

    changes = (
        ch(deploy, Action.UPDATE, dep_before, dep_after, "changed outside ecpctl",
           action_reason=ActionReason.UPDATE_DRIFT),
        ch(secret, Action.UPDATE, secret_before, secret_after, "configuration changed",
           action_reason=ActionReason.UPDATE_CONFIG_CHANGED),
        ch(db, Action.REPLACE, dict(db_prior.observed), dict(db.attributes),
           "configuration changed; encoding forces replacement", requires_replace=("encoding",),
           prior=db_prior, action_reason=ActionReason.REPLACE_BECAUSE_CANNOT_UPDATE),
        ch(role, Action.CREATE, None, dict(role.attributes), "not in state",
           action_reason=ActionReason.CREATE_NOT_IN_STATE),
        ResourceChange(addr=gone.addr, action=Action.DELETE, before=dict(gone.observed),
                       after=None, reason="no longer in configuration", prior=gone,
                       action_reason=ActionReason.DELETE_BECAUSE_NO_RESOURCE_CONFIG),
    )
    return Plan(changes=changes, workspace="default", lineage="7d4c1b7e-lineage", serial=12,
                config_digest="sha256:abc")


def test_human_plan_view_is_pinned():
    buf = io.StringIO()
    render_plan(sample_plan(), Console(file=buf, no_color=True, width=100, soft_wrap=True,
                                       color_system=None, highlight=False))
    out = buf.getvalue()
    assert "hunter2-secret" not in out and "bmV3" not in out
    check("plan_human.txt", out)


def test_human_plan_view_colours_symbols_when_allowed():
    buf = io.StringIO()
    render_plan(sample_plan(), Console(file=buf, force_terminal=True, color_system="standard",
                                       width=100, soft_wrap=True, highlight=False))
    out = buf.getvalue()
    assert "\x1b[32m+\x1b[0m" in out        # green +
    assert "\x1b[33m~\x1b[0m" in out        # yellow ~
    assert "\x1b[31m-\x1b[0m" in out        # red -


def test_json_plan_view_is_pinned():
    doc = plan_document(sample_plan())
    doc["ecpctl_version"] = "X"
    text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    assert "hunter2-secret" not in text and "bmV3" not in text
    check("plan.json", text)


def test_apply_order_is_pinned(ecpctl, spec_dir):
    r = ecpctl("apply", str(spec_dir), "--auto-approve", "--parallelism", "1", "--target", "acme")
    assert r.exit_code == 0, r.output
    order = re.findall(r"^(\S+): Creating\.\.\.$", r.output, re.M)
    check("apply_order_acme.txt", "\n".join(order) + "\n")
