"""The workload model: from what the API server says (each service's sessions, replicas and Ready
pods) and the active faults, the traffic and usage one tick adds to the exported counters.

Each session sends `RPS_PER_SESSION` requests per second. A replica serves up to its share of the
sessions it was sized for times `HEADROOM`; the Ready pods split the load evenly. With no Ready pod
every request is answered 503 (by the Service's proxy); beyond capacity the excess is refused
with 503 and latency grows with the cube of utilisation. A service whose first rollout has not
finished gets no traffic: nobody calls a service before it is launched, so a fresh apply does not
start with a burst of 503s (nor, while only some of its replicas are Ready, with an overload).
Usage follows utilisation: CPU and memory as a share of the container's limits, GPU utilisation
per assigned GPU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

RPS_PER_SESSION = 0.2
HEADROOM = 1.5             # capacity over the sized load: a fully Ready service runs at 67%
MEDIAN_OF_SLA = 0.4        # median latency as a share of the SLA's response time
SIGMA = 0.35               # log-normal spread: p95 = median x 1.78, so 71% of the SLA
LATENCY_FACTOR = 5.0       # `latency` fault: 5x slower, p95 at 3.6x the SLA
ERROR_BURST_SHARE = 0.3    # `error_burst` fault: 30% of requests answered 500
CPU_SPIKE = 0.96           # `cpu_spike` fault: CPU at 96% of the limit
BUCKETS = (0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0,
           5.0, 10.0)


@dataclass(frozen=True)
class Pod:
    name: str
    uid: str
    node: str
    ready: bool
    running: bool
    container: str
    image: str
    cpu_limit: float           # cores
    memory_limit: float        # bytes
    gpus: int


@dataclass(frozen=True)
class Workload:
    tenant: str
    namespace: str
    service: str
    sessions: int
    replicas: int              # spec.replicas: what the service was sized for
    available: int             # status.availableReplicas, as the deployment controller counts
    sla_seconds: float
    pods: tuple[Pod, ...] = ()
    rolled_out: bool = True    # the Deployment's first rollout finished (it has been up)


@dataclass(frozen=True)
class Effects:
    """What the active faults do to one service."""
    cpu_spike: bool = False
    latency: bool = False
    error_burst: bool = False


@dataclass
class Histogram:
    buckets: list[float] = field(default_factory=lambda: [0.0] * len(BUCKETS))
    count: float = 0.0
    sum: float = 0.0


@dataclass
class PodUsage:
    cpu_seconds: float = 0.0
    memory: float = 0.0
    gpu_util: float = 0.0


def lognormal_cdf(x: float, median: float, sigma: float = SIGMA) -> float:
    if x <= 0:
        return 0.0
    return 0.5 * (1 + math.erf(math.log(x / median) / (sigma * math.sqrt(2))))


@dataclass
class Simulation:
    """Counters only ever grow (they are Prometheus counters); gauges are the last tick's."""
    requests: dict[tuple[str, str, str, str], float] = field(default_factory=dict)
    latency: dict[tuple[str, str, str], Histogram] = field(default_factory=dict)
    usage: dict[tuple[str, str, str], PodUsage] = field(default_factory=dict)
    utilisation: dict[tuple[str, str], float] = field(default_factory=dict)
    launched: set[tuple[str, str]] = field(default_factory=set)

    def tick(self, workloads: list[Workload], effects: dict[tuple[str, str], Effects],
             dt: float) -> None:
        live_pods = set()
        for w in workloads:
            fx = effects.get((w.tenant, w.service), Effects())
            key = (w.tenant, w.namespace, w.service)
            rps = RPS_PER_SESSION * w.sessions
            ready = [p for p in w.pods if p.ready]
            if w.rolled_out:
                self.launched.add((w.tenant, w.service))
            capacity = RPS_PER_SESSION * w.sessions / max(w.replicas, 1) * HEADROOM
            total = rps * dt if (w.tenant, w.service) in self.launched else 0.0
            if not ready:
                self._count(key, "503", total)
                u = 0.0
            else:
                u = rps / (len(ready) * capacity) if capacity else 0.0
                refused = total * max(0.0, 1 - 1 / u) if u > 1 else 0.0
                served = total - refused
                failed = served * ERROR_BURST_SHARE if fx.error_burst else 0.0
                self._count(key, "503", refused)
                self._count(key, "500", failed)
                self._count(key, "200", served - failed)
                median = MEDIAN_OF_SLA * w.sla_seconds * (max(u, 1.0) ** 3)
                if fx.latency:
                    median *= LATENCY_FACTOR
                self._observe(key, served, median)
            self.utilisation[(w.tenant, w.service)] = u
            for p in w.pods:
                if not p.running:
                    continue
                live_pods.add((w.namespace, p.name, p.container))
                use = self.usage.setdefault((w.namespace, p.name, p.container), PodUsage())
                share = min(1.0, 0.2 + 0.55 * u) if p.ready else 0.01
                if fx.cpu_spike and p.ready:
                    share = CPU_SPIKE
                use.cpu_seconds += p.cpu_limit * share * dt
                use.memory = p.memory_limit * (min(0.97, 0.4 + 0.25 * min(u, 1.4)) if p.ready
                                               else 0.05)
                use.gpu_util = min(100.0, 25 + 55 * u) if (p.ready and p.gpus) else 0.0
        # a pod that is gone stops being exported, as cAdvisor forgets a removed container
        for gone in set(self.usage) - live_pods:
            del self.usage[gone]

    def _count(self, key: tuple[str, str, str], code: str, n: float) -> None:
        if n > 0:
            k = (*key, code)
            self.requests[k] = self.requests.get(k, 0.0) + n

    def _observe(self, key: tuple[str, str, str], n: float, median: float) -> None:
        h = self.latency.setdefault(key, Histogram())
        if n <= 0:
            return
        for i, bound in enumerate(BUCKETS):
            h.buckets[i] += n * lognormal_cdf(bound, median)
        h.count += n
        # the mean of a log-normal distribution
        h.sum += n * median * math.exp(SIGMA ** 2 / 2)
