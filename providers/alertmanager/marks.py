"""The owner mark on a tenant's Alertmanager fragment (docs/ownership.md).

Alertmanager rejects unknown keys, and a YAML comment is lost by anything that re-serializes the
config (Alertmanager's own /api/v2/status, config management templating it): the mark must be a
field Alertmanager parses and keeps. It is one extra matcher on the tenant's route,

    ecp_ai_owner=~".*|ecpctl owner: workspace=W lineage=L"

a regular expression whose first branch `.*` matches every value, the empty one of an alert
without the label included, so it never changes which alerts the route takes; the second branch is
never needed to match and only carries the owner (workspace names and lineages hold no character
that breaks the expression). Receivers (`<tenant>/<name>`) are owned through their tenant's route:
the route's owner if it is marked; with the route unmarked or absent, ours when this state records
the receiver, unmarked otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ecpctl.kernel.ownership import Owner, owner_of_comment
from providers.alertmanager.config import canonical_matcher, parse_matcher, route_matchers

LABEL = "ecp_ai_owner"
_ALWAYS = ".*|"


def matcher(owner: Owner) -> str:
    return canonical_matcher(f'{LABEL}=~"{_ALWAYS}{owner.comment()}"')


def _is_mark(text: str) -> bool:
    parsed = parse_matcher(text)
    return parsed is not None and parsed[0] == LABEL


def stamp(route: Mapping[str, Any], owner: Owner | None) -> dict[str, Any]:
    """The route with `owner`'s matcher in place of any other owner's (a copy)."""
    out = dict(route)
    if owner is None:
        return out
    kept = [m for m in out.get("matchers") or [] if not _is_mark(str(m))]
    out["matchers"] = [*kept, matcher(owner)]
    return out


def owner_of_route(route: Mapping[str, Any] | None) -> Owner | None:
    for m in route_matchers(route or {}):
        parsed = parse_matcher(m)
        if parsed and parsed[0] == LABEL and parsed[1] == "=~" and parsed[2].startswith(_ALWAYS):
            return owner_of_comment(parsed[2][len(_ALWAYS):])
    return None


def receiver_owner(route_owner: Owner | None, ours: Owner | None, recorded: bool
                   ) -> Owner | None:
    """A receiver's owner: its route's, or with an unmarked or absent route ours when this state
    records it (the route's own update writes the mark), else None."""
    if route_owner is not None:
        return route_owner
    return ours if recorded else None
