"""AlertmanagerProvider, file mode: tenant receivers and routes merged into the operator's
alertmanager.yml (see providers/alertmanager/config.py for what ecpctl owns in it).

Every change is one transaction on the whole file: merge, `amtool check-config`, atomic write with
a backup, `POST /-/reload`, and a check through `/api/v2/status` that the running config is the new
one; if the reload fails or loads something else, the previous file is put back and reloaded.
Applies run in parallel threads: changes that arrive while a transaction runs are merged into the
next one (group commit), so a fleet of tenants costs a few reloads, not one per object.
"""

from __future__ import annotations

import os
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar
from collections.abc import Callable, Mapping

from ecpctl.kernel.durations import parse_seconds
from ecpctl.kernel.owner_check import refuse_write
from ecpctl.kernel import (Diagnostic, Forbidden, InUse, Invalid, NotFound, ProviderError,
                           ProviderNotConfigured)
from providers.alertmanager import config as amc
from providers.alertmanager import marks
from providers.alertmanager.server import (CHECK_TIMEOUT, AlertmanagerAPI, check_config,
                                           find_amtool)
from providers.protocol import (ApplyRequest, ApplyResponse, ConfigureRequest, ConfigureResponse,
                                DeleteRequest, DeleteResponse, ImportRequest, ImportResponse,
                                LiveObject, PlanRequest, PlanResponse, Provider, ReadRequest,
                                ReadResponse, ResourceState, ValidateRequest, ValidateResponse)

TYPES = ("receiver", "route")
BACKUP_SUFFIX = ".ecpctl-backup"


class _Rejected(Invalid):
    """amtool refused the merged file (a permanent error of the resources in the batch)."""


@dataclass
class _Change:
    address: str
    mutate: Callable[[Any], None]             # edits the document in place; may raise ProviderError
    observe: Callable[[Any], Mapping[str, Any] | None]
    done: threading.Event = field(default_factory=threading.Event)
    observed: Mapping[str, Any] | None = None
    error: BaseException | None = None


