"""The resource graph: cycles reported as a path, unknown dependencies named, dot/mermaid output."""

from __future__ import annotations

import pytest

from ecpctl.kernel import GraphError
from ecpctl.graph import build_graph, check_graph, downstream, ordered, reach, to_dot, to_mermaid, upstream
from ecpctl.walk import walk


@pytest.mark.parametrize("check", [build_graph, check_graph])
def test_cycle_is_reported_as_a_path(check):
    with pytest.raises(GraphError) as err:
        check({"a": ["c"], "b": ["a"], "c": ["b"], "d": []})
    msg = str(err.value)
    assert msg.startswith("dependency cycle: ")
    path = msg.removeprefix("dependency cycle: ").split(" -> ")
    assert path[0] == path[-1] and set(path) == {"a", "b", "c"} and len(path) == 4


@pytest.mark.parametrize("check", [build_graph, check_graph])
def test_unknown_dependency_is_named(check):
    with pytest.raises(GraphError, match="x: depends on unknown resource y"):
        check({"x": ["y"]})


@pytest.mark.parametrize("nodes", [
    {"a": ["a"]},                                        # depends on itself
    {"a": [], "b": ["a", "a"], "c": ["b", "d"], "d": ["c"]},   # a cycle behind a repeated edge
])
def test_the_plain_check_finds_every_cycle_the_graph_has(nodes):
    with pytest.raises(GraphError, match="dependency cycle"):
        check_graph(nodes)


def test_the_plain_check_passes_a_graph_with_shared_and_repeated_dependencies():
    check_graph({"ns": [], "cm": ["ns", "ns"], "a": ["ns", "cm"], "b": ["cm", "a"]})


def test_order_and_formats():
    g = build_graph({"ns": [], "deploy": ["ns", "cm"], "cm": ["ns"]})
    assert ordered(g) == ["ns", "cm", "deploy"]
    assert '"ns" -> "cm";' in to_dot(g)
    assert to_mermaid(g).startswith("flowchart LR\n")


def test_walk_starts_a_node_as_soon_as_its_own_dependencies_finish():
    import threading
    import time
    # slow -> after_slow; fast -> after_fast. after_fast must not wait for slow.
    g = build_graph({"slow": [], "fast": [], "after_slow": ["slow"], "after_fast": ["fast"]})
    finished: list[str] = []
    lock = threading.Lock()

    def work(node):
        time.sleep(0.3 if node == "slow" else 0.01)
        with lock:
            finished.append(node)

    result = walk(g, work, parallelism=4)
    assert not result.failed
    assert finished.index("after_fast") < finished.index("slow")


def test_walk_skips_downstream_of_a_failure_and_finishes_other_branches():
    g = build_graph({"a": [], "b": ["a"], "c": ["b"], "x": [], "y": ["x"]})

    def work(node):
        if node == "a":
            raise RuntimeError("boom")

    result = walk(g, work, parallelism=2)
    assert set(result.failed) == {"a"}
    assert result.skipped == {"b": "a", "c": "a"}
    assert set(result.done) == {"x", "y"}


def test_graph_command(ecpctl, spec_dir):
    r = ecpctl("graph", str(spec_dir), "--tenant", "globex")
    assert r.exit_code == 0
    assert r.output.startswith("digraph ecpctl {")
    assert ('"tenant.globex.kubernetes.v1.Namespace.ecp-ai-globex" -> '
            '"tenant.globex.kubernetes.v1.ServiceAccount.ecp-ai";') in r.output
    assert "tenant.acme" not in r.output
    r = ecpctl("graph", str(spec_dir), "--format", "mermaid")
    assert r.output.startswith("flowchart LR")
    r = ecpctl("graph", str(spec_dir), "--tenant", "nope")
    assert r.exit_code == 1 and "no tenant 'nope'" in r.output


def test_reach_on_plain_dicts_is_what_the_graph_gives_up_and_down_stream():
    deps = {"ns": [], "cm": ["ns"], "deploy": ["ns", "cm", "gone"], "svc": ["deploy"], "x": []}
    g = build_graph(deps, ignore_missing=True)
    dependents = {a: [b for b, ds in deps.items() if a in ds] for a in deps}
    assert reach(deps, ["deploy"]) == upstream(g, ["deploy"]) == {"deploy", "cm", "ns"}
    assert reach(dependents, ["cm"]) == downstream(g, ["cm"]) == {"cm", "deploy", "svc"}
    assert reach(deps, ["gone", "x"]) == {"x"}          # what is not a node is not reached
