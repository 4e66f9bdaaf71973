"""Apply and wait as separate phases in the walk: a node whose write is done and whose readiness is
still to come is parked, holds no parallelism slot, and is finished (its dependents started, its
result recorded) only once its wait settles."""

from __future__ import annotations

import threading

from ecpctl.graph import build_graph
from ecpctl.kernel.pending import Pending
from ecpctl.walk import WAIT_INTERRUPTED, Parked, walk


def recording_resume(resumed: list[BaseException | None]):
    """A resume that notes what it was given and raises it, as the applier's does."""
    def resume(err: BaseException | None) -> None:
        resumed.append(err)
        if err is not None:
            raise err
    return resume


def test_a_parked_node_frees_its_slot_and_its_dependents_wait_for_it():
    # a.rollout is written, then waits; with one slot, b and c still run while it waits
    g = build_graph({"a.rollout": [], "b": [], "c": [], "d.after-a": ["a.rollout"]})
    pending = Pending()
    order: list[str] = []
    recorded: list[str] = []

    def work(node: str):
        order.append(node)
        if node == "a.rollout":
            return Parked(pending, lambda err: recorded.append(node))
        if node == "c":
            assert not pending.done and "d.after-a" not in order
            pending.settle()               # the rollout becomes ready while c is written
        return None

    result = walk(g, work, parallelism=1)
    assert order == ["a.rollout", "b", "c", "d.after-a"]
    assert recorded == ["a.rollout"]
    assert list(result.done) == ["b", "c", "a.rollout", "d.after-a"]


def test_a_wait_that_settles_with_an_error_fails_the_node_and_skips_its_dependents():
    g = build_graph({"a": [], "b.after-a": ["a"], "c": []})
    pending = Pending()
    resumed: list[BaseException | None] = []
    resume = recording_resume(resumed)

    def work(node: str):
        if node == "a":
            return Parked(pending, resume)
        if node == "c":
            pending.settle(RuntimeError("timed out waiting for Deployment a"))
        return None

    result = walk(g, work, parallelism=4)
    assert [str(e) for e in resumed] == ["timed out waiting for Deployment a"]
    assert str(result.failed["a"]) == "timed out waiting for Deployment a"
    assert result.skipped == {"b.after-a": "a"}
    assert "c" in result.done and "b.after-a" not in result.done


def test_a_stop_lets_writes_finish_and_ends_the_waits_unrecorded():
    g = build_graph({"a": [], "a.after": ["a"], "b": [], "z.later": ["b"]})
    stop = threading.Event()
    pending = Pending()
    resumed: list[BaseException | None] = []
    resume = recording_resume(resumed)

    def work(node: str):
        if node == "a":
            return Parked(pending, resume)     # written; its rollout is still going on
        stop.set()                             # Ctrl-C while b is written: b still finishes
        return None

    result = walk(g, work, parallelism=1, stop=stop)
    assert result.interrupted
    assert "b" in result.done
    # a's wait ended at the stop, not at its readiness: not recorded; what depends on it was
    # not started (not skipped as if a had failed)
    assert resumed == [WAIT_INTERRUPTED] and result.failed == {"a": WAIT_INTERRUPTED}
    assert result.not_started == ("a.after", "z.later") and result.skipped == {}
    assert "the next apply finishes it" in str(WAIT_INTERRUPTED)


def test_parked_nodes_are_not_counted_against_parallelism():
    # 30 rollouts that each wait until all 30 were written: with 2 slots this only ends if a
    # parked node holds none (a blocking wait in the work would deadlock at the third)
    nodes = {f"r{i:02d}": [] for i in range(30)}
    g = build_graph(nodes)
    pendings = {n: Pending() for n in nodes}
    written: list[str] = []
    lock = threading.Lock()

    def work(node: str):
        with lock:
            written.append(node)
            if len(written) == len(nodes):
                for p in pendings.values():
                    threading.Thread(target=p.settle).start()
        return Parked(pendings[node], lambda err: None)

    result = walk(g, work, parallelism=2)
    assert sorted(result.done) == sorted(nodes)


def test_an_already_settled_pending_resumes_at_once():
    g = build_graph({"a": [], "b.after-a": ["a"]})
    recorded: list[str] = []

    def work(node: str):
        return Parked(Pending.settled(), lambda err: recorded.append(node))

    result = walk(g, work, parallelism=1)
    assert recorded == ["a", "b.after-a"]
    assert list(result.done) == ["a", "b.after-a"]


def test_on_end_counts_a_parked_node_from_its_start_to_its_resume():
    g = build_graph({"a": []})
    pending = Pending()
    ended: list[tuple[str, float]] = []

    def work(node: str):
        threading.Timer(0.2, pending.settle).start()    # ready 0.2 s after it was written
        return Parked(pending, lambda err: None)

    walk(g, work, parallelism=1, on_end=lambda n, e, s: ended.append((n, s)))
    assert ended[0][0] == "a" and ended[0][1] >= 0.2
