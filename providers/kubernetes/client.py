"""The connection to one API server: configuration, raw JSON requests, counters, error translation.

Requests go through the official client's `ApiClient` (its kubeconfig loading, TLS, token refresh
and urllib3 pool) but skip its model classes: bodies are plain JSON, as the provider works on
manifests. Every failure becomes a `KubeError` here and, through `to_provider_error` (the one
edge), the kernel's typed error for it. Every request is logged to `ecpctl.kubernetes`: at INFO its
method, path, status (or error) and duration; at DEBUG also its query, content type and sizes.
Bodies are never logged (Secrets travel in them).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Callable, Iterable, Mapping, Sequence

from ecpctl.kernel import (Conflict, Forbidden, Invalid, NotFound, ProviderError, ServerError,
                           Throttled, Timeout, Unreachable)
from ecpctl.kernel.retry import THROTTLE

APPLY_PATCH = "application/apply-patch+yaml"
DEFAULT_TIMEOUT = (10.0, 60.0)      # connect, read (seconds); the Project can change both
IN_CLUSTER_ENV = "KUBERNETES_SERVICE_HOST"
THROTTLE_ATTEMPTS = THROTTLE.attempts   # sends of one request while the server answers 429

log = logging.getLogger("ecpctl.kubernetes")


class NotConfigured(Exception):
    """The settings do not lead to an API server; the message says which setting to fix."""


@dataclass
class KubeError(Exception):
    """An API request that failed; `status` 0 means the server was not reached."""

    status: int
    reason: str
    message: str
    method: str = ""
    path: str = ""
    causes: list[dict] = field(default_factory=list)
    retry_after: float | None = None
    details: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.reason}: {self.message}"

    @property
    def retryable(self) -> bool:
        return self.status == 0 or self.status == 429 or self.status >= 500

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def conflict(self) -> bool:
        return self.status == 409 and self.reason == "Conflict" and any(
            c.get("reason") == "FieldManagerConflict" for c in self.causes)


@dataclass(frozen=True)
class Connection:
    """Where and how to connect, resolved from the Project settings and CLI options."""

    kubeconfig: str | None
    context: str | None
    in_cluster: bool

    def describe(self) -> str:
        if self.in_cluster:
            return "in-cluster service account"
        ctx = f", context {self.context}" if self.context else ""
        return f"kubeconfig {self.kubeconfig}{ctx}"


def resolve_connection(settings: Mapping[str, Any], options: Mapping[str, Any]) -> Connection:
    """Flags (and KUBECONFIG, which the CLI maps onto --kubeconfig) win over the Project's block."""
    kubeconfig = options.get("kubeconfig") or settings.get("kubeconfig") or os.environ.get("KUBECONFIG")
    context = options.get("context") or settings.get("context")
    if options.get("kubeconfig"):
        return Connection(str(options["kubeconfig"]), context, False)
    if settings.get("inCluster"):
        return Connection(None, None, True)
    if kubeconfig:
        return Connection(str(kubeconfig), context, False)
    default = Path("~/.kube/config").expanduser()
    if default.is_file():
        return Connection(str(default), context, False)
    if os.environ.get(IN_CLUSTER_ENV):
        return Connection(None, None, True)
    raise NotConfigured(
        "no kubeconfig found: set spec.providers.kubernetes.kubeconfig in the Project, "
        "pass --kubeconfig or set KUBECONFIG (or inCluster: true inside a pod)")


def _load_configuration(conn: Connection, pool_size: int):
    from kubernetes import client as kclient
    from kubernetes import config as kconfig
    from kubernetes.config.config_exception import ConfigException

    cfg = kclient.Configuration()
    try:
        if conn.in_cluster:
            kconfig.load_incluster_config(client_configuration=cfg)
        else:
            paths = [p for p in str(conn.kubeconfig).split(os.pathsep) if p]
            missing = [p for p in paths if not Path(p).expanduser().is_file()]
            if missing and len(missing) == len(paths):
                raise NotConfigured(f"kubeconfig {conn.kubeconfig} does not exist "
                                    "(check spec.providers.kubernetes.kubeconfig, --kubeconfig "
                                    "or KUBECONFIG)")
            if conn.context:
                contexts, _ = kconfig.list_kube_config_contexts(config_file=conn.kubeconfig)
                names = [c["name"] for c in contexts or ()]
                if conn.context not in names:
                    raise NotConfigured(f"context {conn.context} is not in kubeconfig "
                                        f"{conn.kubeconfig} (it has: {', '.join(names) or 'none'}; "
                                        "check --context or spec.providers.kubernetes.context)")
            kconfig.load_kube_config(config_file=conn.kubeconfig, context=conn.context,
                                     client_configuration=cfg, persist_config=False)
    except ConfigException as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        hint = (" (spec.providers.kubernetes.inCluster: true works only inside a pod)"
                if conn.in_cluster else "")
        raise NotConfigured(f"cannot use {conn.describe()}: {text}{hint}") from exc
    except (OSError, ValueError) as exc:
        raise NotConfigured(f"cannot read {conn.describe()}: {exc}") from exc
    cfg.connection_pool_maxsize = max(10, pool_size)
    return cfg


