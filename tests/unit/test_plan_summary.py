"""The human plan above SUMMARY_ABOVE changes: counts per kind, the tenants, and one line for each
change to an existing object; --full (and any plan at or below the threshold) shows everything.
Also the LineWriter the views print through: the same text as rich's print, colour included."""

from __future__ import annotations

import io

from rich.console import Console
from rich.text import Text

from ecpctl.kernel import Address
from ecpctl.plan import Action, ActionReason, Plan, ResourceChange
from ecpctl.views.lines import LineWriter
from ecpctl.views.plan_human import render_plan
from ecpctl.views.plan_summary import SUMMARY_ABOVE


def _create(tenant: str, kind: str, name: str) -> ResourceChange:
    return ResourceChange(addr=Address(tenant, "kubernetes", kind, name), action=Action.CREATE,
                          before=None, after={"metadata": {"name": name}, "data": {"k": "v"}},
                          reason=ActionReason.CREATE_NOT_IN_STATE.text,
                          action_reason=ActionReason.CREATE_NOT_IN_STATE)


def _plan(n_creates: int) -> Plan:
    changes = [_create(f"t{i % 7}", "v1.ConfigMap", f"cm-{i}") for i in range(n_creates)]
    changes.append(ResourceChange(
        addr=Address("t1", "kubernetes", "apps/v1.Deployment", "chatbot"), action=Action.UPDATE,
        before={"spec": {"replicas": 2}}, after={"spec": {"replicas": 3}},
        reason=ActionReason.UPDATE_DRIFT.text, action_reason=ActionReason.UPDATE_DRIFT))
    changes.append(ResourceChange(
        addr=Address("t2", "postgres", "role", "t2_app"), action=Action.DELETE,
        before={"name": "t2_app"}, after=None,
        reason=ActionReason.DELETE_BECAUSE_NO_RESOURCE_CONFIG.text,
        action_reason=ActionReason.DELETE_BECAUSE_NO_RESOURCE_CONFIG))
    changes.sort(key=lambda c: c.address)
    return Plan(changes=tuple(changes), workspace="default", lineage="l", serial=1,
                config_digest="d")


def _text(plan: Plan, **kw) -> str:
    buf = io.StringIO()
    render_plan(plan, Console(file=buf, width=120, color_system=None, no_color=True,
                              soft_wrap=True), **kw)
    return buf.getvalue()


def test_a_large_plan_is_summarized_with_every_change_to_an_existing_object():
    plan = _plan(SUMMARY_ABOVE)
    out = _text(plan)
    assert f"ecpctl will perform {SUMMARY_ABOVE + 2} actions on 7 tenants" in out
    assert "--full shows every attribute" in out
    rows = {line.split()[1]: line.split()[2:] for line in out.splitlines()
            if line.startswith("  kubernetes ") or line.startswith("  postgres ")}
    assert rows == {"v1.ConfigMap": [str(SUMMARY_ABOVE)], "apps/v1.Deployment": ["1"],
                    "role": ["1"]}
    assert "  tenants: t0, t1, t2, t3, t4, t5, t6" in out
    assert ("  ~ tenant.t1.kubernetes.apps/v1.Deployment.chatbot (update in-place: "
            f"{ActionReason.UPDATE_DRIFT.text})") in out
    assert "  - tenant.t2.postgres.role.t2_app (destroy: " in out
    # creations are counted, not listed, and no attribute is printed
    assert "cm-5" not in out and "replicas" not in out
    assert out.rstrip().endswith(f"Plan: {SUMMARY_ABOVE} to add, 1 to change, 1 to destroy.")


def test_full_shows_every_attribute_however_large():
    out = _text(_plan(SUMMARY_ABOVE), full=True)
    assert "# tenant.t3.kubernetes.v1.ConfigMap.cm-3 will be created" in out
    assert "~ replicas = 2 -> 3" in out
    assert "a summary" not in out


def test_at_the_threshold_the_plan_is_shown_in_full():
    out = _text(_plan(SUMMARY_ABOVE - 2))
    assert "ecpctl will perform the following actions:" in out
    assert "# tenant.t2.postgres.role.t2_app will be destroyed" in out


def test_line_writer_writes_what_rich_prints():
    t = Text("  ")
    t.append("+", style="green")
    t.append(" created")
    for colour in (False, True):
        fast, slow = io.StringIO(), io.StringIO()
        kw = dict(width=200, soft_wrap=True, highlight=False, force_terminal=colour,
                  color_system="standard" if colour else None, no_color=not colour)
        LineWriter(Console(file=fast, **kw)).write([t, "plain", Text("dim", style="dim")])
        con = Console(file=slow, **kw)
        for x in (t, "plain", Text("dim", style="dim")):
            con.print(x)
        assert fast.getvalue() == slow.getvalue()
        assert ("\x1b[" in fast.getvalue()) is colour
