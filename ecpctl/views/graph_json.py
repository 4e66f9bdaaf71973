"""The resource dependency graph as JSON (`graph --json`): nodes with what each depends on, and
the same edges listed from the resource that must exist first to the one that needs it."""

from __future__ import annotations

from typing import Any
from collections.abc import Iterable

import networkx as nx

from ecpctl.graph import ordered
from ecpctl.kernel import Resource


def graph_body(g: nx.DiGraph, resources: Iterable[Resource], tenant: str | None) -> dict[str, Any]:
    by_addr = {r.address: r for r in resources}
    nodes = []
    for addr in ordered(g):
        r = by_addr[addr]
        nodes.append({"address": addr, "tenant": r.tenant, "provider": r.provider, "type": r.type,
                      "name": r.name, "depends_on": sorted(g.predecessors(addr))})
    edges = [{"from": a, "to": b} for a, b in sorted(g.edges)]
    return {"tenant": tenant, "nodes": nodes, "edges": edges}
