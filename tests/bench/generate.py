"""Generate N tenant spec files from the shapes of the examples (round-robin, renamed)."""

from __future__ import annotations

import shutil
from pathlib import Path

from ruamel.yaml import YAML

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def generate(n: int, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    yaml = YAML()
    yaml.default_flow_style = False   # block style: what people write, and what every YAML parser reads
    shapes = []
    for f in sorted(EXAMPLES.glob("*.yaml")):
        doc = yaml.load(f.read_text())
        if doc.get("kind") == "Project":
            shutil.copy(f, out / "project.yaml")
        else:
            shapes.append(doc)
    for i in range(n):
        doc = shapes[i % len(shapes)]
        doc["metadata"]["name"] = f"t{i:05d}-{shapes.index(doc)}"
        doc.fa.set_block_style()
        for value in _nested(doc):
            value.fa.set_block_style()
        with (out / f"t{i:05d}.yaml").open("w") as fh:
            yaml.dump(doc, fh)
    return out


def _nested(node):
    """Every mapping and sequence below `node` (ruamel keeps flow style per node)."""
    items = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
    for v in items:
        if isinstance(v, (dict, list)) and hasattr(v, "fa"):
            yield v
            yield from _nested(v)
