"""One measurement, in its own process: the graph walk over N nodes with a no-op action.

The graph is many tenants' resource graphs side by side: the real graphs of the example tenants
(expanded by the engine, so the shape follows the code) copied under new tenant names until there
are N nodes. Thousands of nodes are ready at once (each tenant has several roots), which is what
made the old sorted-list ready queue quadratic. Prints one JSON line.

    python -m tests.bench.walk 100000
"""

from __future__ import annotations

import importlib
import json
import resource
import sys
import time
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

# the walk with a sorted ready list (b6c2621) on the same graph of 100,000 nodes, at a load
# average of 3 on 2 cores (docs/performance.md)
BEFORE_100K = {"wall_s": 6.6, "cpu_s": 6.3}


def tenant_templates() -> list[tuple[str, dict[str, list[str]]]]:
    """(tenant name, address -> its dependencies) for each example tenant."""
    from ecpctl.engine import desired_state

    desired = desired_state(EXAMPLES)
    out = []
    for name in sorted(lt.tenant.metadata.name for lt in desired.config.tenants):
        prefix = f"tenant.{name}."
        deps = {r.address: [d for d in r.depends_on] for r in desired.resources
                if r.address.startswith(prefix)}
        out.append((name, deps))
    return out


def fleet_graph(n_nodes: int):
    """A networkx DiGraph of about `n_nodes` nodes (whole tenants) and the number of tenants."""
    import networkx as nx

    templates = tenant_templates()
    g = nx.DiGraph()
    i = 0
    while g.number_of_nodes() < n_nodes:
        name, deps = templates[i % len(templates)]
        new = f"t{i:06d}-{name}"
        g.add_nodes_from(a.replace(name, new) for a in deps)
        g.add_edges_from((d.replace(name, new), a.replace(name, new))
                         for a, ds in deps.items() for d in ds)
        i += 1
    return g, i


def main(n_nodes: int, module: str = "ecpctl.walk", parallelism: int = 10) -> None:
    walk = importlib.import_module(module).walk
    t0 = time.perf_counter()
    graph, tenants = fleet_graph(n_nodes)
    build_s = time.perf_counter() - t0
    wall0, cpu0 = time.perf_counter(), time.process_time()
    result = walk(graph, lambda node: None, parallelism=parallelism)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    assert len(result.done) == graph.number_of_nodes(), "the walk left nodes out"
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"scenario": "graph walk (no-op)", "tenants": tenants,
                      "resources": graph.number_of_nodes(), "edges": graph.number_of_edges(),
                      "parallelism": parallelism, "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
                      "build_s": round(build_s, 3), "peak_rss_mib": round(peak_mib, 1),
                      "before_100k": BEFORE_100K, "requests": {}}))


if __name__ == "__main__":
    main(int(sys.argv[1]), *(sys.argv[2:3] or ()))
