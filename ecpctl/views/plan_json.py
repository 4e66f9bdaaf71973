"""The machine-readable plan view (docs/json-output.md): the plan's keys inside the one JSON
envelope of every command. Sensitive values are redacted."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from collections.abc import Callable, Iterable

import click

from ecpctl.kernel.diagnostics import Diagnostic, Severity
from ecpctl.kernel.paths import redact
from ecpctl.plan import Plan, ResourceChange
from ecpctl.views.envelope import dumps, envelope


def change_json(c: ResourceChange) -> dict[str, Any]:
    return {
        "address": c.address,
        "provider": c.provider,
        "type": c.type,
        "name": c.name,
        "tenant": c.tenant,
        "actions": c.action.json_actions,
        "reason": c.reason or None,
        "action_reason": c.action_reason.value if c.action_reason else None,
        "before": redact(c.before, c.sensitive) if c.before is not None else None,
        "after": redact(c.after, c.sensitive) if c.after is not None else None,
        "requires_replace": list(c.requires_replace),
        "sensitive_paths": list(c.sensitive),
        "depends_on": list(c.depends_on),
    }


def summary_json(plan: Plan) -> dict[str, int]:
    s = plan.summary
    return {"add": s.add, "change": s.change, "destroy": s.destroy,
            "no_op": sum(1 for c in plan.changes if not c.is_change)}


def plan_body(plan: Plan) -> dict[str, Any]:
    """The plan's own keys (the envelope adds format_version, command, ok and diagnostics)."""
    return {
        "workspace": plan.workspace,
        "lineage": plan.lineage,
        "serial": plan.serial,
        "config_digest": plan.config_digest,
        "destroy": plan.destroy,
        "refreshed": plan.refreshed,
        "targets": list(plan.targets),
        "excludes": list(plan.excludes),
        "resource_changes": [change_json(c) for c in plan.changes],
        "summary": summary_json(plan),
        "requests": {k: dict(v) for k, v in plan.requests.items()},
        # only a refreshed plan read its targets (docs/json-output.md)
        **({"provider_targets": {k: dict(v) for k, v in plan.provider_targets.items()}}
           if plan.provider_targets else {}),
    }


def plan_document(plan: Plan, command: str = "plan") -> dict[str, Any]:
    """The whole document; `ok` is false when the plan has error diagnostics."""
    return envelope(command, plan_body(plan), diagnostics=plan.diagnostics)


def render_plan_json(plan: Plan, command: str = "plan") -> str:
    return dumps(plan_document(plan, command))


class PlanJsonView:
    """`plan --json` and `show --json PLANFILE`: exactly one document on stdout, errors included;
    error diagnostics also go to `report` (one line each on stderr, as in every JSON failure)."""

    def __init__(self, command: str = "plan", write: Callable[[str], None] | None = None,
                 report: Callable[[Iterable[Diagnostic]], None] | None = None):
        self.command = command
        self._write = write or (lambda text: click.echo(text, nl=False))
        self._report = report

    def plan(self, plan: Plan, *, saved_to: Path | None = None) -> None:
        self._write(render_plan_json(plan, self.command))
        errors = [d for d in plan.diagnostics if d.severity is Severity.ERROR]
        if errors and self._report is not None:
            self._report(errors)
