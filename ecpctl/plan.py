"""Plans: immutable change records, produced by the planner and consumed by views and the applier."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Mapping

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
        return list(_JSON_ACTIONS[self])


_JSON_ACTIONS = {Action.CREATE: ("create",), Action.UPDATE: ("update",),
                 Action.REPLACE: ("delete", "create"), Action.DELETE: ("delete",),
                 Action.NOOP: ("no-op",)}


class ActionReason(str, enum.Enum):
    """Why the planner chose a change's action, as OpenTofu's ActionReason: set by the planner,
    shown by views (`text`) and in the JSON plan (`action_reason`); for display only, never matched
    on to decide anything."""

    CREATE_NOT_IN_STATE = "create_not_in_state"
    CREATE_ADOPT_EXISTING = "create_adopt_existing"
    CREATE_DELETED_OUTSIDE = "create_deleted_outside"
    UPDATE_CONFIG_CHANGED = "update_config_changed"
    UPDATE_DRIFT = "update_drift"
    UPDATE_CONFIG_CHANGED_AND_DRIFT = "update_config_changed_and_drift"
    UPDATE_ROTATE_BY_REQUEST = "update_rotate_by_request"
    UPDATE_OWNER_MARK = "update_owner_mark"
    REPLACE_BY_REQUEST = "replace_by_request"
    REPLACE_BECAUSE_CANNOT_UPDATE = "replace_because_cannot_update"
    DELETE_BECAUSE_NO_RESOURCE_CONFIG = "delete_because_no_resource_config"
    DELETE_BY_REQUEST = "delete_by_request"
    DELETE_DELETED_OUTSIDE = "delete_deleted_outside"

    @property
    def text(self) -> str:
        return _REASON_TEXT[self]


_REASON_TEXT = {
    ActionReason.CREATE_NOT_IN_STATE: "not in state",
    ActionReason.CREATE_ADOPT_EXISTING: "exists but is not in state; it will be adopted",
    ActionReason.CREATE_DELETED_OUTSIDE: "deleted outside ecpctl",
    ActionReason.UPDATE_CONFIG_CHANGED: "configuration changed",
    ActionReason.UPDATE_DRIFT: "changed outside ecpctl",
    ActionReason.UPDATE_CONFIG_CHANGED_AND_DRIFT: "configuration changed, and changed outside ecpctl",
    ActionReason.UPDATE_ROTATE_BY_REQUEST: "-replace requested: generated secrets are rotated in place",
    ActionReason.UPDATE_OWNER_MARK: "in state but without this state's owner mark; apply writes it",
    ActionReason.REPLACE_BY_REQUEST: "replacement requested with -replace",
    ActionReason.REPLACE_BECAUSE_CANNOT_UPDATE: "a changed attribute forces replacement",
    ActionReason.DELETE_BECAUSE_NO_RESOURCE_CONFIG: "no longer in configuration",
    ActionReason.DELETE_BY_REQUEST: "destroy requested",
    ActionReason.DELETE_DELETED_OUTSIDE: "already deleted outside ecpctl; it will be removed from state",
}


@dataclass(frozen=True, slots=True)
class ResourceChange(Identified):
    """One planned change. `action_reason` says why (an enum); `reason` is its display text,
    with details such as the attributes forcing a replacement; `before`/`after` are the compared
    views."""

    addr: Address
    action: Action
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None
    reason: str = ""
    action_reason: ActionReason | None = None
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
    # provider -> where it pointed (Provider.target()): a saved plan applies only there
    provider_targets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

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
