"""The service catalog as data: per-replica resources of each service type and the preset quota tiers.

`default_catalog()` reads the packaged services.yaml; `ServiceCatalog.from_file` reads another one.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any
from collections.abc import Mapping

from ruamel.yaml import YAML

from ecpctl.kernel.quantity import parse_cpu, parse_memory

CATALOG_FILE = "services.yaml"


@dataclass(frozen=True)
class ServiceProfile:
    """One replica of a service type: what it serves and what it needs."""

    name: str
    description: str
    image: str
    port: int
    sessions_per_replica: int
    gpus_per_replica: int
    cpu_request_m: int
    cpu_limit_m: int
    memory_request_mi: int
    memory_limit_mi: int
    # the extended resource one unit of `gpus_per_replica` is: a whole GPU, a MIG slice or a
    # time-sliced share (the Project's gpuResources says how many units make one GPU)
    gpu_resource: str = "nvidia.com/gpu"

    @property
    def uses_gpu(self) -> bool:
        return self.gpus_per_replica > 0


@dataclass(frozen=True)
class Preset:
    """A quota tier: the hard CPU/memory limits and GPUs of a tenant namespace."""

    name: str
    description: str
    cpu_m: int
    memory_mi: int
    gpus: int


class CatalogError(ValueError):
    """The catalog file itself is malformed (a packaging or operator error, not a spec error)."""


@dataclass(frozen=True)
class ServiceCatalog:
    services: Mapping[str, ServiceProfile]
    presets: Mapping[str, Preset]           # smallest first

    def service(self, name: str) -> ServiceProfile:
        try:
            return self.services[name]
        except KeyError:
            raise CatalogError(f"service type '{name}' is not in the catalog") from None

    @property
    def preset_order(self) -> tuple[str, ...]:
        return tuple(self.presets)

    @property
    def largest(self) -> Preset:
        return self.presets[self.preset_order[-1]]

    @classmethod
    def from_data(cls, data: Mapping[str, Any], source: str = CATALOG_FILE) -> ServiceCatalog:
        try:
            services = {name: _profile(name, d) for name, d in data["services"].items()}
            presets = {name: _preset(name, d) for name, d in data["presets"].items()}
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CatalogError(f"{source}: malformed catalog: {exc}") from exc
        sizes = [(p.cpu_m, p.memory_mi, p.gpus) for p in presets.values()]
        if not presets or any(a > b for x, y in zip(sizes, sizes[1:]) for a, b in zip(x, y)):
            raise CatalogError(f"{source}: presets must be listed smallest first")
        from ecpctl.config.models import SERVICE_TYPES
        missing = [s for s in SERVICE_TYPES if s not in services]
        if missing:
            raise CatalogError(f"{source}: no catalog entry for {', '.join(missing)}")
        return cls(MappingProxyType(services), MappingProxyType(presets))

    @classmethod
    def from_file(cls, path: str | Path) -> ServiceCatalog:
        with open(path, encoding="utf-8") as fh:
            return cls.from_data(YAML(typ="safe").load(fh), str(path))


def _profile(name: str, d: Mapping[str, Any]) -> ServiceProfile:
    profile = ServiceProfile(
        name=name, description=str(d.get("description", "")), image=str(d["image"]),
        port=int(d["port"]), sessions_per_replica=int(d["sessionsPerReplica"]),
        gpus_per_replica=int(d["gpusPerReplica"]),
        cpu_request_m=parse_cpu(d["cpu"]["request"]), cpu_limit_m=parse_cpu(d["cpu"]["limit"]),
        memory_request_mi=parse_memory(d["memory"]["request"]),
        memory_limit_mi=parse_memory(d["memory"]["limit"]),
        gpu_resource=str(d.get("gpuResource", "nvidia.com/gpu")))
    check_profile(profile)
    return profile


def check_profile(profile: ServiceProfile) -> None:
    """Raise ValueError naming what is inconsistent in one replica's figures."""
    name = profile.name
    if profile.sessions_per_replica < 1 or profile.gpus_per_replica < 0:
        raise ValueError(f"{name}: sessionsPerReplica must be >= 1 and gpusPerReplica >= 0")
    if profile.cpu_request_m > profile.cpu_limit_m or \
            profile.memory_request_mi > profile.memory_limit_mi:
        raise ValueError(f"{name}: a request is above its limit")


def _preset(name: str, d: Mapping[str, Any]) -> Preset:
    return Preset(name=name, description=str(d.get("description", "")), cpu_m=parse_cpu(d["cpu"]),
                  memory_mi=parse_memory(d["memory"]), gpus=int(d["gpus"]))


@functools.lru_cache(maxsize=1)
def default_catalog() -> ServiceCatalog:
    text = resources.files(__name__).joinpath(CATALOG_FILE).read_text(encoding="utf-8")
    return ServiceCatalog.from_data(YAML(typ="safe").load(text))


__all__ = ["ServiceCatalog", "ServiceProfile", "Preset", "CatalogError", "default_catalog"]
