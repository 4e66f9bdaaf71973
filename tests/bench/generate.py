"""Generate N tenant spec files from the shapes of the examples (round-robin, renamed)."""

from __future__ import annotations

import shutil
from pathlib import Path

from ruamel.yaml import YAML

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def generate(n: int, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    yaml = YAML()
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
        with (out / f"t{i:05d}.yaml").open("w") as fh:
            yaml.dump(doc, fh)
    return out
