"""Where the sandbox's control-plane binaries come from: `$KUBEBUILDER_ASSETS` (the envtest
convention), then `PATH`, then the cache that `build.py` fills from Go modules.

A binary found outside the cache is used only when its version is recent enough and, for the
controllers and kubectl, within one minor version of the kube-apiserver chosen (the skew
Kubernetes supports); otherwise the cached build is used, and what is still missing is built.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ecpctl.sandbox import build

ASSETS_ENV = "KUBEBUILDER_ASSETS"
CACHE, PATH, ASSETS = "cache", "PATH", ASSETS_ENV
NAMES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "etcd", "kwok")
# oldest versions the sandbox's flags and stage files work with
MINIMUM = {"kube-apiserver": (1, 29), "kube-controller-manager": (1, 29),
           "kube-scheduler": (1, 29), "kubectl": (1, 29), "etcd": (3, 5), "kwok": (0, 5)}
SKEWED = ("kube-controller-manager", "kube-scheduler", "kubectl")
_VERSION = re.compile(r"v?(\d+)\.(\d+)\.(\d+)")


@dataclass(frozen=True)
class Found:
    name: str
    path: Path
    source: str                 # KUBEBUILDER_ASSETS | PATH | cache
    version: str


@dataclass(frozen=True)
class Resolution:
    found: dict[str, Found]
    missing: tuple[str, ...]    # to be built into the cache

    @property
    def paths(self) -> dict[str, Path]:
        return {n: f.path for n, f in self.found.items()}

    def describe(self) -> list[str]:
        """One line per binary: name, version, where from."""
        out = [f"{f.name:<24} {f.version:<10} {f.source:<18} {f.path}" for f in self.found.values()]
        out += [f"{n:<24} {'-':<10} {'(to build)':<18}" for n in self.missing]
        return out


def version_of(name: str, path: Path) -> str | None:
    """The binary's own report of its version (`v1.34.4`), or None when it cannot be run."""
    args = [str(path), "version", "--client", "-o", "json"] if name == "kubectl" else \
        [str(path), "--version"]
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    text = out.stdout + out.stderr
    if name == "kubectl":
        try:
            text = json.loads(out.stdout)["clientVersion"]["gitVersion"]
        except (ValueError, KeyError, TypeError):
            pass
    m = _VERSION.search(text)
    return f"v{m.group(1)}.{m.group(2)}.{m.group(3)}" if m and out.returncode == 0 else None


def _minor(version: str) -> tuple[int, int]:
    m = _VERSION.search(version)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def _candidates(name: str) -> list[tuple[str, Path]]:
    out: list[tuple[str, Path]] = []
    assets = os.environ.get(ASSETS_ENV)
    if assets and (Path(assets) / name).is_file():
        out.append((ASSETS, Path(assets) / name))
    which = shutil.which(name)
    if which:
        out.append((PATH, Path(which).resolve()))
    cached = next(b for b in build.all_binaries() if b.name == name)
    if cached.is_built():
        out.append((CACHE, cached.path))
    return out


def resolve(version_of: Callable[[str, Path], str | None] = version_of) -> Resolution:
    found: dict[str, Found] = {}
    missing: list[str] = []
    for name in NAMES:
        for source, path in _candidates(name):
            if source != CACHE and str(path).startswith(str(build.cache_root())):
                source = CACHE
            version = version_of(name, path)
            if version is None or _minor(version) < MINIMUM[name]:
                continue
            if name in SKEWED:
                # against the kube-apiserver chosen, or the one about to be built: a kubectl on
                # PATH two minors older than the build must not be kept and then refused after it
                server = _minor(found["kube-apiserver"].version if "kube-apiserver" in found
                                else build.KUBERNETES_VERSION)
                if server[0] != _minor(version)[0] or abs(server[1] - _minor(version)[1]) > 1:
                    continue
            found[name] = Found(name, path, source, version)
            break
        else:
            missing.append(name)
    return Resolution(found, tuple(missing))


def ensure(log: Callable[[str], None] = print) -> Resolution:
    """Resolve, build what is missing (telling how long a first build takes), resolve again."""
    res = resolve()
    if not res.missing:
        return res
    log(f"building {', '.join(res.missing)} from Go modules into {build.cache_root()}; "
        f"a first build takes about {build.FIRST_BUILD_MINUTES} minutes on 2 cores")
    build.build_named(res.missing, log)
    res = resolve()
    if res.missing:
        raise build.BuildError("still missing after the build: " + ", ".join(res.missing))
    return res
