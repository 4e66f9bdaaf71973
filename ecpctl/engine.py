"""The engine facade: load -> size -> expand -> graph -> plan -> apply, returning data, never printing."""

from __future__ import annotations

import gc
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any
from collections.abc import Iterator, Mapping

from ecpctl.config import Config, load_config
from ecpctl.expand import ExpandContext, SecretSource, expand_config
from ecpctl.expand.fleet import PROJECT_TENANT
from ecpctl.graph import build_graph, check_graph
from ecpctl.plan import Plan
from ecpctl.planner import PlanOptions, PriorState, make_plan
from ecpctl.kernel import Diagnostic, Resource
from ecpctl.sizing import TenantSizing, size_all
from ecpctl.workspaces import for_workspace
from ecpctl.kernel import ResourceState
from providers.registry import PROVIDER_NAMES, ProviderSet

if TYPE_CHECKING:
    import networkx as nx

    from ecpctl.applier import ApplyEvents, ApplyOutcome

# The applier (and networkx with it) is imported by `run_apply`: a plan needs neither.


@dataclass(frozen=True)
class Desired:
    config: Config
    sizings: Mapping[str, TenantSizing]
    resources: tuple[Resource, ...]
    # the expansion's warnings (a custom alert on a metric nothing provides, a receiver's webhook
    # variable unset): reported by validate and every plan, refreshed or not
    diagnostics: tuple[Diagnostic, ...] = ()
    # the tenants expanded (`--target` naming its tenants expands only those); None: every one
    covers: frozenset[str] | None = None

    @cached_property
    def graph(self) -> nx.DiGraph:
        """The dependency graph (built when asked: a plan needs only the check `check_graph` made)."""
        return build_graph({r.address: r.depends_on for r in self.resources})


@contextmanager
def fewer_collections() -> Iterator[None]:
    """No cyclic-GC passes while expansion and diffing build millions of small objects, and none
    over those objects afterwards.

    With Python's default thresholds a young collection runs every 700 allocations, and as the
    heap grows the older generations are walked again and again: 40% of an offline plan's time at
    1,000 tenants (tests/bench). These objects form no cycles (the YAML reader's parser objects
    were the last, ecpctl/config/yaml_reader.py), so reference counting frees all of them and the
    collector only costs time. When the stage ends they are frozen (`gc.freeze`: moved where the
    collector never walks) before collections resume; otherwise the first full collection after
    the plan walks them all (0.4 s of a no-op plan of 500 tenants, spent in whatever allocated
    next). Reference counting still frees frozen objects, and the CLI unfreezes them when its
    command ends (ecpctl/cli/main.py).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.freeze()
            gc.enable()


def desired_state(path: str | Path, prior: Mapping[str, ResourceState] | None = None, *,
                  replace: tuple[str, ...] = (), workspace: str | None = None,
                  only: frozenset[str] | None = None) -> Desired:
    """`workspace`: the Project's settings of that workspace apply (ecpctl/workspaces.py).

    `only`: expand just these tenants (`_project` for the Project's own resources). Every spec
    file is still read and validated, and every tenant sized; the plan must then stay within
    them (`PlanOptions.covers`)."""
    with fewer_collections():
        return _desired_state(path, prior, replace=replace, workspace=workspace, only=only)


def _desired_state(path: str | Path, prior: Mapping[str, ResourceState] | None, *,
                   replace: tuple[str, ...], workspace: str | None,
                   only: frozenset[str] | None) -> Desired:
    config = load_config(path)
    if workspace is not None:
        config = for_workspace(config, workspace)
    sizings = size_all(config)
    secrets = SecretSource(prior={a: s.attributes for a, s in (prior or {}).items()},
                           regenerate=frozenset(replace))
    ctx = ExpandContext(config.project, secrets, workspace or "default")
    expanded, nodes = _expand(config, sizings, ctx, only)
    if only is not None and any(dep not in nodes for deps in nodes.values() for dep in deps):
        only = None         # a dependency on a tenant not expanded: expand them all
        expanded, nodes = _expand(config, sizings, ctx, only)
    check_graph(nodes)
    return Desired(config, sizings, expanded.resources, expanded.diagnostics, covers=only)


def _expand(config: Config, sizings: dict[str, TenantSizing], ctx: ExpandContext,
            only: frozenset[str] | None):
    tenants = config.tenants if only is None else [
        lt for lt in config.tenants if lt.tenant.metadata.name in only]
    expanded = expand_config(tenants, sizings, ctx,
                             project=only is None or PROJECT_TENANT in only)
    return expanded, {r.address: r.depends_on for r in expanded.resources}


def provider_settings(config: Config | None) -> dict[str, dict[str, Any]]:
    if config is None:
        return {}
    out: dict[str, dict[str, Any]] = {}
    for name in PROVIDER_NAMES:
        block = getattr(config.project.spec.providers, name, None)
        if block is not None:
            out[name] = block.model_dump(mode="json")
    return out


def plan_desired(desired: Desired, prior: PriorState, *, workspace: str,
                 providers: ProviderSet | None, opts: PlanOptions) -> Plan:
    with fewer_collections():
        return make_plan(desired.resources, prior, workspace=workspace,
                         config_digest=desired.config.digest, providers=providers, opts=opts)


def run_apply(plan: Plan, providers: ProviderSet, store, *, lock=None, parallelism: int = 10,
              events: ApplyEvents | None = None, stop: threading.Event | None = None,
              timeout: float | None = None) -> ApplyOutcome:
    from ecpctl.applier import apply_plan
    return apply_plan(plan, providers, store, lock=lock, parallelism=parallelism, events=events,
                      stop=stop, timeout=timeout)


def tenants_touched(plan: Plan) -> set[str]:
    return {c.tenant for c in plan.pending()}
