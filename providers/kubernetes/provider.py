"""`KubernetesProvider`: the provider protocol on server-side apply (see docs/providers/kubernetes.md).

Ownership rules, in one place:
  * `observed` is what field manager `ecpctl` owns (Apply operation), projected from the live object;
  * a field ecpctl owned at the last apply that another manager has since taken (kubectl scale,
    kubectl edit) is drift: the plan shows it, apply takes it back (a forced apply);
  * a field ecpctl never owned that another manager holds with another value is a conflict: an
    error naming that manager, unless --force-conflicts;
  * `spec.replicas` of a Deployment that an HPA scales is never sent after creation, so the HPA
    controller owns it and ecpctl never fights it.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar
from collections.abc import Iterable, Mapping

from ecpctl.kernel import retry
from ecpctl.kernel.durations import parse_seconds
from ecpctl.kernel.owner_check import refuse_write
from ecpctl.kernel import (Conflict, Diagnostic, Invalid, NotFound, ProviderError,
                           ProviderNotConfigured)
from ecpctl.kernel import Resource, get_path
from providers.kubernetes import capacity, kinds, marks, owned, ready, ssa
from providers.kubernetes.identity import cluster_target
from providers.kubernetes.client import (KubeClient, KubeError, NotConfigured, resolve_connection,
                                         to_provider_error)
from providers.kubernetes.discovery import Discovery
from providers.kubernetes.watch import Watch
from providers.kubernetes.kinds import KindInfo, split_type
from providers.kubernetes.read import (Target, hpa_targets, index, list_objects, read_kinds,
                                       tenant_of)
from providers.protocol import (ApplyRequest, ApplyResponse, ConfigureRequest, ConfigureResponse,
                                DeleteRequest, DeleteResponse, ImportRequest, ImportResponse,
                                LiveObject, PlanRequest, PlanResponse, Provider, ReadRequest,
                                ReadResponse, ResourceState, ValidateRequest, ValidateResponse)

DEPLOYMENT = "apps/v1.Deployment"
HPA = "autoscaling/v2.HorizontalPodAutoscaler"
REPLICAS = ("spec", "replicas")
DEFAULT_POOL = 32


def _where(name: str | None, namespace: str | None) -> str:
    return f"{namespace}/{name}" if namespace else str(name)


def _meta(attrs: Mapping[str, Any]) -> tuple[str | None, str | None]:
    md = attrs.get("metadata") or {}
    return md.get("name"), md.get("namespace")


def _sensitive_values(res: Resource | ResourceState | None) -> list[str]:
    if res is None:
        return []
    out: list[str] = []

    def leaves(v: Any) -> None:
        if isinstance(v, str):
            out.append(v)
        elif isinstance(v, Mapping):
            for x in v.values():
                leaves(x)
        elif isinstance(v, list):
            for x in v:
                leaves(x)

    for path in res.sensitive:
        leaves(get_path(res.attributes, path))
    return out


def desired_view(d: Resource) -> dict[str, Any]:
    """The desired manifest in the `observed` shape, when no dry-run can tell what the server stores."""
    view = owned.shaped(d.attributes, {})
    for k, v in d.attributes.items():
        if k == "metadata":
            view["metadata"] = {**view["metadata"],
                                **{mk: mv for mk, mv in v.items() if mk not in ("name", "namespace")}}
        elif k not in ("apiVersion", "kind"):
            view[k] = v
    if d.type == kinds.SECRET_TYPE:
        owned.hide_secret_values(view)
    return view


class KubernetesProvider(Provider):
    name: ClassVar[str] = "kubernetes"

    def __init__(self) -> None:
        self._client: KubeClient | None = None
        self._discovery: Discovery | None = None
        self.manager = "ecpctl"
        self.force_conflicts = False
        self.wait = True
        self.timeout = 300.0
        self.strict = False
        self._lock = threading.Lock()
        self._hpa_desired: set[tuple[str | None, str]] = set()
        self._hpa_live: set[tuple[str | None, str]] | None = None
        self._hpa_leaving: set[tuple[str | None, str]] = set()   # targets of HPAs leaving the spec
        self._crd_groups: set[str] = set()                        # groups of CRDs applied here
        self._namespaces: set[str] | None = None     # namespaces that exist, as of the last read
        self._watch: Watch | None = None             # the deferred waits (apply's defer_wait)

    # --- configuration ---------------------------------------------------------------------------

    @classmethod
    def requires_replace(cls, rtype: str) -> tuple[str, ...]:
        return kinds.requires_replace(rtype)

    @classmethod
    def marks(cls, rtype: str) -> bool:
        return True

    def target(self) -> Mapping[str, Any]:
        return cluster_target(self.client)

    def configure(self, req: ConfigureRequest) -> ConfigureResponse:
        s, o = dict(req.settings or {}), dict(req.options or {})
        self.manager = s.get("fieldManager") or "ecpctl"
        self.force_conflicts = bool(o.get("force_conflicts", False))
        self.wait = bool(o.get("wait", True))
        self.timeout = parse_seconds(o.get("timeout", 300.0))
        self.strict = bool(o.get("strict", False))
        pool = max(10, int(o.get("parallelism") or 0) + 8, DEFAULT_POOL)
        try:
            conn = resolve_connection(s, o)
            client = KubeClient(conn, pool_size=pool, timeout=(
                parse_seconds(s.get("connectTimeout") or "10s"),
                parse_seconds(s.get("readTimeout") or "60s")))
        except NotConfigured as exc:
            return ConfigureResponse(diagnostics=(Diagnostic.error(str(exc)),))
        discovery = Discovery(client)
        try:
            _load_discovery(discovery)
        except KubeError as exc:
            client.close()
            where = f"{client.server} ({conn.describe()})"
            if exc.status == 0:
                text = (f"cannot reach the API server at {where}: {exc.message} (check the kubeconfig, "
                        "--context, or spec.providers.kubernetes in the Project)")
            elif exc.status == 401:
                text = f"the API server at {where} rejected the credentials (401 Unauthorized)"
            else:
                text = f"the API server at {where} refused discovery: {exc}"
            return ConfigureResponse(diagnostics=(Diagnostic.error(text),))
        self._client, self._discovery = client, discovery
        self._watch = Watch(client)
        return ConfigureResponse()

    @property
    def client(self) -> KubeClient:
        if self._client is None:
            raise ProviderNotConfigured("the kubernetes provider is not configured")
        return self._client

    @property
    def watch(self) -> Watch:
        if self._watch is None:
            raise ProviderNotConfigured("the kubernetes provider is not configured")
        return self._watch

    @property
    def discovery(self) -> Discovery:
        if self._discovery is None:
            raise ProviderNotConfigured("the kubernetes provider is not configured")
        return self._discovery

    def close(self) -> None:
        if self._watch is not None:
            self._watch.close()
        if self._client is not None:
            self._client.close()
            self._client = None

    # --- helpers ---------------------------------------------------------------------------------

    def _fail(self, err: KubeError, op: str, what: str, res=None) -> ProviderError:
        return to_provider_error(err, op, what, server=self.client.server,
                                 secrets=_sensitive_values(res))

    def _info(self, rtype: str) -> KindInfo | None:
        api_version, kind = split_type(rtype)
        try:
            return self.discovery.info(api_version, kind)
        except KubeError as exc:
            raise self._fail(exc, "discover", rtype) from exc

    def _need_info(self, rtype: str) -> KindInfo:
        info = self._info(rtype)
        api_version, kind = split_type(rtype)
        group = api_version.rpartition("/")[0]
        # a CRD applied moments ago may take a little while to show in discovery
        attempts = 20 if group in self._crd_groups else 1
        for _ in range(attempts):
            if info is not None:
                return info
            self.discovery.invalidate()
            info = self._info(rtype)
            if info is None and attempts > 1:
                time.sleep(0.25)
        if info is None:
            raise NotFound(_missing_kind(api_version, kind, self.discovery))
        return info

    def _remember(self, resources: Iterable[Resource]) -> None:
        found = _hpa_targets_of(r.attributes for r in resources
                                if r.provider == self.name and r.type == HPA)
        with self._lock:
            self._hpa_desired |= found

    def hpa_managed(self, d: Resource) -> bool:
        """True when an HPA scales this Deployment: then `spec.replicas` is the HPA's to set."""
        if d.type != DEPLOYMENT:
            return False
        name, ns = _meta(d.attributes)
        with self._lock:
            decided = self._hpa_by_spec(ns, name)
            if decided is not None:
                return decided
            live = self._hpa_live
        if live is None:
            info = self._info(HPA)
            objs: list[dict] = []
            if info is not None:
                try:
                    objs = list_objects(self.client, info)
                except KubeError as exc:
                    raise self._fail(exc, "list", info.resource_name) from exc
            live = hpa_targets(objs)
            with self._lock:
                self._hpa_live = live if self._hpa_live is None else self._hpa_live | live
        return (ns, name) in live

    def _get(self, info: KindInfo, name: str, ns: str | None, res=None) -> dict | None:
        try:
            return self.client.request("GET", info.object_path(name, ns), verb="get")
        except KubeError as exc:
            if exc.not_found:
                return None
            raise self._fail(exc, "get", f"{info.kind} {_where(name, ns)}", res) from exc

    # --- validate --------------------------------------------------------------------------------

    def validate(self, req: ValidateRequest) -> ValidateResponse:
        mine = [r for r in req.resources if r.provider == self.name]
        self._remember(mine)
        diags: list[Diagnostic] = []
        defined = _crd_defined_kinds(mine)
        first: dict[tuple[str, str], Resource] = {}
        for r in mine:
            first.setdefault(split_type(r.type), r)
        for (api_version, kind), r in sorted(first.items()):
            if (api_version.rpartition("/")[0], kind) in defined:
                continue
            if self._info(r.type) is None:
                diags.append(Diagnostic.error(_missing_kind(api_version, kind, self.discovery),
                                              address=r.address))
        if any(r.type in capacity.WORKLOADS for r in mine):
            node_info = kinds.builtin("v1", "Node")
            assert node_info is not None
            try:
                nodes = list_objects(self.client, node_info, selector=None)
            except KubeError as exc:
                if exc.status != 403:
                    raise self._fail(exc, "list", "nodes") from exc
                nodes = None   # not allowed to see nodes: no capacity check, and the plan says so
                diags.append(_unchecked(req.strict or self.strict, "capacity not checked",
                                        "nodes", "the cluster's allocatable is unknown"))
            if nodes is not None:
                strict = req.strict or self.strict
                found = capacity.check(mine, capacity.allocatable(nodes), strict=strict)
                diags.extend(found)
                diags.extend(self._placement(mine, nodes, req, strict, found))
        return ValidateResponse(diagnostics=tuple(diags))

    def _placement(self, mine, nodes, req: ValidateRequest, strict: bool, found) -> list[Diagnostic]:
        """Per-node fit beside every pod the cluster runs (one LIST of pods)."""
        pod_info = kinds.builtin("v1", "Pod")
        assert pod_info is not None
        try:
            pods = list_objects(self.client, pod_info, selector=None,
                                field_selector="status.phase!=Succeeded,status.phase!=Failed")
        except KubeError as exc:
            if exc.status != 403:
                raise self._fail(exc, "list", "pods") from exc
            # not allowed to see pods: the whole-cluster check is what is left, and the plan says so
            return [_unchecked(strict, "placement on nodes not checked", "pods",
                               "only the cluster-wide totals were checked")]
        reported = {r.tenant for r in mine if any(d.summary.startswith(f"tenant {r.tenant}: ")
                                                  for d in found)}
        leaving = [s.attributes for s in req.leaving if s.type in capacity.WORKLOADS]
        return capacity.check_placement(mine, nodes, pods, leaving, strict=strict,
                                        reported=reported)

    # --- read ------------------------------------------------------------------------------------

    def read(self, req: ReadRequest) -> ReadResponse:
        self._remember(req.desired)
        desired_hpas = {r.address for r in req.desired if r.type == HPA}
        leaving = _hpa_targets_of(s.attributes for s in req.prior
                                  if s.provider == self.name and s.type == HPA
                                  and s.address not in desired_hpas)
        with self._lock:
            self._hpa_leaving |= leaving - self._hpa_desired
        desired_attrs = {r.address: r for r in req.desired if r.provider == self.name}
        prior_addresses = {s.address for s in req.prior if s.provider == self.name}
        by_kind: dict[KindInfo, list[Target]] = {}
        seen: set[str] = set()
        wanted: list[tuple[str, str, Mapping[str, Any]]] = []
        for r in req.desired:
            if r.provider == self.name:
                wanted.append((r.address, r.type, r.attributes))
                seen.add(r.address)
        for s in req.prior:
            if s.provider == self.name and s.address not in seen:
                wanted.append((s.address, s.type, s.attributes or s.observed))
        infos: dict[str, KindInfo | None] = {}
        for address, rtype, attrs in wanted:
            if rtype not in infos:
                infos[rtype] = self._info(rtype)
            info = infos[rtype]
            if info is None:
                continue        # kind not served (CRD missing): nothing of it exists; validate says so
            name, ns = _meta(attrs)
            if not name:
                continue
            api_version, kind = split_type(rtype)
            by_kind.setdefault(info, []).append(Target(address, api_version, kind, name, ns,
                                                       tenant_of(attrs)))
        ids = req.addresses()
        live: dict[str, LiveObject] = {}
        try:
            results = list(read_kinds(self.client, by_kind))
        except KubeError as exc:
            raise self._fail(exc, "list", "objects") from exc
        for info, objs in results:
            if info.kind == "HorizontalPodAutoscaler":
                with self._lock:
                    self._hpa_live = (self._hpa_live or set()) | hpa_targets(objs)
            if (info.api_version, info.kind) == ("v1", "Namespace"):
                with self._lock:
                    self._namespaces = {(o.get("metadata") or {}).get("name") for o in objs}
            idx = index(objs)
            for t in by_kind.get(info, ()):
                obj = idx.get((t.namespace if info.namespaced else None, t.name))
                if obj is None or _terminating(obj):
                    continue        # being deleted (a delete was cut short): it is going, not live
                live[t.address] = LiveObject(addr=ids[t.address],
                                             observed=owned.observed(obj, self.manager),
                                             private={"object": obj}, owner=marks.owner_of(obj))
        # In state but not found by label (imported, or its label removed out of band): one GET
        # each for those alone; a no-op plan has none.
        # Also, to be created but not found by label: an object of that name may be there unmarked
        # (made by hand, or by another tool), which the ownership check must see; only in a
        # namespace that exists, so a new tenant's plan sends none.
        with self._lock:
            known_ns = self._namespaces
        missing = [(info, t) for info, targets in by_kind.items() for t in targets
                   if t.address not in live and (
                       t.address in prior_addresses
                       or (t.address in desired_attrs and info.kind != "Namespace"
                           and (not info.namespaced or known_ns is None
                                or t.namespace in known_ns)))]
        if missing:
            with ThreadPoolExecutor(max_workers=min(8, len(missing))) as pool:
                for (_info, t), obj in zip(missing, pool.map(
                        lambda it: self._get(it[0], it[1].name, it[1].namespace), missing)):
                    if obj is not None and not _terminating(obj):
                        live[t.address] = LiveObject(ids[t.address], owned.observed(obj, self.manager),
                                                     {"object": obj}, marks.owner_of(obj))
        for address, lv in list(live.items()):
            d = desired_attrs.get(address)
            if d is not None and d.type == DEPLOYMENT:
                live[address] = LiveObject(lv.addr, self._replicas_view(d, lv.observed), lv.private,
                                           lv.owner)
        return ReadResponse(live=live, requests=self.client.counts())

    def _replicas_view(self, d: Resource, view: Mapping[str, Any]) -> Mapping[str, Any]:
        """`observed` of a Deployment, normalized by who should own `spec.replicas`.

        HPA-managed: replicas never count (while ecpctl still owns them, the view differs from
        state and the plan hands them over). Otherwise, when the spec sets replicas but ecpctl does
        not own them (autoscaling was just disabled), a `None` marks them to be taken back.
        """
        has = get_path(view, "spec.replicas") is not None
        if self._hpa_managed_known(d):
            return owned.drop_path(view, REPLICAS) if has else view
        if not has and get_path(d.attributes, "spec.replicas") is not None:
            out = dict(view)
            out["spec"] = {**(view.get("spec") or {}), "replicas": None}
            return out
        return view

    def _hpa_managed_known(self, d: Resource) -> bool:
        """hpa_managed() from what read() already knows, without a LIST of its own."""
        name, ns = _meta(d.attributes)
        with self._lock:
            decided = self._hpa_by_spec(ns, name)
            if decided is not None:
                return decided
            return self._hpa_live is not None and (ns, name) in self._hpa_live

    def _hpa_by_spec(self, ns: str | None, name: str) -> bool | None:
        """What the desired HPAs decide for a Deployment (caller holds the lock); None: ask live."""
        if (ns, name) in self._hpa_desired:
            return True
        if (ns, name) in self._hpa_leaving:
            return False
        return None

    # --- plan ------------------------------------------------------------------------------------

    def _manifest(self, d: Resource, *, exists: bool) -> tuple[dict[str, Any], bool]:
        """What to send: the desired manifest, without `spec.replicas` for an existing HPA target."""
        hpa = self.hpa_managed(d)
        if hpa and exists:
            return marks.stamp(owned.drop_path(d.attributes, REPLICAS), self.owner), True
        return marks.stamp(d.attributes, self.owner), hpa

    def _split_conflicts(self, conflicts: list[ssa.Conflict], prior: ResourceState | None,
                         owned_now: Mapping[str, Any], *, reclaim_replicas: bool = False,
                         ) -> tuple[list[ssa.Conflict], list[ssa.Conflict]]:
        """(taken from ecpctl since the last apply: drift to restore, never ecpctl's: real conflicts).

        `reclaim_replicas`: the spec no longer autoscales this Deployment, so `spec.replicas` held
        by the hand-over manager or an HPA controller (through /scale) is taken back.
        """
        lost: list[ssa.Conflict] = []
        foreign: list[ssa.Conflict] = []
        adopted = prior is not None and bool((prior.private or {}).get("adopted"))
        for c in conflicts:
            # an import is consent to take over the fields the spec sets (recorded in attributes)
            was = prior is not None and (owned.resolve(prior.observed, c.field)[0]
                                         or (adopted and owned.resolve(prior.attributes, c.field)[0]))
            still = owned.resolve(owned_now, c.field)[0]
            if reclaim_replicas and c.field == ".spec.replicas" and (
                    c.manager == ssa.HANDOVER_MANAGER or c.subresource == "scale"):
                was, still = True, False
            (lost if was and not still else foreign).append(c)
        return lost, foreign

    def plan(self, req: PlanRequest) -> PlanResponse:
        d = req.desired
        info = self._info(d.type)
        static = kinds.requires_replace(d.type)
        if info is None:
            return PlanResponse(planned=desired_view(d), requires_replace=static)
        name, ns = _meta(d.attributes)
        with self._lock:
            known_ns = self._namespaces
        if info.namespaced and ns and known_ns is not None and ns not in known_ns:
            # its namespace is created by this same apply: the server cannot dry-run into it yet
            return PlanResponse(planned=desired_view(d), requires_replace=static)
        live_obj = (req.live.private or {}).get("object") if req.live is not None else None
        manifest, hpa = self._manifest(d, exists=req.live is not None)
        reclaim = d.type == DEPLOYMENT and not hpa
        what = f"{info.kind} {_where(name, ns)}"
        try:
            result = ssa.apply_manifest(self.client, info, manifest, manager=self.manager,
                                        force=self.force_conflicts, dry_run=True)
        except KubeError as exc:
            if exc.conflict:
                lost, foreign = self._split_conflicts(
                    ssa.conflicts_of(exc), req.prior,
                    owned.observed(live_obj, self.manager) if live_obj is not None else {},
                    reclaim_replicas=reclaim)
                if foreign:
                    raise Conflict(ssa.describe_conflicts(foreign)) from exc
                try:
                    result = ssa.apply_manifest(self.client, info, manifest, manager=self.manager,
                                                force=True, dry_run=True)
                except KubeError as exc2:
                    raise self._fail(exc2, "dry-run apply", what, d) from exc2
            elif exc.not_found:
                return PlanResponse(planned=desired_view(d), requires_replace=static)
            elif exc.status == 422 and "immutable" in exc.message:
                fields = tuple(sorted({_field_of(c) for c in exc.causes if "immutable" in
                                       (c.get("message") or "")} - {""}))
                return PlanResponse(planned=desired_view(d), requires_replace=fields or static)
            else:
                raise self._fail(exc, "dry-run apply", what, d) from exc
        planned = owned.observed(result, self.manager)
        before = None
        if live_obj is not None:
            now = owned.manager_fields(live_obj, self.manager)
            fields = owned.union(now, owned.manager_fields(result, self.manager))
            before = owned.shaped(live_obj, fields)
            prior_had = req.prior is not None and get_path(req.prior.observed, "spec.replicas") is not None
            if reclaim and not owned.has_path(now, *REPLICAS) and not prior_had:
                # taking replicas back from an autoscaler: show them as newly managed
                before = owned.drop_path(before, REPLICAS)
        return PlanResponse(planned=planned, before=before, requires_replace=static)

    # --- apply -----------------------------------------------------------------------------------

    def _apply(self, d: Resource, info: KindInfo, manifest: Mapping[str, Any],
               prior: ResourceState | None) -> dict:
        name, ns = _meta(d.attributes)
        what = f"{info.kind} {_where(name, ns)}"
        try:
            return ssa.apply_manifest(self.client, info, manifest, manager=self.manager,
                                      force=self.force_conflicts)
        except KubeError as exc:
            if not exc.conflict:
                raise self._fail(exc, "apply", what, d) from exc
            conflicts = ssa.conflicts_of(exc)
        live = self._get(info, name, ns, d)
        lost, foreign = self._split_conflicts(
            conflicts, prior, owned.observed(live, self.manager) if live else {},
            reclaim_replicas=d.type == DEPLOYMENT and get_path(manifest, "spec.replicas") is not None)
        if foreign:
            raise Conflict(ssa.describe_conflicts(foreign))
        try:
            # every conflicting field was ecpctl's at the last apply: take back what was changed
            return ssa.apply_manifest(self.client, info, manifest, manager=self.manager, force=True)
        except KubeError as exc:
            raise self._fail(exc, "apply", what, d) from exc

    def _handover(self, info: KindInfo, d: Resource, replicas: int) -> dict:
        """Give `spec.replicas` to a separate manager so that ecpctl can stop sending it unharmed."""
        name, ns = _meta(d.attributes)
        try:
            return ssa.apply_manifest(self.client, info, ssa.replicas_patch(d.attributes, replicas),
                                      manager=ssa.HANDOVER_MANAGER, force=True)
        except KubeError as exc:
            raise self._fail(exc, "hand replicas over for", f"Deployment {_where(name, ns)}") from exc

    def apply(self, req: ApplyRequest) -> ApplyResponse:
        d = req.desired
        info = self._need_info(d.type)
        name, ns = _meta(d.attributes)

        def progress(msg: str) -> None:
            if req.progress is not None:
                req.progress(d.address, msg)

        if req.replace:
            ready.wait_gone(self.client, info, name, ns, timeout=self.timeout,
                            until=req.deadline, progress=progress)
        elif self.check_on_write:
            self._check_owner(info, name, ns, req.prior, d)

        manifest: Mapping[str, Any] = marks.stamp(d.attributes, self.owner)
        hand_over_after: int | None = None
        if self.hpa_managed(d):
            manifest = owned.drop_path(manifest, REPLICAS)
            prior_owned = req.prior is not None and get_path(req.prior.observed, "spec.replicas") is not None
            if req.prior is None or prior_owned:
                live = self._get(info, name, ns, d)
                if live is None:
                    hand_over_after = int(get_path(d.attributes, "spec.replicas") or 1)
                elif owned.has_path(owned.manager_fields(live, self.manager), *REPLICAS):
                    self._handover(info, d, int(get_path(live, "spec.replicas") or 1))
        result = self._apply(d, info, manifest, req.prior)
        if _terminating(result):
            # an earlier delete (cut short by a crash) is still finishing: the object is going, so
            # wait until it is gone and create it anew
            ready.wait_gone(self.client, info, name, ns, timeout=self.timeout,
                            until=req.deadline, progress=progress)
            result = self._apply(d, info, manifest, None)
        if hand_over_after is not None:
            result = self._handover(info, d, hand_over_after)
        if info.kind == "CustomResourceDefinition":
            with self._lock:
                self._crd_groups.add((d.attributes.get("spec") or {}).get("group"))
            self.discovery.invalidate()
        pending = None
        if self.wait:
            def fail(exc: KubeError) -> BaseException:
                return self._fail(exc, "wait for", f"{info.kind} {_where(name, ns)}", d)
            if req.defer_wait:
                pending = self.watch.ready(info, result, timeout=self.timeout, until=req.deadline,
                                           progress=progress, fail=fail)
            else:
                try:
                    ready.wait_ready(self.client, info, result, timeout=self.timeout,
                                     until=req.deadline, progress=progress)
                except KubeError as exc:
                    raise fail(exc) from exc
        md = result.get("metadata") or {}
        state = ResourceState(
            addr=d.addr, attributes=d.attributes, observed=owned.observed(result, self.manager),
            sensitive=tuple(d.sensitive), depends_on=tuple(d.depends_on),
            private={"uid": md.get("uid"), "resourceVersion": md.get("resourceVersion")})
        return ApplyResponse(state=state, pending=pending)

    # --- delete ----------------------------------------------------------------------------------

    def delete(self, req: DeleteRequest) -> DeleteResponse:
        p = req.prior
        info = self._info(p.type)
        if info is None:
            return DeleteResponse()         # the kind is gone from the cluster, and its objects with it
        name, ns = _meta(p.attributes or p.observed)
        body: dict[str, Any] = {"apiVersion": "v1", "kind": "DeleteOptions",
                                "propagationPolicy": "Foreground"}
        if self.check_on_write:
            uid = self._check_owner(info, name, ns, p, verb="delete")
            if uid is None:
                return DeleteResponse()     # already gone
            # the object whose mark was read, not one made again under its name since
            body["preconditions"] = {"uid": uid}
        try:
            self.client.request("DELETE", info.object_path(name, ns), verb="delete", body=body,
                                content_type="application/json")
        except KubeError as exc:
            if exc.not_found:
                return DeleteResponse()
            raise self._fail(exc, "delete", f"{info.kind} {_where(name, ns)}") from exc
        if not self.wait:
            return DeleteResponse()

        def progress(msg: str) -> None:
            if req.progress is not None:
                req.progress(p.address, msg)

        def fail(exc: KubeError) -> BaseException:
            return self._fail(exc, "wait for deletion of", f"{info.kind} {_where(name, ns)}")
        if req.defer_wait:
            return DeleteResponse(pending=self.watch.gone(
                info, name, ns, p.attributes or p.observed, timeout=self.timeout,
                until=req.deadline, progress=progress, fail=fail))
        try:
            ready.wait_gone(self.client, info, name, ns, timeout=self.timeout,
                            until=req.deadline, progress=progress)
        except KubeError as exc:
            raise fail(exc) from exc
        return DeleteResponse()

    def _check_owner(self, info: KindInfo, name: str, ns: str | None,
                     prior: ResourceState | None, res=None, *, verb: str | None = None
                     ) -> str | None:
        """The live object's uid after checking its mark against this state (one GET; refused
        as the plan would: ecpctl.kernel.owner_check), None when there is no such object."""
        live = self._get(info, name, ns, res)
        if live is None:
            return None
        imported = prior is not None and bool((prior.private or {}).get("adopted"))
        refuse_write(verb or ("change" if prior is not None else "create over"),
                     f"{info.kind} {_where(name, ns)}", self.owner, marks.owner_of(live),
                     recorded=prior is not None, imported=imported)
        return (live.get("metadata") or {}).get("uid")

    # --- import ----------------------------------------------------------------------------------

    def import_resource(self, req: ImportRequest) -> ImportResponse:
        d = req.desired
        info = self._need_info(req.type)
        ns, _, name = req.id.rpartition("/")
        ns = ns or None
        want_ns = _meta(d.attributes)[1] if d is not None else None
        if info.namespaced and ns is None:
            if want_ns is None:
                raise Invalid(f"import ID {req.id!r}: a {info.kind} is namespaced; use NAMESPACE/NAME")
            ns = want_ns
        if not info.namespaced and ns is not None:
            raise Invalid(f"import ID {req.id!r}: a {info.kind} is cluster-scoped; use NAME")
        if d is not None:
            want_name = _meta(d.attributes)[0]
            if (want_ns, want_name) != (ns, name):
                raise Invalid(f"import ID {req.id!r} names {_where(name, ns)} but the spec "
                                    f"declares {req.address} as {_where(want_name, want_ns)}")
        live = self._get(info, name, ns, d)
        if live is None:
            return ImportResponse(state=None)
        mine = owned.manager_fields(live, self.manager)
        attributes = owned.shaped(live, mine)
        if not mine and d is not None:
            # ecpctl owns nothing yet: take the live values of the fields the spec sets, as the
            # server would own them after an apply (asked with a forced dry-run)
            manifest, _ = self._manifest(d, exists=True)
            try:
                dry = ssa.apply_manifest(self.client, info, manifest, manager=self.manager,
                                         force=True, dry_run=True)
            except KubeError as exc:
                raise self._fail(exc, "dry-run apply", f"{info.kind} {_where(name, ns)}", d) from exc
            attributes = owned.shaped(live, owned.manager_fields(dry, self.manager))
        md = live.get("metadata") or {}
        state = ResourceState(
            addr=req.addr, attributes=attributes, observed=owned.observed(live, self.manager),
            sensitive=tuple(d.sensitive) if d is not None else (),
            depends_on=tuple(d.depends_on) if d is not None else (),
            private={"uid": md.get("uid"), "resourceVersion": md.get("resourceVersion"),
                     "adopted": True})
        return ImportResponse(state=state)


