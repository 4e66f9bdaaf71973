"""A fake provider for engine tests: "live" objects are JSON files in $ECPCTL_FAKE_DIR, so that
separate processes (a killed apply and the next plan) see the same world.

Knobs: ECPCTL_FAKE_DELAY (seconds per apply/delete), ECPCTL_FAKE_FAIL (address glob that fails),
ECPCTL_FAKE_RETRYABLE_ONCE (address glob that fails once with a retryable error),
ECPCTL_FAKE_READ_ERROR (address glob whose read reports an error diagnostic, as a provider that
cannot read an object does during a plan).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import threading
import time
from pathlib import Path

from ecpctl.kernel import Diagnostic, ProviderError, ServerError
from providers.protocol import (ApplyRequest, ApplyResponse, DeleteRequest, DeleteResponse,
                                ImportRequest, ImportResponse, LiveObject, Provider, ReadRequest,
                                ReadResponse, ResourceState)

REPLACE = {"apps/v1.Deployment": ("spec.selector",), "database": ("encoding", "locale")}


def _dir() -> Path:
    d = Path(os.environ.get("ECPCTL_FAKE_DIR", ".fake-live"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def _file(address: str) -> Path:
    return _dir() / (hashlib.sha1(address.encode()).hexdigest() + ".json")


def write_live(address: str, observed: dict) -> None:
    path = _file(address)
    tmp = path.with_suffix(f".{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps({"address": address, "observed": observed}))
    os.replace(tmp, path)


def read_live(address: str) -> dict | None:
    try:
        return json.loads(_file(address).read_text())["observed"]
    except FileNotFoundError:
        return None


class FakeProvider(Provider):
    name = "fake"
    _once_lock = threading.Lock()

    @classmethod
    def requires_replace(cls, rtype: str) -> tuple[str, ...]:
        return REPLACE.get(rtype, ())

    def read(self, req: ReadRequest) -> ReadResponse:
        live = {}
        files = {p.name: p for p in _dir().glob("*.json")}     # one "LIST"
        for addr, ident in req.addresses().items():
            p = files.get(_file(addr).name)
            if p is not None:
                live[addr] = LiveObject(addr=ident, observed=json.loads(p.read_text())["observed"])
        bad = os.environ.get("ECPCTL_FAKE_READ_ERROR")
        diags = tuple(Diagnostic.error("read: injected failure: the fake server refused the list",
                                       address=r.address)
                      for r in req.desired if bad and fnmatch.fnmatchcase(r.address, bad))
        return ReadResponse(live=live, diagnostics=diags, requests={"list": 1})

    def _maybe_fail(self, address: str) -> None:
        delay = float(os.environ.get("ECPCTL_FAKE_DELAY", "0") or 0)
        if delay:
            time.sleep(delay)
        pat = os.environ.get("ECPCTL_FAKE_FAIL")
        if pat and fnmatch.fnmatchcase(address, pat):
            raise ProviderError("injected failure: the fake server refused the request",
                                address=address)
        once = os.environ.get("ECPCTL_FAKE_RETRYABLE_ONCE")
        if once and fnmatch.fnmatchcase(address, once):
            marker = _dir() / (hashlib.sha1(address.encode()).hexdigest() + ".failed-once")
            with self._once_lock:
                if not marker.exists():
                    marker.write_text("1")
                    raise ServerError("503 Service Unavailable (injected)", address=address,
                                      retry_after=0.01)

    def apply(self, req: ApplyRequest) -> ApplyResponse:
        r = req.desired
        self._maybe_fail(r.address)
        observed = json.loads(json.dumps(dict(r.attributes)))
        write_live(r.address, observed)
        return ApplyResponse(state=ResourceState(
            addr=r.addr, attributes=r.attributes, observed=observed, sensitive=r.sensitive,
            depends_on=r.depends_on))

    def delete(self, req: DeleteRequest) -> DeleteResponse:
        self._maybe_fail(req.prior.address)
        _file(req.prior.address).unlink(missing_ok=True)
        return DeleteResponse()

    def import_resource(self, req: ImportRequest) -> ImportResponse:
        observed = read_live(req.address)
        if observed is None:
            return ImportResponse(state=None)
        d = req.desired
        return ImportResponse(state=ResourceState(
            addr=req.addr, attributes=observed, observed=observed,
            sensitive=d.sensitive if d else (), depends_on=d.depends_on if d else ()))


OVERRIDES = ",".join(f"{n}=tests.fakes.provider:FakeProvider"
                     for n in ("kubernetes", "postgres", "grafana", "alertmanager"))
