"""Sizing: concurrent sessions per service -> replicas, CPU/memory/GPU, preset quota tier, monthly cost.

Pure functions over a Tenant and the service catalog; docs/sizing.md states the rules and numbers.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from ecpctl.catalog import Preset, ServiceCatalog, ServiceProfile, default_catalog
from ecpctl.catalog.tenant import NO_SHARING, WHOLE_GPU, GpuShares, OverrideError, tenant_profile
from ecpctl.config.limits import INT32_MAX, INT64_MAX
from ecpctl.config.models import PriceTable, Tenant, did_you_mean
from ecpctl.kernel import ConfigError
from ecpctl.kernel.quantity import format_cpu, format_memory

if TYPE_CHECKING:
    from ecpctl.config import Config

HA_AVAILABILITY = Decimal("99.9")   # at or above: at least HA_MIN_REPLICAS of every service
HA_MIN_REPLICAS = 2
ABOVE_LARGEST = "+"                 # "large+": a computed quota above the largest tier
GPU_RESOURCE = WHOLE_GPU
CENT = Decimal("0.01")
MEBI = 1024 * 1024
# Enough digits for the largest cost the spec's limits allow (int32 replicas x the price cap x
# 744 hours), so quantizing to cents never overflows the default 28-digit context.
COST_CONTEXT = Context(prec=60)


class SizingError(ConfigError):
    """A tenant whose load does not fit what it asks for; `path` is the spec field to blame."""

    def __init__(self, message: str, path: tuple[str, ...]):
        super().__init__(message)
        self.path = path


@dataclass(frozen=True)
class ServiceSizing:
    service: str
    sessions: int
    replicas: int
    max_replicas: int
    cpu_request_m: int           # per replica
    cpu_limit_m: int
    memory_request_mi: int
    memory_limit_mi: int
    gpus_per_replica: int
    port: int
    image: str                   # full reference, e.g. ecp-ai/callbot:latest
    total_cpu_request_m: int     # x replicas
    total_cpu_limit_m: int
    total_memory_request_mi: int
    total_memory_limit_mi: int
    total_gpu: int
    monthly_cost: Decimal
    min_available: int = 0       # PodDisruptionBudget minAvailable
    # RollingUpdate: surge one pod only when the quota has room for it beside the steady state,
    # else replace in place (a GPU service in a tier whose GPUs are all used)
    max_surge: int = 1
    max_unavailable: int = 0
    gpu_resource: str = GPU_RESOURCE   # what gpus_per_replica and total_gpu count
    gpus: Fraction = Fraction(0)       # physical GPUs all replicas amount to (a MIG slice: 1/7)

    def to_dict(self) -> dict[str, Any]:
        return {
            "service": self.service, "sessions": self.sessions, "replicas": self.replicas,
            "max_replicas": self.max_replicas, "min_available": self.min_available,
            "rollout": {"max_surge": self.max_surge, "max_unavailable": self.max_unavailable},
            "image": self.image, "port": self.port,
            "per_replica": {"cpu_request": format_cpu(self.cpu_request_m),
                            "cpu_limit": format_cpu(self.cpu_limit_m),
                            "memory_request": format_memory(self.memory_request_mi),
                            "memory_limit": format_memory(self.memory_limit_mi),
                            "gpus": self.gpus_per_replica, "gpu_resource": self.gpu_resource},
            "total": {"cpu_request_m": self.total_cpu_request_m,
                      "cpu_limit_m": self.total_cpu_limit_m,
                      "memory_request_mi": self.total_memory_request_mi,
                      "memory_limit_mi": self.total_memory_limit_mi,
                      "gpus": self.total_gpu, "physical_gpus": gpu_number(self.gpus)},
            "monthly_cost": str(self.monthly_cost),
        }


@dataclass(frozen=True)
class TenantSizing:
    tenant_id: str
    preset: str                  # resolved tier: small | medium | large | large+
    requested_preset: str        # as written: small | medium | large | auto
    services: tuple[ServiceSizing, ...]
    cpu_limit_m: int             # quota of the tier
    memory_limit_mi: int
    gpu_limit: int
    total_cpu_request_m: int     # sums over the services
    total_cpu_limit_m: int
    total_memory_request_mi: int
    total_memory_limit_mi: int
    total_gpu: int
    monthly_cost: Decimal
    currency: str
    gpu_type: str = "t4"
    ha: bool = False
    pods_limit: int = 0
    # requests.<resource> of the quota for every GPU resource: the tier's GPUs less what the
    # tenant's other GPU resources use, in this resource's units (see gpu_quota)
    gpu_quota: tuple[tuple[str, int], ...] = ((GPU_RESOURCE, 0),)
    physical_gpus: Fraction = Fraction(0)    # exact sum; total_gpu is it rounded up

    @property
    def total_replicas(self) -> int:
        return sum(s.replicas for s in self.services)

    def service(self, name: str) -> ServiceSizing | None:
        return next((s for s in self.services if s.service == name), None)

    def quota_hard(self) -> dict[str, str]:
        """`spec.hard` of the namespace ResourceQuota: the tier's limits, in canonical quantities."""
        cpu, mem = format_cpu(self.cpu_limit_m), format_memory(self.memory_limit_mi)
        return {
            "limits.cpu": cpu,
            "limits.memory": mem,
            "pods": str(self.pods_limit),
            "requests.cpu": cpu,
            "requests.memory": mem,
            **{f"requests.{name}": str(units) for name, units in self.gpu_quota},
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant_id, "preset": self.preset,
            "requested_preset": self.requested_preset, "gpu_type": self.gpu_type,
            "high_availability": self.ha,
            "quota": {"cpu_limit_m": self.cpu_limit_m, "memory_limit_mi": self.memory_limit_mi,
                      "gpus": self.gpu_limit, "pods": self.pods_limit, "hard": self.quota_hard()},
            "total": {"replicas": self.total_replicas,
                      "cpu_request_m": self.total_cpu_request_m,
                      "cpu_limit_m": self.total_cpu_limit_m,
                      "memory_request_mi": self.total_memory_request_mi,
                      "memory_limit_mi": self.total_memory_limit_mi,
                      "gpus": self.total_gpu, "physical_gpus": gpu_number(self.physical_gpus)},
            "services": [s.to_dict() for s in self.services],
            "monthly_cost": str(self.monthly_cost), "currency": self.currency,
        }


