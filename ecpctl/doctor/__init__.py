"""`ecpctl doctor`: preflight checks of the configured targets against what ecpctl and the
product documents need (Kubernetes, Postgres, Alertmanager, Grafana), as plain results for a view.

Each check module returns `Check` records and never raises for a target that is down: an
unreachable server is a failed check that says what to do.
"""

from ecpctl.doctor.checks import Check, Status, run_checks

__all__ = ["Check", "Status", "run_checks"]
