"""Fixtures for engine tests: a CLI runner wired to the fake provider and a private state dir."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.fakes.provider import OVERRIDES

SPECS = Path(__file__).parent / "specs"


class Ecpctl:
    """Runs `ecpctl` in-process against a temp data dir, with the fake provider."""

    def __init__(self, root: Path):
        self.root = root
        self.data_dir = root / ".ecpctl"
        self.live = root / "live"

    def __call__(self, *args: str, input: str | None = None, env: dict | None = None):
        from ecpctl.cli.main import cli
        runner = CliRunner()
        full_env = {"ECPCTL_PROVIDER_OVERRIDES": OVERRIDES, "ECPCTL_FAKE_DIR": str(self.live),
                    "NO_COLOR": "1", **(env or {})}
        return runner.invoke(cli, ["--data-dir", str(self.data_dir), *args], input=input,
                             env=full_env, catch_exceptions=False)

    def env(self) -> dict[str, str]:
        return {**os.environ, "ECPCTL_PROVIDER_OVERRIDES": OVERRIDES,
                "ECPCTL_FAKE_DIR": str(self.live), "NO_COLOR": "1",
                "PYTHONPATH": str(Path(__file__).resolve().parents[2])}


@pytest.fixture
def ecpctl(tmp_path: Path, monkeypatch) -> Ecpctl:
    e = Ecpctl(tmp_path)
    monkeypatch.setenv("ECPCTL_FAKE_DIR", str(e.live))   # tests read and edit the fake's objects
    return e


@pytest.fixture
def spec_dir(tmp_path: Path) -> Path:
    """A writable copy of the basic specs (project + two tenants)."""
    dst = tmp_path / "specs"
    shutil.copytree(SPECS / "basic", dst)
    return dst
