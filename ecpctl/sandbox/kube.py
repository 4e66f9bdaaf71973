"""A real local Kubernetes control plane for tests and demos.

``ControlPlane`` runs etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok on
127.0.0.1 with random free ports and a temporary directory, then registers fake nodes (managed by
kwok) with CPU, memory, pods and ``nvidia.com/gpu`` capacity, so that the real scheduler places
pods on them and kwok marks them Running and Ready.

    with ControlPlane(install_crds=True) as cp:
        cp.kubectl("get", "nodes")
        print(cp.kubeconfig, cp.server)

Binaries come from ``ecpctl.sandbox.binaries``: `$KUBEBUILDER_ASSETS`, `PATH`, or built from Go
modules into a cache outside the repo.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import binaries, certs

HERE = Path(__file__).resolve().parent
CRDS_FILE = HERE / "crds" / "prometheus-operator.yaml"
KWOK_STAGES_FILE = HERE / "kwok" / "stages.yaml"
GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"
GPU_COUNT_LABEL = "nvidia.com/gpu.count"
GPU_PRODUCT = "Tesla-T4"          # what NVIDIA's GPU feature discovery labels a T4 node with
CRD_NAMES = (
    "servicemonitors.monitoring.coreos.com",
    "prometheusrules.monitoring.coreos.com",
    "alertmanagerconfigs.monitoring.coreos.com",
)

SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"
POD_CIDR = "10.244.0.0/16"
NODE_IP_PREFIX = "10.245"
KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"
KWOK_NODE_VALUE = "fake"

DEFAULT_NODE_CAPACITY: Mapping[str, str] = {
    "cpu": "16",
    "memory": "64Gi",
    "pods": "110",
    "nvidia.com/gpu": "2",
    "ephemeral-storage": "100Gi",
}

COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")


class ControlPlaneError(RuntimeError):
    """The control plane (or one of its components) failed to start or misbehaved."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.rstrip().splitlines()[-lines:])


@dataclass
class _Proc:
    name: str
    args: list[str]
    log: Path
    popen: subprocess.Popen | None = None
    env: dict[str, str] | None = None

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        logf = open(self.log, "ab")
        try:
            logf.write(f"\n=== {time.strftime('%H:%M:%S')} starting: {' '.join(self.args)}\n".encode())
            logf.flush()
            self.popen = subprocess.Popen(
                self.args,
                stdin=subprocess.DEVNULL,
                stdout=logf,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: stop() kills the whole group
                env=self.env,
            )
        finally:
            logf.close()

    def stop(self, timeout: float = 10.0, graceful: bool = True) -> None:
        """SIGTERM the process group, SIGKILL after ``timeout``; ``graceful=False`` kills at once."""
        if self.popen is None:
            return
        if self.popen.poll() is None:
            _killpg(self.popen.pid, signal.SIGTERM if graceful else signal.SIGKILL)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                _killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(5)
        else:
            # The leader is gone; make sure nothing it forked lingers in its group.
            _killpg(self.popen.pid, signal.SIGKILL)
        self.popen = None


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


