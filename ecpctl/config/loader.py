"""load_config(PATH): every spec file below PATH, validated, as one immutable Config.

All problems of all files are collected first and raised together as one ConfigError whose
diagnostics each name `file:line:col: field`. Loading never writes a file.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ecpctl.catalog import ServiceCatalog, default_catalog
from ecpctl.config import checks
from ecpctl.config.checks import Parsed
from ecpctl.config.documents import RawDocument, find_files, read_documents
from ecpctl.config.errors import Anchor, problems_from
from ecpctl.config.limits import shorten
from ecpctl.config.models import API_VERSION, KINDS, Project, Tenant, default_project, did_you_mean
from ecpctl.config.positions import PositionIndex, format_path, parse_path
from ecpctl.kernel import ConfigError, Diagnostic, Severity, has_errors


@dataclass(frozen=True)
class LoadedTenant:
    """A validated tenant, the file it came from, and the positions of its fields in that file."""

    tenant: Tenant
    file: str
    positions: PositionIndex = field(default_factory=PositionIndex, repr=False, compare=False)

    @property
    def id(self) -> str:
        return self.tenant.metadata.name

    def position(self, *path: Any) -> tuple[int, int] | None:
        """(line, column), 1-based, of the value at a field path written in the file, else None.

        `position("spec", "monitoring", "alerts", 0, "condition")` or
        `position("spec.monitoring.alerts[0].condition")`.
        """
        return self.positions.exact(_path(path))

    def diagnostic(self, summary: str, *path: Any, severity: Severity = Severity.ERROR,
                   detail: str = "") -> Diagnostic:
        """A diagnostic about a field of this tenant, at its position (or its nearest parent's)."""
        p = _path(path)
        line, col = self.positions.value(p)
        return Diagnostic(severity, summary, detail=detail, file=self.file, line=line,
                          column=col, field=format_path(p) or None)


def _path(path: tuple[Any, ...]) -> tuple[Any, ...]:
    if len(path) == 1 and isinstance(path[0], str) and ("." in path[0] or "[" in path[0]):
        return parse_path(path[0])
    return tuple(path)


@dataclass(frozen=True)
class Config:
    project: Project                          # a default Project when PATH holds none
    project_file: str | None
    tenants: tuple[LoadedTenant, ...]         # sorted by id
    digest: str                               # sha256 of the validated documents, order-free
    source: str = ""                          # PATH as given
    warnings: tuple[Diagnostic, ...] = ()
    project_positions: PositionIndex | None = field(default=None, repr=False, compare=False)

    def tenant(self, tenant_id: str) -> LoadedTenant:
        for lt in self.tenants:
            if lt.id == tenant_id:
                return lt
        hint = did_you_mean(tenant_id, self.tenant_ids)
        raise ConfigError(f"no tenant '{tenant_id}' in {self.source or 'the spec files'}{hint}")

    @property
    def tenant_ids(self) -> tuple[str, ...]:
        return tuple(lt.id for lt in self.tenants)


def load_config(path: str | Path, *, catalog: ServiceCatalog | None = None) -> Config:
    """Load and validate every spec file at PATH; raise ConfigError listing all problems."""
    catalog = catalog or default_catalog()
    files, diags = find_files(path)
    docs: list[RawDocument] = []
    for spec in files:
        found, problems = read_documents(spec)
        docs.extend(found)
        diags.extend(problems)

    projects: list[Parsed] = []
    tenants: list[Parsed] = []
    for doc in docs:
        model, problems = validate_document(doc)
        diags.extend(problems)
        if isinstance(model, Project):
            projects.append(Parsed(model, doc))
        elif isinstance(model, Tenant):
            tenants.append(Parsed(model, doc))

    diags.extend(checks.single_project(projects))
    tenants, dup = checks.unique_tenants(tenants)
    diags.extend(dup)
    project = projects[0].model if projects else default_project()
    for t in tenants:
        diags.extend(checks.tenant_against_project(t, project, catalog))

    ordered = checks.sorted_diagnostics(diags, [f.display for f in files])
    if has_errors(ordered):
        n = sum(d.severity is Severity.ERROR for d in ordered)
        raise ConfigError(f"{n} error{'s' if n != 1 else ''} in spec files", diagnostics=ordered)

    loaded = tuple(sorted((LoadedTenant(t.model, t.doc.file, t.doc.positions) for t in tenants),
                          key=lambda lt: lt.id))
    return Config(
        project=project,
        project_file=projects[0].doc.file if projects else None,
        tenants=loaded,
        digest=digest([project] + [lt.tenant for lt in loaded]),
        source=str(path),
        warnings=ordered,
        project_positions=projects[0].doc.positions if projects else None)


def validate_document(doc: RawDocument) -> tuple[Any, list[Diagnostic]]:
    """The model of one document, or None with the diagnostics that say why not."""
    data = doc.data
    if not isinstance(data, dict):
        return None, [_at(doc, (), "a spec document must be a mapping with apiVersion and kind")]
    diags: list[Diagnostic] = []
    api = data.get("apiVersion")
    if "apiVersion" not in data:
        diags.append(_at(doc, ("apiVersion",), f"missing required field (expected '{API_VERSION}')",
                         Anchor.HOLDER))
    elif api != API_VERSION:
        diags.append(_at(doc, ("apiVersion",),
                         f"unsupported apiVersion '{api}' (expected '{API_VERSION}')"))
    kind = data.get("kind")
    if "kind" not in data:
        diags.append(_at(doc, ("kind",), f"missing required field (expected {_kinds()})",
                         Anchor.HOLDER))
        return None, diags
    model = KINDS.get(kind) if isinstance(kind, str) else None
    if model is None:
        hint = did_you_mean(kind, KINDS) or f" (expected {_kinds()})"
        diags.append(_at(doc, ("kind",), f"unknown kind '{kind}'{hint}"))
        return None, diags
    # apiVersion is reported above; validate the rest as if it were right
    try:
        return model.model_validate({**data, "apiVersion": API_VERSION}), diags
    except ValidationError as exc:
        for p in problems_from(exc, model):
            diags.append(_at(doc, p.path, p.message, p.anchor))
        return None, diags


def _kinds() -> str:
    return " or ".join(f"'{k}'" for k in KINDS)


def _at(doc: RawDocument, path: tuple, summary: str, anchor: Anchor = Anchor.VALUE) -> Diagnostic:
    pos = doc.positions
    shown = path
    if anchor is Anchor.KEY:
        line, col = pos.key(path)
    elif anchor is Anchor.EXTRA:
        line, col = pos.key(path)
        shown = path[:-1]         # the key itself is in the message
    elif anchor is Anchor.HOLDER:
        line, col = pos.holder(path[:-1])
    else:
        line, col = pos.value(path)
    return Diagnostic.error(shorten(summary), file=doc.file, line=line, column=col,
                            field=shorten(format_path(shown)) or None)


def digest(models: list[Any]) -> str:
    """sha256 over the canonical JSON of each validated document, sorted: independent of file
    order, formatting, comments and key order, but sensitive to any value (defaults included)."""
    parts = sorted(json.dumps(m.model_dump(mode="json", by_alias=True), sort_keys=True,
                              separators=(",", ":"), ensure_ascii=False) for m in models)
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


__all__ = ["Config", "LoadedTenant", "load_config", "validate_document", "digest"]
