"""The Project the sandbox writes (ecpctl/sandbox/project.py) loads as a Project, and maps GPU
types to the product label the sandbox's nodes carry, so gpuType placement runs on them."""

from __future__ import annotations

import yaml

from ecpctl.config.models import Project
from ecpctl.sandbox.kube import GPU_PRODUCT
from ecpctl.sandbox.project import project_yaml


def test_the_sandbox_project_places_t4_on_its_nodes(tmp_path):
    text = project_yaml(kubeconfig=tmp_path / "kubeconfig", alertmanager_file=tmp_path / "am.yml",
                        alertmanager_url="http://127.0.0.1:9093",
                        prometheus_url="http://127.0.0.1:9090", rules_dir=tmp_path / "rules")
    project = Project.model_validate(yaml.safe_load(text))
    products = project.spec.gpuProducts
    assert products["t4"] == GPU_PRODUCT == "Tesla-T4"
    assert {"a10", "a100"} <= set(products) and len(set(products.values())) == len(products)
    # every mapped type has a price, or a tenant of that type would not validate
    assert set(products) <= set(project.spec.price.gpuHour)
