"""JSON Schema of the spec files, generated from the pydantic models, in a stable text form.

Editors use it through `# yaml-language-server: $schema=...`; a unit test keeps the committed copy fresh.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ecpctl.config.models import Project, Tenant

DRAFT = "https://json-schema.org/draft/2020-12/schema"
SCHEMAS: dict[str, type[BaseModel]] = {
    "tenant.schema.json": Tenant,
    "project.schema.json": Project,
}


def schema_for(model: type[BaseModel]) -> dict[str, Any]:
    schema = _drop_field_titles(model.model_json_schema(by_alias=True, mode="validation"))
    kind = model.__name__
    return {
        "$schema": DRAFT,
        "title": f"ECP-AI {kind} (apiVersion ecp.ai/v1)",
        **{k: v for k, v in schema.items() if k != "title"},
    }


def _drop_field_titles(node: Any) -> Any:
    """pydantic titles every property ("Responsetime"); the property name says it better."""
    if isinstance(node, dict):
        props = node.get("properties")
        if isinstance(props, dict):
            for prop in props.values():
                if isinstance(prop, dict):
                    prop.pop("title", None)
        for value in node.values():
            _drop_field_titles(value)
    elif isinstance(node, list):
        for value in node:
            _drop_field_titles(value)
    return node


def render(schema: dict[str, Any]) -> str:
    """Stable text: sorted keys, indent 2, non-ASCII kept, one trailing newline."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def rendered_schemas() -> dict[str, str]:
    """File name -> file content, for every schema."""
    return {name: render(schema_for(model)) for name, model in SCHEMAS.items()}


def write_schemas(out_dir: str | Path) -> list[Path]:
    """Write every schema into `out_dir` (created if needed); only files whose text changed."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in rendered_schemas().items():
        target = out / name
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
        written.append(target)
    return written


__all__ = ["SCHEMAS", "schema_for", "render", "rendered_schemas", "write_schemas"]
