"""A fake Grafana HTTP server for tests, following Grafana's documented HTTP API (Grafana cannot be
installed on the test machine). In-memory, loopback, a random port.

Implemented as the docs describe them (Folder API, Dashboard API, Folder/Dashboard Search API,
Data source API):
  * auth: `Authorization: Bearer <token>`; 401 without or with an unknown token; a Viewer token
    may read but not write (403);
  * folders: GET/POST /api/folders, GET/PUT/DELETE /api/folders/:uid; uid identity, `version`
    incremented on every update, 412 `version-mismatch` for a stale version without overwrite,
    409 for a uid or title that exists; deleting a folder deletes its dashboards;
  * dashboards: POST /api/dashboards/db (create or update by uid; `version` must match the stored
    one unless `overwrite`, else 412 `{"status": "version-mismatch"}`; another dashboard with the
    same title in the folder is 412 `name-exists`; without folderUid the dashboard goes to the
    General folder, i.e. the root), GET/DELETE /api/dashboards/uid/:uid; the stored JSON is what
    was sent, with `id`, `uid` and `version` set by the server;
  * search: GET /api/search with type (dash-db | dash-folder), tag (repeatable, all must match),
    query, folderUIDs, dashboardUIDs, limit, page; hits carry no version, as in Grafana;
  * data sources: GET/POST /api/datasources, GET/PUT/DELETE /api/datasources/uid/:uid.

Test knobs: `fail_next(status, n)` makes the next n API calls answer `status`; `requests` lists
(method, path) of every call.
"""

from __future__ import annotations

import copy
import json
import re
import socket
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

ADMIN_TOKEN = "glsa_fake_admin_token_0123456789"
VIEWER_TOKEN = "glsa_fake_viewer_token_0123456789"
UID = re.compile(r"[a-zA-Z0-9_-]{1,40}\Z")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "dashboard"


class _Server(ThreadingHTTPServer):
    """Remembers open connections, so that stopping the fake also drops kept-alive ones (a
    stopped Grafana refuses clients that were connected, too)."""

    daemon_threads = True

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.open_sockets: set[socket.socket] = set()
        self._sockets_lock = threading.Lock()

    def process_request(self, request, client_address):
        with self._sockets_lock:
            self.open_sockets.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self._sockets_lock:
            self.open_sockets.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        with self._sockets_lock:
            sockets, self.open_sockets = list(self.open_sockets), set()
        for s in sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class ApiError(Exception):
    def __init__(self, status: int, body: dict[str, Any]):
        super().__init__(body.get("message"))
        self.status = status
        self.body = body


