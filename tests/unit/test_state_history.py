"""History, pull and push, and what happens when rows are edited outside ecpctl.

Runs on SQLite here and on the real Postgres from tests/integration/test_state_postgres.py.
"""

from __future__ import annotations

import copy

import pytest
from sqlalchemy import text

from ecpctl.kernel import StateError
from state import VersionInfo
from tests.unit.test_state_store import (make_rs, make_tenant, open_store, raw_engine,  # noqa: F401
                                         state_url, store)


def _apply(store, *addresses, ws="default"):
    for a in addresses:
        store.put_resource(ws, make_rs(a))


def test_checkpoint_writes_a_version_numbered_by_serial(store):
    _apply(store, "tenant.acme.fake.thing.a", "tenant.acme.fake.thing.b")
    v = store.checkpoint("default", "apply")
    assert v == store.snapshot("default").serial == 2
    assert store.checkpoint("default", "apply") == 2    # nothing new: same version
    _apply(store, "tenant.acme.fake.thing.c")
    assert store.checkpoint("default", "destroy") == 3
    hist = store.history("default")
    assert [h.version for h in hist] == [3, 2]           # newest first
    assert all(isinstance(h, VersionInfo) for h in hist)
    assert [h.operation for h in hist] == ["destroy", "apply"]
    assert [h.resources for h in hist] == [3, 2]
    assert hist[0].lineage == store.snapshot("default").lineage
    assert hist[0].created_at.tzinfo is not None


def test_pull_document_shape_and_checksum(store):
    _apply(store, "tenant.acme.fake.thing.b", "tenant.acme.fake.thing.a")
    store.upsert_tenant("default", make_tenant())
    doc = store.pull("default")
    assert set(doc) == {"format_version", "lineage", "serial", "workspace", "resources", "tenants", "checksum"}
    assert doc["format_version"] == 1 and doc["workspace"] == "default" and doc["serial"] == 3
    assert [r["address"] for r in doc["resources"]] == ["tenant.acme.fake.thing.a", "tenant.acme.fake.thing.b"]
    assert doc["resources"][0] == make_rs("tenant.acme.fake.thing.a").to_dict()
    assert doc["tenants"][0]["tenant_id"] == "acme" and doc["tenants"][0]["created_at"]
    from state.document import canonical, checksum
    assert doc["checksum"] == checksum(canonical({k: v for k, v in doc.items() if k != "checksum"}))


def test_pull_an_older_version(store):
    _apply(store, "tenant.acme.fake.thing.a")
    store.checkpoint("default", "apply")
    _apply(store, "tenant.acme.fake.thing.b")
    store.checkpoint("default", "apply")
    old = store.pull("default", version=1)
    assert old["serial"] == 1 and [r["address"] for r in old["resources"]] == ["tenant.acme.fake.thing.a"]
    with pytest.raises(StateError, match="workspace default has no version 7; `ecpctl state history`"):
        store.pull("default", version=7)


def test_push_of_a_newer_document_of_the_same_lineage(store):
    _apply(store, "tenant.acme.fake.thing.a")
    doc = store.pull("default")
    doc["serial"] += 5
    doc["resources"].append(make_rs("tenant.acme.fake.thing.pushed").to_dict())
    del doc["checksum"]
    with pytest.raises(StateError, match="no checksum.*--force"):
        store.push("default", doc)
    store.push("default", doc, force=True)
    snap = store.snapshot("default")
    assert snap.serial == 6 and sorted(snap.resources) == ["tenant.acme.fake.thing.a", "tenant.acme.fake.thing.pushed"]
    assert store.history("default")[0].operation == "push --force"


def test_push_refuses_an_older_document_unless_forced(store):
    _apply(store, "tenant.acme.fake.thing.a")
    old = store.pull("default")
    _apply(store, "tenant.acme.fake.thing.b", "tenant.acme.fake.thing.c")
    with pytest.raises(StateError, match="serial 1 is lower than workspace default's serial 3"):
        store.push("default", old)
    assert store.snapshot("default").serial == 3
    store.push("default", old, force=True)
    snap = store.snapshot("default")
    assert sorted(snap.resources) == ["tenant.acme.fake.thing.a"]
    assert snap.serial == 4          # serials only grow, so plans made before are stale
    assert store.history("default")[0].version == 4


def test_push_refuses_another_lineage_unless_forced(store):
    store.create_workspace("other")
    _apply(store, "tenant.acme.fake.thing.a")
    _apply(store, "tenant.other.fake.thing.x", ws="other")
    foreign = store.pull("other")
    with pytest.raises(StateError, match="lineage .* is not workspace default's lineage"):
        store.push("default", foreign)
    store.push("default", foreign, force=True)
    snap = store.snapshot("default")
    assert snap.lineage == foreign["lineage"] and sorted(snap.resources) == ["tenant.other.fake.thing.x"]


def test_push_into_an_empty_workspace_takes_the_documents_lineage(store):
    _apply(store, "tenant.acme.fake.thing.a", "tenant.acme.fake.thing.b")
    store.upsert_tenant("default", make_tenant())
    doc = store.pull("default")
    store.create_workspace("copy")
    store.push("copy", doc)
    snap = store.snapshot("copy")
    assert snap.lineage == doc["lineage"] and snap.serial == 3
    assert sorted(snap.resources) == ["tenant.acme.fake.thing.a", "tenant.acme.fake.thing.b"]
    assert snap.tenants["acme"].created_at == store.snapshot("default").tenants["acme"].created_at


