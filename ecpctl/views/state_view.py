"""The recorded state for `ecpctl show` (no plan file): as Terraform-like blocks for people, or the
state's keys for the JSON envelope. Sensitive values are always redacted."""

from __future__ import annotations

from typing import Any
from collections.abc import Mapping

from rich.console import Console
from rich.text import Text

from ecpctl.kernel import ResourceState
from ecpctl.kernel.paths import redact
from ecpctl.views.plan_human import render_resource


def resource_json(rs: ResourceState) -> dict[str, Any]:
    return {"address": rs.address, "provider": rs.provider, "type": rs.type, "name": rs.name,
            "tenant": rs.tenant, "attributes": redact(dict(rs.attributes), rs.sensitive),
            "sensitive_paths": list(rs.sensitive), "depends_on": list(rs.depends_on)}


def state_body(workspace: str, lineage: str, serial: int,
               resources: Mapping[str, ResourceState]) -> dict[str, Any]:
    return {"workspace": workspace, "lineage": lineage, "serial": serial,
            "resources": [resource_json(resources[a]) for a in sorted(resources)]}


def render_state(workspace: str, serial: int, resources: Mapping[str, ResourceState],
                 con: Console) -> None:
    if not resources:
        con.print(f"No state: workspace {workspace} records no resources.")
        return
    for addr in sorted(resources):
        rs = resources[addr]
        con.print(Text(f"# {addr}:", style="bold"))
        for line in render_resource(rs.type, rs.name, dict(rs.attributes), tuple(rs.sensitive)):
            con.print(line)
        con.print()
    con.print(f"Workspace {workspace}, serial {serial}: {len(resources)} resources.")
