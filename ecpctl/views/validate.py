"""The views of `validate`: a one-line verdict for people, the checked files in the JSON envelope.

Problems never reach this view: `validate` fails with a ConfigError, one diagnostic per problem,
and the CLI prints them (and the failure envelope) in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.console import Console

from ecpctl.views.report import plural


@dataclass(frozen=True)
class ValidTenant:
    tenant: str
    file: str


@dataclass(frozen=True)
class Validated:
    """Spec files that loaded and validated."""

    path: str
    project_file: str | None
    tenants: tuple[ValidTenant, ...]


def validate_human(con: Console, v: Validated) -> None:
    projects = 1 if v.project_file else 0
    con.print(f"Success! {plural(len(v.tenants), 'tenant')}, {plural(projects, 'project')} "
              f"in {v.path} are valid.", markup=False)


def validate_json(v: Validated) -> dict[str, Any]:
    return {"path": v.path, "valid": True, "project_file": v.project_file,
            "tenants": [{"tenant": t.tenant, "file": t.file} for t in v.tenants]}