class KubeClient:
    """Thread-safe JSON requests to one API server, counted by verb."""

    def __init__(self, conn: Connection, *, pool_size: int = 10,
                 timeout: tuple[float, float] = DEFAULT_TIMEOUT):
        from kubernetes import client as kclient

        self.connection = conn
        # providers.kubernetes.connectTimeout / readTimeout: no request waits longer on a stalled
        # API server (urllib3's read timeout bounds each wait for bytes, not the whole body)
        self.timeout = timeout
        self.configuration = _load_configuration(conn, pool_size)
        self.api = kclient.ApiClient(configuration=self.configuration)
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    @property
    def server(self) -> str:
        return self.configuration.host

    # --- counters ----------------------------------------------------------------------------

    def count(self, verb: str) -> None:
        with self._lock:
            self._counts[verb] += 1

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self._counts.items()))

    # --- requests ----------------------------------------------------------------------------

    def request(self, method: str, path: str, *, verb: str,
                query: Sequence[tuple[str, str]] | None = None, body: Any = None,
                content_type: str | None = None, accept: str = "application/json",
                timeout: float | tuple[float, float] | None = None,
                sleep: Callable[[float], None] = time.sleep) -> Any:
        """Send one request; returns the decoded JSON body (None when empty) or raises KubeError.

        A 429 (the server sheds load before doing anything) is sent again here, as client-go does,
        under the THROTTLE retry policy: each time after the server's Retry-After plus a jittered
        backoff, so parallel workers do not come back in step. Every attempt is counted under its
        verb; each 429 also under `throttled`."""
        def send() -> Any:
            try:
                return self._send(method, path, verb=verb, query=query, body=body,
                                  content_type=content_type, accept=accept, timeout=timeout)
            except KubeError as exc:
                if exc.status == 429:
                    self.count("throttled")
                raise

        return THROTTLE.call(send, retry_if=lambda e: isinstance(e, KubeError) and e.status == 429,
                             sleep=sleep)

    def _send(self, method: str, path: str, *, verb: str, query, body, content_type, accept,
              timeout) -> Any:
        headers = {"Accept": accept}
        if content_type:
            headers["Content-Type"] = content_type
        if body is not None and content_type == APPLY_PATCH and not isinstance(body, (bytes, str)):
            body = json.dumps(body).encode()
        self.count(verb)
        started = time.monotonic()
        try:
            result = self._exchange(method, path, query=query, body=body, headers=headers,
                                    timeout=timeout)
        except KubeError as exc:
            _log_request(method, path, query, content_type, started, exc.status or exc.reason,
                         error=exc)
            raise
        _log_request(method, path, query, content_type, started, result[0], size=len(result[1]))
        return result[2]

    def _exchange(self, method: str, path: str, *, query, body, headers, timeout
                  ) -> tuple[int, bytes, Any]:
        import urllib3
        from kubernetes.client.exceptions import ApiException

        try:
            m, url, hdrs, b, _ = self.api.param_serialize(
                method, path, query_params=list(query or ()), header_params=headers, body=body,
                auth_settings=["BearerToken"])
            resp = self.api.call_api(m, url, header_params=hdrs, body=b,
                                     _request_timeout=timeout or self.timeout)
            raw = resp.read()
            status = resp.status
            resp_headers = resp.headers
        except ApiException as exc:   # TLS failures surface as ApiException(status=0)
            raise KubeError(0, "ConnectionFailed", _first_line(exc.reason or str(exc)),
                            method, path) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise KubeError(0, "ConnectionFailed", _connection_reason(exc), method, path) from exc
        if 200 <= status < 300:
            if not raw:
                return status, raw, None
            try:
                return status, raw, json.loads(raw)
            except ValueError as exc:
                raise KubeError(status, "BadResponse", "the API server sent a body that is not JSON",
                                method, path) from exc
        raise _status_error(status, raw, resp_headers, method, path)

    def close(self) -> None:
        try:
            self.api.close()
        except Exception:  # noqa: BLE001 - closing never masks the real outcome
            pass


