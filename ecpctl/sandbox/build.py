"""Build the sandbox's control-plane binaries from source with Go and cache them outside the repo.

Layout of the cache (``$ECPCTL_TESTENV_CACHE`` or ``~/.cache/ecpctl-testenv``)::

    kubernetes-v1.34.4/bin/{kube-apiserver,kube-controller-manager,kube-scheduler,kubectl}
    kubernetes-v1.34.4/versions.json
    etcd-v3.6.16/bin/etcd
    kwok-v0.8.0/bin/kwok
    go/           shared GOPATH and GOMODCACHE (go/pkg/mod)
    go-build/     shared GOCACHE
    work/         the small wrapper modules the binaries are built from

A binary is built to a temporary name and renamed into ``bin/`` only when ``go build`` succeeded,
and ``versions.json`` is rewritten after each success, so an interrupted build leaves no
half-built entry: the next run simply builds what is missing.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

KUBERNETES_VERSION = "v1.34.4"
ETCD_VERSION = "v3.6.16"
KWOK_VERSION = "v0.8.0"

KUBERNETES_BINARIES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")

# Measured on the 2-core reference machine (see docs/sandbox.md).
FIRST_BUILD_MINUTES = 15   # 14.5 min of compiling measured on 2 cores (2026-12-06), 10 to 18 by load


class BuildError(RuntimeError):
    """A binary could not be built."""


def cache_root() -> Path:
    env = os.environ.get("ECPCTL_TESTENV_CACHE")
    if env:
        return Path(env).expanduser().resolve()
    return Path.home() / ".cache" / "ecpctl-testenv"


@dataclass(frozen=True)
class Binary:
    component: str
    version: str
    name: str

    @property
    def component_dir(self) -> Path:
        return cache_root() / f"{self.component}-{self.version}"

    @property
    def path(self) -> Path:
        return self.component_dir / "bin" / self.name

    @property
    def companion_files(self) -> tuple[Path, ...]:
        """Files that must sit next to the binary for it to count as built."""
        if self.name == "kwok":
            return (kwok_stages_path(),)
        return ()

    def is_built(self) -> bool:
        if not (self.path.is_file() and os.access(self.path, os.X_OK)):
            return False
        if not all(p.is_file() for p in self.companion_files):
            return False
        return self.name in read_versions(self.component_dir).get("binaries", {})


def kwok_stages_path() -> Path:
    """Stage configuration (node initialize + lease heartbeat, pod ready/complete/delete) for kwok."""
    return cache_root() / f"kwok-{KWOK_VERSION}" / "stages" / "stages.yaml"


def all_binaries() -> list[Binary]:
    out = [Binary("kubernetes", KUBERNETES_VERSION, n) for n in KUBERNETES_BINARIES]
    out.append(Binary("etcd", ETCD_VERSION, "etcd"))
    out.append(Binary("kwok", KWOK_VERSION, "kwok"))
    return out


def binary_paths() -> dict[str, Path]:
    return {b.name: b.path for b in all_binaries()}


def missing_binaries() -> list[Binary]:
    return [b for b in all_binaries() if not b.is_built()]


def read_versions(component_dir: Path) -> dict:
    try:
        return json.loads((component_dir / "versions.json").read_text())
    except (OSError, ValueError):
        return {}


def _record_built(binary: Binary, seconds: float, extra: dict | None = None) -> None:
    data = read_versions(binary.component_dir)
    data["component"] = binary.component
    data["version"] = binary.version
    data.setdefault("binaries", {})[binary.name] = {
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "build_seconds": round(seconds, 1),
        "go": _go_version(),
        **(extra or {}),
    }
    tmp = binary.component_dir / "versions.json.tmp"
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    tmp.replace(binary.component_dir / "versions.json")


def go_env() -> dict[str, str]:
    root = cache_root()
    env = dict(os.environ)
    env.update(
        {
            "GOPATH": str(root / "go"),
            "GOMODCACHE": str(root / "go" / "pkg" / "mod"),
            "GOCACHE": str(root / "go-build"),
            "CGO_ENABLED": "0",
            "GOSUMDB": "off",
            "GOTOOLCHAIN": "local",
            "GOFLAGS": "-mod=mod -buildvcs=false",
            "GOWORK": "off",
        }
    )
    # Sharing the process' GOPROXY (if any) is fine; never let a private setting disable the proxy.
    env.pop("GOPRIVATE", None)
    env.pop("GONOPROXY", None)
    return env


_GO_VERSION: str | None = None


def _go_version() -> str:
    global _GO_VERSION
    if _GO_VERSION is None:
        proc = subprocess.run([_go(), "env", "GOVERSION"], capture_output=True, text=True, env=go_env())
        _GO_VERSION = proc.stdout.strip() if proc.returncode == 0 else "unknown"
    return _GO_VERSION or "unknown"


def _go() -> str:
    go = shutil.which("go")
    if not go:
        for candidate in ("/usr/local/go/bin/go", "/usr/lib/go/bin/go"):
            if os.access(candidate, os.X_OK):
                return candidate
        raise BuildError("the Go toolchain ('go') is not on PATH; it is needed to build the test environment")
    return go


def _run(cmd: list[str], cwd: Path, log: Callable[[str], None], capture: bool = False) -> str:
    log("  $ " + " ".join(cmd))
    proc = subprocess.run(cmd, cwd=cwd, env=go_env(), capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-40:])
        raise BuildError(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{tail}")
    if not capture and proc.stderr.strip():
        # go prints download progress on stderr; keep it short.
        lines = proc.stderr.strip().splitlines()
        for line in lines[-5:]:
            log("    " + line)
    return proc.stdout


def _work_dir(name: str) -> Path:
    d = cache_root() / "work" / name
    d.mkdir(parents=True, exist_ok=True)
    return d


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def _go_build(module_dir: Path, package: str, binary: Binary, ldflags: str,
              log: Callable[[str], None]) -> float:
    """Build ``package`` in ``module_dir`` to ``binary.path`` atomically; return seconds taken."""
    bin_dir = binary.path.parent
    bin_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{binary.name}.", suffix=".tmp", dir=bin_dir)
    os.close(fd)
    tmp = Path(tmp_name)
    start = time.monotonic()
    try:
        cmd = [_go(), "build", "-trimpath", "-o", str(tmp)]
        if ldflags:
            cmd += ["-ldflags", ldflags]
        cmd.append(package)
        _run(cmd, module_dir, log)
        tmp.chmod(0o755)
        tmp.replace(binary.path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return time.monotonic() - start


# --------------------------------------------------------------------------- kubernetes


def _kubernetes_module_info(version: str, log: Callable[[str], None]) -> dict:
    d = _work_dir(f"kubernetes-{version}-download")
    _write_if_changed(d / "go.mod", "module ecpctl.local/testenv/download\n\ngo 1.24.0\n")
    out = _run([_go(), "mod", "download", "-json", f"k8s.io/kubernetes@{version}"], d, log, capture=True)
    return json.loads(out)


def parse_staging_modules(gomod_text: str) -> list[str]:
    """Return the ``k8s.io/<name>`` modules that kubernetes' go.mod replaces with ./staging/..."""
    mods = re.findall(r"^\s*(k8s\.io/[\w.\-/]+)\s*=>\s*\./staging/", gomod_text, flags=re.M)
    return sorted(set(mods))


