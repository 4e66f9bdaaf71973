"""Values read back from live systems reach the terminal escaped: a drifted label holding an ESC
sequence or a right-to-left override is shown as `\\x1b` / `\\u202e`, never acted on."""

from __future__ import annotations

from rich.console import Console

from ecpctl.plan import Action, ActionReason, Plan, ResourceChange
from ecpctl.kernel import Address
from ecpctl.views.plan_human import render_plan

HOSTILE = "ops\x1b[2J\x1b]0;owned\x07\u202egnp.exe\x9b"


def test_a_drifted_value_is_printed_escaped():
    addr = Address.parse("tenant.acme.kubernetes.v1.Namespace.ecp-ai-acme")
    before = {"metadata": {"labels": {"team": HOSTILE}}}
    after = {"metadata": {"labels": {"team": "ops"}}}
    change = ResourceChange(addr=addr, action=Action.UPDATE, before=before, after=after,
                            reason=ActionReason.UPDATE_DRIFT.text,
                            action_reason=ActionReason.UPDATE_DRIFT)
    plan = Plan(changes=(change,), workspace="default", lineage="l", serial=1, config_digest="d")
    con = Console(record=True, width=200, color_system=None, force_terminal=False)
    render_plan(plan, con)
    text = con.export_text()
    assert "team" in text
    for raw in ("\x1b", "\x07", "\u202e", "\x9b"):
        assert raw not in text
    assert "\\u001b[2J" in text or "\\x1b[2J" in text
    assert "\\u202e" in text and "\\x9b" in text