def test_push_at_the_same_serial(store):
    _apply(store, "tenant.acme.fake.thing.a")
    doc = store.pull("default")
    store.push("default", doc)                               # unchanged: nothing to write
    assert store.snapshot("default").serial == 1
    edited = copy.deepcopy(doc)
    edited["resources"][0]["attributes"]["replicas"] = 9
    del edited["checksum"]
    with pytest.raises(StateError, match="serial 1 like the stored state but different content"):
        store.push("default", _with_checksum(edited))


def _with_checksum(doc):
    from state.document import canonical, checksum
    return {**doc, "checksum": checksum(canonical(doc))}


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.update(format_version=2), "format_version 2"),
    (lambda d: d.pop("lineage"), "'lineage' is missing"),
    (lambda d: d.update(serial="7"), "'serial' is missing or not a int"),
    (lambda d: d["resources"].append({"address": "x"}), r"resources\[1\] is malformed"),
    (lambda d: d["resources"].append(dict(d["resources"][0])), "lists resource tenant.acme.fake.thing.a more than once"),
])
def test_push_refuses_malformed_documents(store, mutate, message):
    _apply(store, "tenant.acme.fake.thing.a")
    doc = store.pull("default")
    del doc["checksum"]
    mutate(doc)
    with pytest.raises(StateError, match=message):
        store.push("default", doc, force=True)


def test_push_refuses_a_document_whose_checksum_does_not_match_even_with_force(store):
    _apply(store, "tenant.acme.fake.thing.a")
    doc = store.pull("default")
    doc["serial"] += 1
    doc["resources"][0]["attributes"]["replicas"] = 1
    for force in (False, True):
        with pytest.raises(StateError, match="checksum mismatch"):
            store.push("default", doc, force=force)
    assert store.snapshot("default").serial == 1


def test_edited_resource_row_is_detected_and_recovered_from_history(store, state_url):
    _apply(store, "tenant.acme.fake.thing.a", "tenant.acme.fake.thing.b")
    good = store.checkpoint("default", "apply")
    _apply(store, "tenant.acme.fake.thing.c")
    with raw_engine(state_url).begin() as conn:
        conn.execute(text("UPDATE resources SET data = REPLACE(data, :old, :new) WHERE address = :a"),
                     {"old": '"replicas":2', "new": '"replicas":20', "a": "tenant.acme.fake.thing.b"})
    for read in (lambda: store.snapshot("default"), lambda: store.pull("default"),
                 lambda: store.checkpoint("default", "apply")):
        with pytest.raises(StateError) as err:
            read()
        msg = str(err.value)
        assert "state for workspace default is corrupt: resource tenant.acme.fake.thing.b checksum mismatch" in msg
        assert "(edited outside ecpctl?)" in msg
        assert f"recover with `ecpctl state pull --version {good}" in msg
    older = store.pull("default", version=good)
    with pytest.raises(StateError, match="lower than"):
        store.push("default", older)
    store.push("default", older, force=True)
    snap = store.snapshot("default")
    assert sorted(snap.resources) == ["tenant.acme.fake.thing.a", "tenant.acme.fake.thing.b"]
    assert snap.resources["tenant.acme.fake.thing.b"].attributes == {"replicas": 2}
    assert snap.serial == 4


def test_edited_version_points_at_the_newest_intact_one(store, state_url):
    _apply(store, "tenant.acme.fake.thing.a")
    store.checkpoint("default", "apply")
    _apply(store, "tenant.acme.fake.thing.b")
    store.checkpoint("default", "apply")
    with raw_engine(state_url).begin() as conn:
        conn.execute(text("UPDATE versions SET document = REPLACE(document, 'tenant.acme.fake.thing.b', 'tenant.acme.X') "
                          "WHERE serial = 2"))
    with pytest.raises(StateError, match=r"version 2 checksum mismatch .*`ecpctl state pull --version 1"):
        store.pull("default", version=2)
    assert store.pull("default", version=1)["serial"] == 1


def test_corruption_without_an_intact_version_says_so(store, state_url):
    _apply(store, "tenant.acme.fake.thing.a")
    with raw_engine(state_url).begin() as conn:
        conn.execute(text("UPDATE resources SET address = 'tenant.acme.fake.thing.renamed'"))
    with pytest.raises(StateError, match="corrupt: .*no intact history version"):
        store.snapshot("default")


def test_history_is_pruned_to_the_limit(state_url, tmp_path):
    from state import StateStore
    with StateStore.open(state_url, data_dir=tmp_path, history_limit=3) as s:
        for i in range(5):
            s.put_resource("default", make_rs(f"tenant.acme.fake.thing.r{i}"))
            s.checkpoint("default", "apply")
        assert [h.version for h in s.history("default")] == [5, 4, 3]


def test_history_of_unknown_workspace(store):
    assert store.history("default") == []
    with pytest.raises(StateError, match="does not exist"):
        store.history("nope")
