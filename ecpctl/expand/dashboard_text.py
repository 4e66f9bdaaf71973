"""The text of a tenant's dashboard ConfigMaps, encoded once per shape of tenant.

Two tenants with the same services, SLA and workspace have dashboards that differ only where
their id, title and namespace are written. The text is encoded (indented JSON, ecpctl/jsontext.py:
a fifth of a fleet's expansion) once per shape with a marker in place of each of those three
strings, and each tenant's text is the template with the markers replaced by its own strings,
escaped as JSON escapes them. JSON escapes character by character, so a string escaped inside a
longer one is the same text as the longer one escaped whole: the result is byte for byte the text
of `dumps_indented(overview_dashboard(...))`, which the tests compare over hostile titles.

Where a tenant's strings could not be put back that way, its dashboards are encoded directly: a
title or id holding a marker character, or an id long enough for Grafana's uid limit to cut the
uid and add a hash (`ecpctl.dashboards.dashboard_uid`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from json.encoder import encode_basestring  # the C escaper, as jsontext and json.dumps use it

from ecpctl.dashboards import dashboard_uid, overview_dashboard, slo_dashboard, workspace_suffix
from ecpctl.jsontext import dumps_indented

# private-use characters: JSON leaves them as they are, and no spec value is expected to hold one
# (one that does is encoded directly)
TID, TITLE, NS = "\ue000", "\ue001", "\ue002"
MARKERS = (TID, TITLE, NS)
KEYS = ("overview", "slo")


@dataclass(frozen=True)
class Shape:
    """What a tenant's dashboards are made of besides its id, title and namespace."""

    workspace: str
    services: tuple[str, ...]
    sla_ms: int
    gpu_services: tuple[str, ...]
    availability: Decimal

    @property
    def key(self) -> tuple:
        # the availability as written: 99.5 and 99.50 are equal Decimals, and need not be one text
        return (self.workspace, self.services, self.sla_ms, self.gpu_services,
                str(self.availability))


def boards(tid: str, title: str, ns: str, shape: Shape) -> dict[str, dict]:
    """A tenant's dashboards, as ConfigMap keys to dashboard models."""
    return {
        "overview": overview_dashboard(tid, title, list(shape.services), shape.sla_ms,
                                       gpu_services=list(shape.gpu_services),
                                       workspace=shape.workspace, namespace=ns),
        "slo": slo_dashboard(tid, title, shape.availability, workspace=shape.workspace),
    }


def encoded(tid: str, title: str, ns: str, shape: Shape) -> dict[str, str]:
    """ConfigMap key -> the dashboard's text, encoded directly."""
    return {k: dumps_indented(b) for k, b in boards(tid, title, ns, shape).items()}


class DashboardTexts:
    """The templates of one expansion, by shape."""

    __slots__ = ("_templates",)

    def __init__(self) -> None:
        self._templates: dict[tuple, dict[str, str]] = {}

    def texts(self, tid: str, title: str, ns: str, shape: Shape) -> dict[str, str]:
        """The same as `encoded(tid, title, ns, shape)`, from the shape's template."""
        if not _fits(tid, title, ns, shape.workspace):
            return encoded(tid, title, ns, shape)
        template = self._templates.get(shape.key)
        if template is None:
            template = self._templates[shape.key] = encoded(TID, TITLE, NS, shape)
        fill = ((TID, _escaped(tid)), (TITLE, _escaped(title)), (NS, _escaped(ns)))
        out = {}
        for k, text in template.items():
            for marker, value in fill:
                text = text.replace(marker, value)
            out[k] = text
        return out


def _escaped(s: str) -> str:
    return encode_basestring(s)[1:-1]


def _fits(tid: str, title: str, ns: str, workspace: str) -> bool:
    """The tenant's strings can be put back into a template: no marker in them, and uids that are
    the id written out (not cut and hashed)."""
    if any(m in s for s in (tid, title, ns) for m in MARKERS):
        return False
    suffix = workspace_suffix(workspace)
    return all(dashboard_uid(tid, k, workspace) == f"ecp-{tid}-{k}{suffix}" for k in KEYS)
