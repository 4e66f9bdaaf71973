"""Alertmanager and Grafana preflight: reachable at the configured URL, and versions the
documents require (Alertmanager 0.25+, Grafana 9.0+); Grafana's token is tried as well."""

from __future__ import annotations

import os
from typing import Any, Mapping

import httpx

from ecpctl.doctor.checks import Check, Status, version_tuple

TIMEOUT = 10.0


def _get(url: str, headers: Mapping[str, str] | None = None) -> httpx.Response:
    return httpx.get(url, headers=dict(headers or {}), timeout=TIMEOUT, follow_redirects=True)


def _unreachable(target: str, name: str, url: str, exc: Exception, setting: str) -> Check:
    reason = "connection refused" if isinstance(exc, httpx.ConnectError) else exc.__class__.__name__
    return Check(target, name, Status.FAIL, f"cannot reach {url}: {reason}",
                 f"check {setting} and that the server is up")


def alertmanager_checks(settings: Mapping[str, Any] | None) -> list[Check]:
    name, target = "Alertmanager", "alertmanager"
    url = (settings or {}).get("url")
    if not url:
        return [Check(target, name, Status.SKIP, "no URL configured (spec.providers.alertmanager.url)")]
    base = url.rstrip("/")
    try:
        resp = _get(f"{base}/api/v2/status")
    except httpx.HTTPError as exc:
        return [_unreachable(target, name, base, exc, "spec.providers.alertmanager.url")]
    if resp.status_code != 200:
        return [Check(target, name, Status.FAIL, f"{base}/api/v2/status answered {resp.status_code}",
                      "is the URL an Alertmanager's?")]
    version = str(((resp.json().get("versionInfo") or {}).get("version")) or "unknown")
    ok = version_tuple(version)[:2] >= (0, 25)
    return [Check(target, name, Status.PASS if ok else Status.FAIL,
                  f"{version} at {base} (needs 0.25 or newer)",
                  "" if ok else "upgrade Alertmanager to 0.25 or newer")]


def grafana_checks(settings: Mapping[str, Any] | None) -> list[Check]:
    name, target = "Grafana", "grafana"
    url = (settings or {}).get("url")
    if not url:
        return [Check(target, name, Status.SKIP, "no URL configured (spec.providers.grafana.url)")]
    base = url.rstrip("/")
    try:
        resp = _get(f"{base}/api/health")
    except httpx.HTTPError as exc:
        return [_unreachable(target, name, base, exc, "spec.providers.grafana.url")]
    if resp.status_code != 200:
        return [Check(target, name, Status.FAIL, f"{base}/api/health answered {resp.status_code}",
                      "is the URL Grafana's?")]
    version = str(resp.json().get("version") or "unknown")
    ok = version_tuple(version)[:1] >= (9,)
    out = [Check(target, name, Status.PASS if ok else Status.FAIL,
                 f"{version} at {base} (needs 9.0 or newer)",
                 "" if ok else "upgrade Grafana to 9.0 or newer")]
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