def gpu_number(gpus: Fraction) -> int | float:
    """Physical GPUs as a JSON number: whole when whole, else to 3 decimals (1/7 -> 0.143)."""
    return int(gpus) if gpus.denominator == 1 else round(float(gpus), 3)


def format_gpus(gpus: Fraction) -> str:
    return str(gpu_number(gpus))


@dataclass(frozen=True)
class _Need:
    cpu_m: int
    memory_mi: int
    gpus: Fraction

    def fits(self, p: Preset) -> bool:
        return self.cpu_m <= p.cpu_m and self.memory_mi <= p.memory_mi and self.gpus <= p.gpus

    def shortfalls(self, p: Preset) -> list[str]:
        out = []
        if self.cpu_m > p.cpu_m:
            out.append(f"CPU limits {format_cpu(self.cpu_m)} > {format_cpu(p.cpu_m)}")
        if self.memory_mi > p.memory_mi:
            out.append(f"memory limits {format_memory(self.memory_mi)} > {format_memory(p.memory_mi)}")
        if self.gpus > p.gpus:
            out.append(f"GPUs {format_gpus(self.gpus)} > {p.gpus}")
        return out


def replicas_for(sessions: int, sessions_per_replica: int, ha: bool) -> int:
    """ceil(sessions / per replica); 0 sessions -> 0; at least 2 when the SLA asks for HA."""
    if sessions <= 0:
        return 0
    n = math.ceil(sessions / sessions_per_replica)
    return max(n, HA_MIN_REPLICAS) if ha else n


