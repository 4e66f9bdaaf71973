"""The machine-readable plan view (documented in docs/json-plan.md). Sensitive values are redacted."""

from __future__ import annotations

import json
from typing import Any

from ecpctl import __version__
from ecpctl.kernel.paths import redact
from ecpctl.plan import PLAN_FORMAT_VERSION, Plan, ResourceChange


def change_json(c: ResourceChange) -> dict[str, Any]:
    return {
        "address": c.address,
        "provider": c.provider,
        "type": c.type,
        "name": c.name,
        "tenant": c.tenant,
        "actions": c.action.json_actions,
        "reason": c.reason or None,
        "before": redact(c.before, c.sensitive) if c.before is not None else None,
        "after": redact(c.after, c.sensitive) if c.after is not None else None,
        "requires_replace": list(c.requires_replace),
        "sensitive_paths": list(c.sensitive),
        "depends_on": list(c.depends_on),
    }


def plan_document(plan: Plan) -> dict[str, Any]:
    s = plan.summary
    return {
        "format_version": PLAN_FORMAT_VERSION,
        "ecpctl_version": __version__,
        "workspace": plan.workspace,
        "lineage": plan.lineage,
        "serial": plan.serial,
        "config_digest": plan.config_digest,
        "destroy": plan.destroy,
        "refreshed": plan.refreshed,
        "targets": list(plan.targets),
        "excludes": list(plan.excludes),
        "resource_changes": [change_json(c) for c in plan.changes],
        "summary": {"add": s.add, "change": s.change, "destroy": s.destroy,
                    "no_op": sum(1 for c in plan.changes if not c.is_change)},
        "diagnostics": [
            {"severity": d.severity.value, "summary": d.summary, "detail": d.detail or None,
             "address": d.address, "message": d.one_line()}
            for d in plan.diagnostics
        ],
        "requests": {k: dict(v) for k, v in plan.requests.items()},
    }


def render_plan_json(plan: Plan) -> str:
    return json.dumps(plan_document(plan), indent=2, ensure_ascii=False, sort_keys=False) + "\n"
