"""GrafanaProvider: tenant folders and dashboards through Grafana's HTTP API, by uid.

Reads are two list calls (`/api/folders`, `/api/search?type=dash-db&tag=ecp-ai`), a search by
uid of the dashboards to be created (one per 100 uids), plus one GET per dashboard found: Grafana's
search hits carry no version, so a dashboard's content (and an edit in the UI) can only be seen by
fetching it. The GETs run in parallel over one connection pool.

Every dashboard saved carries this state's owner mark (providers/grafana/marks.py), read back
into `LiveObject.owner` for the ownership check; a folder's owner is that of the dashboards it
holds. Desired dashboards that the tag search did not find are looked up by uid in one more search,
so one made by hand (or by another tool) under the same uid is seen at plan time.

Diffs ignore what Grafana manages (`id`, `version`, `iteration`, panel ids, panels'
`pluginVersion`). Updates send the version ecpctl last read, so an edit made in between is a 412
reported as a conflict naming the dashboard, never silently overwritten; they always send the
folder, so a dashboard never drops to the General folder.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar
from collections.abc import Mapping

from ecpctl.kernel.ownership import DASHBOARD_TAG as TAG
from ecpctl.kernel.durations import parse_seconds
from ecpctl.kernel.owner_check import refuse_write
from ecpctl.kernel import Conflict as KernelConflict
from ecpctl.kernel import (Diagnostic, Invalid, ProviderError, ProviderNotConfigured,
                           ServerError)
from providers.grafana import marks
from providers.grafana.client import Conflict, GrafanaClient, NotFound
from providers.protocol import (ApplyRequest, ApplyResponse, ConfigureRequest, ConfigureResponse,
                                DeleteRequest, DeleteResponse, ImportRequest, ImportResponse,
                                LiveObject, PlanRequest, PlanResponse, Provider, ReadRequest,
                                ReadResponse, ResourceState, ValidateRequest, ValidateResponse)

TYPES = ("folder", "dashboard")
SERVER_FIELDS = ("id", "version", "iteration")
PANEL_SERVER_FIELDS = ("id", "pluginVersion")
PAGE = 1000
POOL = 8
BY_UID = 100          # uids per search of dashboards not found by tag


def normalize_dashboard(d: Mapping[str, Any]) -> dict[str, Any]:
    """A dashboard's JSON without the fields Grafana (server or UI) manages."""
    def panel(p: Any) -> Any:
        if not isinstance(p, Mapping):
            return p
        out = {k: v for k, v in p.items() if k not in PANEL_SERVER_FIELDS}
        if isinstance(out.get("panels"), list):          # rows hold their collapsed panels
            out["panels"] = [panel(x) for x in out["panels"]]
        return out

    out = {k: v for k, v in d.items() if k not in SERVER_FIELDS}
    if isinstance(out.get("panels"), list):
        out["panels"] = [panel(p) for p in out["panels"]]
    return out


def dashboard_view(uid: str, folder_uid: str, dashboard: Mapping[str, Any]) -> dict[str, Any]:
    return {"uid": uid, "folder_uid": folder_uid or "", "dashboard": normalize_dashboard(dashboard)}


