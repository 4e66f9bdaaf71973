"""The Project file a sandbox writes (`<dir>/project.yaml`): every provider pointed at the sandbox's
servers, rules and Alertmanager routes in file mode, and time compressed so that alerts fire in
seconds. Copy it next to your tenant files (or pass its directory) to plan against the sandbox."""

from __future__ import annotations

import json
from pathlib import Path

# Generated windows and `for:` durations are divided by this (a 1h burn-rate window becomes 6m).
TIME_COMPRESSION = 10
# GPU type -> the nvidia.com/gpu.product value of its nodes, as in examples/project.yaml: a
# tenant's GPU services get that node selector and capacity is counted per type, so placement is
# exercised on the sandbox's nodes (labelled Tesla-T4 unless `sandbox up --gpu-product` says
# otherwise: then t4 tenants find no node, as on a cluster without T4s)
GPU_PRODUCTS = {"t4": "Tesla-T4", "a10": "NVIDIA-A10", "a100": "NVIDIA-A100-SXM4-40GB"}


def project_yaml(*, kubeconfig: Path, alertmanager_file: Path, alertmanager_url: str,
                 prometheus_url: str, rules_dir: Path) -> str:
    doc = {
        "apiVersion": "ecp.ai/v1",
        "kind": "Project",
        "metadata": {"name": "sandbox"},
        "spec": {
            "providers": {
                "kubernetes": {"kubeconfig": str(kubeconfig)},
                "postgres": {"dsnEnv": "ECPCTL_POSTGRES_DSN"},
                "alertmanager": {"configFile": str(alertmanager_file), "url": alertmanager_url},
                "prometheus": {"url": prometheus_url, "rulesDir": str(rules_dir)},
            },
            "monitoring": {"rulesMode": "file", "alertmanagerMode": "file",
                           "dashboardsMode": "configmap", "timeCompression": TIME_COMPRESSION},
            "gpuProducts": dict(GPU_PRODUCTS),
        },
    }
    header = ("# Written by `ecpctl sandbox up`; rewritten at every start (the ports change).\n")
    return header + json.dumps(doc, indent=2) + "\n"
