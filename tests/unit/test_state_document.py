"""The serialized form: canonical JSON, the spliced document body, and its checks."""

from __future__ import annotations

import json

import pytest

from ecpctl.kernel import StateError
from state import TenantRecord
from state.document import body_text, canonical, checksum, parse, resource_text, to_document
from tests.unit.test_state_store import make_rs, make_tenant
from datetime import UTC


def test_canonical_is_sorted_and_compact():
    assert canonical({"b": 1, "a": [1, {"d": None, "c": "é"}]}) == '{"a":[1,{"c":"\\u00e9","d":null}],"b":1}'
    with pytest.raises(ValueError):
        canonical({"x": float("nan")})


def test_spliced_body_equals_canonical_json_of_the_document():
    texts = [resource_text(make_rs(a)) for a in ("tenant.a.fake.thing.x", "tenant.b.fake.thing.y")]
    tenants = [make_tenant().to_dict()]
    body = body_text("prod", "lin-1", 42, texts, tenants)
    assert body == canonical(json.loads(body))
    doc = json.loads(body)
    assert doc["serial"] == 42 and doc["workspace"] == "prod" and doc["format_version"] == 1
    assert body_text("prod", "lin-1", 0, [], []) == canonical(json.loads(body_text("prod", "lin-1", 0, [], [])))


def test_document_round_trip():
    body = body_text("default", "lin-1", 3, [resource_text(make_rs("tenant.a.fake.thing.x"))], [make_tenant().to_dict()])
    doc = to_document(body, checksum(body))
    parsed = parse(doc)
    assert parsed.checksum == doc["checksum"] and parsed.had_checksum and parsed.body == body
    assert parsed.resources == (make_rs("tenant.a.fake.thing.x"),) and parsed.serial == 3
    assert parsed.tenants[0].tenant_id == "acme" and parsed.tenants[0].name == "AI 콜센터 운영"


def test_parse_tells_a_hand_edit_from_a_missing_checksum():
    body = body_text("default", "lin-1", 3, [resource_text(make_rs("tenant.a.fake.thing.x"))], [])
    doc = to_document(body, checksum(body))
    doc["serial"] = 4
    with pytest.raises(StateError, match="checksum mismatch.*delete its \"checksum\" key"):
        parse(doc)
    del doc["checksum"]
    assert parse(doc).had_checksum is False


def test_parse_refuses_non_documents():
    with pytest.raises(StateError, match="must be a JSON object"):
        parse([])   # type: ignore[arg-type]
    with pytest.raises(StateError, match="'lineage' is empty"):
        parse({"format_version": 1, "lineage": "", "serial": 0, "resources": [], "tenants": []})
    with pytest.raises(StateError, match="'serial' is missing or not a int"):
        parse({"format_version": 1, "lineage": "x", "serial": True, "resources": [], "tenants": []})


def test_tenant_record_dict_round_trip():
    from datetime import datetime
    rec = make_tenant(created_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
                      updated_at=datetime(2026, 1, 2, 3, 4, 6, tzinfo=UTC), storage_limit="100Gi")
    assert TenantRecord.from_dict(json.loads(canonical(rec.to_dict()))) == rec


def test_resource_text_refuses_non_json():
    with pytest.raises(StateError, match="cannot record tenant.a.fake.thing.x in state: its data is not plain JSON"):
        resource_text(make_rs("tenant.a.fake.thing.x", when=object()))
