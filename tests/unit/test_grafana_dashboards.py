"""What the grafana provider compares (providers/grafana/provider.py) and the fake Grafana's
documented behaviour (tests/fakes/grafana.py) that the provider's tests rely on."""

from __future__ import annotations

import httpx
import pytest

from providers.grafana.provider import dashboard_view, normalize_dashboard
from tests.fakes.grafana import FakeGrafana


def test_normalize_drops_what_grafana_manages():
    d = {"id": 7, "uid": "u", "version": 12, "iteration": 99, "title": "t",
         "panels": [{"id": 1, "type": "row", "pluginVersion": "10", "panels": [
             {"id": 2, "title": "inner", "pluginVersion": "10"}]},
                    {"id": 3, "title": "p", "targets": [{"expr": "x"}]}]}
    assert normalize_dashboard(d) == {
        "uid": "u", "title": "t",
        "panels": [{"type": "row", "panels": [{"title": "inner"}]},
                   {"title": "p", "targets": [{"expr": "x"}]}]}
    assert dashboard_view("u", "", d)["folder_uid"] == ""


@pytest.fixture
def grafana():
    with FakeGrafana() as g:
        yield g


def call(g, method, path, token=None, **kw):
    token = token or g.token
    return httpx.request(method, g.url + path, headers={"Authorization": f"Bearer {token}"}, **kw)


def test_fake_auth(grafana):
    assert httpx.get(grafana.url + "/api/folders").status_code == 401
    assert call(grafana, "GET", "/api/folders", token="nope").json() == {"message": "invalid API key"}
    assert call(grafana, "GET", "/api/folders", token=grafana.viewer_token).status_code == 200
    assert call(grafana, "POST", "/api/folders", token=grafana.viewer_token,
                json={"title": "x"}).status_code == 403
    assert httpx.get(grafana.url + "/api/health").status_code == 200


def test_fake_dashboard_versions_and_folders(grafana):
    call(grafana, "POST", "/api/folders", json={"uid": "f1", "title": "F1"}).raise_for_status()
    r = call(grafana, "POST", "/api/dashboards/db",
             json={"dashboard": {"uid": "d1", "title": "D"}, "folderUid": "f1"}).json()
    assert r["status"] == "success" and r["version"] == 1 and r["uid"] == "d1"
    got = call(grafana, "GET", "/api/dashboards/uid/d1").json()
    assert got["dashboard"]["version"] == 1 and got["meta"]["folderUid"] == "f1"
    # a stale version is a 412 version-mismatch
    r = call(grafana, "POST", "/api/dashboards/db",
             json={"dashboard": {"uid": "d1", "title": "D", "version": 0}, "folderUid": "f1"})
    assert r.status_code == 412 and r.json()["status"] == "version-mismatch"
    # the right version updates, and without folderUid the dashboard moves to the root
    r = call(grafana, "POST", "/api/dashboards/db",
             json={"dashboard": {"uid": "d1", "title": "D", "version": 1}}).json()
    assert r["version"] == 2
    assert call(grafana, "GET", "/api/dashboards/uid/d1").json()["meta"]["folderUid"] == ""
    # overwrite ignores the version
    assert call(grafana, "POST", "/api/dashboards/db",
                json={"dashboard": {"uid": "d1", "title": "D"}, "overwrite": True}).json()[
        "version"] == 3
    # the same title in the same folder under another uid is name-exists
    r = call(grafana, "POST", "/api/dashboards/db", json={"dashboard": {"uid": "d2", "title": "d"}})
    assert r.status_code == 412 and r.json()["status"] == "name-exists"
    # an unknown folder is refused
    r = call(grafana, "POST", "/api/dashboards/db",
             json={"dashboard": {"uid": "d3", "title": "x"}, "folderUid": "nope"})
    assert r.status_code == 400


def test_fake_search_and_folder_updates(grafana):
    call(grafana, "POST", "/api/folders", json={"uid": "f1", "title": "F1"})
    for uid, tags in (("a", ["ecp-ai"]), ("b", ["ecp-ai", "x"]), ("c", [])):
        call(grafana, "POST", "/api/dashboards/db",
             json={"dashboard": {"uid": uid, "title": uid.upper(), "tags": tags}, "folderUid": "f1"})
    hits = call(grafana, "GET", "/api/search", params={"type": "dash-db", "tag": "ecp-ai"}).json()
    assert [h["uid"] for h in hits] == ["a", "b"]
    assert all("version" not in h and h["folderUid"] == "f1" for h in hits)
    hits = call(grafana, "GET", "/api/search", params=[("tag", "ecp-ai"), ("tag", "x")]).json()
    assert [h["uid"] for h in hits] == ["b"]
    folder = call(grafana, "GET", "/api/folders/f1").json()
    assert folder["version"] == 1
    r = call(grafana, "PUT", "/api/folders/f1", json={"title": "F2", "version": 0})
    assert r.status_code == 412 and r.json()["status"] == "version-mismatch"
    assert call(grafana, "PUT", "/api/folders/f1", json={"title": "F2", "version": 1}).json()[
        "version"] == 2
    assert call(grafana, "POST", "/api/folders", json={"uid": "f1", "title": "Z"}).status_code == 409
    call(grafana, "DELETE", "/api/folders/f1").raise_for_status()
    assert grafana.dashboards == {}


def test_fake_datasources(grafana):
    r = call(grafana, "POST", "/api/datasources",
             json={"name": "Prometheus", "type": "prometheus", "url": "http://p:9090", "uid": "p"})
    assert r.json()["message"] == "Datasource added"
    assert call(grafana, "POST", "/api/datasources",
                json={"name": "Prometheus", "type": "prometheus"}).status_code == 409
    assert call(grafana, "PUT", "/api/datasources/uid/p",
                json={"url": "http://q", "version": 1}).json()["datasource"]["version"] == 2
    assert call(grafana, "PUT", "/api/datasources/uid/p",
                json={"url": "http://r", "version": 1}).status_code == 409
    assert [d["uid"] for d in call(grafana, "GET", "/api/datasources").json()] == ["p"]
    assert call(grafana, "DELETE", "/api/datasources/uid/p").status_code == 200
    assert call(grafana, "GET", "/api/datasources/uid/p").status_code == 404
