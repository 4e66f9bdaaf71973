"""Grafana's HTTP API over httpx, with its errors translated at this edge.

httpx rather than grafana-client: grafana-client 4+ depends on niquests, which installs
urllib3-future in place of the `urllib3` module that the kubernetes client's transport uses; the
few endpoints ecpctl needs do not justify that risk.

`request` is the one edge: httpx's exceptions and Grafana's error statuses become the kernel's typed
errors here (the most specific wins, the cause chained). Every call is logged to `ecpctl.grafana`:
at INFO its method, path, status (or error class) and duration, at DEBUG its query and sizes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from typing import Any

import httpx

from ecpctl.kernel import Conflict as KernelConflict
from ecpctl.kernel import (Forbidden, Invalid, ProviderError, ServerError, Throttled, Timeout,
                           Unreachable)
from ecpctl.kernel import NotFound as KernelNotFound
from ecpctl.kernel import scrub as kernel_scrub

CONNECT_TIMEOUT = 5.0     # seconds to open a connection (providers.grafana.connectTimeout)
READ_TIMEOUT = 30.0       # seconds to wait for each answer (providers.grafana.readTimeout)
log = logging.getLogger("ecpctl.grafana")


class NotFound(KernelNotFound):
    """404: the object does not exist."""


class Conflict(KernelConflict):
    """412 or 409: someone else changed the object, or the name or uid is taken."""

    def __init__(self, message: str, *, status: str = ""):
        super().__init__(message)
        self.status = status


class GrafanaClient:
    def __init__(self, url: str, token: str, *, token_env: str, pool: int = 10,
                 connect_timeout: float = CONNECT_TIMEOUT, read_timeout: float = READ_TIMEOUT):
        self.url = url.rstrip("/")
        self._token = token
        kernel_scrub.remember(token)
        self._token_env = token_env
        self._http = httpx.Client(
            base_url=self.url, trust_env=True,
            # a peer that accepts and never answers fails each request after read_timeout
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            limits=httpx.Limits(max_connections=pool, max_keepalive_connections=pool))
        self.counts: Counter[str] = Counter()
        self._count_lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "<token>") if self._token else text

    def request(self, method: str, path: str, *, params=None, json: Any = None,
                what: str = "") -> Any:
        op = f"{method} {path}"
        with self._count_lock:
            self.counts[method] += 1
        started = time.monotonic()
        try:
            r = self._http.request(method, path, params=params, json=json)
        except httpx.HTTPError as exc:
            _log_call(method, path, params, started, exc.__class__.__name__)
            raise transport_error(exc)(f"{op}: cannot reach Grafana at {self.url} "
                                       f"(providers.grafana.url): {exc.__class__.__name__}: "
                                       f"{self._scrub(str(exc))}") from exc
        _log_call(method, path, params, started, r.status_code, size=len(r.content))
        if r.status_code < 300:
            try:
                return r.json() if r.content else None
            except ValueError as exc:
                raise ServerError(f"{op}: Grafana answered with something that is not JSON") from exc
        self._raise(r, op, what)

    def _raise(self, r: httpx.Response, op: str, what: str) -> None:
        try:
            body = r.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        message = self._scrub(str(body.get("message") or r.reason_phrase or "").strip())
        status = str(body.get("status") or "")
        code = r.status_code
        subject = what or op
        if code == 401:
            raise Forbidden(
                f"{op}: Grafana rejected the API token in ${self._token_env} "
                f"(providers.grafana.tokenEnv): 401 {message}")
        if code == 403:
            raise Forbidden(
                f"{op}: the API token in ${self._token_env} may not do this (403 {message}); "
                f"give its service account the Editor role (Admin to delete folders)")
        if code == 404:
            raise NotFound(f"{subject}: not found")
        if code in (409, 412):
            raise Conflict(f"{subject}: {message or 'conflict'}", status=status)
        if code in (400, 422):
            raise Invalid(f"{op}: Grafana answered {code} {message}".rstrip())
        if code == 429 or code >= 500:
            retry_after = r.headers.get("Retry-After")
            try:
                delay = float(retry_after) if retry_after else None
            except ValueError:
                delay = None
            cls = Throttled if code == 429 else Timeout if code == 504 else ServerError
            raise cls(f"{op}: Grafana answered {code} {message}".rstrip(), retry_after=delay)
        raise ProviderError(f"{op}: Grafana answered {code} {message}".rstrip())


def transport_error(exc: httpx.HTTPError) -> type[ProviderError]:
    """The kernel's type for an httpx failure that got no answer (shared with Alertmanager's)."""
    if isinstance(exc, httpx.TimeoutException):
        return Timeout
    if isinstance(exc, (httpx.TransportError, httpx.StreamError)):
        return Unreachable
    return ProviderError


def _log_call(method: str, path: str, params, started: float, outcome, *,
              size: int | None = None) -> None:
    if log.isEnabledFor(logging.INFO):
        log.info("%s %s -> %s in %.1f ms", method, path, outcome,
                 (time.monotonic() - started) * 1000)
        log.debug("%s %s params=%s received=%s bytes", method, path, dict(params or {}), size)
