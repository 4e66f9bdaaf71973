"""The resource graph (networkx): dependency edges point from a resource to what depends on it.

A plan needs no graph object (`check_graph` and `reach` work on plain dicts), so networkx (0.15 s
to import) is imported by the functions that build or walk one: an apply, `ecpctl graph`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from collections.abc import Iterable, Mapping

from ecpctl.kernel import GraphError

if TYPE_CHECKING:
    import networkx as nx


def build_graph(nodes: Mapping[str, Iterable[str]], *, ignore_missing: bool = False) -> nx.DiGraph:
    """`nodes` maps address -> addresses it depends on. Edge (dep, addr): dep must come first."""
    import networkx as nx
    g = nx.DiGraph()
    g.add_nodes_from(nodes)
    for addr, deps in nodes.items():
        for dep in deps:
            if dep not in nodes:
                if ignore_missing:
                    continue
                raise GraphError(f"{addr}: depends on unknown resource {dep}")
            g.add_edge(dep, addr)
    check_acyclic(g)
    return g


def check_graph(nodes: Mapping[str, Iterable[str]]) -> None:
    """What `build_graph` checks (every dependency declared, no cycle) without building a graph:
    a plan of thousands of tenants keeps only its resources. Kahn's algorithm on plain dicts; a
    cycle is named by `build_graph`."""
    pending: dict[str, int] = {}
    dependents: dict[str, list[str]] = {}
    for addr, deps in nodes.items():
        count = 0
        for dep in deps:
            if dep not in nodes:
                raise GraphError(f"{addr}: depends on unknown resource {dep}")
            dependents.setdefault(dep, []).append(addr)
            count += 1
        pending[addr] = count
    ready = [a for a, count in pending.items() if not count]
    done = 0
    while ready:
        done += 1
        for b in dependents.get(ready.pop(), ()):
            pending[b] -= 1
            if not pending[b]:
                ready.append(b)
    if done != len(pending):
        build_graph(nodes)          # raises, naming the cycle


def check_acyclic(g: nx.DiGraph) -> None:
    import networkx as nx
    if nx.is_directed_acyclic_graph(g):   # a linear-time check; find the cycle only when there is one
        return
    try:
        cycle = nx.find_cycle(g)
    except nx.NetworkXNoCycle:
        return
    path = [u for u, _ in cycle] + [cycle[0][0]]
    raise GraphError("dependency cycle: " + " -> ".join(path))


def ordered(g: nx.DiGraph) -> list[str]:
    """A deterministic topological order (lexicographic among ready nodes)."""
    import networkx as nx
    return list(nx.lexicographical_topological_sort(g))


def upstream(g: nx.DiGraph, addrs: Iterable[str]) -> set[str]:
    import networkx as nx
    out: set[str] = set()
    for a in addrs:
        if a in g:
            out.add(a)
            out |= nx.ancestors(g, a)
    return out


def downstream(g: nx.DiGraph, addrs: Iterable[str]) -> set[str]:
    import networkx as nx
    out: set[str] = set()
    for a in addrs:
        if a in g:
            out.add(a)
            out |= nx.descendants(g, a)
    return out


def reach(edges: Mapping[str, Iterable[str]], start: Iterable[str]) -> set[str]:
    """`start` and every node reachable from it along `edges` (node -> its neighbours), on plain
    dicts: the scope of a `--target` without building a graph of the whole state. Neighbours that
    are not themselves keys of `edges` are left out, as `build_graph(ignore_missing=True)` would."""
    seen = {a for a in start if a in edges}
    todo = list(seen)
    while todo:
        for b in edges[todo.pop()]:
            if b not in seen and b in edges:
                seen.add(b)
                todo.append(b)
    return seen


def to_dot(g: nx.DiGraph) -> str:
    lines = ["digraph ecpctl {", "  rankdir=LR;", '  node [shape=box, fontname="monospace"];']
    for n in ordered(g):
        lines.append(f'  "{n}";')
    for u, v in sorted(g.edges()):
        lines.append(f'  "{u}" -> "{v}";')
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_mermaid(g: nx.DiGraph) -> str:
    ids = {n: f"n{i}" for i, n in enumerate(ordered(g))}
    lines = ["flowchart LR"]
    for n, i in ids.items():
        lines.append(f'  {i}["{n}"]')
    for u, v in sorted(g.edges()):
        lines.append(f"  {ids[u]} --> {ids[v]}")
    return "\n".join(lines) + "\n"
