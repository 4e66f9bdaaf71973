"""Plans: immutable change records, produced by the planner and consumed by views and the applier."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Mapping

from ecpctl.kernel import Address, Diagnostic, Resource, ResourceState
from ecpctl.kernel.resource import Identified

PLAN_FORMAT_VERSION = "1.0"


class Action(str, enum.Enum):
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"
    NOOP = "no-op"

    @property
    def symbol(self) -> str:
        return {"create": "+", "update": "~", "replace": "-/+", "delete": "-", "no-op": " "}[self.value]

    @property
    def json_actions(self) -> list[str]:
        """Terraform-style action list for the JSON view."""
        return {"create": ["create"], "update": ["update"], "replace": ["delete", "create"],
                "delete": ["delete"], "no-op": ["no-op"]}[self.value]


@dataclass(frozen=True)
class ResourceChange(Identified):
    """One planned change. `reason` is for display; `before`/`after` are the compared views."""

    addr: Address
    action: Action
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None
    reason: str = ""
    requires_replace: tuple[str, ...] = ()
    sensitive: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    desired: Resource | None = None        # what apply sends (None for delete)
    prior: ResourceState | None = None     # what state held (None for create)

    @property
    def is_change(self) -> bool:
        return self.action is not Action.NOOP


@dataclass(frozen=True)
class PlanSummary:
    add: int
    change: int
    destroy: int

    @property
    def empty(self) -> bool:
        return not (self.add or self.change or self.destroy)


@dataclass(frozen=True)
class Plan:
    changes: tuple[ResourceChange, ...]
    workspace: str
    lineage: str | None
    serial: int
    config_digest: str
    destroy: bool = False
    refreshed: bool = True
    targets: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()
    requests: Mapping[str, Mapping[str, int]] = field(default_factory=dict)   # provider -> verb -> n
    provider_settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    registry: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)   # tenant id -> row

    @property
    def summary(self) -> PlanSummary:
        add = change = destroy = 0
        for c in self.changes:
            if c.action is Action.CREATE:
                add += 1
            elif c.action is Action.UPDATE:
                change += 1
            elif c.action is Action.DELETE:
                destroy += 1
            elif c.action is Action.REPLACE:
                add += 1
                destroy += 1
        return PlanSummary(add, change, destroy)

    @property
    def has_changes(self) -> bool:
        return not self.summary.empty

    def pending(self) -> tuple[ResourceChange, ...]:
        return tuple(c for c in self.changes if c.is_change)
