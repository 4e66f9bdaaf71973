"""Generate tenant spec files: N tenants from the shapes of the examples (offline scenarios), or N
light tenants that fit a fake cluster (live scenarios: two CPU services, a database, no GPU)."""

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


# --- live fleets ---------------------------------------------------------------------------------

LIGHT_PROJECT = """\
apiVersion: ecp.ai/v1
kind: Project
metadata:
  name: bench
spec:
  providers:
    kubernetes:
      fieldManager: ecpctl
{postgres}  monitoring:
    dashboardsMode: configmap
    alertmanagerMode: kubernetes
"""

POSTGRES_BLOCK = """\
    postgres:
      dsnEnv: ECPCTL_POSTGRES_DSN
"""

LIGHT_TENANT = """\
apiVersion: ecp.ai/v1
kind: Tenant
metadata:
  name: {name}
  displayName: Bench {name}
spec:
  preset: small
  services:
    chatbot: {chatbot}
    advisor: 10
  sla:
    availability: "99.5%"
  database:
    enabled: {database}
  autoscaling:
    enabled: false
  monitoring:
    receivers:
      - name: ops
        webhook: {{url: "https://hooks.example.com/alerts"}}
    alerts:
      - name: high_cpu_usage
        condition: cpu_usage > 80
        for: 5m
        notify: [ops]
"""

# What one light tenant costs the cluster: 2 pods of 200m CPU and 512Mi requested (1 replica each)
LIGHT_PODS = 2


def light_name(prefix: str, i: int) -> str:
    return f"{prefix}{i:04d}"


def write_light_project(out: Path, *, database: bool = True) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    (out / "project.yaml").write_text(LIGHT_PROJECT.format(postgres=POSTGRES_BLOCK if database else ""))
    return out


def write_light_tenant(out: Path, name: str, *, database: bool = True, chatbot: int = 10) -> Path:
    path = out / f"{name}.yaml"
    path.write_text(LIGHT_TENANT.format(name=name, database=str(database).lower(), chatbot=chatbot))
    return path


def generate_light(n: int, out: Path, *, prefix: str = "b", start: int = 0,
                   database: bool = True) -> list[str]:
    """Tenants `<prefix>0000`... (two CPU services, a database unless `database=False`, alerts,
    dashboards); returns their names. Adds to `out` when it already holds tenants."""
    write_light_project(out, database=database)
    names = [light_name(prefix, i) for i in range(start, start + n)]
    for name in names:
        write_light_tenant(out, name, database=database)
    return names