class FakeGrafana:
    def __init__(self, tokens: dict[str, str] | None = None):
        self.tokens = tokens or {ADMIN_TOKEN: "Admin", VIEWER_TOKEN: "Viewer"}
        self.lock = threading.RLock()
        self.folders: dict[str, dict[str, Any]] = {}
        self.dashboards: dict[str, dict[str, Any]] = {}     # uid -> {id, json, folder_uid, version, ...}
        self.datasources: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []
        self._next_id = 1
        self._failures: list[int] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                status, body = fake.handle(method, self.path, self.headers.get("Authorization"), raw)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):  # noqa: N802
                self._handle("GET")

            def do_POST(self):  # noqa: N802
                self._handle("POST")

            def do_PUT(self):  # noqa: N802
                self._handle("PUT")

            def do_DELETE(self):  # noqa: N802
                self._handle("DELETE")

            def log_message(self, *args):
                pass

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    # --- lifecycle ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    token = ADMIN_TOKEN
    viewer_token = VIEWER_TOKEN

    def start(self) -> FakeGrafana:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._server.drop_connections()

    def __enter__(self) -> FakeGrafana:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def fail_next(self, status: int, times: int = 1) -> None:
        with self.lock:
            self._failures.extend([status] * times)

    def count(self, method: str | None = None, prefix: str = "/api/") -> int:
        with self.lock:
            return sum(1 for m, p in self.requests
                       if (method is None or m == method) and p.startswith(prefix))

    def reset_counts(self) -> None:
        with self.lock:
            self.requests.clear()

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    # --- dispatch ----------------------------------------------------------------------------

    def handle(self, method: str, target: str, auth: str | None, raw: bytes) -> tuple[int, Any]:
        parts = urlsplit(target)
        path, query = parts.path.rstrip("/") or "/", parse_qs(parts.query)
        with self.lock:
            self.requests.append((method, path))
            if path == "/api/health":
                return 200, {"commit": "fake", "database": "ok", "version": "10.4.0"}
            if self._failures:
                status = self._failures.pop(0)
                return status, {"message": "injected failure"}
            try:
                role = self._auth(auth)
                if method != "GET" and role == "Viewer":
                    raise ApiError(403, {"accessErrorId": "ACE0000000001", "title": "Access denied",
                                         "message": "You'll need additional permissions to "
                                                    "perform this action."})
                body = json.loads(raw) if raw else None
                return 200, self._route(method, path, query, body)
            except ApiError as exc:
                return exc.status, exc.body
            except ValueError:
                return 400, {"message": "bad request data"}

    def _auth(self, header: str | None) -> str:
        if not header:
            raise ApiError(401, {"message": "Unauthorized"})
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or token not in self.tokens:
            raise ApiError(401, {"message": "invalid API key"})
        return self.tokens[token]

    def _route(self, method: str, path: str, query, body) -> Any:
        seg = path.split("/")[1:]          # ["api", ...]
        if seg[:2] == ["api", "folders"]:
            if len(seg) == 2:
                return self.list_folders(query) if method == "GET" else \
                    self.create_folder(body) if method == "POST" else self._405()
            if len(seg) == 3:
                uid = seg[2]
                if method == "GET":
                    return self.get_folder(uid)
                if method == "PUT":
                    return self.update_folder(uid, body)
                if method == "DELETE":
                    return self.delete_folder(uid)
        if seg[:3] == ["api", "dashboards", "db"] and method == "POST":
            return self.save_dashboard(body)
        if seg[:3] == ["api", "dashboards", "uid"] and len(seg) == 4:
            if method == "GET":
                return self.get_dashboard(seg[3])
            if method == "DELETE":
                return self.delete_dashboard(seg[3])
        if seg == ["api", "search"] and method == "GET":
            return self.search(query)
        if seg[:2] == ["api", "datasources"]:
            if len(seg) == 2:
                return self.list_datasources() if method == "GET" else \
                    self.create_datasource(body) if method == "POST" else self._405()
            if len(seg) == 4 and seg[2] == "uid":
                uid = seg[3]
                if method == "GET":
                    return self.get_datasource(uid)
                if method == "PUT":
                    return self.update_datasource(uid, body)
                if method == "DELETE":
                    return self.delete_datasource(uid)
        raise ApiError(404, {"message": "Not found"})

    def _405(self):
        raise ApiError(405, {"message": "Method not allowed"})

    # --- folders -----------------------------------------------------------------------------

    def _folder_view(self, f: dict[str, Any]) -> dict[str, Any]:
        return {"id": f["id"], "uid": f["uid"], "title": f["title"],
                "url": f"/dashboards/f/{f['uid']}/{_slug(f['title'])}", "hasAcl": False,
                "canSave": True, "canEdit": True, "canAdmin": True, "canDelete": True,
                "createdBy": "admin", "created": f["created"], "updatedBy": "admin",
                "updated": f["updated"], "version": f["version"]}

    def list_folders(self, query) -> list[dict[str, Any]]:
        limit = int((query.get("limit") or ["1000"])[0])
        page = int((query.get("page") or ["1"])[0])
        items = sorted(self.folders.values(), key=lambda f: f["title"].lower())
        items = items[(page - 1) * limit: page * limit]
        return [{"id": f["id"], "uid": f["uid"], "title": f["title"]} for f in items]

    def get_folder(self, uid: str) -> dict[str, Any]:
        f = self.folders.get(uid)
        if f is None:
            raise ApiError(404, {"message": "folder not found", "status": "not-found"})
        return self._folder_view(f)

    def create_folder(self, body) -> dict[str, Any]:
        if not isinstance(body, dict) or not str(body.get("title") or "").strip():
            raise ApiError(400, {"message": "folder title cannot be empty"})
        uid = body.get("uid") or f"f{self._next_id:08d}"
        if not UID.match(uid):
            raise ApiError(400, {"message": "uid contains illegal characters or is longer than 40"})
        if uid in self.folders:
            raise ApiError(409, {"message": "a folder with the same uid already exists"})
        if any(f["title"] == body["title"] for f in self.folders.values()):
            raise ApiError(409, {"message": "a folder or dashboard in the general folder with "
                                            "the same name already exists"})
        now = _now()
        self.folders[uid] = {"id": self._id(), "uid": uid, "title": body["title"], "version": 1,
                             "created": now, "updated": now}
        return self._folder_view(self.folders[uid])

    def update_folder(self, uid: str, body) -> dict[str, Any]:
        f = self.folders.get(uid)
        if f is None:
            raise ApiError(404, {"message": "folder not found", "status": "not-found"})
        if not isinstance(body, dict) or not str(body.get("title") or "").strip():
            raise ApiError(400, {"message": "folder title cannot be empty"})
        if not body.get("overwrite") and body.get("version") != f["version"]:
            raise ApiError(412, {"message": "the folder has been changed by someone else",
                                 "status": "version-mismatch"})
        if any(o["title"] == body["title"] and o["uid"] != uid for o in self.folders.values()):
            raise ApiError(409, {"message": "a folder with the same name already exists"})
        f.update(title=body["title"], version=f["version"] + 1, updated=_now())
        return self._folder_view(f)

    def delete_folder(self, uid: str) -> dict[str, Any]:
        f = self.folders.pop(uid, None)
        if f is None:
            raise ApiError(404, {"message": "folder not found", "status": "not-found"})
        for duid in [u for u, d in self.dashboards.items() if d["folder_uid"] == uid]:
            del self.dashboards[duid]
        return {"message": "Folder deleted", "id": f["id"], "title": f["title"]}

    # --- dashboards --------------------------------------------------------------------------

    def save_dashboard(self, body) -> dict[str, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("dashboard"), dict):
            raise ApiError(400, {"message": "bad request data"})
        dash = copy.deepcopy(body["dashboard"])
        title = str(dash.get("title") or "").strip()
        if not title:
            raise ApiError(400, {"message": "Dashboard title cannot be empty", "status": "empty-name"})
        overwrite = bool(body.get("overwrite"))
        folder_uid = body.get("folderUid") or ""
        if not folder_uid and body.get("folderId"):
            folder_uid = next((f["uid"] for f in self.folders.values()
                               if f["id"] == body["folderId"]), None)
            if folder_uid is None:
                raise ApiError(400, {"message": "folder not found", "status": "not-found"})
        if folder_uid and folder_uid not in self.folders:
            raise ApiError(400, {"message": "folder not found", "status": "not-found"})
        uid = dash.get("uid") or f"d{self._next_id:08d}"
        if not UID.match(uid):
            raise ApiError(400, {"message": "uid contains illegal characters or is longer than 40",
                                 "status": "invalid-uid"})
        existing = self.dashboards.get(uid)
        if dash.get("id") and (existing is None or existing["id"] != dash["id"]):
            by_id = next((d for d in self.dashboards.values() if d["id"] == dash["id"]), None)
            if by_id is None:
                raise ApiError(404, {"message": "Dashboard not found", "status": "not-found"})
            raise ApiError(400, {"message": "A dashboard with the same uid already exists",
                                 "status": "uid-exists"})
        same_title = next((d for u, d in self.dashboards.items()
                           if u != uid and d["folder_uid"] == folder_uid
                           and d["json"]["title"].lower() == title.lower()), None)
        if same_title is not None:
            if not overwrite:
                raise ApiError(412, {"message": "A dashboard with the same name in the folder "
                                                "already exists", "status": "name-exists"})
            del self.dashboards[same_title["json"]["uid"]]
        now = _now()
        if existing is not None:
            if dash.get("version") != existing["version"] and not overwrite:
                raise ApiError(412, {"message": "The dashboard has been changed by someone else",
                                     "status": "version-mismatch"})
            version, did, created = existing["version"] + 1, existing["id"], existing["created"]
        else:
            version, did, created = 1, self._id(), now
        dash.update(id=did, uid=uid, version=version)
        self.dashboards[uid] = {"id": did, "json": dash, "folder_uid": folder_uid,
                                "version": version, "created": created, "updated": now}
        return {"id": did, "uid": uid, "url": f"/d/{uid}/{_slug(title)}", "status": "success",
                "version": version, "slug": _slug(title)}

    def get_dashboard(self, uid: str) -> dict[str, Any]:
        d = self.dashboards.get(uid)
        if d is None:
            raise ApiError(404, {"message": "Dashboard not found"})
        f = self.folders.get(d["folder_uid"])
        title = d["json"]["title"]
        return {"dashboard": copy.deepcopy(d["json"]), "meta": {
            "type": "db", "canSave": True, "canEdit": True, "canAdmin": True, "canStar": True,
            "canDelete": True, "slug": _slug(title), "url": f"/d/{uid}/{_slug(title)}",
            "expires": "0001-01-01T00:00:00Z", "created": d["created"], "updated": d["updated"],
            "updatedBy": "admin", "createdBy": "admin", "version": d["version"], "hasAcl": False,
            "isFolder": False, "folderId": f["id"] if f else 0, "folderUid": d["folder_uid"],
            "folderTitle": f["title"] if f else "General",
            "folderUrl": f"/dashboards/f/{f['uid']}/{_slug(f['title'])}" if f else "",
            "provisioned": False, "provisionedExternalId": ""}}

    def delete_dashboard(self, uid: str) -> dict[str, Any]:
        d = self.dashboards.pop(uid, None)
        if d is None:
            raise ApiError(404, {"message": "Dashboard not found"})
        title = d["json"]["title"]
        return {"title": title, "message": f"Dashboard {title} deleted", "id": d["id"]}

    # --- search ------------------------------------------------------------------------------

    def search(self, query) -> list[dict[str, Any]]:
        kind = (query.get("type") or [None])[0]
        tags = query.get("tag") or []
        text = (query.get("query") or [""])[0].lower()
        folder_uids = set(query.get("folderUIDs") or [])
        dash_uids = set(query.get("dashboardUIDs") or [])
        limit = min(int((query.get("limit") or ["1000"])[0]), 5000)
        page = int((query.get("page") or ["1"])[0])
        hits: list[dict[str, Any]] = []
        if kind in (None, "dash-folder") and not tags and not dash_uids:
            for f in self.folders.values():
                if text in f["title"].lower() and (not folder_uids or "" in folder_uids):
                    hits.append({"id": f["id"], "uid": f["uid"], "title": f["title"],
                                 "uri": f"db/{_slug(f['title'])}",
                                 "url": f"/dashboards/f/{f['uid']}/{_slug(f['title'])}",
                                 "slug": "", "type": "dash-folder", "tags": [],
                                 "isStarred": False, "sortMeta": 0})
        if kind in (None, "dash-db"):
            for uid, d in self.dashboards.items():
                j = d["json"]
                dtags = list(j.get("tags") or [])
                if tags and not all(t in dtags for t in tags):
                    continue
                if text and text not in j["title"].lower():
                    continue
                if folder_uids and d["folder_uid"] not in folder_uids:
                    continue
                if dash_uids and uid not in dash_uids:
                    continue
                hit = {"id": d["id"], "uid": uid, "title": j["title"],
                       "uri": f"db/{_slug(j['title'])}", "url": f"/d/{uid}/{_slug(j['title'])}",
                       "slug": "", "type": "dash-db", "tags": dtags, "isStarred": False,
                       "sortMeta": 0}
                f = self.folders.get(d["folder_uid"])
                if f is not None:
                    hit.update(folderId=f["id"], folderUid=f["uid"], folderTitle=f["title"],
                               folderUrl=f"/dashboards/f/{f['uid']}/{_slug(f['title'])}")
                hits.append(hit)
        hits.sort(key=lambda h: h["title"].lower())
        return hits[(page - 1) * limit: page * limit]

    # --- data sources ------------------------------------------------------------------------

    def list_datasources(self) -> list[dict[str, Any]]:
        return [copy.deepcopy(d) for d in sorted(self.datasources.values(), key=lambda d: d["name"])]

    def get_datasource(self, uid: str) -> dict[str, Any]:
        d = self.datasources.get(uid)
        if d is None:
            raise ApiError(404, {"message": "Data source not found"})
        return copy.deepcopy(d)

    def create_datasource(self, body) -> dict[str, Any]:
        if not isinstance(body, dict) or not body.get("name") or not body.get("type"):
            raise ApiError(400, {"message": "bad request data"})
        if any(d["name"] == body["name"] for d in self.datasources.values()):
            raise ApiError(409, {"message": "data source with the same name already exists"})
        uid = body.get("uid") or f"ds{self._next_id:06d}"
        if uid in self.datasources:
            raise ApiError(409, {"message": "data source with the same uid already exists"})
        ds = {"id": self._id(), "uid": uid, "orgId": 1, "name": body["name"],
              "type": body["type"], "access": body.get("access", "proxy"),
              "url": body.get("url", ""), "isDefault": bool(body.get("isDefault")),
              "jsonData": body.get("jsonData") or {}, "readOnly": False, "version": 1}
        self.datasources[uid] = ds
        return {"datasource": copy.deepcopy(ds), "id": ds["id"], "message": "Datasource added",
                "name": ds["name"]}

    def update_datasource(self, uid: str, body) -> dict[str, Any]:
        ds = self.datasources.get(uid)
        if ds is None:
            raise ApiError(404, {"message": "Data source not found"})
        if not isinstance(body, dict):
            raise ApiError(400, {"message": "bad request data"})
        if body.get("version") is not None and body["version"] != ds["version"]:
            raise ApiError(409, {"message": "Datasource has already been updated by someone "
                                            "else. Please reload and try again"})
        for k in ("name", "type", "access", "url", "isDefault", "jsonData"):
            if k in body:
                ds[k] = body[k]
        ds["version"] += 1
        return {"datasource": copy.deepcopy(ds), "id": ds["id"], "message": "Datasource updated",
                "name": ds["name"]}

    def delete_datasource(self, uid: str) -> dict[str, Any]:
        if self.datasources.pop(uid, None) is None:
            raise ApiError(404, {"message": "Data source not found"})
        return {"message": "Data source deleted"}