def _parse_go_directives(gomod_text: str) -> tuple[str, list[str]]:
    go_line = re.search(r"^go\s+(\S+)", gomod_text, flags=re.M)
    godebug = re.findall(r"^godebug\s+.*$", gomod_text, flags=re.M)
    return (go_line.group(1) if go_line else "1.24.0"), godebug


def kubernetes_wrapper_gomod(version: str, gomod_text: str) -> str:
    """The go.mod of the wrapper module that builds kubernetes commands from the module proxy."""
    major, minor, patch = version.lstrip("v").split(".")
    staging_version = f"v0.{minor}.{patch}"
    go_line, godebug = _parse_go_directives(gomod_text)
    staging = parse_staging_modules(gomod_text)
    if not staging:
        raise BuildError(f"no ./staging replacements found in the go.mod of k8s.io/kubernetes {version}")
    lines = ["module ecpctl.local/testenv/kubernetes", "", f"go {go_line}", ""]
    lines += godebug + ([""] if godebug else [])
    lines += [f"require k8s.io/kubernetes {version}", "", "replace ("]
    lines += [f"\t{m} => {m} {staging_version}" for m in staging]
    lines += [")", ""]
    return "\n".join(lines)


def kubernetes_ldflags(version: str, build_date: str) -> str:
    major, minor, _ = version.lstrip("v").split(".")
    values = {
        "gitVersion": version,
        "gitMajor": major,
        "gitMinor": minor,
        "gitTreeState": "clean",
        "buildDate": build_date,
    }
    flags = ["-s", "-w"]
    # Both packages carry the version variables in 1.34 (hack/lib/version.sh stamps both).
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        for key, val in values.items():
            flags.append(f"-X {pkg}.{key}={val}")
    return " ".join(flags)


