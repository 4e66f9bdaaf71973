"""The two outside parties of file mode: `amtool check-config` and the running Alertmanager's HTTP
API (`POST /-/reload`, `GET /api/v2/status`). This is the provider's edge: a failed run or call
becomes the kernel's typed error here, the cause chained. Each run and call is logged to
`ecpctl.alertmanager` with its duration and outcome (exit status, HTTP status or error class) at
INFO, and amtool's output or the response's size at DEBUG."""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from ecpctl.kernel import (Invalid, NotFound, ProviderError, ServerError, Throttled, Timeout,
                           Unreachable)

CHECK_TIMEOUT = 60.0   # seconds (providers.alertmanager.checkTimeout)
log = logging.getLogger("ecpctl.alertmanager")


def find_amtool(setting: str) -> str | None:
    if "/" in setting:
        return setting if Path(setting).is_file() else None
    return shutil.which(setting)


def check_config(amtool: str, path: Path, *, timeout: float = CHECK_TIMEOUT) -> str | None:
    """None when amtool accepts the file, else its complaint (one paragraph)."""
    started = time.monotonic()
    try:
        out = subprocess.run([amtool, "check-config", str(path)], capture_output=True, text=True,
                             timeout=timeout, cwd=path.parent)
    except subprocess.TimeoutExpired as exc:
        _log_run(amtool, started, "timed out", "")
        raise Timeout(f"{amtool} check-config did not finish within {timeout:g}s "
                      "(providers.alertmanager.checkTimeout)") from exc
    except (OSError, subprocess.SubprocessError) as exc:
        _log_run(amtool, started, exc.__class__.__name__, "")
        raise run_error(exc)(f"cannot run {amtool} check-config: {exc}") from exc
    _log_run(amtool, started, f"exit {out.returncode}", out.stdout + out.stderr)
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


def run_error(exc: BaseException) -> type[ProviderError]:
    """The kernel's type for a tool that could not be run to its end."""
    if isinstance(exc, subprocess.TimeoutExpired):
        return Timeout
    if isinstance(exc, FileNotFoundError):
        return NotFound
    return ProviderError


def _log_run(tool: str, started: float, outcome: str, output: str) -> None:
    if log.isEnabledFor(logging.INFO):
        log.info("%s check-config -> %s in %.1f ms", tool, outcome,
                 (time.monotonic() - started) * 1000)
        log.debug("%s check-config output: %s", tool, " ".join(output.split())[:2000])


def status_error(code: int) -> type[ProviderError]:
    if code == 429:
        return Throttled
    if code == 504:
        return Timeout
    if code >= 500:
        return ServerError
    if code == 404:
        return NotFound
    if code in (400, 422):
        return Invalid
    return ProviderError


class AlertmanagerAPI:
    def __init__(self, url: str, *, connect_timeout: float = 5.0, read_timeout: float = 30.0):
        self.url = url.rstrip("/")
        # providers.alertmanager.connectTimeout / readTimeout: no call waits longer on a stalled peer
        self._http = httpx.Client(timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
                                  trust_env=True)

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str) -> httpx.Response:
        started = time.monotonic()
        try:
            r = self._http.request(method, self.url + path)
        except httpx.HTTPError as exc:
            self._log(method, path, started, exc.__class__.__name__, None)
            kind = (Timeout if isinstance(exc, httpx.TimeoutException) else
                    Unreachable if isinstance(exc, (httpx.TransportError, httpx.StreamError)) else
                    ProviderError)
            raise kind(f"cannot reach Alertmanager at {self.url} "
                       f"(providers.alertmanager.url): {exc.__class__.__name__}: {exc}") from exc
        self._log(method, path, started, r.status_code, len(r.content))
        return r

    @staticmethod
    def _log(method: str, path: str, started: float, outcome, size: int | None) -> None:
        if log.isEnabledFor(logging.INFO):
            log.info("%s %s -> %s in %.1f ms", method, path, outcome,
                     (time.monotonic() - started) * 1000)
            log.debug("%s %s received=%s bytes", method, path, size)

    def reload(self) -> str | None:
        """None when Alertmanager loaded the file, else why not (its own words)."""
        r = self._call("POST", "/-/reload")
        if r.status_code == 200:
            return None
        return (r.text.strip() or f"HTTP {r.status_code}")[:2000]

    def running_config(self) -> dict[str, Any]:
        r = self._call("GET", "/api/v2/status")
        if r.status_code != 200:
            raise status_error(r.status_code)(
                f"GET /api/v2/status: HTTP {r.status_code}: {r.text[:300]}")
        try:
            original = r.json()["config"]["original"]
            return YAML(typ="safe").load(original) or {}
        except (ValueError, KeyError, TypeError, YAMLError) as exc:
            raise ProviderError(f"GET /api/v2/status: unexpected answer: {exc}") from exc
