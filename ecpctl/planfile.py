"""Saved plan files (`plan -o FILE`): the full plan plus the state lineage, serial and config digest,
and the targets each provider resolved to (ecpctl/targets.py checks them before apply).

A saved plan holds desired values, including generated secrets, so it is written 0600 and never
printed, and its sensitive values are always encrypted (`seal_plan_document`): with the state's key
when there is one, else with a random key of the plan's own that is kept in the state database
(state/plan_keys.py) under the plan's id (`PLAN_KEY`), never in the file. Applying it is refused
when the state has moved on since it was made, or does not hold its key.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ecpctl import __version__
from ecpctl.kernel import Address, Resource, ResourceState, StateError
from ecpctl.plan import Action, ActionReason, Plan, ResourceChange

PLANFILE_KIND = "ecpctl-saved-plan"
PLANFILE_VERSION = 1
KEY_FILE = "state_key_file"     # where the key came from, when a Project's key file gave it
PLAN_KEY = "plan_key_id"        # the id its own key is kept under in state, when no state key


def _resource_dict(r: Resource) -> dict[str, Any]:
    return {"address": r.address, "provider": r.provider, "type": r.type, "name": r.name,
            "tenant": r.tenant, "attributes": r.attributes, "sensitive": list(r.sensitive),
            "depends_on": list(r.depends_on), "meta": {k: v for k, v in r.meta.items()
                                                       if k != "diagnostics"}}


def _addr(d: dict[str, Any]) -> Address:
    return Address.from_parts(d["address"], d["tenant"], d["provider"], d["type"], d["name"])


def _resource_from(d: dict[str, Any]) -> Resource:
    return Resource(addr=_addr(d), attributes=d["attributes"],
                    sensitive=tuple(d["sensitive"]), depends_on=tuple(d["depends_on"]),
                    meta=d.get("meta") or {})


def _change_dict(c: ResourceChange) -> dict[str, Any]:
    return {"address": c.address, "provider": c.provider, "type": c.type, "name": c.name,
            "tenant": c.tenant, "action": c.action.value, "before": c.before, "after": c.after,
            "reason": c.reason,
            "action_reason": c.action_reason.value if c.action_reason else None,
            "requires_replace": list(c.requires_replace),
            "sensitive": list(c.sensitive), "depends_on": list(c.depends_on),
            "desired": _resource_dict(c.desired) if c.desired else None,
            "prior": c.prior.to_dict() if c.prior else None}


def _change_from(d: dict[str, Any]) -> ResourceChange:
    return ResourceChange(
        addr=_addr(d), action=Action(d["action"]), before=d["before"], after=d["after"],
        reason=d["reason"], requires_replace=tuple(d["requires_replace"]),
        # plans saved before action_reason existed load without one (it is for display only)
        action_reason=ActionReason(d["action_reason"]) if d.get("action_reason") else None,
        sensitive=tuple(d["sensitive"]), depends_on=tuple(d["depends_on"]),
        desired=_resource_from(d["desired"]) if d["desired"] else None,
        prior=ResourceState.from_dict(d["prior"]) if d["prior"] else None)


def plan_to_document(plan: Plan) -> dict[str, Any]:
    return {"kind": PLANFILE_KIND, "version": PLANFILE_VERSION, "ecpctl_version": __version__,
            "workspace": plan.workspace, "lineage": plan.lineage, "serial": plan.serial,
            "config_digest": plan.config_digest, "destroy": plan.destroy,
            "refreshed": plan.refreshed, "targets": list(plan.targets),
            "excludes": list(plan.excludes),
            "provider_settings": plan.provider_settings,
            "registry": plan.registry,
            "provider_targets": plan.provider_targets,
            "changes": [_change_dict(c) for c in plan.changes if c.is_change]}


def write_plan(plan: Plan, path: Path, *, encode=None) -> None:
    """Write atomically with mode 0600. `encode` may encrypt sensitive values (state encryption)."""
    doc = plan_to_document(plan)
    if encode is not None:
        doc = encode(doc)
    data = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def is_plan_file(path: Path) -> bool:
    if not path.is_file():
        return False
    try:
        with path.open("rb") as fh:
            head = fh.read(64)
    except OSError:
        return False    # not a plan; reading it as spec files reports why it cannot be read
    return head.startswith(b'{"kind":"' + PLANFILE_KIND.encode())


def read_plan(path: Path, *, decode=None) -> Plan:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise StateError(f"{path}: not a readable saved plan ({exc.__class__.__name__})") from exc
    if doc.get("kind") != PLANFILE_KIND or doc.get("version") != PLANFILE_VERSION:
        raise StateError(f"{path}: not an ecpctl saved plan of version {PLANFILE_VERSION}")
    if decode is not None:
        try:
            doc = decode(doc)
        except (KeyError, TypeError, AttributeError) as exc:
            raise StateError(f"{path}: not a readable saved plan (malformed {exc})") from exc
    return Plan(changes=tuple(_change_from(c) for c in doc["changes"]), workspace=doc["workspace"],
                lineage=doc["lineage"], serial=doc["serial"], config_digest=doc["config_digest"],
                destroy=doc["destroy"], refreshed=doc["refreshed"],
                targets=tuple(doc["targets"]), excludes=tuple(doc["excludes"]),
                provider_settings=doc.get("provider_settings") or {},
                registry=doc.get("registry") or {},
                # plans saved before targets were recorded are bound to none
                provider_targets=doc.get("provider_targets") or {})


# --- encryption of sensitive values (state/crypto.py) ----------------------------------------------
#
# Each change carries the values apply sends (`desired.attributes`), the compared views (`before`,
# `after`) and the state record (`prior`); the sensitive paths of each are encrypted, bound to the
# plan's workspace, the change's address and `plan.<part>`.

def _parts(change: dict[str, Any]):
    """(location, parent dict, key, sensitive paths) of every part of a change that holds values."""
    yield "plan.before", change, "before", change.get("sensitive") or ()
    yield "plan.after", change, "after", change.get("sensitive") or ()
    desired = change.get("desired")
    if desired:
        yield "plan.desired.attributes", desired, "attributes", desired.get("sensitive") or ()
    prior = change.get("prior")
    if prior:
        for section in ("attributes", "observed", "private"):
            yield f"plan.prior.{section}", prior, section, prior.get("sensitive") or ()


def seal_plan_document(doc: dict[str, Any], sealer, *, key_file: str | None = None) -> dict[str, Any]:
    """`doc` with its sensitive values encrypted by `sealer` (a state.crypto.Sealer with a key)."""
    if not sealer.enabled:
        return doc
    workspace = doc["workspace"]
    for change in doc["changes"]:
        for where, parent, key, paths in _parts(change):
            if paths and parent.get(key) is not None:
                parent[key] = sealer.seal_tree(parent[key], paths, workspace, change["address"], where)
    if key_file:
        doc[KEY_FILE] = key_file
    return doc


def open_plan_document(doc: dict[str, Any], sealer, *, what: str) -> dict[str, Any]:
    """`doc` with encrypted values opened; KeyMissing / WrongKey naming `what` otherwise."""
    workspace = doc["workspace"]
    for change in doc["changes"]:
        for where, parent, key, _ in _parts(change):   # wherever an envelope is, not only where
            if parent.get(key) is not None:            # one belongs: a moved one must fail
                parent[key] = sealer.open_tree(parent[key], workspace, change["address"], where,
                                               what=what)
    return doc


def check_fresh(plan: Plan, lineage: str | None, serial: int, workspace: str) -> None:
    """Refuse a saved plan made against another workspace, lineage or an older serial."""
    check_made_from(plan.workspace, plan.lineage, plan.serial,
                    lineage=lineage, serial=serial, workspace=workspace)


def check_made_from(made_workspace: str, made_lineage: str | None, made_serial: int, *,
                    lineage: str | None, serial: int, workspace: str) -> None:
    """`check_fresh` for the workspace, lineage and serial a plan records (a state without a
    lineage yet, "" or None, is the one that gets one at the first apply)."""
    if made_workspace != workspace:
        raise StateError(f"saved plan is for workspace {made_workspace!r}, "
                         f"but workspace {workspace!r} is selected")
    if made_lineage and lineage and made_lineage != lineage:
        raise StateError(f"saved plan is stale: it was made for state lineage {made_lineage}, "
                         f"but the state's lineage is now {lineage}; run plan again")
    if made_serial != serial:
        raise StateError(f"saved plan is stale: it was made at state serial {made_serial}, "
                         f"but the state is now at serial {serial}; run plan again")
