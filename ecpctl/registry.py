"""The tenants registry row for a tenant: the product's tenants table, filled from spec and sizing."""

from __future__ import annotations

from ecpctl.kernel.quantity import format_cpu, format_memory
from state import TenantRecord


def tenant_record(lt, sizing, *, status: str) -> TenantRecord:
    t = lt.tenant
    spec = t.spec
    return TenantRecord(
        tenant_id=t.metadata.name,
        name=t.metadata.displayName or t.metadata.name,
        preset=sizing.preset,
        is_demo=bool(spec.demo),
        status=status,
        service_requirements={k: int(v) for k, v in spec.services.items()},
        resources={
            "cpu_requests": format_cpu(sizing.total_cpu_request_m),
            "cpu_limits": format_cpu(sizing.total_cpu_limit_m),
            "memory_requests": format_memory(sizing.total_memory_request_mi),
            "memory_limits": format_memory(sizing.total_memory_limit_mi),
            "gpu": sizing.total_gpu,
            "replicas": {s.service: s.replicas for s in sizing.services},
            "monthly_cost": f"{sizing.monthly_cost} {sizing.currency}",
        },
        sla_target={"availability": f"{spec.sla.availability}%",
                    "response_time": f"{spec.sla.responseTime}ms",
                    "concurrent_users": spec.sla.concurrentUsers},
        cpu_limit=format_cpu(sizing.cpu_limit_m),
        memory_limit=format_memory(sizing.memory_limit_mi),
        gpu_limit=int(sizing.gpu_limit),
        gpu_type=spec.gpuType,
    )
