"""The figures before the fleet-scale work (issue 13), printed beside each run's own.

From docs/performance.md as it stood before that work (its last full run, on a quieter moment of
the same 2-core machine) and the issue's own table. Wall times on this shared machine move with
its load (by 2-3x on a busy afternoon); CPU time and request counts are the steadier comparison.
"""

from __future__ import annotations

# (scenario, tenants) -> wall s, CPU s, peak MiB, Kubernetes requests, Postgres statements
# (connections)
BEFORE: dict[tuple[str, int], dict] = {
    ("cold apply", 100): {"wall_s": 26.5, "cpu_s": 14.5, "peak_rss_mib": 184, "kube": 1918,
                          "pg": "7,003 (397)"},
    ("no-op plan", 100): {"wall_s": 3.0, "cpu_s": 2.2, "peak_rss_mib": 174, "kube": 16,
                          "pg": "204 (101)"},
    ("cold apply", 500): {"wall_s": 157.2, "cpu_s": 81.3, "peak_rss_mib": 447, "kube": 9518,
                          "pg": "32,255 (1,855)"},
    ("no-op plan", 500): {"wall_s": 10.2, "cpu_s": 5.9, "peak_rss_mib": 478, "kube": 16,
                          "pg": "1,004 (501)"},
    ("one tenant changed", 500): {"wall_s": 11.5, "cpu_s": 6.8, "peak_rss_mib": 459, "kube": 21,
                                  "pg": "1,004 (501)"},
    # before, --target read everything (the issue: "about the full plan")
    ("plan --target 1 tenant", 500): {"wall_s": 11.5, "cpu_s": 6.8, "peak_rss_mib": 459,
                                      "kube": 21, "pg": "1,004 (501)"},
    ("destroy", 100): {"wall_s": 31.8, "cpu_s": 16.3, "peak_rss_mib": 350, "kube": 1815,
                       "pg": "6,404"},
    ("cold apply, kubernetes only", 100): {"wall_s": 13.6, "cpu_s": 9.6, "kube": 1817},
    ("kubectl apply --server-side", 100): {"wall_s": 10.7, "cpu_s": 2.3, "kube": 1709},
    ("offline plan", 10): {"wall_s": 0.14, "cpu_s": 0.14, "peak_rss_mib": 65},
    ("offline plan", 100): {"wall_s": 0.40, "cpu_s": 0.40, "peak_rss_mib": 81},
    ("offline plan", 1000): {"wall_s": 4.15, "cpu_s": 4.15, "peak_rss_mib": 231},
    ("offline plan", 5000): {"wall_s": 19.77, "cpu_s": 19.75, "peak_rss_mib": 869},
}

# ecpctl's wall time over kubectl's, cold apply of the same 100 tenants' Kubernetes objects
BEFORE_OVER_KUBECTL = 1.27

TARGETS = {
    ("no-op plan", 500): "<= 3 s, <= 30 kube requests, bounded pg connections",
    ("plan --target 1 tenant", 500): "<= 1 s, reads scoped to the tenant",
    ("cold apply", 500): "<= 60 s",
    ("cold apply, kubernetes only", 100): "<= 1.0x kubectl",
    ("offline plan", 5000): "<= 10 s, <= 600 MiB",
    ("graph walk", 100_000): "<= 2 s",
    ("no-op plan, 4 example tenants", 4): "<= 1.0 s (the issue: ~2-5 s before)",
}


def before(scenario: str, tenants: int) -> dict:
    return BEFORE.get((scenario, tenants), {})