@dataclass
class ControlPlane:
    """A local control plane; use as a context manager or call ``start()`` / ``stop()``.

    nodes:            number of fake nodes registered (named ``kwok-node-0`` ...)
    node_capacity:    capacity (= allocatable) of each fake node
    taint_nodes:      add kwok's ``kwok.x-k8s.io/node=fake:NoSchedule`` taint to the nodes; off by
                      default because this cluster has no other nodes, so a taint would only force
                      every workload under test to carry a toleration
    apiserver_args:   extra kube-apiserver flags, e.g. ``["--max-requests-inflight=5"]``
    install_crds:     apply ecpctl/sandbox/crds/prometheus-operator.yaml and wait for Established
    gpu_product:      `nvidia.com/gpu.product` label of nodes with GPUs (GPU feature discovery's)
    pod_ready_delay:  seconds kwok lets a scheduled pod wait before it is ready (a readiness probe's
                      pace; 0, the default, makes it ready at once), for the readiness-wait benches
    workdir:          directory for data, certs and logs (default: a new temp dir, removed by stop())
    """

    nodes: int = 3
    node_capacity: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_NODE_CAPACITY))
    taint_nodes: bool = False
    apiserver_args: Sequence[str] = ()
    install_crds: bool = False
    workdir: str | Path | None = None
    start_timeout: float = 120.0
    build_if_missing: bool = True
    gpu_product: str = GPU_PRODUCT
    pod_ready_delay: float = 0.0

    def __post_init__(self) -> None:
        self._procs: dict[str, _Proc] = {}
        self._own_workdir = self.workdir is None
        self._dir: Path | None = Path(self.workdir) if self.workdir else None
        self._binaries: dict[str, Path] = {}
        self._ports: dict[str, int] = {}
        self._started = False
        self.certs: certs.CertPaths | None = None
        self.resolution: binaries.Resolution | None = None

    # ------------------------------------------------------------------ public properties

    @property
    def dir(self) -> Path:
        if self._dir is None:
            raise ControlPlaneError("control plane not started")
        return self._dir

    @property
    def kubeconfig(self) -> Path:
        return self.dir / "kubeconfig"

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self._ports['apiserver']}"

    @property
    def bin_dir(self) -> Path:
        """Directory holding kube-apiserver, kube-controller-manager, kube-scheduler and kubectl."""
        return self.binaries["kubectl"].parent

    @property
    def binaries(self) -> dict[str, Path]:
        if not self._binaries:
            self._binaries = binaries.resolve().paths
        return self._binaries

    @property
    def log_dir(self) -> Path:
        return self.dir / "logs"

    @property
    def etcd_url(self) -> str:
        return f"http://127.0.0.1:{self._ports['etcd']}"

    def pids(self) -> dict[str, int]:
        return {name: p.pid for name, p in self._procs.items() if p.alive() and p.pid}

    def log_path(self, component: str) -> Path:
        return self.log_dir / f"{component}.log"

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> ControlPlane:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self, install_crds: bool | None = None) -> ControlPlane:
        if self._started:
            return self
        if install_crds is not None:
            self.install_crds = install_crds
        if self.build_if_missing:
            self.resolution = binaries.ensure()
        else:
            self.resolution = binaries.resolve()
            if self.resolution.missing:
                raise ControlPlaneError(
                    "control-plane binaries not found: " + ", ".join(self.resolution.missing)
                    + " (run: ecpctl sandbox build)")
        self._binaries = self.resolution.paths
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="ecpctl-kube-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        self._started = True
        try:
            self._start_all()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        # Reverse order: clients first, etcd last.
        for name in reversed(COMPONENTS):
            proc = self._procs.get(name)
            if proc:
                proc.stop()
        self._procs.clear()
        if self._own_workdir and self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
        self._started = False

    # ------------------------------------------------------------------ apiserver faults

    def stop_apiserver(self, graceful: bool = False, timeout: float = 75.0) -> None:
        """Stop kube-apiserver only (etcd, controllers, scheduler and kwok keep running).

        By default it is killed (SIGKILL), like a crash, and is gone at once.  ``graceful=True``
        sends SIGTERM and waits: kube-apiserver then drains requests, but while controllers hold
        watches open it takes up to its 60 s HTTP shutdown timeout to exit.
        """
        proc = self._procs.get("kube-apiserver")
        if proc:
            proc.stop(timeout=timeout, graceful=graceful)

    def start_apiserver(self, extra_args: Sequence[str] | None = None) -> None:
        """(Re)start kube-apiserver on the same port; ``extra_args`` replaces the extra flags."""
        if extra_args is not None:
            self.apiserver_args = tuple(extra_args)
        proc = self._procs.get("kube-apiserver")
        if proc and proc.alive():
            return
        self._start_apiserver_process()
        self._wait_apiserver_ready()

    def restart_apiserver(self, extra_args: Sequence[str] | None = None, graceful: bool = False) -> None:
        self.stop_apiserver(graceful=graceful)
        self.start_apiserver(extra_args)

    def apiserver_running(self) -> bool:
        proc = self._procs.get("kube-apiserver")
        return bool(proc and proc.alive())

    # ------------------------------------------------------------------ helpers for tests

    def kubectl(
        self,
        *args: str,
        input: str | None = None,
        check: bool = True,
        timeout: float = 120.0,
    ) -> subprocess.CompletedProcess:
        cmd = [str(self.binaries["kubectl"]), "--kubeconfig", str(self.kubeconfig), *args]
        proc = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise ControlPlaneError(
                f"kubectl {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr.strip()}"
            )
        return proc

    def kubectl_json(self, *args: str) -> dict:
        return json.loads(self.kubectl(*args, "-o", "json").stdout)

    def api_client(self):
        """A ``kubernetes.client.ApiClient`` for this control plane."""
        from kubernetes import config as k8s_config

        return k8s_config.new_client_from_config(config_file=str(self.kubeconfig))

    def get(self, path: str, timeout: float = 5.0) -> tuple[int, str]:
        """GET ``path`` on the API server as the admin user; returns (status, body)."""
        req = urllib.request.Request(self.server + path)
        try:
            with urllib.request.urlopen(req, context=self._ssl_context(), timeout=timeout) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace")

    def create_nodes(self, count: int, start_index: int | None = None,
                     capacity: Mapping[str, str] | None = None) -> list[str]:
        """Register ``count`` more fake nodes and wait until they are Ready; returns their names."""
        first = self._node_count() if start_index is None else start_index
        names = [f"kwok-node-{i}" for i in range(first, first + count)]
        docs = [self._node_manifest(n, capacity or self.node_capacity, i)
                for i, n in enumerate(names, first)]
        self.kubectl("apply", "-f", "-",
                     input=json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}))
        self._wait_nodes_ready(names)
        return names

    # ------------------------------------------------------------------ internals

    def _ssl_context(self) -> ssl.SSLContext:
        assert self.certs is not None
        ctx = ssl.create_default_context(cafile=str(self.certs.ca_crt))
        ctx.load_cert_chain(str(self.certs.admin_crt), str(self.certs.admin_key))
        return ctx

    def _start_all(self) -> None:
        self.certs = certs.generate(self.dir / "pki")
        self._ports = {
            "etcd": free_port(),
            "etcd-peer": free_port(),
            "apiserver": free_port(),
            "controller-manager": free_port(),
            "scheduler": free_port(),
        }
        self._write_kubeconfig()

        deadline = time.monotonic() + self.start_timeout
        self._start_etcd()
        self._wait(
            "etcd",
            lambda: _http_ok(self.etcd_url + "/health", expect='"health":"true"'),
            deadline,
        )
        self._start_apiserver_process()
        self._wait_apiserver_ready(deadline)
        self._start_controller_manager()
        self._start_scheduler()
        self._start_kwok()
        self._wait(
            "kube-controller-manager",
            lambda: _https_ok(f"https://127.0.0.1:{self._ports['controller-manager']}/healthz"),
            deadline,
        )
        self._wait(
            "kube-scheduler",
            lambda: _https_ok(f"https://127.0.0.1:{self._ports['scheduler']}/healthz"),
            deadline,
        )
        # The service-account controller creates "default" in every namespace; pods need it.
        self._wait(
            "kube-controller-manager",
            lambda: self.kubectl("get", "serviceaccount", "default", "-n", "default",
                                 check=False).returncode == 0,
            deadline,
            what="default service account",
        )
        if self.nodes:
            self.create_nodes(self.nodes, start_index=0)
        if self.install_crds:
            self.apply_crds()

    def apply_crds(self, timeout: float = 60.0) -> None:
        self.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRDS_FILE))
        # Polled here rather than with `kubectl wait`, which fails at once ("conditions accessor
        # error") when it looks before the apiextensions controller has written any condition.
        deadline = time.monotonic() + timeout
        pending = set(CRD_NAMES)
        while pending:
            got = self.kubectl_json("get", "crd", *sorted(pending))
            items = got.get("items", []) if got.get("kind") == "List" else [got]  # one name: the object
            for crd in items:
                conditions = (crd.get("status") or {}).get("conditions") or []
                if any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions):
                    pending.discard(crd["metadata"]["name"])
            if not pending:
                return
            if time.monotonic() > deadline:
                raise ControlPlaneError(f"CRDs not Established after {timeout:.0f}s: "
                                        f"{', '.join(sorted(pending))}")
            time.sleep(0.2)

    def _wait(self, component: str, ready, deadline: float, what: str | None = None) -> None:
        what = what or f"{component} to become healthy"
        while True:
            proc = self._procs.get(component)
            if proc is not None and not proc.alive():
                raise ControlPlaneError(
                    f"{component} exited while waiting for {what}; last lines of {proc.log}:\n"
                    f"{_tail(proc.log)}"
                )
            try:
                if ready():
                    return
            except Exception:
                pass
            if time.monotonic() > deadline:
                log = self.log_path(component)
                raise ControlPlaneError(f"timed out waiting for {what}; last lines of {log}:\n{_tail(log)}")
            time.sleep(0.2)

    def _spawn(self, name: str, args: list[str], env: dict[str, str] | None = None) -> None:
        proc = _Proc(name, args, self.log_path(name), env=env)
        proc.start()
        self._procs[name] = proc

    def _start_etcd(self) -> None:
        client = self.etcd_url
        peer = f"http://127.0.0.1:{self._ports['etcd-peer']}"
        self._spawn(
            "etcd",
            [
                str(self.binaries["etcd"]),
                "--name=testenv",
                f"--data-dir={self.dir / 'etcd'}",
                f"--listen-client-urls={client}",
                f"--advertise-client-urls={client}",
                f"--listen-peer-urls={peer}",
                f"--initial-advertise-peer-urls={peer}",
                f"--initial-cluster=testenv={peer}",
                "--initial-cluster-state=new",
                "--unsafe-no-fsync=true",
                "--quota-backend-bytes=4294967296",
                "--log-level=warn",
            ],
        )

    def _apiserver_command(self) -> list[str]:
        c = self.certs
        assert c is not None
        return [
            str(self.binaries["kube-apiserver"]),
            f"--etcd-servers={self.etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={self._ports['apiserver']}",
            f"--cert-dir={self.dir / 'apiserver-certs'}",
            f"--tls-cert-file={c.apiserver_crt}",
            f"--tls-private-key-file={c.apiserver_key}",
            f"--client-ca-file={c.ca_crt}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={c.sa_pub}",
            f"--service-account-signing-key-file={c.sa_key}",
            f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
            "--authorization-mode=Node,RBAC",
            # The apiserver listens on loopback only, which an Endpoints object may not hold;
            # nothing here talks to the in-cluster "kubernetes" service, so skip maintaining it.
            "--endpoint-reconciler-type=none",
            "--allow-privileged=true",
            "--storage-backend=etcd3",
            "--v=1",
            *self.apiserver_args,
        ]

    def _start_apiserver_process(self) -> None:
        self._spawn("kube-apiserver", self._apiserver_command())

    def _wait_apiserver_ready(self, deadline: float | None = None) -> None:
        deadline = deadline or time.monotonic() + self.start_timeout
        self._wait(
            "kube-apiserver",
            lambda: self.get("/readyz", timeout=2)[0] == 200,
            deadline,
            what="kube-apiserver /readyz",
        )

    def _start_controller_manager(self) -> None:
        c = self.certs
        assert c is not None
        kc = str(self.kubeconfig)
        self._spawn(
            "kube-controller-manager",
            [
                str(self.binaries["kube-controller-manager"]),
                f"--kubeconfig={kc}",
                f"--authentication-kubeconfig={kc}",
                f"--authorization-kubeconfig={kc}",
                "--bind-address=127.0.0.1",
                f"--secure-port={self._ports['controller-manager']}",
                f"--cert-dir={self.dir / 'controller-manager-certs'}",
                f"--service-account-private-key-file={c.sa_key}",
                f"--root-ca-file={c.ca_crt}",
                f"--cluster-signing-cert-file={c.ca_crt}",
                f"--cluster-signing-key-file={c.ca_key}",
                f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
                "--allocate-node-cidrs=false",
                "--controllers=*",
                "--leader-elect=false",
                "--use-service-account-credentials=false",
                "--v=1",
            ],
        )

    def _start_scheduler(self) -> None:
        kc = str(self.kubeconfig)
        self._spawn(
            "kube-scheduler",
            [
                str(self.binaries["kube-scheduler"]),
                f"--kubeconfig={kc}",
                f"--authentication-kubeconfig={kc}",
                f"--authorization-kubeconfig={kc}",
                "--bind-address=127.0.0.1",
                f"--secure-port={self._ports['scheduler']}",
                f"--cert-dir={self.dir / 'scheduler-certs'}",
                "--leader-elect=false",
                "--v=1",
            ],
        )

    def _kwok_stages(self, workdir: Path) -> Path:
        """The stages file kwok plays: the sandbox's, with `pod_ready_delay` on pod-ready."""
        if self.pod_ready_delay <= 0:
            return KWOK_STAGES_FILE
        docs = KWOK_STAGES_FILE.read_text().split("\n---\n")
        delay = f"  delay:\n    durationMilliseconds: {round(self.pod_ready_delay * 1000)}\n  next:\n"
        docs = [d.replace("  next:\n", delay, 1) if "\n  name: pod-ready\n" in d else d
                for d in docs]
        out = workdir / "stages.yaml"
        out.write_text("\n---\n".join(docs))
        return out

    def _start_kwok(self) -> None:
        workdir = self.dir / "kwok"
        workdir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env["KWOK_WORKDIR"] = str(workdir)
        env.pop("KUBECONFIG", None)
        self._spawn(
            "kwok",
            [
                str(self.binaries["kwok"]),
                f"--config={self._kwok_stages(workdir)}",
                f"--kubeconfig={self.kubeconfig}",
                "--manage-all-nodes=false",
                f"--manage-nodes-with-annotation-selector={KWOK_NODE_ANNOTATION}={KWOK_NODE_VALUE}",
                f"--cidr={POD_CIDR}",
                f"--node-ip={NODE_IP_PREFIX}.255.254",
                "--node-lease-duration-seconds=40",
            ],
            env=env,
        )

    def _write_kubeconfig(self) -> None:
        c = self.certs
        assert c is not None

        def b64(p: Path) -> str:
            return base64.b64encode(p.read_bytes()).decode()

        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "ecpctl-testenv",
                    "cluster": {
                        "server": self.server,
                        "certificate-authority-data": b64(c.ca_crt),
                    },
                }
            ],
            "users": [
                {
                    "name": "admin",
                    "user": {
                        "client-certificate-data": b64(c.admin_crt),
                        "client-key-data": b64(c.admin_key),
                    },
                }
            ],
            "contexts": [{"name": "ecpctl-testenv",
                          "context": {"cluster": "ecpctl-testenv", "user": "admin"}}],
            "current-context": "ecpctl-testenv",
            "preferences": {},
        }
        # JSON is valid YAML; kubectl and the Python client both read it.
        self.kubeconfig.write_text(json.dumps(config, indent=2) + "\n")
        self.kubeconfig.chmod(0o600)

    def _node_count(self) -> int:
        out = self.kubectl("get", "nodes", "-o", "name", check=False)
        return len([line for line in out.stdout.splitlines() if line.strip()])

    def _node_manifest(self, name: str, capacity: Mapping[str, str], index: int) -> dict:
        spec: dict = {}
        if self.taint_nodes:
            spec["taints"] = [{"key": KWOK_NODE_ANNOTATION, "value": KWOK_NODE_VALUE, "effect": "NoSchedule"}]
        return {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "annotations": {KWOK_NODE_ANNOTATION: KWOK_NODE_VALUE, "node.alpha.kubernetes.io/ttl": "0"},
                "labels": {
                    "beta.kubernetes.io/arch": "amd64",
                    "beta.kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "kubernetes.io/hostname": name,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/role": "agent",
                    "node-role.kubernetes.io/agent": "",
                    "type": "kwok",
                    **self._gpu_labels(capacity),
                },
            },
            "spec": spec,
            "status": {
                "capacity": dict(capacity),
                "allocatable": dict(capacity),
                # Fake addresses (never contacted); kwok keeps what the Node object sets.
                "addresses": [
                    {"type": "InternalIP", "address": f"{NODE_IP_PREFIX}.{index // 250}.{index % 250 + 1}"},
                    {"type": "Hostname", "address": name},
                ],
            },
        }

    def _gpu_labels(self, capacity: Mapping[str, str]) -> dict[str, str]:
        gpus = str(capacity.get("nvidia.com/gpu", "0"))
        if gpus in ("", "0"):
            return {}
        return {GPU_PRODUCT_LABEL: self.gpu_product, GPU_COUNT_LABEL: gpus}

    def _wait_nodes_ready(self, names: Iterable[str], timeout: float = 60.0) -> None:
        names = list(names)
        deadline = time.monotonic() + timeout

        def ready() -> bool:
            data = self.kubectl_json("get", "nodes", *names)
            items = data.get("items", [data]) if data.get("kind") == "List" else [data]
            for node in items:
                conds = {c["type"]: c["status"] for c in node.get("status", {}).get("conditions", [])}
                if conds.get("Ready") != "True":
                    return False
            return len(items) == len(names)

        self._wait("kwok", ready, deadline, what=f"nodes {', '.join(names)} to be Ready")


def _http_ok(url: str, expect: str | None = None) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            body = resp.read().decode(errors="replace")
            return resp.status == 200 and (expect is None or expect in body.replace(" ", ""))
    except (urllib.error.URLError, OSError):
        return False


def _https_ok(url: str) -> bool:
    # Controller-manager and scheduler serve self-signed certs on loopback; /healthz is anonymous.
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(url, context=ctx, timeout=2) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False
