"""Checks that span documents: one Project, unique tenant ids, and each tenant against the project
(GPU price, namespace length, preset size)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from collections.abc import Iterable

from ecpctl.catalog import ServiceCatalog
from ecpctl.config.documents import RawDocument
from ecpctl.config.limits import shorten
from ecpctl.config.models import Project, Tenant
from ecpctl.config.positions import format_path
from ecpctl.config.types import DEFAULT_NAMESPACE_PREFIX, NAMESPACE_MAX
from ecpctl.kernel import Diagnostic


@dataclass(frozen=True)
class Parsed:
    """A validated document and where it came from."""

    model: Any
    doc: RawDocument


def at(doc: RawDocument, path: tuple, summary: str) -> Diagnostic:
    line, col = doc.positions.value(path)
    return Diagnostic.error(shorten(summary), file=doc.file, line=line, column=col,
                            field=shorten(format_path(path)) or None)


def where(doc: RawDocument, path: tuple) -> str:
    line, col = doc.positions.value(path)
    return f"{doc.file}:{line}:{col}"


def single_project(projects: list[Parsed]) -> list[Diagnostic]:
    first = projects[0].doc if projects else None
    return [at(p.doc, ("kind",), f"more than one Project (first defined at {where(first, ('kind',))})")
            for p in projects[1:]]


def unique_tenants(tenants: list[Parsed]) -> tuple[list[Parsed], list[Diagnostic]]:
    seen: dict[str, Parsed] = {}
    diags = []
    path = ("metadata", "name")
    for t in tenants:
        tid = t.model.metadata.name
        if tid in seen:
            diags.append(at(t.doc, path, f"duplicate tenant id '{tid}' "
                                         f"(first defined at {where(seen[tid].doc, path)})"))
        else:
            seen[tid] = t
    return list(seen.values()), diags


def tenant_against_project(t: Parsed, project: Project, catalog: ServiceCatalog) -> list[Diagnostic]:
    from ecpctl.sizing import GpuShares, limit_problems, preset_problem

    tenant: Tenant = t.model
    diags = []
    kube = project.spec.providers.kubernetes
    prefix = kube.namespacePrefix if kube is not None else DEFAULT_NAMESPACE_PREFIX
    namespace = prefix + tenant.metadata.name
    if len(namespace) > NAMESPACE_MAX:
        diags.append(at(t.doc, ("metadata", "name"),
                        f"namespace '{namespace}' would be longer than {NAMESPACE_MAX} characters"))

    prices = project.spec.price.gpuHour
    gpu_type = tenant.spec.gpuType
    overrides = tenant.spec.serviceOverrides
    uses_gpu = any(catalog.service(s).uses_gpu or getattr(overrides.get(s), "gpusPerReplica", 0)
                   for s in tenant.spec.active_services)
    explicit = "gpuType" in tenant.spec.model_fields_set
    if gpu_type not in prices and (uses_gpu or explicit):
        known = ", ".join(sorted(prices)) or "none"
        what = f"GPU type '{gpu_type}'" + ("" if explicit else " (the default)")
        diags.append(at(t.doc, ("spec", "gpuType"),
                        f"{what} has no price in the project's price.gpuHour (it lists {known})"))

    over = limit_problems(tenant, catalog)
    diags.extend(at(t.doc, p.path, str(p)) for p in over)
    problem = None if over else preset_problem(tenant, catalog, GpuShares.from_project(project))
    if problem is not None:
        diags.append(at(t.doc, problem.path, str(problem)))
    return diags


def sort_key(order: dict[str, int]):
    def key(d: Diagnostic) -> tuple:
        return (order.get(d.file or "", -1), d.line or 0, d.column or 0)
    return key


def sorted_diagnostics(diags: Iterable[Diagnostic], files: list[str]) -> tuple[Diagnostic, ...]:
    order = {f: i for i, f in enumerate(files)}
    return tuple(sorted(diags, key=sort_key(order)))
