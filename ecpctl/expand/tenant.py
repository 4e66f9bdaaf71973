"""Expand one tenant, or a whole config, into desired resources."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ecpctl.kernel import ConfigError, Diagnostic
from ecpctl.expand.backup import expand_backup, resolve as resolve_backup
from ecpctl.expand.context import Builder, ExpandContext
from ecpctl.expand.fleet import expand_project
from ecpctl.expand.kubernetes import expand_kubernetes
from ecpctl.expand.monitoring import expand_monitoring
from ecpctl.expand.postgres import expand_postgres
from ecpctl.kernel import Resource


@dataclass(frozen=True)
class Expansion:
    """The desired resources, and the warnings found expanding them (errors raise ConfigError)."""

    resources: tuple[Resource, ...]
    diagnostics: tuple[Diagnostic, ...] = ()


def expand_tenant(lt, sizing, ctx: ExpandContext) -> Expansion:
    b = Builder(lt.tenant.metadata.name)
    db, db_deps = (None, ())
    if lt.tenant.spec.database.enabled:
        db, db_deps = expand_postgres(b, ctx, lt)
    backup = resolve_backup(lt, ctx)
    k8s = expand_kubernetes(b, ctx, lt, sizing, db=db, db_deps=db_deps, backup=backup)
    if backup is not None:
        expand_backup(b, ctx, lt, backup, k8s)
    expand_monitoring(b, ctx, lt, sizing, k8s)
    ctx.shared.share(b.resources, b.tenant)
    return Expansion(tuple(b.resources), tuple(b.diagnostics))


def expand_config(tenants: Iterable, sizings: dict, ctx: ExpandContext, *,
                  project: bool = True) -> Expansion:
    """Every tenant's resources, then the Project's own (unless `project` is False)."""
    out: list[Resource] = []
    warnings: list[Diagnostic] = []
    diags: list[Diagnostic] = []
    for lt in tenants:
        try:
            one = expand_tenant(lt, sizings[lt.tenant.metadata.name], ctx)
        except ConfigError as exc:
            diags.extend(exc.diagnostics)
            continue
        out.extend(one.resources)
        warnings.extend(one.diagnostics)
    if diags:
        raise ConfigError(f"{len(diags)} errors in spec files", diagnostics=tuple(diags))
    if project:
        out.extend(expand_project(ctx))
    return Expansion(tuple(out), tuple(warnings))
