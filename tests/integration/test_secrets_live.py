"""The secret scan on the real providers (kube-apiserver and Postgres 15), with a state key and
without one: the generated passwords as the live systems hold them (read back from the Secret
ecpctl wrote, through kubectl) must appear in no command output, debug log, crash file, saved plan
or rendered file; with a key not in the state database either. Error paths included: a Postgres
that refuses the provider's login (its DSN password is a secret too), an unreachable cluster, a
lock held by a live process, an unexpected exception (the crash file)."""

from __future__ import annotations

import base64
import json
import logging
import subprocess

import pytest

from state.keys import NEW_KEY_ENV, generate_key
from tests.integration.faults_support import Fleet
from tests.unit.test_secrets_modes import _hold_the_lock
from tests.unit.test_secrets_scan import _detach_cli_log_handlers, forms

pytestmark = [pytest.mark.integration, pytest.mark.kube, pytest.mark.postgres]

BAD_DSN_PASSWORD = "Wrong-dsn-pw-41"


def live_secrets(fleet: Fleet) -> set[str]:
    """The Secret's values as the cluster holds them, and what they decode to."""
    obj = fleet.cp.kubectl_json("get", "secret", "ecp-ai-db", "-n", f"ecp-ai-{fleet.tenants[0]}")
    out: set[str] = set()
    for v in obj["data"].values():
        out.add(v)
        out |= forms(base64.b64decode(v).decode())
    password = base64.b64decode(obj["data"]["PGPASSWORD"]).decode()
    return out | forms(password)


@pytest.mark.parametrize("mode", ["with a key", "without a key"])
def test_no_secret_leaves_the_state_on_the_real_providers(mode, control_plane, postgres_server,
                                                          tmp_path, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    tenant = "sl0" if mode == "with a key" else "sl1"      # a cluster shared with other tests
    role = f"tenant.{tenant}.postgres.role.{tenant}_app"
    fleet = Fleet(tmp_path / "fleet", control_plane, postgres_server.admin_dsn, [tenant])
    fleet.key = generate_key() if mode == "with a key" else None
    log_file, crash_dir = tmp_path / "ecpctl.log", tmp_path / "crashes"
    outputs: list[str] = []
    secrets: set[str] = {fleet.key} if fleet.key else set()
    spec = str(fleet.spec)

    def run(*args: str, code: int | None = 0, **env) -> str:
        saved = {k: v for k, v in fleet.env().items()}
        extra = {"ECPCTL_LOG": "debug", "ECPCTL_LOG_FILE": str(log_file),
                 "ECPCTL_CRASH_DIR": str(crash_dir), **env}
        for k, v in extra.items():
            monkeypatch.setenv(k, v) if v is not None else monkeypatch.delenv(k, raising=False)
        try:
            r = fleet(*args)
        finally:
            for k in extra:
                monkeypatch.delenv(k, raising=False)
            assert fleet.env() == saved
        outputs.append(f"$ ecpctl {' '.join(args)}\n{r.output}")
        if code is not None:
            assert r.exit_code == code, (args, r.output[-3000:])
        return r.stdout

    try:
        run("apply", spec, "--auto-approve", "--no-wait")
        secrets |= live_secrets(fleet)
        run("apply", spec, "--auto-approve", "--no-wait", "-replace", role)
        secrets |= live_secrets(fleet)
        # a rotation through a saved plan: its file holds the old password and the new one, sealed
        # (without a key by a key of its own that only the state database keeps)
        saved = tmp_path / "rotate.plan"
        run("plan", spec, "-replace", role, "-o", str(saved))
        run("show", str(saved))
        run("apply", str(saved), "--no-wait")
        secrets |= live_secrets(fleet)
        assert len(secrets) >= 15

        run("plan", spec, "--detailed-exitcode")
        run("plan", spec, "--json")
        run("graph", spec)
        run("render", spec, "-o", str(tmp_path / "rendered"))
        run("status", "-p", spec)
        run("state", "list")
        run("state", "show", role, "--json")
        run("state", "show", f"tenant.{tenant}.kubernetes.v1.Secret.ecp-ai-db")
        pulled = tmp_path / "pulled.json"
        pulled.write_text(fleet.ok("state", "pull").stdout)     # the state itself: not scanned
        run("state", "push", str(pulled), "--force")
        run("state", "rm", role)
        run("import", role, f"{tenant}_app", "--path", spec)
        run("workspace", "list")
        run("workspace", "show")
        new = generate_key()
        secrets.add(new)
        run("state", "rekey", **{NEW_KEY_ENV: new})
        if mode == "with a key":
            fleet.key = new
        else:                                  # and back to clear text
            fleet.key = new
            run("state", "rekey", "--decrypt")
            fleet.key = None

        # error paths
        secrets |= forms(BAD_DSN_PASSWORD)
        fleet.dsn = postgres_server.dsn("postgres", "nosuchrole", BAD_DSN_PASSWORD)
        try:
            run("apply", spec, "--auto-approve", "--no-wait", "-replace", role, code=1)
        finally:
            fleet.dsn = postgres_server.admin_dsn
        unreachable = tmp_path / "unreachable.kubeconfig"
        unreachable.write_text(control_plane.kubeconfig.read_text().replace(
            control_plane.server, "https://127.0.0.1:1"))
        run("status", "-p", spec, "--kubeconfig", str(unreachable), code=1)
        run("plan", spec, "--kubeconfig", str(unreachable), code=1)
        holder = subprocess.Popen(["sleep", "120"])
        try:
            lock_id = _hold_the_lock(fleet, holder.pid)
            run("apply", spec, "--auto-approve", "-replace", role, code=1)
        finally:
            holder.kill()
            holder.wait()
        run("force-unlock", lock_id, "--yes")
        password = base64.b64decode(control_plane.kubectl_json(
            "get", "secret", "ecp-ai-db", "-n", f"ecp-ai-{tenant}")["data"]["PGPASSWORD"]).decode()

        def explode(self, req):
            raise RuntimeError(f"unexpected: {password}")
        from providers.kubernetes.provider import KubernetesProvider
        monkeypatch.setattr(KubernetesProvider, "read", explode)
        run("plan", spec, code=1)
        assert "internal error" in outputs[-1] and list(crash_dir.glob("ecpctl-crash-*"))
        monkeypatch.undo()
        run("destroy", spec, "--auto-approve", "--no-wait")
    finally:
        fleet.cleanup()

    _detach_cli_log_handlers()
    places = {"command output": "\n".join(outputs), "debug log": log_file.read_text()}
    for f in [saved, *sorted(crash_dir.glob("*")), *sorted((tmp_path / "rendered").rglob("*.yaml"))]:
        places[f.name] = f.read_text(errors="replace")
    if mode == "with a key":
        places["state.db"] = b"".join(p.read_bytes() for p in
                                      sorted(fleet.data_dir.glob("state.db*"))).decode("utf-8", "replace")
    leaks = [(where, s[:4] + "...") for s in sorted(secrets) for where, text in places.items()
             if s in text]
    assert leaks == [], leaks
    assert json.loads(fleet.ok("state", "list", "--json").stdout)["resources"] == []
