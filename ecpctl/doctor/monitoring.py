"""Alertmanager and Grafana preflight: reachable at the configured URL, and versions the
documents require (Alertmanager 0.25+, Grafana 9.0+); Grafana's token is tried as well."""

from __future__ import annotations

import os
from typing import Any
from collections.abc import Mapping

import httpx

from ecpctl.doctor.checks import Check, Status, version_tuple

TIMEOUT = 10.0


def _get(url: str, headers: Mapping[str, str] | None = None) -> httpx.Response:
    return httpx.get(url, headers=dict(headers or {}), timeout=TIMEOUT, follow_redirects=True)


def _unreachable(target: str, name: str, url: str, exc: Exception, setting: str) -> Check:
    reason = "connection refused" if isinstance(exc, httpx.ConnectError) else exc.__class__.__name__
    return Check(target, name, Status.FAIL, f"cannot reach {url}: {reason}",
                 f"check {setting} and that the server is up")


def _versioned(target: str, name: str, url: str | None, path: str, setting: str,
               version_of, minimum: tuple[int, ...], needs: str) -> tuple[Check, str | None]:
    """GET `path` on the server at `url`; a check of the version it reports. Also returns the
    base URL when the server answered (for further checks)."""
    if not url:
        return Check(target, name, Status.SKIP, f"no URL configured ({setting})"), None
    base = url.rstrip("/")
    try:
        resp = _get(f"{base}{path}")
    except httpx.HTTPError as exc:
        return _unreachable(target, name, base, exc, setting), None
    if resp.status_code != 200:
        return Check(target, name, Status.FAIL, f"{base}{path} answered {resp.status_code}",
                     f"is {setting} the {name} URL?"), None
    version = str(version_of(resp.json()) or "unknown")
    ok = version_tuple(version)[:len(minimum)] >= minimum
    return Check(target, name, Status.PASS if ok else Status.FAIL,
                 f"{version} at {base} (needs {needs} or newer)",
                 "" if ok else f"upgrade {name} to {needs} or newer"), base


def alertmanager_checks(settings: Mapping[str, Any] | None) -> list[Check]:
    check, _ = _versioned("alertmanager", "Alertmanager", (settings or {}).get("url"),
                          "/api/v2/status", "spec.providers.alertmanager.url",
                          lambda doc: (doc.get("versionInfo") or {}).get("version"), (0, 25), "0.25")
    return [check]


def grafana_checks(settings: Mapping[str, Any] | None) -> list[Check]:
    target = "grafana"
    check, base = _versioned(target, "Grafana", (settings or {}).get("url"), "/api/health",
                             "spec.providers.grafana.url", lambda doc: doc.get("version"), (9,),
                             "9.0")
    out = [check]
    if base is None:
        return out
    env = (settings or {}).get("tokenEnv") or "GRAFANA_TOKEN"
    token = os.environ.get(env, "")
    if not token:
        out.append(Check(target, "Grafana token", Status.FAIL, f"${env} is not set",
                         f"export a Grafana service account token in {env}"))
        return out
    try:
        auth = _get(f"{base}/api/folders?limit=1", {"Authorization": f"Bearer {token}"})
    except httpx.HTTPError as exc:
        out.append(_unreachable(target, "Grafana token", base, exc, "spec.providers.grafana.url"))
        return out
    if auth.status_code == 200:
        out.append(Check(target, "Grafana token", Status.PASS, f"${env} may read folders"))
    else:
        out.append(Check(target, "Grafana token", Status.FAIL,
                         f"${env} was refused ({auth.status_code})",
                         "use a service account token with the Editor or Admin role"))
    return out