class AlertmanagerProvider(Provider):
    name: ClassVar[str] = "alertmanager"

    def __init__(self) -> None:
        self._file: Path | None = None
        self._amtool: str | None = None
        self._check_timeout = CHECK_TIMEOUT
        self._api: AlertmanagerAPI | None = None
        self._queue: list[_Change] = []
        self._queue_lock = threading.Lock()
        self._write_lock = threading.Lock()      # one transaction on the file at a time
        self.transactions = 0                    # reloads done (tests and benchmarks read it)

    # --- configure -------------------------------------------------------------------------

    @classmethod
    def marks(cls, rtype: str) -> bool:
        return rtype in TYPES

    def configure(self, req: ConfigureRequest) -> ConfigureResponse:
        s = req.settings or {}
        problems = []
        if not s.get("configFile"):
            problems.append("providers.alertmanager.configFile is not set: file mode needs the "
                            "path of the alertmanager.yml that the running Alertmanager loads")
        if not s.get("url"):
            problems.append("providers.alertmanager.url is not set: file mode reloads "
                            "Alertmanager and checks the running config through its API")
        amtool_setting = s.get("amtool") or "amtool"
        amtool = find_amtool(amtool_setting)
        if amtool is None:
            problems.append(f"providers.alertmanager.amtool: {amtool_setting!r} not found; install "
                            "Debian's prometheus-alertmanager package or set the path of amtool")
        if problems:
            return ConfigureResponse(tuple(Diagnostic.error(p) for p in problems))
        path = Path(os.path.expanduser(s["configFile"]))
        if not path.is_file():
            return ConfigureResponse((Diagnostic.error(
                f"providers.alertmanager.configFile: {path} does not exist (file mode edits the "
                f"operator's existing config)"),))
        self._file = path
        self._amtool = amtool
        self._check_timeout = parse_seconds(s.get("checkTimeout") or CHECK_TIMEOUT)
        self._api = AlertmanagerAPI(str(s["url"]),
                                    connect_timeout=parse_seconds(s.get("connectTimeout") or "5s"),
                                    read_timeout=parse_seconds(s.get("readTimeout") or "30s"))
        return ConfigureResponse()

    def _need(self) -> tuple[Path, str, AlertmanagerAPI]:
        if self._file is None or self._amtool is None or self._api is None:
            raise ProviderNotConfigured("provider alertmanager is not configured")
        return self._file, self._amtool, self._api

    def target(self) -> Mapping[str, Any]:
        if self._api is None:
            return {}
        return {"url": self._api.url, "config_file": str(self._file), "identity": self._api.url}

    def close(self) -> None:
        if self._api is not None:
            self._api.close()

    # --- the file ----------------------------------------------------------------------------

    def _read_text(self) -> str:
        path, _, _ = self._need()
        try:
            return path.read_text(encoding="utf-8")
        except OSError as exc:
            kind = (NotFound if isinstance(exc, FileNotFoundError) else
                    Forbidden if isinstance(exc, PermissionError) else ProviderError)
            raise kind(f"cannot read {path} (providers.alertmanager.configFile): "
                       f"{exc.strerror or exc}") from exc

    def _load(self, text: str):
        path, _, _ = self._need()
        try:
            return amc.load(text)
        except amc.ConfigFileError as exc:
            raise Invalid(f"{path}: {exc}") from exc

    # --- validate / read / plan --------------------------------------------------------------

    def validate(self, req: ValidateRequest) -> ValidateResponse:
        diags = []
        for r in req.resources:
            if r.type not in TYPES:
                diags.append(Diagnostic.error(f"unknown alertmanager resource type {r.type!r}",
                                              address=r.address))
            elif r.type == "route" and amc.tenant_matcher(r.name) not in \
                    [amc.canonical_matcher(m) for m in r.attributes.get("matchers") or []]:
                diags.append(Diagnostic.error(
                    f"a tenant route must match {amc.tenant_matcher(r.name)}", address=r.address))
            elif r.type == "receiver" and not str(r.attributes.get("name", "")).startswith(
                    f"{r.tenant}/"):
                diags.append(Diagnostic.error(f"receiver names must start with '{r.tenant}/'",
                                              address=r.address))
        return ValidateResponse(tuple(diags))

    def _observe(self, doc, rtype: str, key: str) -> dict[str, Any] | None:
        if rtype == "route":
            return amc.observed_route(doc, key)
        found = amc.find_receiver(doc, key)
        return amc.normalize_receiver(found) if found is not None else None

    @staticmethod
    def _key(rtype: str, attrs: Mapping[str, Any], name: str) -> str:
        """The route's tenant, or the receiver's full name in the file."""
        return name if rtype == "route" else str(attrs.get("name") or name)

    def read(self, req: ReadRequest) -> ReadResponse:
        doc = self._load(self._read_text())          # the one read of a plan
        ids = req.addresses()
        live: dict[str, LiveObject] = {}
        items = [(r.address, r.type, self._key(r.type, r.attributes, r.name)) for r in req.desired]
        items += [(s.address, s.type, self._key(s.type, s.attributes, s.name)) for s in req.prior]
        recorded = {s.address for s in req.prior}
        for address, rtype, key in items:
            if address in live or rtype not in TYPES:
                continue
            obs = self._observe(doc, rtype, key)
            if obs is not None:
                live[address] = LiveObject(addr=ids[address], observed=obs,
                                           owner=self._owner(doc, rtype, key, address in recorded))
        return ReadResponse(live=live, requests={"file_read": 1})

    def _owner(self, doc, rtype: str, key: str, recorded: bool):
        """The fragment's owner: a route's matcher, a receiver's through its tenant's route."""
        if rtype == "route":
            hit = amc.find_route(doc, key)
            return marks.owner_of_route(hit[1] if hit else None)
        hit = amc.find_route(doc, key.split("/", 1)[0])
        return marks.receiver_owner(marks.owner_of_route(hit[1] if hit else None),
                                    self.owner, recorded)

    def _check_owner(self, doc, rtype: str, key: str, prior: ResourceState | None,
                     verb: str) -> None:
        """apply/destroy --no-refresh: the fragment's mark in the config the transaction is about
        to rewrite (read anyway), refused as the plan would (ecpctl.kernel.owner_check)."""
        if not self.check_on_write or self._observe(doc, rtype, key) is None:
            return
        recorded = prior is not None
        refuse_write(verb, f"{rtype} {key}", self.owner, self._owner(doc, rtype, key, recorded),
                     recorded=recorded,
                     imported=prior is not None and bool((prior.private or {}).get("adopted")))

    def _planned(self, rtype: str, attrs: Mapping[str, Any]) -> dict[str, Any]:
        return (amc.planned_route(marks.stamp(attrs, self.owner)) if rtype == "route"
                else amc.normalize_receiver(attrs))

    def plan(self, req: PlanRequest) -> PlanResponse:
        return PlanResponse(planned=self._planned(req.desired.type, req.desired.attributes))

    # --- apply / delete ----------------------------------------------------------------------

    def apply(self, req: ApplyRequest) -> ApplyResponse:
        d = req.desired
        if d.type not in TYPES:
            raise Invalid(f"unknown alertmanager resource type {d.type!r}", address=d.address)
        key = self._key(d.type, d.attributes, d.name)
        attrs = dict(d.attributes)
        if req.progress:
            req.progress(d.address, f"merging {d.type} {key} into the Alertmanager config")

        def mutate(doc) -> None:
            self._check_owner(doc, d.type, key, req.prior,
                              "change" if req.prior is not None else "create over")
            if d.type == "route":
                amc.set_route(doc, key, marks.stamp(attrs, self.owner))
            else:
                amc.set_receiver(doc, attrs)

        change = self._submit(_Change(d.address, mutate, lambda doc: self._observe(doc, d.type, key)))
        if change.observed is None:
            raise ProviderError(f"apply: the {d.type} is not in the file after the reload",
                                address=d.address)
        return ApplyResponse(state=ResourceState(
            addr=d.addr, attributes=attrs, observed=dict(change.observed), sensitive=tuple(d.sensitive),
            depends_on=tuple(d.depends_on)))

    def delete(self, req: DeleteRequest) -> DeleteResponse:
        p = req.prior
        key = self._key(p.type, p.attributes, p.name)
        if req.progress:
            req.progress(p.address, f"removing {p.type} {key} from the Alertmanager config")

        def mutate(doc) -> None:
            self._check_owner(doc, p.type, key, p, "delete")
            if p.type == "route":
                amc.remove_route(doc, key)
                return
            amc.remove_receiver(doc, key)
            users = amc.routes_using(doc, key)
            if users:
                # the tenant's route is being changed or removed in the same apply: try again
                raise InUse(f"receiver {key!r} is still used by {', '.join(users)}",
                            address=p.address)

        self._submit(_Change(p.address, mutate, lambda doc: None))
        return DeleteResponse()

    def import_resource(self, req: ImportRequest) -> ImportResponse:
        """ID: a receiver's full name (`acme/ops`) or a route's tenant id (`acme`)."""
        if req.type not in TYPES:
            raise Invalid(f"cannot import a {req.type}", address=req.address)
        doc = self._load(self._read_text())
        obs = self._observe(doc, req.type, req.id)
        if obs is None:
            return ImportResponse(state=None)
        attrs = {k: v for k, v in obs.items() if k != amc.PLACED_FIRST}
        d = req.desired
        return ImportResponse(state=ResourceState(
            addr=req.addr, attributes=attrs, observed=obs, private={"adopted": True},
            sensitive=tuple(d.sensitive) if d else (), depends_on=tuple(d.depends_on) if d else ()))

    # --- transactions ------------------------------------------------------------------------

    def _submit(self, change: _Change) -> _Change:
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
        return change

    def _run(self, batch: list[_Change]) -> None:
        try:
            try:
                self._transaction(batch)
            except _Rejected:
                if len(batch) == 1:
                    raise
                for c in batch:           # find the change amtool objects to; commit the rest
                    c.error = None
                    try:
                        self._transaction([c])
                    except ProviderError as exc:
                        c.error = exc
        except ProviderError as exc:
            for c in batch:
                if c.error is None:
                    c.error = exc
        except Exception as exc:  # noqa: BLE001 - every waiting thread must hear of it
            for c in batch:
                c.error = c.error or exc
        finally:
            for c in batch:
                c.done.set()

    def _transaction(self, batch: list[_Change]) -> None:
        path, amtool, api = self._need()
        old = self._read_text()
        doc = self._load(old)
        applied = []
        for c in batch:
            try:
                c.mutate(doc)
                applied.append(c)
            except ProviderError as exc:
                c.error = exc
        if not applied:
            return
        new = amc.dump(doc)
        if new != old:
            problem = self._check(path, amtool, new)
            if problem:
                raise _Rejected(f"amtool check-config rejects the merged config: {problem}")
            self._write(path, new, backup=old)
            self.transactions += 1
            self._reload_or_restore(path, api, new, old, doc)
        for c in applied:
            c.observed = c.observe(doc)

    def _check(self, path: Path, amtool: str, text: str) -> str | None:
        # next to the real file, so that relative template paths resolve the same way
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".check.yml", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            return check_config(amtool, Path(tmp), timeout=self._check_timeout)
        finally:
            os.unlink(tmp)

    def _write(self, path: Path, text: str, *, backup: str | None = None) -> None:
        st = path.stat()
        if backup is not None:
            self._atomic(path.with_name(path.name + BACKUP_SUFFIX), backup, st)
        self._atomic(path, text, st)

    @staticmethod
    def _atomic(path: Path, text: str, st: os.stat_result) -> None:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, st.st_mode & 0o7777)
            try:
                os.chown(tmp, st.st_uid, st.st_gid)
            except PermissionError:
                pass
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    def _reload_or_restore(self, path: Path, api: AlertmanagerAPI, new: str, old: str,
                           doc) -> None:
        try:
            refused = api.reload()
            if refused is None:
                running = amc.skeleton(api.running_config())
                if running == amc.skeleton(amc.plain(doc)):
                    return
                refused = (f"the running Alertmanager did not load {path} (is it started with "
                           f"--config.file={path}?)")
                kind: type[ProviderError] = ProviderError
            else:
                refused = f"Alertmanager refused the new config on reload: {refused}"
                kind = Invalid
            cause: ProviderError | None = None
        except ProviderError as exc:
            refused, kind, cause = f"reload: {exc.reason}", type(exc), exc
        self._write(path, old)
        try:
            api.reload()
            restored = "the previous file was restored and reloaded"
        except ProviderError:
            restored = "the previous file was restored (Alertmanager could not be reloaded)"
        raise kind(f"{refused}; {restored}") from cause