def build_kubernetes(binaries: Iterable[Binary], log: Callable[[str], None]) -> dict[str, float]:
    binaries = list(binaries)
    if not binaries:
        return {}
    version = binaries[0].version
    log(f"k8s.io/kubernetes {version}: downloading module metadata")
    info = _kubernetes_module_info(version, log)
    gomod_text = Path(info["GoMod"]).read_text()
    build_date = json.loads(Path(info["Info"]).read_text()).get("Time", "1970-01-01T00:00:00Z")
    build_date = build_date.split(".")[0].rstrip("Z") + "Z"
    mod_dir = _work_dir(f"kubernetes-{version}")
    wrapper = kubernetes_wrapper_gomod(version, gomod_text)
    gomod_path = mod_dir / "go.mod"
    if not gomod_path.exists() or not gomod_path.read_text().startswith(wrapper.split("replace (")[0]):
        gomod_path.write_text(wrapper)
        (mod_dir / "go.sum").unlink(missing_ok=True)
    ldflags = kubernetes_ldflags(version, build_date)
    timings: dict[str, float] = {}
    for b in binaries:
        log(f"building {b.name} (k8s.io/kubernetes {version}) ...")
        secs = _go_build(mod_dir, f"k8s.io/kubernetes/cmd/{b.name}", b, ldflags, log)
        _record_built(b, secs, {"package": f"k8s.io/kubernetes/cmd/{b.name}"})
        log(f"built {b.name} in {secs:.0f}s -> {b.path}")
        timings[b.name] = secs
    return timings


# --------------------------------------------------------------------------- etcd


ETCD_MAIN = """package main

import (
\t"os"

\t"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
"""


def build_etcd(binary: Binary, log: Callable[[str], None]) -> float:
    start = time.monotonic()
    mod_dir = _work_dir(f"etcd-{binary.version}")
    header = ("module ecpctl.local/testenv/etcd\n\ngo 1.24.0\n\n"
              f"require go.etcd.io/etcd/server/v3 {binary.version}\n")
    gomod = mod_dir / "go.mod"
    if not gomod.exists() or f"go.etcd.io/etcd/server/v3 {binary.version}" not in gomod.read_text():
        gomod.write_text(header)
        (mod_dir / "go.sum").unlink(missing_ok=True)
    _write_if_changed(mod_dir / "main.go", ETCD_MAIN)
    log(f"building etcd (go.etcd.io/etcd/server/v3 {binary.version}) ...")
    _run([_go(), "mod", "tidy"], mod_dir, log)
    _go_build(mod_dir, ".", binary, "-s -w", log)
    secs = time.monotonic() - start
    _record_built(binary, secs, {"package": "go.etcd.io/etcd/server/v3/etcdmain"})
    log(f"built etcd in {secs:.0f}s -> {binary.path}")
    return secs


# --------------------------------------------------------------------------- kwok


# The stage sets kwokctl uses for a cluster with node leases: nodes get initialised (conditions,
# capacity kept from the Node object) and heartbeat through their Lease; pods become Running and
# Ready, Job pods complete, and deleted pods go away.  They ship inside the kwok module, so they
# are taken from the very version that was built.
KWOK_STAGE_FILES = (
    "kustomize/stage/node/fast/node-initialize.yaml",
    "kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "kustomize/stage/pod/fast/pod-ready.yaml",
    "kustomize/stage/pod/fast/pod-complete.yaml",
    "kustomize/stage/pod/fast/pod-delete.yaml",
)


