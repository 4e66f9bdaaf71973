"""PrometheusRulesProvider, rules file mode: one file `ecp-ai-<tenant>.yml` per tenant in the rule
directory that a running Prometheus loads (`rule_files: [<dir>/*.yml]` in its prometheus.yml).

Every change is a transaction: `promtool check rules` on the new file (written beside the real one
under a name the glob does not match), an atomic write that keeps the previous file, `POST
/-/reload`, and a check through `/api/v1/rules` that the running Prometheus loaded exactly the
groups of each file written (and none of a file removed). If any of it fails, the previous files
are put back and Prometheus is reloaded again. Changes that arrive while a transaction runs are
committed together in the next one, so a fleet of tenants costs a few reloads.

Drift: `read` parses the files on disk, so a hand edit shows as a change to revert.
"""

from __future__ import annotations

import copy
import os
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from ecpctl.kernel import Diagnostic, ProviderError, ProviderNotConfigured
from providers.prometheus.server import PrometheusAPI, check_rules, find_promtool
from providers.protocol import (
    ApplyRequest,
    ApplyResponse,
    ConfigureRequest,
    ConfigureResponse,
    DeleteRequest,
    DeleteResponse,
    ImportRequest,
    ImportResponse,
    LiveObject,
    PlanRequest,
    PlanResponse,
    Provider,
    ReadRequest,
    ReadResponse,
    ResourceState,
)

RULES = "rules"
HEADER = ("# Managed by ecpctl: the rule groups of tenant {tenant}. A hand edit here is drift that "
          "the next plan shows and apply reverts.\n")


def file_name(tenant: str) -> str:
    return f"ecp-ai-{tenant}.yml"


def render(tenant: str, groups: list[Any]) -> str:
    import io
    y = YAML()
    y.indent(mapping=2, sequence=4, offset=2)
    y.width = 4096
    buf = io.StringIO()
    y.dump({"groups": groups}, buf)
    return HEADER.format(tenant=tenant) + buf.getvalue()


def _plain(v: Any) -> Any:
    if isinstance(v, Mapping):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v


def parse(text: str) -> dict[str, Any]:
    doc = YAML(typ="safe").load(text) or {}
    if not isinstance(doc, dict):
        raise ValueError("the top level must be a mapping with `groups`")
    return {"groups": _plain(doc.get("groups") or [])}


def _shape(groups: list[Any]) -> list[tuple[str, tuple[str, ...]]]:
    """What /api/v1/rules can confirm: each group's name and its rules' names, in order."""
    return [(str(g.get("name")), tuple(str(r.get("alert") or r.get("record") or r.get("name"))
                                       for r in g.get("rules") or []))
            for g in groups if isinstance(g, Mapping)]


