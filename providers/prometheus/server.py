"""The two outside parties of rules file mode: `promtool check rules` and the running Prometheus'
HTTP API (`POST /-/reload`, `GET /api/v1/rules`); their failures become ProviderErrors here."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx

from ecpctl.kernel import ProviderError, ServerError, Unreachable

CHECK_TIMEOUT = 60.0


def find_promtool(setting: str) -> str | None:
    if "/" in setting:
        return setting if Path(setting).is_file() else None
    return shutil.which(setting)


def check_rules(promtool: str, path: Path, shown_as: str) -> str | None:
    """None when promtool accepts the rule file, else its complaint (one paragraph)."""
    try:
        out = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True,
                             text=True, timeout=CHECK_TIMEOUT)
    except (OSError, subprocess.SubprocessError) as exc:
        raise ProviderError(f"cannot run {promtool} check rules: {exc}") from exc
    if out.returncode == 0:
        return None
    lines = [ln.strip() for ln in (out.stdout + out.stderr).splitlines()
             if ln.strip() and not ln.startswith("Checking ") and "FAILED:" not in ln]
    return "; ".join(lines).replace(str(path), shown_as) or f"exit status {out.returncode}"


class PrometheusAPI:
    def __init__(self, url: str, *, timeout: float = 30.0):
        self.url = url.rstrip("/")
        self._http = httpx.Client(timeout=timeout, trust_env=True)

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str) -> httpx.Response:
        try:
            return self._http.request(method, self.url + path)
        except httpx.HTTPError as exc:
            raise Unreachable(f"cannot reach Prometheus at {self.url} (providers.prometheus.url):"
                              f" {exc.__class__.__name__}: {exc}") from exc

    def reload(self) -> str | None:
        """None when Prometheus reloaded its configuration and rules, else why not."""
        r = self._call("POST", "/-/reload")
        if r.status_code == 200:
            return None
        if r.status_code == 403:
            return "reloading is disabled (start Prometheus with --web.enable-lifecycle)"
        return (r.text.strip() or f"HTTP {r.status_code}")[:2000]

    def rule_groups(self) -> list[dict[str, Any]]:
        """Every loaded group: its `name`, `file` and `rules` (names only matter here)."""
        r = self._call("GET", "/api/v1/rules")
        if r.status_code != 200:
            cls = ServerError if r.status_code >= 500 else ProviderError
            raise cls(f"GET /api/v1/rules: HTTP {r.status_code}: {r.text[:300]}")
        try:
            return list(r.json()["data"]["groups"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ProviderError(f"GET /api/v1/rules: unexpected answer: {exc}") from exc