def _first_line(text: str) -> str:
    text = (text or "").strip()
    return text.splitlines()[0] if text else ""


def _connection_reason(exc: BaseException) -> str:
    """`connection refused` rather than urllib3's nested repr."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cur, ConnectionResetError):
            # the server went away with the request in flight (a crash or a restart)
            return "connection closed by the server"
        if isinstance(cur, TimeoutError) or "timed out" in str(cur).lower():
            return "timed out"
        reason = getattr(cur, "reason", None)
        if not isinstance(reason, BaseException):
            # urllib3's ProtocolError carries the socket's error as an argument
            reason = next((a for a in cur.args if isinstance(a, BaseException)), None)
        cur = reason if isinstance(reason, BaseException) else (cur.__cause__ or cur.__context__)
    text = str(exc)
    if "Connection refused" in text:
        return "connection refused"
    if "Name or service not known" in text or "nodename nor servname" in text:
        return "host name not found"
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return "TLS certificate verification failed"
    return _first_line(text)[:200] or exc.__class__.__name__


def _status_error(status: int, raw: bytes, headers, method: str, path: str) -> KubeError:
    body: dict = {}
    try:
        body = json.loads(raw) if raw else {}
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    details = body.get("details") or {}
    message = _first_line(body.get("message") or (raw[:200].decode(errors="replace") if raw else ""))
    retry_after = None
    value = headers.get("Retry-After") if headers is not None else None
    if value:
        try:
            retry_after = float(value)
        except ValueError:
            retry_after = None
    if retry_after is None and details.get("retryAfterSeconds"):
        retry_after = float(details["retryAfterSeconds"])
    return KubeError(status, body.get("reason") or _REASONS.get(status, "Error"), message, method,
                     path, list(details.get("causes") or ()), retry_after, details)


_REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
            409: "Conflict", 410: "Gone", 422: "Invalid", 429: "TooManyRequests",
            500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout"}


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Remove secret values (and their base64 forms, as Secrets carry them) from a message."""
    import base64

    for s in secrets:
        if not isinstance(s, str) or len(s) < 4:
            continue
        forms = {s}
        try:
            forms.add(base64.b64decode(s, validate=True).decode())
        except Exception:  # noqa: BLE001 - not base64: only the raw form matters
            pass
        forms.add(base64.b64encode(s.encode()).decode())
        for f in forms:
            if len(f) >= 4:
                text = text.replace(f, "(sensitive value)")
    return text


def _log_request(method: str, path: str, query, content_type, started: float, outcome,
                 *, size: int | None = None, error: KubeError | None = None) -> None:
    if not log.isEnabledFor(logging.INFO):
        return
    ms = (time.monotonic() - started) * 1000
    log.info("%s %s -> %s in %.1f ms", method, path, outcome, ms)
    if log.isEnabledFor(logging.DEBUG):
        log.debug("%s %s query=%s content-type=%s %s", method, path, list(query or ()),
                  content_type or "-",
                  f"error={error.reason}: {error.message}" if error else f"received={size} bytes")


def error_class(err: KubeError) -> type[ProviderError]:
    """The kernel's type for a failed request: the most specific one for its status."""
    if err.status == 0:
        return Timeout if err.message == "timed out" else Unreachable
    if err.status in (401, 403):
        return Forbidden
    if err.status in (404, 410):
        return NotFound
    if err.status == 409:
        return Conflict
    if err.status in (400, 413, 415, 422):
        return Invalid
    if err.status == 429:
        return Throttled
    if err.status == 504:
        return Timeout
    if err.status >= 500:
        return ServerError
    return ProviderError


def to_provider_error(err: KubeError, op: str, what: str, *, server: str = "",
                      secrets: Iterable[str] = ()) -> ProviderError:
    """The one edge: a failed request as the kernel's typed error. `op` is the action (`apply`,
    `list`, ...), `what` names the object or resource. Raise it `from` the KubeError."""
    cls = error_class(err)
    msg = scrub(err.message, secrets)
    if err.status == 0:
        where = f" at {server}" if server else ""
        return cls(f"{op} {what}: cannot reach the API server{where}: {msg}")
    if err.status == 401:
        return cls(f"{op} {what}: the API server rejected the credentials (401 "
                   "Unauthorized); check the kubeconfig's user")
    if err.status == 403:
        return cls(f"{op} {what}: forbidden (403): {msg}")
    if err.status == 429 or err.status >= 500:
        return cls(f"{op} {what}: API server busy ({err.status} {err.reason}): {msg}",
                   retry_after=err.retry_after)
    return cls(f"{op} {what}: {err.reason}: {msg}" if msg else f"{op} {what}: {err.reason}")
