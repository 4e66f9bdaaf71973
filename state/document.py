"""The serialized form of a workspace: one JSON document, as `state pull` prints and `state push` takes.

    {"format_version": 1, "lineage": ..., "serial": ..., "workspace": ...,
     "resources": [ResourceState.to_dict(), ...sorted by address], "tenants": [...], "checksum": ...}

The checksum is the sha256 of the canonical JSON (sort_keys, separators (',',':')) of the document
without its "checksum" key. Resource rows are stored as canonical JSON too, so a whole document is
spliced from stored texts without parsing them again: 150,000 resources stay cheap to checkpoint.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from typing import Any
from collections.abc import Iterable, Mapping

from ecpctl.kernel import StateError
from ecpctl.kernel import ResourceState
from state.records import TenantRecord

FORMAT_VERSION = 1


def canonical(obj: Any) -> str:
    """The one JSON text of `obj` that checksums are computed over."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def checksum(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def resource_text(rs: ResourceState) -> str:
    """Canonical JSON of one resource, as stored in its row."""
    try:
        return canonical(rs.to_dict())
    except (TypeError, ValueError) as exc:
        raise StateError(f"cannot record {rs.address} in state: its data is not plain JSON: {exc}") from exc


def body_text(workspace: str, lineage: str, serial: int, resource_texts: Iterable[str],
              tenants: Iterable[Mapping[str, Any]]) -> str:
    """Canonical JSON of a document without its checksum, from canonical resource texts.

    Keys are written in sorted order by hand so that the result equals `canonical(json.loads(...))`
    (a unit test holds this); `resource_texts` must already be canonical and sorted by address.
    """
    return (
        '{"format_version":' + str(FORMAT_VERSION)
        + ',"lineage":' + canonical(lineage)
        + ',"resources":[' + ",".join(resource_texts) + "]"
        + ',"serial":' + str(int(serial))
        + ',"tenants":' + canonical(list(tenants))
        + ',"workspace":' + canonical(workspace) + "}"
    )


def to_document(body: str, body_checksum: str) -> dict[str, Any]:
    """The JSON-able document `pull` returns, from a stored body and its checksum."""
    doc = json.loads(body)
    doc["checksum"] = body_checksum
    return doc


@dataclass(frozen=True)
class ParsedDocument:
    """A pushed document, checked and turned back into records."""

    workspace: str
    lineage: str
    serial: int
    resources: tuple[ResourceState, ...]
    tenants: tuple[TenantRecord, ...]
    body: str            # canonical, without checksum
    checksum: str
    had_checksum: bool   # False: a hand-made document; `push` then wants --force


def parse(doc: Mapping[str, Any]) -> ParsedDocument:
    """Check a document's shape and checksum; StateError says what is wrong and where."""
    if not isinstance(doc, Mapping):
        raise StateError("state document must be a JSON object")
    fmt = doc.get("format_version")
    if fmt != FORMAT_VERSION:
        raise StateError(f"state document has format_version {fmt!r}; this ecpctl reads {FORMAT_VERSION}")
    for key, kind in (("lineage", str), ("serial", int), ("resources", list), ("tenants", list)):
        if not isinstance(doc.get(key), kind) or isinstance(doc.get(key), bool):
            raise StateError(f"state document: {key!r} is missing or not a {kind.__name__}")
    if not doc["lineage"]:
        raise StateError("state document: 'lineage' is empty")
    if doc["serial"] < 0:
        raise StateError("state document: 'serial' is negative")
    body_obj = {k: v for k, v in doc.items() if k != "checksum"}
    try:
        body = canonical(body_obj)
    except (TypeError, ValueError) as exc:
        raise StateError(f"state document is not plain JSON: {exc}") from exc
    actual = checksum(body)
    given = doc.get("checksum")
    if given is not None and given != actual:
        raise StateError(
            "state document checksum mismatch (edited by hand or truncated?); to push an edited "
            "document on purpose, delete its \"checksum\" key and push with --force")
    resources = tuple(_each(doc["resources"], "resources", ResourceState.from_dict))
    dups = sorted(a for a, n in Counter(r.address for r in resources).items() if n > 1)
    if dups:
        raise StateError(f"state document lists resource {dups[0]} more than once")
    tenants = tuple(_each(doc["tenants"], "tenants", TenantRecord.from_dict))
    return ParsedDocument(
        workspace=str(doc.get("workspace") or ""), lineage=doc["lineage"], serial=doc["serial"],
        resources=resources, tenants=tenants, body=body, checksum=actual,
        had_checksum=given is not None)


def _each(items: list, what: str, make):
    for i, item in enumerate(items):
        try:
            yield make(item)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StateError(f"state document: {what}[{i}] is malformed: {exc!r}") from exc