def _load_discovery(discovery: Discovery) -> None:
    """Discovery, read again under the retry policy while the server throttles (429) or fails
    (5xx); an unreachable server fails at once, with the message that says where it was looked for."""
    retry.DEFAULT.call(discovery.load, retry_if=lambda e: isinstance(e, KubeError)
                       and e.retryable and e.status != 0)


def _hpa_targets_of(hpas: Iterable[Mapping[str, Any]]) -> set[tuple[str | None, str]]:
    out = set()
    for attrs in hpas:
        ref = (attrs.get("spec") or {}).get("scaleTargetRef") or {}
        if ref.get("kind") == "Deployment" and ref.get("name"):
            out.add((_meta(attrs)[1], ref["name"]))
    return out


# --- messages ------------------------------------------------------------------------------------

def _field_of(cause: Mapping[str, Any]) -> str:
    f = cause.get("field") or ""
    return f[1:] if f.startswith(".") else f


def _crd_defined_kinds(resources: Iterable[Resource]) -> set[tuple[str, str]]:
    """(group, kind) of the CRDs the desired state itself creates (applied before their objects)."""
    out = set()
    for r in resources:
        if r.type == kinds.CRD_TYPE:
            spec = r.attributes.get("spec") or {}
            kind = (spec.get("names") or {}).get("kind")
            if spec.get("group") and kind:
                out.add((spec["group"], kind))
    return out


def _missing_kind(api_version: str, kind: str, discovery: Discovery) -> str:
    group, _, version = api_version.rpartition("/")
    if kinds.is_builtin_group(api_version):
        return f"the API server does not serve {api_version} {kind} (is the cluster too old?)"
    crd = kinds.crd_name(api_version, kind)
    hint = kinds.CRD_HINTS.get(group, f"install the CRD that defines {kind}")
    other = [k.api_version for k in discovery.kinds_in_group(group) if k.kind == kind]
    if other:
        return (f"the cluster's CRD {crd} does not serve version {version} (it serves "
                f"{', '.join(sorted(other))}; {hint})")
    return f"the cluster has no CRD {crd} ({hint})"


def _terminating(obj: Mapping[str, Any]) -> bool:
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


def _unchecked(strict: bool, what: str, resource: str, consequence: str) -> Diagnostic:
    """A capacity check that could not run for want of permission: a warning, an error with
    --strict (which asks for the check to hold)."""
    make = Diagnostic.error if strict else Diagnostic.warning
    return make(f"{what}: not allowed to list {resource} (403); {consequence}",
                detail=f"grant list on {resource} (ecpctl rbac prints the rules) to check it")