def is_ha(tenant: Tenant) -> bool:
    return tenant.spec.sla.availability >= HA_AVAILABILITY


def profiles(tenant: Tenant, catalog: ServiceCatalog) -> Iterator[tuple[str, int, ServiceProfile]]:
    """(service, sessions, the tenant's profile of it) for each deployed service; an override
    that makes a profile inconsistent is a SizingError at its field."""
    overrides = tenant.spec.serviceOverrides
    for name, sessions in tenant.spec.active_services.items():
        try:
            yield name, sessions, tenant_profile(catalog, name, overrides)
        except OverrideError as exc:
            raise SizingError(str(exc), exc.path) from None


def _service_sizing(tenant: Tenant, name: str, sessions: int, prof: ServiceProfile,
                    shares: GpuShares, gpu_price: Decimal | None, price: PriceTable
                    ) -> ServiceSizing:
    spec = tenant.spec
    n = replicas_for(sessions, prof.sessions_per_replica, is_ha(tenant))
    max_n = n * spec.autoscaling.maxReplicasFactor if spec.autoscaling.enabled else n
    total_gpu = n * prof.gpus_per_replica
    gpus = shares.gpus(prof.gpu_resource, total_gpu)
    cpu_req, mem_req = n * prof.cpu_request_m, n * prof.memory_request_mi
    with localcontext(COST_CONTEXT):
        # a share of a GPU costs its share of the GPU's price
        gpu_cost = (Decimal(gpus.numerator) / Decimal(gpus.denominator) * gpu_price
                    if total_gpu else Decimal(0))
        hourly = (Decimal(cpu_req) / 1000 * price.cpuCoreHour
                  + Decimal(mem_req) / 1024 * price.memoryGiBHour + gpu_cost)
        monthly = (hourly * price.hoursPerMonth).quantize(CENT, rounding=ROUND_HALF_UP)
    return ServiceSizing(
        service=name, sessions=sessions, replicas=n, max_replicas=max_n,
        cpu_request_m=prof.cpu_request_m, cpu_limit_m=prof.cpu_limit_m,
        memory_request_mi=prof.memory_request_mi, memory_limit_mi=prof.memory_limit_mi,
        gpus_per_replica=prof.gpus_per_replica, port=prof.port,
        image=f"{spec.image.registry}/{prof.image}:{spec.image.tag}",
        total_cpu_request_m=cpu_req, total_cpu_limit_m=n * prof.cpu_limit_m,
        total_memory_request_mi=mem_req, total_memory_limit_mi=n * prof.memory_limit_mi,
        total_gpu=total_gpu, gpu_resource=prof.gpu_resource, gpus=gpus,
        monthly_cost=monthly,
        min_available=n - 1 if n >= 2 else 0)


def _with_rollout(svc: ServiceSizing, tier: Preset, need: _Need) -> ServiceSizing:
    """One surge pod when the tier holds it next to everything else, else one pod down at a time."""
    one_pod_gpus = svc.gpus / svc.replicas if svc.replicas else Fraction(0)
    room = (svc.cpu_limit_m <= tier.cpu_m - need.cpu_m
            and svc.memory_limit_mi <= tier.memory_mi - need.memory_mi
            and one_pod_gpus <= tier.gpus - need.gpus)
    return replace(svc, max_surge=1, max_unavailable=0) if room else \
        replace(svc, max_surge=0, max_unavailable=1)


def service_needs(tenant: Tenant, catalog: ServiceCatalog, shares: GpuShares = NO_SHARING
                  ) -> dict[str, _Need]:
    """What each deployed service adds to the tier: its replicas' CPU and memory limits and GPUs."""
    out = {}
    for name, sessions, prof in profiles(tenant, catalog):
        n = replicas_for(sessions, prof.sessions_per_replica, is_ha(tenant))
        out[name] = _Need(n * prof.cpu_limit_m, n * prof.memory_limit_mi,
                          shares.gpus(prof.gpu_resource, n * prof.gpus_per_replica))
    return out


