"""A tenant's view of the catalog: its `spec.serviceOverrides` laid over the catalog's profiles,
and GPU shares (MIG slices, time-sliced GPUs) counted in physical GPUs.

`GpuShares` comes from the Project's `spec.gpuResources` (units of a resource per physical GPU);
`tenant_profile` gives the figures sizing uses for one service of one tenant.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from ecpctl.catalog import ServiceCatalog, ServiceProfile, check_profile
from ecpctl.kernel.quantity import parse_cpu, parse_memory

WHOLE_GPU = "nvidia.com/gpu"


@dataclasses.dataclass(frozen=True)
class GpuShares:
    """How many units of each GPU resource one physical GPU provides (1 when not declared)."""

    per_gpu: Mapping[str, int] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_project(cls, project: Any) -> GpuShares:
        declared = getattr(project.spec, "gpuResources", None) or {}
        return cls({name: int(r.perGpu) for name, r in declared.items()})

    def units_per_gpu(self, resource: str) -> int:
        return self.per_gpu.get(resource, 1)

    def gpus(self, resource: str, units: int) -> Fraction:
        """Physical GPUs that `units` of `resource` amount to (a MIG slice is 1/7 of one)."""
        return Fraction(units, self.units_per_gpu(resource))

    def units(self, resource: str, gpus: Fraction) -> int:
        """Whole units of `resource` that fit in `gpus` physical GPUs."""
        return int(gpus * self.units_per_gpu(resource)) if gpus > 0 else 0


NO_SHARING = GpuShares()


class OverrideError(ValueError):
    """An override that makes one replica's figures inconsistent; `path` is the field to blame."""

    def __init__(self, message: str, path: tuple[str, ...]):
        super().__init__(message)
        self.path = path


def tenant_profile(catalog: ServiceCatalog, name: str, overrides: Mapping[str, Any]
                   ) -> ServiceProfile:
    """The catalog's profile of `name` with the tenant's override of it (if any) applied."""
    base = catalog.service(name)
    o = overrides.get(name)
    if o is None:
        return base
    changes: dict[str, Any] = {}
    if o.sessionsPerReplica is not None:
        changes["sessions_per_replica"] = int(o.sessionsPerReplica)
    if o.gpusPerReplica is not None:
        changes["gpus_per_replica"] = int(o.gpusPerReplica)
    if o.gpuResource is not None:
        changes["gpu_resource"] = o.gpuResource
    for field, parse, prefix, unit in (("cpu", parse_cpu, "cpu", "m"),
                                       ("memory", parse_memory, "memory", "mi")):
        pair = getattr(o, field)
        for side in ("request", "limit"):
            value = getattr(pair, side) if pair is not None else None
            if value is not None:
                changes[f"{prefix}_{side}_{unit}"] = parse(value)
    profile = dataclasses.replace(base, **changes)
    try:
        check_profile(profile)
    except ValueError:
        raise OverrideError(_inconsistency(profile), ("spec", "serviceOverrides", name)) from None
    return profile


def _inconsistency(p: ServiceProfile) -> str:
    if p.cpu_request_m > p.cpu_limit_m:
        return (f"{p.name}: CPU request {p.cpu_request_m}m is above its limit {p.cpu_limit_m}m "
                "(the catalog's figure is kept for the side not overridden)")
    return (f"{p.name}: memory request {p.memory_request_mi}Mi is above its limit "
            f"{p.memory_limit_mi}Mi (the catalog's figure is kept for the side not overridden)")


__all__ = ["GpuShares", "NO_SHARING", "OverrideError", "tenant_profile", "WHOLE_GPU"]
