"""The two outside parties of rules file mode: `promtool check rules` and the running Prometheus'
HTTP API (`POST /-/reload`, `GET /api/v1/rules`), and the queries `ecpctl sla` makes of the same
API (instant and range queries, alerts, the scrape interval); their failures become ProviderErrors
here."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx

from ecpctl.kernel import ProviderError, ServerError, Timeout, Unreachable
from ecpctl.kernel.durations import DurationError, parse_seconds

CHECK_TIMEOUT = 60.0   # seconds (providers.prometheus.checkTimeout)


def find_promtool(setting: str) -> str | None:
    if "/" in setting:
        return setting if Path(setting).is_file() else None
    return shutil.which(setting)


def check_rules(promtool: str, path: Path, shown_as: str, *, timeout: float = CHECK_TIMEOUT
                ) -> str | None:
    """None when promtool accepts the rule file, else its complaint (one paragraph)."""
    try:
        out = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True,
                             text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise Timeout(f"{promtool} check rules did not finish within {timeout:g}s "
                      "(providers.prometheus.checkTimeout)") from exc
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

    def _call(self, method: str, path: str, params: dict[str, str] | None = None
              ) -> httpx.Response:
        try:
            return self._http.request(method, self.url + path, params=params)
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

    def _data(self, path: str, params: dict[str, str] | None = None) -> Any:
        """The `data` of a successful API answer; the API's own error text otherwise."""
        r = self._call("GET", path, params)
        try:
            doc = r.json()
        except ValueError:
            doc = None
        if r.status_code == 200 and isinstance(doc, dict) and doc.get("status") == "success":
            return doc.get("data")
        why = (doc or {}).get("error") if isinstance(doc, dict) else None
        cls = ServerError if r.status_code >= 500 else ProviderError
        raise cls(f"GET {path}: HTTP {r.status_code}: {why or r.text[:300]}")

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        """An instant query: [{"metric": {...}, "value": [t, "v"]}, ...]."""
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        return list(self._data("/api/v1/query", params).get("result") or [])

    def query_range(self, expr: str, start: float, end: float, step: float
                    ) -> list[dict[str, Any]]:
        """A range query: [{"metric": {...}, "values": [[t, "v"], ...]}, ...]."""
        return list(self._data("/api/v1/query_range", {
            "query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}",
            "step": f"{step:g}"}).get("result") or [])

    def alerts(self) -> list[dict[str, Any]]:
        """The alerts the rules hold now, pending or firing, with their labels."""
        return list(self._data("/api/v1/alerts").get("alerts") or [])

    def scrape_interval(self) -> float:
        """The global scrape interval of the running configuration (Prometheus' default, 1m,
        when the configuration does not set one)."""
        text = str(self._data("/api/v1/status/config").get("yaml") or "")
        m = re.search(r"^\s+scrape_interval:\s*(\S+)", text, re.M)
        try:
            return parse_seconds(m.group(1)) or 60.0 if m else 60.0
        except DurationError:
            return 60.0
