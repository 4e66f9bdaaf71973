"""Grafana's HTTP API over httpx, with its errors translated at this edge.

httpx rather than grafana-client: grafana-client 4+ depends on niquests, which installs
urllib3-future in place of the `urllib3` module that the kubernetes client's transport uses; the
few endpoints ecpctl needs do not justify that risk.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import httpx

from ecpctl.kernel import ProviderError

TIMEOUT = 30.0


class NotFound(ProviderError):
    """404: the object does not exist."""


class Conflict(ProviderError):
    """412 or 409: someone else changed the object, or the name or uid is taken."""

    def __init__(self, message: str, *, status: str = ""):
        super().__init__(message)
        self.status = status


class GrafanaClient:
    def __init__(self, url: str, token: str, *, token_env: str, pool: int = 10,
                 timeout: float = TIMEOUT):
        self.url = url.rstrip("/")
        self._token = token
        self._token_env = token_env
        self._http = httpx.Client(
            base_url=self.url, timeout=timeout, trust_env=True,
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
        try:
            r = self._http.request(method, path, params=params, json=json)
        except httpx.HTTPError as exc:
            raise ProviderError(f"{op}: cannot reach Grafana at {self.url} "
                                f"(providers.grafana.url): {exc.__class__.__name__}: "
                                f"{self._scrub(str(exc))}", retryable=True) from exc
        if r.status_code < 300:
            try:
                return r.json() if r.content else None
            except ValueError as exc:
                raise ProviderError(f"{op}: Grafana answered with something that is not JSON",
                                    retryable=True) from exc
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
            raise ProviderError(
                f"{op}: Grafana rejected the API token in ${self._token_env} "
                f"(providers.grafana.tokenEnv): 401 {message}")
        if code == 403:
            raise ProviderError(
                f"{op}: the API token in ${self._token_env} may not do this (403 {message}); "
                f"give its service account the Editor role (Admin to delete folders)")
        if code == 404:
            raise NotFound(f"{subject}: not found")
        if code in (409, 412):
            raise Conflict(f"{subject}: {message or 'conflict'}", status=status)
        if code == 429 or code >= 500:
            retry_after = r.headers.get("Retry-After")
            try:
                delay = float(retry_after) if retry_after else None
            except ValueError:
                delay = None
            raise ProviderError(f"{op}: Grafana answered {code} {message}".rstrip(),
                                retryable=True, retry_after=delay)
        raise ProviderError(f"{op}: Grafana answered {code} {message}".rstrip())
