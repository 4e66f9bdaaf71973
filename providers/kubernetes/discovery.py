"""Which kinds the cluster serves: the aggregated discovery documents, read once and cached.

Two requests (`/api`, `/apis`) describe every served kind with its plural and scope; servers without
aggregated discovery (before 1.27) are asked per group-version, only for the group-versions needed.
"""

from __future__ import annotations

import threading

from providers.kubernetes.client import KubeClient, KubeError
from providers.kubernetes.kinds import KindInfo

AGGREGATED = ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
              "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
              "application/json")


class Discovery:
    def __init__(self, client: KubeClient):
        self._client = client
        self._lock = threading.Lock()
        self._kinds: dict[tuple[str, str], KindInfo] | None = None
        self._aggregated = True
        self._groups: set[str] = set()          # group names the server serves
        self._fetched_gv: set[str] = set()      # legacy mode: group-versions already read

    def load(self) -> None:
        """Read the discovery documents (raises KubeError when the server is unreachable)."""
        with self._lock:
            self._load_locked()

    def _load_locked(self) -> None:
        kinds: dict[tuple[str, str], KindInfo] = {}
        groups: set[str] = set()
        aggregated = True
        for path in ("/api", "/apis"):
            doc = self._client.request("GET", path, verb="discovery", accept=AGGREGATED) or {}
            if doc.get("kind") != "APIGroupDiscoveryList":
                aggregated = False
                if path == "/api":
                    groups.add("")
                else:
                    groups.update(g.get("name", "") for g in doc.get("groups") or ())
                continue
            for item in doc.get("items") or ():
                group = (item.get("metadata") or {}).get("name") or ""
                groups.add(group)
                for ver in item.get("versions") or ():
                    api_version = f"{group}/{ver['version']}" if group else ver["version"]
                    for res in ver.get("resources") or ():
                        kind = (res.get("responseKind") or {}).get("kind")
                        if not kind:
                            continue
                        kinds[(api_version, kind)] = KindInfo(
                            api_version, kind, res["resource"], res.get("scope") == "Namespaced")
        self._kinds, self._groups, self._aggregated = kinds, groups, aggregated
        self._fetched_gv = set()

    def invalidate(self) -> None:
        """Forget what was read (after a CRD was applied)."""
        with self._lock:
            self._kinds = None

    def _legacy_group_version(self, api_version: str) -> None:
        if api_version in self._fetched_gv:
            return
        self._fetched_gv.add(api_version)
        path = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        try:
            doc = self._client.request("GET", path, verb="discovery") or {}
        except KubeError as exc:
            if exc.not_found:
                return
            raise
        for res in doc.get("resources") or ():
            if "/" in res.get("name", ""):
                continue
            self._kinds[(api_version, res["kind"])] = KindInfo(
                api_version, res["kind"], res["name"], bool(res.get("namespaced")))

    def info(self, api_version: str, kind: str) -> KindInfo | None:
        """The served kind, or None when the cluster does not serve it (for example, no CRD)."""
        with self._lock:
            if self._kinds is None:
                self._load_locked()
            assert self._kinds is not None
            if not self._aggregated and (api_version, kind) not in self._kinds:
                self._legacy_group_version(api_version)
            return self._kinds.get((api_version, kind))

    def serves_group(self, group: str) -> bool:
        with self._lock:
            if self._kinds is None:
                self._load_locked()
            return group in self._groups

    def kinds_in_group(self, group: str) -> list[KindInfo]:
        with self._lock:
            if self._kinds is None:
                self._load_locked()
            assert self._kinds is not None
            return [k for (av, _), k in self._kinds.items() if av.rpartition("/")[0] == group]