def _need(tenant: Tenant, catalog: ServiceCatalog, shares: GpuShares = NO_SHARING) -> _Need:
    parts = service_needs(tenant, catalog, shares).values()
    return _Need(sum(p.cpu_m for p in parts), sum(p.memory_mi for p in parts),
                 sum((p.gpus for p in parts), Fraction(0)))


def _above_largest(need: _Need, largest: Preset) -> Preset:
    """A quota above the largest tier: the need rounded up to whole CPUs and GiB."""
    return Preset(
        name=largest.name + ABOVE_LARGEST, description="computed above the largest tier",
        cpu_m=max(largest.cpu_m, -(-need.cpu_m // 1000) * 1000),
        memory_mi=max(largest.memory_mi, -(-need.memory_mi // 1024) * 1024),
        gpus=max(largest.gpus, math.ceil(need.gpus)))


def resolve_tier(tenant: Tenant, need: _Need, catalog: ServiceCatalog) -> Preset:
    requested = tenant.spec.preset
    smallest_fit = next((p for p in catalog.presets.values() if need.fits(p)), None)
    if requested == "auto":
        return smallest_fit or _above_largest(need, catalog.largest)
    chosen = catalog.presets.get(requested)
    if chosen is None:
        raise SizingError(f"unknown preset '{requested}'{did_you_mean(requested, catalog.presets)}",
                          ("spec", "preset"))
    if need.fits(chosen):
        return chosen
    hint = (f"use preset '{smallest_fit.name}' or auto" if smallest_fit else
            f"the load is above '{catalog.largest.name}': use preset auto for a computed quota")
    raise SizingError(f"preset '{requested}' is too small for these services "
                      f"({', '.join(need.shortfalls(chosen))}); {hint}", ("spec", "preset"))


def limit_problems(tenant: Tenant, catalog: ServiceCatalog | None = None) -> list[SizingError]:
    """What the tenant's load would need that Kubernetes cannot hold: replicas or HPA maxReplicas
    above int32, CPU (millicores) or memory (bytes) totals above int64. Each names the service
    field to blame and the limit."""
    catalog = catalog or default_catalog()
    spec = tenant.spec
    out: list[SizingError] = []
    factor = spec.autoscaling.maxReplicasFactor if spec.autoscaling.enabled else 1
    cpu_m = memory_b = 0
    try:
        found = list(profiles(tenant, catalog))
    except SizingError as exc:
        return [exc]
    for name, sessions, prof in found:
        n = replicas_for(sessions, prof.sessions_per_replica, is_ha(tenant))
        path = ("spec", "services", name)
        if n > INT32_MAX:
            out.append(SizingError(
                f"{sessions} sessions need {n} replicas, above Kubernetes' limit of {INT32_MAX} "
                f"(int32) replicas", path))
            continue
        if n * factor > INT32_MAX:
            out.append(SizingError(
                f"{sessions} sessions need {n} replicas; with maxReplicasFactor {factor} the "
                f"HPA's maxReplicas would be {n * factor}, above Kubernetes' limit of "
                f"{INT32_MAX} (int32)",
                path))
            continue
        cpu_m += n * prof.cpu_limit_m
        memory_b += n * prof.memory_limit_mi * MEBI
        for what, total, unit in (("CPU", cpu_m, "millicores"), ("memory", memory_b, "bytes")):
            if total > INT64_MAX:
                out.append(SizingError(
                    f"the {what} limits of all services reach {total} {unit} here, above "
                    f"Kubernetes' quantity limit of {INT64_MAX} {unit} (int64)", path))
                return out
    return out


def tier_of(tenant: Tenant, catalog: ServiceCatalog, shares: GpuShares = NO_SHARING) -> Preset:
    """The quota tier the tenant's load resolves to; raises SizingError."""
    return resolve_tier(tenant, _need(tenant, catalog, shares), catalog)


def preset_problem(tenant: Tenant, catalog: ServiceCatalog | None = None,
                   shares: GpuShares = NO_SHARING) -> SizingError | None:
    """The reason the tenant's explicit preset cannot hold its load, or None."""
    catalog = catalog or default_catalog()
    try:
        tier_of(tenant, catalog, shares)
    except SizingError as exc:
        return exc
    return None


def gpu_quota(services: tuple[ServiceSizing, ...], tier: Preset, shares: GpuShares
              ) -> tuple[tuple[str, int], ...]:
    """The quota of each GPU resource the tenant uses (and always nvidia.com/gpu): the tier's
    GPUs less what its other GPU resources use at their baseline, in this resource's units.

    A ResourceQuota cannot cap a weighted sum of resources, so each resource may grow into the
    tier's spare GPUs while the others stay at their baseline; with whole GPUs only this is
    the tier's GPU count, as before."""
    used: dict[str, Fraction] = {GPU_RESOURCE: Fraction(0)}
    for s in services:
        if s.total_gpu:
            used[s.gpu_resource] = used.get(s.gpu_resource, Fraction(0)) + s.gpus
    total = sum(used.values(), Fraction(0))
    return tuple((name, shares.units(name, tier.gpus - (total - mine)))
                 for name, mine in sorted(used.items()))


def size_tenant(tenant: Tenant, price: PriceTable, catalog: ServiceCatalog | None = None,
                shares: GpuShares = NO_SHARING) -> TenantSizing:
    """Replicas, resources, quota tier and monthly cost of one tenant; raises SizingError.

    `shares` (GpuShares.from_project) says how many units of each GPU resource make one GPU."""
    catalog = catalog or default_catalog()
    need = _need(tenant, catalog, shares)
    tier = resolve_tier(tenant, need, catalog)
    gpu_type = tenant.spec.gpuType
    gpu_price = price.gpuHour.get(gpu_type)
    if need.gpus and gpu_price is None:
        raise SizingError(f"GPU type '{gpu_type}' has no price in the project's price.gpuHour",
                          ("spec", "gpuType"))
    services = tuple(_with_rollout(_service_sizing(tenant, name, sessions, prof, shares,
                                                   gpu_price, price), tier, need)
                     for name, sessions, prof in profiles(tenant, catalog))
    return TenantSizing(
        tenant_id=tenant.metadata.name, preset=tier.name, requested_preset=tenant.spec.preset,
        services=services, cpu_limit_m=tier.cpu_m, memory_limit_mi=tier.memory_mi,
        gpu_limit=tier.gpus,
        total_cpu_request_m=sum(s.total_cpu_request_m for s in services),
        total_cpu_limit_m=sum(s.total_cpu_limit_m for s in services),
        total_memory_request_mi=sum(s.total_memory_request_mi for s in services),
        total_memory_limit_mi=sum(s.total_memory_limit_mi for s in services),
        total_gpu=math.ceil(need.gpus), physical_gpus=need.gpus,
        gpu_quota=gpu_quota(services, tier, shares),
        monthly_cost=sum((s.monthly_cost for s in services), Decimal("0.00")),
        currency=price.currency, gpu_type=gpu_type, ha=is_ha(tenant),
        # every replica the HPAs may add, plus one surge pod per Deployment during a rollout
        pods_limit=sum(s.max_replicas for s in services) + len(services))



def size_all(config: Config) -> dict[str, TenantSizing]:
    """Every tenant of `config` sized, by tenant id."""
    price, shares = config.project.spec.price, GpuShares.from_project(config.project)
    return {lt.tenant.metadata.name: size_tenant(lt.tenant, price, shares=shares)
            for lt in config.tenants}


__all__ = ["ServiceSizing", "TenantSizing", "SizingError", "size_tenant", "size_all",
           "preset_problem",
           "limit_problems", "replicas_for", "is_ha", "HA_AVAILABILITY", "HA_MIN_REPLICAS",
           "service_needs", "resolve_tier", "tier_of", "gpu_number", "format_gpus", "GpuShares"]
