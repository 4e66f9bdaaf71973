"""One measurement, run in its own process so peak memory is its own: `plan --no-refresh` of a
generated fleet against an empty state. Prints one JSON line."""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from pathlib import Path

from tests.bench.generate import generate


def main(n: int) -> None:
    from ecpctl.engine import desired_state, plan_desired
    from ecpctl.planner import PlanOptions, PriorState

    with tempfile.TemporaryDirectory() as tmp:
        specs = generate(n, Path(tmp) / "specs")
        wall0, cpu0 = time.perf_counter(), time.process_time()
        desired = desired_state(specs)
        t_expand = time.perf_counter() - wall0
        plan = plan_desired(desired, PriorState(None, 0, {}), workspace="bench", providers=None,
                            opts=PlanOptions(refresh=False))
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"scenario": "offline plan", "tenants": n, "resources": len(plan.changes),
                      "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
                      "load_expand_s": round(t_expand, 3), "peak_rss_mib": round(peak_mib, 1),
                      "requests": {}}))


if __name__ == "__main__":
    main(int(sys.argv[1]))
