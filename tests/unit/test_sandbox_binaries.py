"""Which control-plane binaries the sandbox takes from KUBEBUILDER_ASSETS, PATH or the cache, and
which it builds: the order, the minimum versions and the version skew, with the binaries faked."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecpctl.sandbox import binaries, build


def fake(monkeypatch, where: dict[str, list[tuple[str, str]]]):
    """where: binary name -> [(source, version)] in lookup order. Returns the version_of to
    resolve with."""
    versions = {}
    cands = {}
    for name, entries in where.items():
        cands[name] = []
        for source, version in entries:
            path = Path(f"/fake/{source}/{name}")
            versions[path] = version
            cands[name].append((source, path))
    monkeypatch.setattr(binaries, "_candidates", lambda name: cands.get(name, []))
    return lambda name, path: versions.get(path)


SERVER = build.KUBERNETES_VERSION


def test_assets_come_before_path_and_path_before_the_cache(monkeypatch):
    version_of = fake(monkeypatch, {n: [(binaries.ASSETS, SERVER), (binaries.PATH, SERVER),
                           (binaries.CACHE, SERVER)] for n in binaries.NAMES[:4]}
         | {"etcd": [(binaries.PATH, "v3.6.0")], "kwok": [(binaries.CACHE, "v0.8.0")]})
    res = binaries.resolve(version_of)
    assert res.missing == ()
    assert {n: f.source for n, f in res.found.items()} == {
        "kube-apiserver": "KUBEBUILDER_ASSETS", "kube-controller-manager": "KUBEBUILDER_ASSETS",
        "kube-scheduler": "KUBEBUILDER_ASSETS", "kubectl": "KUBEBUILDER_ASSETS",
        "etcd": "PATH", "kwok": "cache"}


def test_too_old_a_binary_is_passed_over_for_the_next_candidate(monkeypatch):
    version_of = fake(monkeypatch, {"etcd": [(binaries.PATH, "v3.4.9"), (binaries.CACHE, "v3.6.16")]})
    res = binaries.resolve(version_of)
    assert res.found["etcd"].source == "cache" and res.found["etcd"].version == "v3.6.16"


def test_kubectl_two_minors_from_the_chosen_server_is_refused(monkeypatch):
    version_of = fake(monkeypatch, {"kube-apiserver": [(binaries.ASSETS, "v1.34.1")],
                       "kubectl": [(binaries.PATH, "v1.32.4"), (binaries.CACHE, "v1.34.4")]})
    res = binaries.resolve(version_of)
    assert res.found["kubectl"].source == "cache"


def test_kubectl_on_path_too_old_for_the_server_to_be_built_is_built_too(monkeypatch):
    # a fresh machine: no kube-apiserver anywhere, an older kubectl on PATH. The kube-apiserver
    # will be built at the cache's version, so kubectl must be built beside it: keeping the PATH
    # one would fail the skew check only after the build (it did, on a machine with kubectl 1.32)
    major, minor = (int(x) for x in SERVER.lstrip("v").split(".")[:2])
    version_of = fake(monkeypatch, {"kubectl": [(binaries.PATH, f"v{major}.{minor - 2}.4")]})
    res = binaries.resolve(version_of)
    assert "kube-apiserver" in res.missing and "kubectl" in res.missing
    assert "kubectl" not in res.found


@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_kubectl_within_one_minor_of_the_server_to_be_built_is_kept(monkeypatch, offset):
    major, minor = (int(x) for x in SERVER.lstrip("v").split(".")[:2])
    version_of = fake(monkeypatch, {"kubectl": [(binaries.PATH, f"v{major}.{minor + offset}.0")]})
    res = binaries.resolve(version_of)
    assert res.found["kubectl"].source == "PATH" and "kubectl" not in res.missing
