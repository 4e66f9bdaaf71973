"""pytest plugin: a real Kubernetes control plane for tests (see ecpctl/sandbox/kube.py).

Fixtures:
    control_plane            session-scoped ControlPlane with 3 fake nodes and the
                             prometheus-operator CRDs; built from source first if needed
    kubeconfig               path of its kubeconfig (pathlib.Path)
    kube_api_client          a kubernetes.client.ApiClient for it (session-scoped)
    namespace                a fresh, uniquely named namespace, deleted after the test
    isolated_control_plane   a private control plane for one test (for tests that stop or
                             restart the API server); costs one warm start

Set ECPCTL_SKIP_KUBE=1 to skip the tests that use these fixtures (the skip reason says so);
without it, a failed build or start is an error, never a silent skip.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import time
import uuid
from pathlib import Path
from collections.abc import Iterator

import pytest

from ecpctl.sandbox import binaries
from ecpctl.sandbox.kube import ControlPlane

SKIP_ENV = "ECPCTL_SKIP_KUBE"


def _skip_if_disabled() -> None:
    if os.environ.get(SKIP_ENV) == "1":
        pytest.skip(f"{SKIP_ENV}=1: tests needing the real Kubernetes control plane are disabled")


def _build_with_progress() -> None:
    def log(msg: str) -> None:
        # Shown even under output capture: a first build takes many minutes.
        sys.__stderr__.write(f"[testenv] {msg}\n")
        sys.__stderr__.flush()

    binaries.ensure(log)


@pytest.fixture(scope="session")
def control_plane() -> Iterator[ControlPlane]:
    _skip_if_disabled()
    _build_with_progress()
    cp = ControlPlane(install_crds=True)
    cp.start()
    try:
        yield cp
    finally:
        cp.stop()


@pytest.fixture(scope="session")
def kubeconfig(control_plane: ControlPlane) -> Path:
    return control_plane.kubeconfig


@pytest.fixture(scope="session")
def kube_api_client(control_plane: ControlPlane):
    client = control_plane.api_client()
    try:
        yield client
    finally:
        client.close()


def _namespace_name(nodeid: str) -> str:
    base = re.sub(r"[^a-z0-9-]+", "-", nodeid.split("::")[-1].lower()).strip("-")[:40].strip("-")
    return f"t-{base or 'test'}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def namespace(control_plane: ControlPlane, request: pytest.FixtureRequest) -> Iterator[str]:
    """A new namespace (with its default service account ready); deleted after the test."""
    name = _namespace_name(request.node.nodeid)
    control_plane.kubectl("create", "namespace", name)
    deadline = time.monotonic() + 30
    while control_plane.kubectl("get", "serviceaccount", "default", "-n", name, check=False).returncode != 0:
        if time.monotonic() > deadline:
            raise RuntimeError(f"service account 'default' did not appear in namespace {name}")
        time.sleep(0.2)
    try:
        yield name
    finally:
        if control_plane.apiserver_running():
            control_plane.kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found", check=False)


@contextlib.contextmanager
def private_control_plane(**kw) -> Iterator[ControlPlane]:
    """A control plane of one's own (for tests that stop it or need other nodes), built if needed."""
    _skip_if_disabled()
    _build_with_progress()
    cp = ControlPlane(**kw)
    cp.start()
    try:
        yield cp
    finally:
        cp.stop()


@pytest.fixture
def isolated_control_plane() -> Iterator[ControlPlane]:
    with private_control_plane(nodes=1) as cp:
        yield cp