class GrafanaProvider(Provider):
    name: ClassVar[str] = "grafana"

    def __init__(self) -> None:
        self._client: GrafanaClient | None = None
        self._seen: dict[str, int] = {}          # dashboard uid -> version last read or written
        self._seen_lock = threading.Lock()

    # --- configure ---------------------------------------------------------------------------

    @classmethod
    def marks(cls, rtype: str) -> bool:
        return rtype in TYPES

    def configure(self, req: ConfigureRequest) -> ConfigureResponse:
        s = req.settings or {}
        url = s.get("url")
        env = s.get("tokenEnv") or "GRAFANA_TOKEN"
        problems = []
        if not url:
            problems.append("providers.grafana.url is not set (dashboardsMode: http talks to "
                            "Grafana's API)")
        token = os.environ.get(env, "")
        if not token:
            problems.append(f"environment variable {env} (providers.grafana.tokenEnv) is not set: "
                            f"it must hold a Grafana service account token")
        if problems:
            return ConfigureResponse(tuple(Diagnostic.error(p) for p in problems))
        self._client = GrafanaClient(str(url), token, token_env=env, pool=POOL,
                                     connect_timeout=parse_seconds(s.get("connectTimeout") or "5s"),
                                     read_timeout=parse_seconds(s.get("readTimeout") or "30s"))
        return ConfigureResponse()

    def _need(self) -> GrafanaClient:
        if self._client is None:
            raise ProviderNotConfigured("provider grafana is not configured")
        return self._client

    def target(self) -> Mapping[str, Any]:
        url = self._client.url if self._client is not None else None
        return {"url": url, "identity": url} if url else {}

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def _remember(self, uid: str, version: int | None) -> None:
        with self._seen_lock:
            if version is None:
                self._seen.pop(uid, None)
            else:
                self._seen[uid] = version

    def _version(self, uid: str, prior: ResourceState | None) -> int | None:
        with self._seen_lock:
            if uid in self._seen:
                return self._seen[uid]
        if prior is not None and prior.private.get("version") is not None:
            return int(prior.private["version"])
        return None

    # --- validate ----------------------------------------------------------------------------

    def validate(self, req: ValidateRequest) -> ValidateResponse:
        diags = []
        for r in req.resources:
            if r.type not in TYPES:
                diags.append(Diagnostic.error(f"unknown grafana resource type {r.type!r}",
                                              address=r.address))
            elif r.type == "dashboard" and r.attributes.get("dashboard", {}).get("uid") \
                    != r.attributes.get("uid"):
                diags.append(Diagnostic.error("the dashboard's uid differs from the resource's",
                                              address=r.address))
        if any(r.type == "dashboard" for r in req.resources) and self._client is not None:
            try:
                sources = self._client.request("GET", "/api/datasources") or []
            except ProviderError:
                sources = None                  # read() reports what is wrong with Grafana
            if sources is not None and not any(s.get("type") == "prometheus" for s in sources):
                diags.append(Diagnostic.warning(
                    "Grafana has no Prometheus data source: the tenant dashboards stay empty "
                    "until one is added"))
        return ValidateResponse(tuple(diags))

    # --- read / plan -------------------------------------------------------------------------

    def _pages(self, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        client = self._need()
        out: list[dict[str, Any]] = []
        page = 1
        while True:
            got = client.request("GET", path, params={**params, "limit": PAGE, "page": page}) or []
            out.extend(got)
            if len(got) < PAGE:
                return out
            page += 1

    def _get_dashboard(self, uid: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        try:
            body = self._need().request("GET", f"/api/dashboards/uid/{uid}",
                                        what=f"dashboard {uid}")
        except NotFound:
            return None
        dash, meta = body.get("dashboard") or {}, body.get("meta") or {}
        return dash, meta

    def _check_owner(self, uid: str, prior: ResourceState | None, verb: str) -> None:
        """apply/destroy --no-refresh: the dashboard's mark read just before it is saved or
        deleted (one GET), refused as the plan would (ecpctl.kernel.owner_check). A folder needs
        none: it is deleted only when it holds no dashboard left, and saved by uid and title."""
        if not self.check_on_write:
            return
        got = self._get_dashboard(uid)
        if got is None:
            return
        known = {self.owner.hash: self.owner} if self.owner is not None else {}
        refuse_write(verb, f"dashboard {uid}", self.owner, marks.owner_of(got[0], known),
                     recorded=prior is not None,
                     imported=prior is not None and bool((prior.private or {}).get("adopted")))

    def read(self, req: ReadRequest) -> ReadResponse:
        client = self._need()
        before = dict(client.counts)
        folders = {f["uid"]: f for f in self._pages("/api/folders", {})}
        hits = {h["uid"]: h for h in self._pages("/api/search", {"type": "dash-db", "tag": TAG})}
        ids = req.addresses()
        live: dict[str, LiveObject] = {}
        folder_addrs: dict[str, list[str]] = {}         # uid -> addresses
        dashboards: dict[str, list[str]] = {}          # uid -> addresses
        for rtype, address, attrs in [*((r.type, r.address, r.attributes) for r in req.desired),
                                      *((s.type, s.address, s.attributes) for s in req.prior)]:
            uid = str(attrs.get("uid") or "")
            if rtype == "folder" and uid in folders:
                folder_addrs.setdefault(uid, []).append(address)
            elif rtype == "dashboard":
                dashboards.setdefault(uid, []).append(address)
        prior_uids = {str(s.attributes.get("uid")) for s in req.prior if s.type == "dashboard"}
        # not found by tag and not in state: one made by hand under the uid ecpctl would create
        # must be seen now (the ownership check refuses it), not as a conflict halfway an apply
        unseen = sorted(u for u in dashboards if u not in hits and u not in prior_uids)
        for i in range(0, len(unseen), BY_UID):        # chunks keep the query string short
            hits.update((h["uid"], h) for h in self._pages(
                "/api/search", {"type": "dash-db", "dashboardUIDs": unseen[i:i + BY_UID]}))
        # found by tag or uid, or in state but no longer tagged (a UI edit may drop the tag)
        fetch = sorted(u for u in dashboards if u in hits or u in prior_uids)
        with ThreadPoolExecutor(max_workers=max(1, min(POOL, len(fetch)))) as pool:
            results = dict(zip(fetch, pool.map(self._get_dashboard, fetch)))
        known = {o.hash: o for o in (marks.field_owner(d) for d, _ in filter(None, results.values()))
                 if o is not None}
        if self.owner is not None:
            known[self.owner.hash] = self.owner
        for uid, got in results.items():
            if got is None:
                self._remember(uid, None)
                continue
            dash, meta = got
            self._remember(uid, dash.get("version", meta.get("version")))
            view = dashboard_view(uid, meta.get("folderUid") or "", dash)
            owner = marks.owner_of(dash, known)
            for address in dashboards[uid]:
                live[address] = LiveObject(ids[address], view,
                                           private={"version": dash.get("version"),
                                                    "id": dash.get("id")}, owner=owner)
        held: dict[str, list[str]] = {}                 # folder uid -> owner hashes it holds
        for h in hits.values():
            mark = marks.tag_hash(h.get("tags"))
            if mark is not None:
                held.setdefault(str(h.get("folderUid") or ""), []).append(mark)
        recorded = {s.address for s in req.prior}
        for uid, addresses in folder_addrs.items():
            for address in addresses:
                owner = marks.folder_owner(held.get(uid, ()), known, self.owner,
                                           address in recorded)
                live[address] = LiveObject(ids[address],
                                           {"uid": uid, "title": folders[uid]["title"]},
                                           owner=owner)
        spent = {k: v - before.get(k, 0) for k, v in client.counts.items() if v - before.get(k, 0)}
        return ReadResponse(live=live, requests=spent)

    def plan(self, req: PlanRequest) -> PlanResponse:
        a = req.desired.attributes
        if req.desired.type == "folder":
            return PlanResponse(planned={"uid": a["uid"], "title": a["title"]})
        return PlanResponse(planned=dashboard_view(a["uid"], a["folder_uid"],
                                                   marks.stamp(a["dashboard"], self.owner)))

    # --- apply -------------------------------------------------------------------------------

    def apply(self, req: ApplyRequest) -> ApplyResponse:
        d = req.desired
        try:
            if d.type == "folder":
                observed, private = self._apply_folder(d.attributes, req)
            elif d.type == "dashboard":
                observed, private = self._apply_dashboard(d.attributes, req)
            else:
                raise Invalid(f"unknown grafana resource type {d.type!r}")
        except ProviderError as exc:
            raise exc.located(d.address, "apply")  # noqa: B904 - located() chains the cause
        return ApplyResponse(state=ResourceState(
            addr=d.addr, attributes=dict(d.attributes), observed=observed, sensitive=tuple(d.sensitive),
            depends_on=tuple(d.depends_on), private=private))

    def _apply_folder(self, a: Mapping[str, Any], req: ApplyRequest):
        client = self._need()
        uid, title = a["uid"], a["title"]
        if req.progress:
            req.progress(req.desired.address, f"saving folder {title!r}")
        if req.prior is None:
            try:
                f = client.request("POST", "/api/folders", json={"uid": uid, "title": title},
                                   what=f"folder {title!r} (uid {uid})")
                return {"uid": f["uid"], "title": f["title"]}, {"version": f.get("version")}
            except Conflict:
                pass                         # it exists: adopt it, below
        try:
            f = client.request("GET", f"/api/folders/{uid}", what=f"folder {uid}")
        except NotFound:
            f = client.request("POST", "/api/folders", json={"uid": uid, "title": title},
                               what=f"folder {title!r} (uid {uid})")
        if f["title"] != title:
            try:
                f = client.request("PUT", f"/api/folders/{uid}",
                                   json={"title": title, "version": f.get("version"),
                                         "overwrite": False}, what=f"folder {uid}")
            except Conflict as exc:
                raise KernelConflict(f"conflict: folder {uid} could not be renamed to {title!r}: "
                                    f"{exc.reason}") from exc
        return {"uid": f["uid"], "title": f["title"]}, {"version": f.get("version")}

    def _apply_dashboard(self, a: Mapping[str, Any], req: ApplyRequest):
        client = self._need()
        uid, folder = a["uid"], a["folder_uid"]
        self._check_owner(uid, req.prior, "change" if req.prior is not None else "create over")
        board = marks.stamp(a["dashboard"], self.owner)
        title = board.get("title", uid)
        expected = self._version(uid, req.prior)
        board["uid"] = uid
        board.pop("id", None)
        if expected is not None:
            board["version"] = expected
        else:
            board.pop("version", None)
        if req.progress:
            req.progress(req.desired.address, f"saving dashboard {title!r}")
        try:
            client.request("POST", "/api/dashboards/db",
                           json={"dashboard": board, "folderUid": folder, "overwrite": False,
                                 "message": "ecpctl apply"},
                           what=f"dashboard {title!r} (uid {uid})")
        except Conflict as exc:
            if exc.status == "name-exists":
                raise KernelConflict(f"conflict: another dashboard in folder {folder} is already "
                                    f"titled {title!r}; rename or move it") from exc
            if expected is None:
                raise KernelConflict(
                    f"conflict: a dashboard with uid {uid} already exists in Grafana but ecpctl "
                    f"did not find it by its {TAG!r} tag; adopt it with `ecpctl import "
                    f"{req.desired.address} {uid}` or delete it in Grafana") from exc
            raise KernelConflict(
                f"conflict: dashboard {title!r} (uid {uid}) was changed in Grafana since ecpctl "
                f"read it at version {expected} ({exc.status or 'version-mismatch'}); run plan "
                f"again to see the change, then apply") from exc
        got = self._get_dashboard(uid)
        if got is None:
            raise ServerError(f"dashboard {uid} is not in Grafana after it was saved")
        dash, meta = got
        self._remember(uid, dash.get("version"))
        return (dashboard_view(uid, meta.get("folderUid") or "", dash),
                {"version": dash.get("version"), "id": dash.get("id")})

    # --- delete / import ---------------------------------------------------------------------

    def delete(self, req: DeleteRequest) -> DeleteResponse:
        p = req.prior
        client = self._need()
        uid = str(p.attributes.get("uid"))
        try:
            if p.type == "dashboard":
                if req.progress:
                    req.progress(p.address, f"deleting dashboard {uid}")
                self._check_owner(uid, p, "delete")
                try:
                    client.request("DELETE", f"/api/dashboards/uid/{uid}", what=f"dashboard {uid}")
                except NotFound:
                    pass
                self._remember(uid, None)
            elif p.type == "folder":
                left = client.request("GET", "/api/search",
                                      params={"folderUIDs": uid, "type": "dash-db"}) or []
                if left:
                    titles = ", ".join(repr(h.get("title")) for h in left[:5])
                    raise KernelConflict(
                        f"folder {uid} still holds {len(left)} dashboard(s) ecpctl does not "
                        f"manage ({titles}); move or delete them in Grafana, then apply again")
                if req.progress:
                    req.progress(p.address, f"deleting folder {uid}")
                try:
                    client.request("DELETE", f"/api/folders/{uid}", what=f"folder {uid}")
                except NotFound:
                    pass
        except ProviderError as exc:
            raise exc.located(p.address, "delete")  # noqa: B904 - located() chains the cause
        return DeleteResponse()

    def import_resource(self, req: ImportRequest) -> ImportResponse:
        """ID: the folder's or dashboard's uid."""
        client = self._need()
        if req.type == "folder":
            try:
                f = client.request("GET", f"/api/folders/{req.id}", what=f"folder {req.id}")
            except NotFound:
                return ImportResponse(state=None)
            attrs = {"uid": f["uid"], "title": f["title"]}
            private = {"version": f.get("version"), "adopted": True}
        elif req.type == "dashboard":
            got = self._get_dashboard(req.id)
            if got is None:
                return ImportResponse(state=None)
            dash, meta = got
            self._remember(req.id, dash.get("version"))
            attrs = dashboard_view(req.id, meta.get("folderUid") or "", dash)
            private = {"version": dash.get("version"), "id": dash.get("id"), "adopted": True}
        else:
            raise Invalid(f"cannot import a {req.type}", address=req.address)
        d = req.desired
        return ImportResponse(state=ResourceState(
            addr=req.addr, attributes=attrs, observed=dict(attrs),
            depends_on=tuple(d.depends_on) if d else (), private=private))
