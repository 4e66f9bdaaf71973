"""PrometheusRulesProvider, rules file mode: one file per tenant and workspace in the rule
directory that a running Prometheus loads (`rule_files: [<dir>/*.yml]` in its prometheus.yml):
`ecp-ai-<tenant>.yml` in the workspace `default` (the name of earlier versions),
`ecp-ai-<tenant>_ws-<workspace>.yml` in the others, so two workspaces never write one file.

Each file opens with comment lines naming its owner (`# ecpctl owner: workspace=W lineage=L`),
read back into `LiveObject.owner` for the plan's ownership check; with check_on_write (apply or
destroy --no-refresh) the transaction checks the file it is about to replace or remove.

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
from ecpctl.kernel.durations import parse_seconds
from ecpctl.kernel.owner_check import refuse_write
from ecpctl.kernel.ownership import Owner, owner_of_comment
from providers.prometheus.server import (CHECK_TIMEOUT, PrometheusAPI, check_rules,
                                         find_promtool)
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
DEFAULT_WORKSPACE = "default"       # its files keep the name of earlier versions


def file_name(tenant: str, workspace: str = DEFAULT_WORKSPACE) -> str:
    """No tenant id holds a '_' (it is a DNS label): `_ws-` can never be part of one."""
    if workspace == DEFAULT_WORKSPACE:
        return f"ecp-ai-{tenant}.yml"
    return f"ecp-ai-{tenant}_ws-{workspace}.yml"


def render(tenant: str, groups: list[Any], owner: Owner | None = None) -> str:
    import io
    y = YAML()
    y.indent(mapping=2, sequence=4, offset=2)
    y.width = 4096
    buf = io.StringIO()
    y.dump({"groups": groups}, buf)
    mark = f"# {owner.comment()}\n" if owner is not None else ""
    return HEADER.format(tenant=tenant) + mark + buf.getvalue()


def owner_of_file(text: str | None) -> Owner | None:
    """The owner named in the comment lines that open a rules file, or None (no mark: a file of
    an earlier version, or not ecpctl's). A mark further down (in a rule's text) does not count."""
    head = []
    for line in (text or "").splitlines():
        if not line.startswith("#"):
            break
        head.append(line)
    return owner_of_comment("\n".join(head))


def recorded_file(prior: ResourceState | None, tenant: str) -> str:
    """The file the state records for a tenant's rules: an earlier version recorded none, and
    wrote `ecp-ai-<tenant>.yml` whatever the workspace."""
    name = (prior.private or {}).get("file") if prior is not None else None
    return str(name) if name else file_name(tenant)


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
    file: str = ""                        # the file written (or removed)
    moved_from: str | None = None         # the file the state recorded, removed in the same step
    verb: str = "change"                  # for the write-time owner check's words
    recorded: bool = False                # the state records this tenant's rules
    imported: bool = False                # taken over with `ecpctl import`
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


def _imported(prior: ResourceState | None) -> bool:
    return prior is not None and bool((prior.private or {}).get("adopted"))


class PrometheusRulesProvider(Provider):
    name: ClassVar[str] = "prometheus"

    def __init__(self) -> None:
        self._dir: Path | None = None
        self._promtool: str | None = None
        self._check_timeout = CHECK_TIMEOUT
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
        self._check_timeout = parse_seconds(s.get("checkTimeout") or CHECK_TIMEOUT)
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

    @classmethod
    def marks(cls, rtype: str) -> bool:
        return rtype == RULES

    def _file(self, tenant: str) -> str:
        """This workspace's file for `tenant`."""
        return file_name(tenant, self.owner.workspace if self.owner is not None else
                         DEFAULT_WORKSPACE)

    def _observe(self, name: str) -> tuple[dict[str, Any], Owner | None] | None:
        rules_dir, _, _ = self._need()
        path = rules_dir / name
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ProviderError(f"cannot read {path}: {exc.strerror or exc}") from exc
        owner = owner_of_file(text)
        try:
            return parse(text), owner
        except (YAMLError, ValueError) as exc:
            # a file ecpctl cannot read is drift like any other: the plan replaces its content
            return {"groups": [], "unreadable": str(exc).splitlines()[0]}, owner

    def read(self, req: ReadRequest) -> ReadResponse:
        live: dict[str, LiveObject] = {}
        priors = {p.address: p for p in req.prior}
        for item in [*req.desired, *req.prior]:
            if item.address in live or item.type != RULES:
                continue
            # where the state says the file is (an earlier version's name, until apply moves
            # it), unless another owner has marked that one since: then this workspace's own
            prior, mine = priors.get(item.address), self._file(item.name)
            was = recorded_file(prior, item.name) if prior is not None else mine
            found = self._observe(was)
            if was != mine and found is not None and found[1] not in (None, self.owner):
                found = self._observe(mine)
            if found is not None:
                live[item.address] = LiveObject(addr=item.addr, observed=found[0], owner=found[1])
        return ReadResponse(live=live, requests={"file_read": len(live)})

    def plan(self, req: PlanRequest) -> PlanResponse:
        return PlanResponse(planned={"groups": _plain(list(req.desired.attributes["groups"]))})

    # --- apply / delete / import -------------------------------------------------------------

    def apply(self, req: ApplyRequest) -> ApplyResponse:
        d = req.desired
        if d.type != RULES:
            raise ProviderError(f"unknown prometheus resource type {d.type!r}", address=d.address)
        groups = _plain(list(d.attributes["groups"]))
        name = self._file(d.name)
        was = recorded_file(req.prior, d.name) if req.prior is not None else None
        if req.progress:
            req.progress(d.address, f"writing {name} and reloading Prometheus")
        self._submit(_Change(d.address, d.name, render(d.name, groups, self.owner), file=name,
                             moved_from=was if was != name else None,
                             verb="change" if req.prior is not None else "create over",
                             recorded=req.prior is not None, imported=_imported(req.prior)))
        private = {k: v for k, v in (req.prior.private if req.prior is not None else {}).items()
                   if k != "file"}
        return ApplyResponse(state=ResourceState(
            addr=d.addr, attributes=dict(d.attributes), observed={"groups": groups},
            sensitive=tuple(d.sensitive), depends_on=tuple(d.depends_on),
            private={**private, "file": name}))

    def delete(self, req: DeleteRequest) -> DeleteResponse:
        p = req.prior
        name = recorded_file(p, p.name)
        if req.progress:
            req.progress(p.address, f"removing {name} and reloading Prometheus")
        self._submit(_Change(p.address, p.name, None, file=name, verb="delete", recorded=True,
                             imported=_imported(p)))
        return DeleteResponse()

    def import_resource(self, req: ImportRequest) -> ImportResponse:
        """ID: the tenant id whose file (this workspace's name for it) to adopt."""
        if req.type != RULES:
            raise ProviderError(f"cannot import a {req.type}", address=req.address)
        name = self._file(req.id)
        found = self._observe(name)
        if found is None:
            return ImportResponse(state=None)
        obs = found[0]
        d = req.desired
        return ImportResponse(state=ResourceState(
            addr=req.addr, attributes=obs, observed=obs,
            sensitive=tuple(d.sensitive) if d else (), depends_on=tuple(d.depends_on) if d else (),
            private={"adopted": True, "file": name}))

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
        for c in batch:                 # the last change of a file wins
            last[c.file] = c
        writes: dict[Path, tuple[str | None, str | None]] = {}   # path -> (old, new)

        def fail(c: _Change, err: ProviderError) -> None:
            for other in batch:
                if other.file == c.file:
                    other.error = err

        for name, c in last.items():
            path = rules_dir / name
            old = path.read_text(encoding="utf-8") if path.exists() else None
            if self.check_on_write and old is not None:
                try:
                    refuse_write(c.verb, f"rules file {name}", self.owner, owner_of_file(old),
                                 recorded=c.recorded, imported=c.imported)
                except ProviderError as exc:
                    fail(c, exc)
                    continue
            if c.text is not None:
                problem = self._check(rules_dir, promtool, c.text, path.name,
                                      self._check_timeout)
                if problem:
                    fail(c, ProviderError(f"promtool check rules rejects {path.name}: {problem}"))
                    continue
            if old != c.text:
                writes[path] = (old, c.text)
            if c.moved_from is not None:
                # the file an earlier version wrote for this state: the new one replaces it, in
                # the same reload (unless it is another owner's now)
                was = rules_dir / c.moved_from
                text = was.read_text(encoding="utf-8") if was.exists() else None
                theirs = owner_of_file(text)
                if text is not None and (theirs is None or theirs == self.owner):
                    writes[was] = (text, None)
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
    def _check(rules_dir: Path, promtool: str, text: str, shown_as: str, timeout: float
               ) -> str | None:
        # beside the real file, under a name that rule_files' *.yml glob does not match
        fd, tmp = tempfile.mkstemp(prefix=".ecpctl-check-", suffix=".tmp", dir=rules_dir)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            return check_rules(promtool, Path(tmp), shown_as, timeout=timeout)
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
