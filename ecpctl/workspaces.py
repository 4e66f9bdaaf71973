"""What a workspace changes about a Project: its own provider settings, merged field by field over
the project-wide ones, and which tenants it takes (`demo: true` ones in a demo workspace only).
See docs/ownership.md, "Workspaces"."""

from __future__ import annotations

import dataclasses
from typing import Any

from ecpctl.config import Config
from ecpctl.config.models import ProviderSettings, WorkspaceSettings
from ecpctl.kernel import ConfigError, Diagnostic


def settings_of(config: Config, workspace: str) -> WorkspaceSettings | None:
    """The Project's block for `workspace`, or None when the Project does not declare it."""
    return config.project.spec.workspaces.get(workspace)


def merged_providers(base: ProviderSettings, over: ProviderSettings | None) -> ProviderSettings:
    """`over`'s fields that the file sets, on top of `base`: a workspace that only names another
    namespacePrefix keeps the project's kubeconfig and fieldManager."""
    if over is None:
        return base
    out: dict[str, Any] = {}
    for name in ProviderSettings.model_fields:
        b, o = getattr(base, name), getattr(over, name)
        if o is None:
            out[name] = b
        elif b is None:
            out[name] = o
        else:
            out[name] = type(b).model_validate({**b.model_dump(exclude_unset=True),
                                                **o.model_dump(exclude_unset=True)})
    return ProviderSettings.model_validate({k: v for k, v in out.items() if v is not None})


def for_workspace(config: Config, workspace: str) -> Config:
    """`config` as `workspace` sees it: its providers merged in; its tenants checked against the
    workspace's demo setting (a ConfigError naming each tenant's file and line)."""
    ws = settings_of(config, workspace)
    if ws is None:
        return config
    problems = tenant_problems(config, workspace, ws)
    if problems:
        n = len(problems)
        raise ConfigError(f"{n} error{'s' if n != 1 else ''} in spec files for workspace "
                          f"{workspace}", diagnostics=problems)
    if ws.providers is None:
        return config
    spec = config.project.spec
    merged = merged_providers(spec.providers, ws.providers)
    project = config.project.model_copy(update={"spec": spec.model_copy(update={"providers": merged})})
    return dataclasses.replace(config, project=project)


def tenant_problems(config: Config, workspace: str, ws: WorkspaceSettings) -> list[Diagnostic]:
    if ws.mixedTenants:
        return []
    out = []
    for lt in config.tenants:
        demo = lt.tenant.spec.demo
        if demo == ws.demo:
            continue
        if demo:
            text = (f"tenant {lt.id} is a demo tenant (demo: true) but workspace {workspace} is "
                    "not a demo workspace; plan it in a demo workspace, or set "
                    f"spec.workspaces.{workspace}.mixedTenants: true in the Project")
        else:
            text = (f"tenant {lt.id} is not a demo tenant but workspace {workspace} is a demo "
                    "workspace (demo: true); plan it in a production workspace, or set "
                    f"spec.workspaces.{workspace}.mixedTenants: true in the Project")
        out.append(lt.diagnostic(text, "spec", "demo"))
    return out
