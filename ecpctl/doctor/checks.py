"""The result of one preflight check, and the order the checks run in."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any
from collections.abc import Mapping


class Status(str, enum.Enum):
    PASS = "pass"
    WARN = "warn"       # below what the documents recommend; does not fail doctor
    FAIL = "fail"
    SKIP = "skip"       # the target is not configured, or an earlier check failed


@dataclass(frozen=True)
class Check:
    target: str          # kubernetes | postgres | alertmanager | grafana
    name: str
    status: Status
    detail: str
    fix: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "name": self.name, "status": self.status.value,
                "detail": self.detail, "fix": self.fix or None}


def version_tuple(text: str) -> tuple[int, ...]:
    """`v1.34.4` -> (1, 34, 4); `15.4 (Debian 15.4-1)` -> (15, 4); junk parts stop the tuple."""
    out = []
    for part in text.strip().lstrip("vV").split(" ")[0].split("."):
        m = re.match(r"\d+", part)
        if not m:
            break
        out.append(int(m.group()))
        if m.end() != len(part):      # `0-gke`: a suffix ends the version
            break
    return tuple(out)


def run_checks(desired, options: Mapping[str, Any]) -> list[Check]:
    """Every check, in order: Kubernetes, Postgres, Alertmanager, Grafana."""
    from ecpctl.doctor import kube, monitoring, postgres
    from ecpctl.engine import provider_settings

    settings = provider_settings(desired.config)
    out: list[Check] = []
    out.extend(kube.checks(desired, settings.get("kubernetes"), options))
    out.extend(postgres.checks(settings.get("postgres")))
    out.extend(monitoring.alertmanager_checks(settings.get("alertmanager")))
    out.extend(monitoring.grafana_checks(settings.get("grafana")))
    return out
