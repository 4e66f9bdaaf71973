"""The committed JSON Schemas match the models, and `ecpctl schema` writes them."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from ecpctl.cli.main import cli
from ecpctl.schema_gen import SCHEMAS, rendered_schemas

ROOT = Path(__file__).resolve().parents[2]


def test_committed_schemas_are_fresh():
    for name, text in rendered_schemas().items():
        committed = (ROOT / "schemas" / name).read_text(encoding="utf-8")
        assert committed == text, f"schemas/{name} is stale: run `ecpctl schema`"


def test_schema_command_writes_stable_files(tmp_path):
    runner = CliRunner()
    out = tmp_path / "out"
    result = runner.invoke(cli, ["schema", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(SCHEMAS)
    first = {p.name: p.read_text(encoding="utf-8") for p in out.iterdir()}
    assert runner.invoke(cli, ["schema", "--out", str(out)]).exit_code == 0
    assert first == {p.name: p.read_text(encoding="utf-8") for p in out.iterdir()}
    for text in first.values():
        assert text.endswith("}\n") and not text.endswith("\n\n")


def test_schema_default_out_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "schemas" / "tenant.schema.json").is_file()
    assert "Wrote schemas/tenant.schema.json" in result.output


def test_schema_content():
    tenant = json.loads(rendered_schemas()["tenant.schema.json"])
    assert tenant["$schema"].endswith("2020-12/schema")
    assert tenant["additionalProperties"] is False
    assert tenant["properties"]["kind"]["const"] == "Tenant"
    spec = tenant["$defs"]["TenantSpec"]["properties"]
    assert spec["services"]["propertyNames"]["enum"] == [
        "callbot", "chatbot", "advisor", "stt", "tts", "nlp"]
    assert spec["preset"]["enum"] == ["small", "medium", "large", "auto"]
    alert = tenant["$defs"]["AlertRule"]["properties"]
    assert "for" in alert and "for_" not in alert
    assert tenant["$defs"]["Sla"]["properties"]["responseTime"]["default"] == "200ms"
    project = json.loads(rendered_schemas()["project.schema.json"])
    assert project["properties"]["kind"]["const"] == "Project"


def test_examples_validate_against_the_schema_shape():
    """Every key used in the examples is a property the schema knows (a light structural check)."""
    from ruamel.yaml import YAML

    schemas = {k: json.loads(v) for k, v in rendered_schemas().items()}

    def check(node, schema, defs, where):
        if "$ref" in schema:
            schema = defs[schema["$ref"].split("/")[-1]]
        for option in schema.get("anyOf", []):
            if option.get("type") != "null":
                schema = defs[option["$ref"].split("/")[-1]] if "$ref" in option else option
        if isinstance(node, dict) and "properties" in schema:
            for key, value in node.items():
                assert key in schema["properties"], f"{where}.{key} not in schema"
                check(value, schema["properties"][key], defs, f"{where}.{key}")
        elif isinstance(node, list) and "items" in schema:
            for i, item in enumerate(node):
                check(item, schema["items"], defs, f"{where}[{i}]")

    for path in sorted((ROOT / "examples").glob("*.yaml")):
        doc = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
        schema = schemas["project.schema.json" if doc["kind"] == "Project" else "tenant.schema.json"]
        check(doc, schema, schema["$defs"], path.name)
