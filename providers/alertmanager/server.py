"""The two outside parties of file mode: `amtool check-config` and the running Alertmanager's HTTP
API (`POST /-/reload`, `GET /api/v2/status`); their failures become ProviderErrors here."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from ecpctl.kernel import ProviderError

CHECK_TIMEOUT = 60.0


def find_amtool(setting: str) -> str | None:
    if "/" in setting:
        return setting if Path(setting).is_file() else None
    return shutil.which(setting)


def check_config(amtool: str, path: Path) -> str | None:
    """None when amtool accepts the file, else its complaint (one paragraph)."""
    try:
        out = subprocess.run([amtool, "check-config", str(path)], capture_output=True, text=True,
                             timeout=CHECK_TIMEOUT, cwd=path.parent)
    except (OSError, subprocess.SubprocessError) as exc:
        raise ProviderError(f"cannot run {amtool} check-config: {exc}") from exc
    if out.returncode == 0:
        return None
    text = out.stdout + out.stderr
    reasons = [m.strip() for m in re.findall(r"FAILED:\s*(.+)", text)]
    if not reasons:
        reasons = [line.strip() for line in text.splitlines()
                   if line.strip() and not line.startswith("Checking ")]
    reason = "; ".join(reasons).replace(str(path), path.name) or f"exit status {out.returncode}"
    if "SMTP" in reason:
        reason += " (tenant email receivers use the global smtp_* settings of the base config)"
    return reason


class AlertmanagerAPI:
    def __init__(self, url: str, *, timeout: float = 30.0):
        self.url = url.rstrip("/")
        self._http = httpx.Client(timeout=timeout, trust_env=True)

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str) -> httpx.Response:
        try:
            return self._http.request(method, self.url + path)
        except httpx.HTTPError as exc:
            raise ProviderError(f"cannot reach Alertmanager at {self.url} "
                                f"(providers.alertmanager.url): {exc.__class__.__name__}: {exc}",
                                retryable=True) from exc

    def reload(self) -> str | None:
        """None when Alertmanager loaded the file, else why not (its own words)."""
        r = self._call("POST", "/-/reload")
        if r.status_code == 200:
            return None
        return (r.text.strip() or f"HTTP {r.status_code}")[:2000]

    def running_config(self) -> dict[str, Any]:
        r = self._call("GET", "/api/v2/status")
        if r.status_code != 200:
            raise ProviderError(f"GET /api/v2/status: HTTP {r.status_code}: {r.text[:300]}",
                                retryable=r.status_code >= 500)
        try:
            original = r.json()["config"]["original"]
            return YAML(typ="safe").load(original) or {}
        except (ValueError, KeyError, TypeError, YAMLError) as exc:
            raise ProviderError(f"GET /api/v2/status: unexpected answer: {exc}") from exc