@dataclass
class _Change:
    address: str
    tenant: str
    text: str | None                      # None: remove the file
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class PrometheusRulesProvider(Provider):
    name: ClassVar[str] = "prometheus"

    def __init__(self) -> None:
        self._dir: Path | None = None
        self._promtool: str | None = None
        self._api: PrometheusAPI | None = None
        self._queue: list[_Change] = []
        self._queue_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self.transactions = 0

    def configure(self, req: ConfigureRequest) -> ConfigureResponse:
        s = req.settings or {}
        problems = []
        if not s.get("rulesDir"):
            problems.append("providers.prometheus.rulesDir is not set: rules file mode needs the "
                            "directory whose *.yml files the running Prometheus loads")
        if not s.get("url"):
            problems.append("providers.prometheus.url is not set: rules file mode reloads "
                            "Prometheus and checks the loaded rules through its API")
        setting = s.get("promtool") or "promtool"
        promtool = find_promtool(setting)
        if promtool is None:
            problems.append(f"providers.prometheus.promtool: {setting!r} not found; install "
                            "Debian's prometheus package or set the path of promtool")
        if problems:
            return ConfigureResponse(tuple(Diagnostic.error(p) for p in problems))
        path = Path(os.path.expanduser(s["rulesDir"]))
        if not path.is_dir():
            return ConfigureResponse((Diagnostic.error(
                f"providers.prometheus.rulesDir: {path} is not a directory"),))
        self._dir, self._promtool, self._api = path, promtool, PrometheusAPI(str(s["url"]))
        return ConfigureResponse()

    def _need(self) -> tuple[Path, str, PrometheusAPI]:
        if self._dir is None or self._promtool is None or self._api is None:
            raise ProviderNotConfigured("provider prometheus is not configured")
        return self._dir, self._promtool, self._api

    def close(self) -> None:
        if self._api is not None:
            self._api.close()

    # --- validate / read / plan --------------------------------------------------------------

    def validate(self, req) -> Any:
        from providers.protocol import ValidateResponse
        diags = [Diagnostic.error(f"unknown prometheus resource type {r.type!r}", address=r.address)
                 for r in req.resources if r.type != RULES]
        return ValidateResponse(tuple(diags))

    def _observe(self, tenant: str) -> dict[str, Any] | None:
        rules_dir, _, _ = self._need()
        path = rules_dir / file_name(tenant)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ProviderError(f"cannot read {path}: {exc.strerror or exc}") from exc
        try:
            return parse(text)
        except (YAMLError, ValueError) as exc:
            # a file ecpctl cannot read is drift like any other: the plan replaces its content
            return {"groups": [], "unreadable": str(exc).splitlines()[0]}

    def read(self, req: ReadRequest) -> ReadResponse:
        live: dict[str, LiveObject] = {}
        for item in [*req.desired, *req.prior]:
            if item.address in live or item.type != RULES:
                continue
            obs = self._observe(item.name)
            if obs is not None:
                live[item.address] = LiveObject(addr=item.addr, observed=obs)
        return ReadResponse(live=live, requests={"file_read": len(live)})

    def plan(self, req: PlanRequest) -> PlanResponse:
        return PlanResponse(planned={"groups": _plain(list(req.desired.attributes["groups"]))})

    # --- apply / delete / import -------------------------------------------------------------

    def apply(self, req: ApplyRequest) -> ApplyResponse:
        d = req.desired
        if d.type != RULES:
            raise ProviderError(f"unknown prometheus resource type {d.type!r}", address=d.address)
        groups = _plain(list(d.attributes["groups"]))
        if req.progress:
            req.progress(d.address, f"writing {file_name(d.name)} and reloading Prometheus")
        self._submit(_Change(d.address, d.name, render(d.name, groups)))
        return ApplyResponse(state=ResourceState(
            addr=d.addr, attributes=dict(d.attributes), observed={"groups": groups},
            sensitive=tuple(d.sensitive), depends_on=tuple(d.depends_on)))

    def delete(self, req: DeleteRequest) -> DeleteResponse:
        p = req.prior
        if req.progress:
            req.progress(p.address, f"removing {file_name(p.name)} and reloading Prometheus")
        self._submit(_Change(p.address, p.name, None))
        return DeleteResponse()

    def import_resource(self, req: ImportRequest) -> ImportResponse:
        """ID: the tenant id whose file `ecp-ai-<tenant>.yml` to adopt."""
        if req.type != RULES:
            raise ProviderError(f"cannot import a {req.type}", address=req.address)
        obs = self._observe(req.id)
        if obs is None:
            return ImportResponse(state=None)
        d = req.desired
        return ImportResponse(state=ResourceState(
            addr=req.addr, attributes=obs, observed=obs,
            sensitive=tuple(d.sensitive) if d else (), depends_on=tuple(d.depends_on) if d else ()))

    # --- transactions ------------------------------------------------------------------------

    def _submit(self, change: _Change) -> None:
        with self._queue_lock:
            self._queue.append(change)
        with self._write_lock:
            if not change.done.is_set():
                with self._queue_lock:
                    batch, self._queue = self._queue, []
                self._run(batch)
        change.done.wait()
        if change.error is not None:
            err = change.error
            if isinstance(err, ProviderError):
                raise err.located(change.address)
            raise err

    def _run(self, batch: list[_Change]) -> None:
        try:
            self._transaction(batch)
        except BaseException as exc:  # noqa: BLE001 - every waiting thread must hear of it
            for c in batch:
                c.error = c.error or exc
            if not isinstance(exc, Exception):
                raise
        finally:
            for c in batch:
                c.done.set()

    def _transaction(self, batch: list[_Change]) -> None:
        rules_dir, promtool, api = self._need()
        last: dict[str, _Change] = {}
        for c in batch:                 # the last change of a tenant's file wins
            last[c.tenant] = c
        writes: dict[Path, tuple[str | None, str | None]] = {}   # path -> (old, new)
        for tenant, c in last.items():
            path = rules_dir / file_name(tenant)
            old = path.read_text(encoding="utf-8") if path.exists() else None
            if c.text is not None:
                problem = self._check(rules_dir, promtool, c.text, path.name)
                if problem:
                    for other in batch:
                        if other.tenant == tenant:
                            other.error = ProviderError(
                                f"promtool check rules rejects {path.name}: {problem}")
                    continue
            if old != c.text:
                writes[path] = (old, c.text)
        if not writes:
            return
        for path, (_, new) in writes.items():
            self._put(path, new)
        self.transactions += 1
        try:
            refused = api.reload()
            if refused is not None:
                raise ProviderError(f"Prometheus refused to reload: {refused}")
            self._verify(api, writes)
        except ProviderError as exc:
            for path, (old, _) in writes.items():
                self._put(path, old)
            try:
                again = api.reload()
            except ProviderError as reload_exc:
                again = str(reload_exc)
            restored = ("the previous rule files were restored and Prometheus reloaded"
                        if again is None else "the previous rule files were restored (Prometheus "
                        f"could not be reloaded: {again})")
            failed = copy.copy(exc)
            failed.reason = f"{exc.reason}; {restored}"
            failed.args = (failed.reason,)
            raise failed from exc

    def _verify(self, api: PrometheusAPI, writes: Mapping[Path, tuple[str | None, str | None]]) -> None:
        loaded: dict[str, list[dict[str, Any]]] = {}
        for g in api.rule_groups():
            loaded.setdefault(os.path.realpath(str(g.get("file", ""))), []).append(g)
        for path, (_, new) in writes.items():
            # the API lists a file's groups sorted by name, each group's rules in file order
            want = sorted(_shape(parse(new)["groups"])) if new is not None else []
            got = sorted((str(g.get("name")), tuple(str(r.get("name")) for r in g.get("rules") or []))
                         for g in loaded.get(os.path.realpath(str(path)), []))
            if got != want:
                raise ProviderError(
                    f"the running Prometheus did not load {path.name} as written (loaded "
                    f"{len(got)} group(s), expected {len(want)}; does its rule_files include "
                    f"{path.parent}/*.yml?)")

    @staticmethod
    def _check(rules_dir: Path, promtool: str, text: str, shown_as: str) -> str | None:
        # beside the real file, under a name that rule_files' *.yml glob does not match
        fd, tmp = tempfile.mkstemp(prefix=".ecpctl-check-", suffix=".tmp", dir=rules_dir)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            return check_rules(promtool, Path(tmp), shown_as)
        finally:
            os.unlink(tmp)

    @staticmethod
    def _put(path: Path, text: str | None) -> None:
        if text is None:
            path.unlink(missing_ok=True)
            return
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