def _write_kwok_stages(mod_dir: Path, version: str, log: Callable[[str], None]) -> None:
    out = _run([_go(), "list", "-m", "-json", "sigs.k8s.io/kwok"], mod_dir, log, capture=True)
    kwok_src = Path(json.loads(out)["Dir"])
    docs = []
    for rel in KWOK_STAGE_FILES:
        text = (kwok_src / rel).read_text().strip()
        docs.append(f"# from sigs.k8s.io/kwok@{version}/{rel}\n{text}\n")
    target = kwok_stages_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_text("---\n".join(docs))
    tmp.replace(target)
    log(f"wrote kwok stages -> {target}")


def build_kwok(binary: Binary, log: Callable[[str], None]) -> float:
    start = time.monotonic()
    mod_dir = _work_dir(f"kwok-{binary.version}")
    gomod = mod_dir / "go.mod"
    if not gomod.exists() or f"sigs.k8s.io/kwok {binary.version}" not in gomod.read_text():
        gomod.write_text("module ecpctl.local/testenv/kwok\n\ngo 1.24.0\n\n"
                         f"require sigs.k8s.io/kwok {binary.version}\n")
        (mod_dir / "go.sum").unlink(missing_ok=True)
    log(f"building kwok (sigs.k8s.io/kwok {binary.version}) ...")
    ldflags = (
        f"-s -w -X sigs.k8s.io/kwok/pkg/consts.Version={binary.version}"
        f" -X sigs.k8s.io/kwok/pkg/consts.KubeVersion={KUBERNETES_VERSION}"
    )
    if not binary.path.is_file():
        _go_build(mod_dir, "sigs.k8s.io/kwok/cmd/kwok", binary, ldflags, log)
    _write_kwok_stages(mod_dir, binary.version, log)
    secs = time.monotonic() - start
    _record_built(binary, secs, {"package": "sigs.k8s.io/kwok/cmd/kwok", "stages": str(kwok_stages_path())})
    log(f"built kwok in {secs:.0f}s -> {binary.path}")
    return secs


# --------------------------------------------------------------------------- entry points


@contextlib.contextmanager
def _build_lock(log: Callable[[str], None]):
    """Serialise builds across processes (two test sessions may start at once)."""
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".build.lock", "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"another build holds {root / '.build.lock'}; waiting for it")
            fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def build_all(log: Callable[[str], None] = print) -> dict[str, float]:
    """Build every missing binary, one at a time. Returns seconds per binary built."""
    with _build_lock(log):
        return _build_missing(log)


def build_named(names: Iterable[str], log: Callable[[str], None] = print) -> dict[str, float]:
    """Build the named binaries if they are not cached yet (the sandbox found no usable copy)."""
    with _build_lock(log):
        return _build_missing(log, only=set(names))


def _build_missing(log: Callable[[str], None], only: set[str] | None = None) -> dict[str, float]:
    todo = [b for b in missing_binaries() if only is None or b.name in only]
    if not todo:
        log(f"all test-environment binaries are cached under {cache_root()}")
        return {}
    log(f"building {', '.join(b.name for b in todo)} into {cache_root()}")
    start = time.monotonic()
    timings: dict[str, float] = {}
    # Small ones first: a usable etcd/kwok is there even if the kubernetes build is cut short.
    for b in todo:
        if b.component == "etcd":
            timings[b.name] = build_etcd(b, log)
    for b in todo:
        if b.component == "kwok":
            timings[b.name] = build_kwok(b, log)
    timings.update(build_kubernetes([b for b in todo if b.component == "kubernetes"], log))
    total = time.monotonic() - start
    log("build timings:")
    for name, secs in timings.items():
        log(f"  {name:<24} {secs:7.0f}s")
    log(f"  {'total':<24} {total:7.0f}s")
    return timings


def ensure_built(log: Callable[[str], None] = print) -> dict[str, Path]:
    """Build what is missing (no-op when cached) and return the paths of all binaries."""
    if missing_binaries():
        build_all(log)
    still = missing_binaries()
    if still:
        raise BuildError("binaries still missing after build: " + ", ".join(b.name for b in still))
    return binary_paths()


def cache_size() -> str:
    root = cache_root()
    if not root.exists():
        return "0"
    proc = subprocess.run(["du", "-sh", str(root)], capture_output=True, text=True)
    return proc.stdout.split()[0] if proc.returncode == 0 and proc.stdout else "?"


def main() -> int:
    try:
        build_all()
    except BuildError as exc:
        print(f"build failed: {exc}", file=sys.stderr)
        return 1
    print(f"cache size: {cache_size()} ({cache_root()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
