"""Command line for the test environment.

    python -m tests.testenv build     build (once) and cache the Kubernetes, etcd and kwok binaries
    python -m tests.testenv up        start a local control plane and Postgres in the background
    python -m tests.testenv down      stop it
    python -m tests.testenv env       print where the binaries are

Each subcommand is one function registered in ``build_parser``; services other than Kubernetes
add their own ``add_parser`` calls there.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from state.lock import pid_alive

from . import build

REPO_ROOT = Path(__file__).resolve().parents[2]
KUBE_STATE = "kube.json"


def sandbox_dir() -> Path:
    env = os.environ.get("ECPCTL_SANDBOX_DIR")
    return Path(env).resolve() if env else (Path.cwd() / ".ecpctl" / "sandbox").resolve()


def _pid_alive(pid: int) -> bool:
    return pid_alive(pid)


def _read_state(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


# ---------------------------------------------------------------------------- build / env


def cmd_build(args: argparse.Namespace) -> int:
    missing = build.missing_binaries()
    if not missing:
        print(f"nothing to build: all binaries are cached under {build.cache_root()}")
        return 0
    print(
        f"first build takes about {build.FIRST_BUILD_MINUTES} minutes on 2 cores "
        "(later builds only add what is missing)"
    )
    try:
        build.build_all()
    except build.BuildError as exc:
        print(f"build failed: {exc}", file=sys.stderr)
        return 1
    print(f"cache: {build.cache_root()} ({build.cache_size()})")
    return 0


def cmd_env(args: argparse.Namespace) -> int:
    print(f"cache: {build.cache_root()}")
    print(f"kubernetes {build.KUBERNETES_VERSION}, etcd {build.ETCD_VERSION}, kwok {build.KWOK_VERSION}")
    for b in build.all_binaries():
        state = "built" if b.is_built() else "missing"
        print(f"{b.name:<24} {b.path}  ({state})")
    print(f"{'kwok stages':<24} {build.kwok_stages_path()}")
    return 0 if not build.missing_binaries() else 1


# ---------------------------------------------------------------------------- kube up / down


def cmd_up(args: argparse.Namespace) -> int:
    sandbox = sandbox_dir()
    sandbox.mkdir(parents=True, exist_ok=True)
    state_path = sandbox / KUBE_STATE
    state = _read_state(state_path)
    if state and _pid_alive(state.get("supervisor_pid", -1)) and _is_supervisor(state["supervisor_pid"]):
        print(f"a control plane is already running (pid {state['supervisor_pid']})")
        _print_kube_usage(state)
        return 0
    if state:
        _cleanup_kube_state(sandbox, state)

    if build.missing_binaries():
        print(f"building missing binaries first; a first build takes about {build.FIRST_BUILD_MINUTES} minutes")
        try:
            build.build_all()
        except build.BuildError as exc:
            print(f"build failed: {exc}", file=sys.stderr)
            return 1

    log_path = sandbox / "kube-up.log"
    cmd = [
        sys.executable, "-m", "tests.testenv", "_kube-serve",
        "--sandbox-dir", str(sandbox), "--nodes", str(args.nodes),
    ]
    if args.no_crds:
        cmd.append("--no-crds")
    if args.no_postgres:
        cmd.append("--no-postgres")
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    started = time.monotonic()
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            cmd, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = started + args.timeout
    while time.monotonic() < deadline:
        state = _read_state(state_path)
        if state and state.get("ready") and state.get("supervisor_pid") == proc.pid:
            print(f"control plane up in {time.monotonic() - started:.1f}s")
            _print_kube_usage(state)
            return 0
        if proc.poll() is not None:
            break
        time.sleep(0.3)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    print(f"control plane failed to start; last lines of {log_path}:", file=sys.stderr)
    lines = log_path.read_text(errors="replace").splitlines()
    print("\n".join(lines[-40:]), file=sys.stderr)
    return 1


def _print_kube_usage(state: dict) -> None:
    print(f"server:     {state['server']}")
    print(f"kubeconfig: {state['kubeconfig']}")
    print(f"logs:       {state['log_dir']}")
    print()
    print(f"export KUBECONFIG={state['kubeconfig']}")
    print(f"kubectl:    {state['kubectl']}")
    print()
    print(f"env:        source {Path(state['kubeconfig']).parent / 'env.sh'}   (KUBECONFIG, ECPCTL_POSTGRES_DSN)")
    print("stop with:  python -m tests.testenv down")


def cmd_kube_serve(args: argparse.Namespace) -> int:
    """Internal: run a control plane until SIGTERM/SIGINT (started by ``up``)."""
    from .kube import ControlPlane

    sandbox = Path(args.sandbox_dir)
    state_path = sandbox / KUBE_STATE
    kubeconfig = sandbox / "kubeconfig"

    def on_signal(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)

    cp = ControlPlane(nodes=args.nodes, install_crds=not args.no_crds, build_if_missing=False)
    pg = None
    try:
        t0 = time.monotonic()
        cp.start()
        print(f"control plane started in {time.monotonic() - t0:.1f}s at {cp.server}", flush=True)
        tmp = kubeconfig.with_suffix(".tmp")
        tmp.write_text(cp.kubeconfig.read_text())
        tmp.chmod(0o600)
        tmp.replace(kubeconfig)
        exports = {"KUBECONFIG": str(kubeconfig)}
        if not args.no_postgres:
            from .postgres import PostgresServer
            pg = PostgresServer()
            pg.start()
            exports["ECPCTL_POSTGRES_DSN"] = pg.admin_dsn
            print(f"postgres started: {pg.admin_dsn}", flush=True)
        env_sh = sandbox / "env.sh"
        env_sh.write_text("".join(f"export {k}='{v}'\n" for k, v in exports.items()))
        env_sh.chmod(0o600)
        state = {
            "ready": True,
            "supervisor_pid": os.getpid(),
            "pids": cp.pids(),
            "server": cp.server,
            "kubeconfig": str(kubeconfig),
            "workdir": str(cp.dir),
            "log_dir": str(cp.log_dir),
            "kubectl": str(cp.binaries["kubectl"]),
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        tmp = state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2) + "\n")
        tmp.replace(state_path)
        reported: set[str] = set()
        while True:
            time.sleep(2)
            alive = cp.pids()
            for name in state["pids"]:
                if name not in alive and name not in reported:
                    reported.add(name)
                    print(f"{name} exited; see {cp.log_path(name)}", flush=True)
    finally:
        if pg is not None:
            pg.stop()
            pg.cleanup()
        cp.stop()
        for p in (state_path, kubeconfig, sandbox / "env.sh"):
            p.unlink(missing_ok=True)
        print("control plane stopped", flush=True)


def _is_supervisor(pid: int) -> bool:
    try:
        return b"_kube-serve" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _is_our_component(pid: int) -> bool:
    """True if ``pid`` still runs one of the cached test binaries (guards against PID reuse)."""
    try:
        argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
    except (OSError, UnicodeDecodeError):
        return False
    return argv0 in {str(p) for p in build.binary_paths().values()}


def _cleanup_kube_state(sandbox: Path, state: dict) -> None:
    """Kill whatever a dead supervisor left behind and remove its files."""
    for name, pid in state.get("pids", {}).items():
        if _pid_alive(pid) and _is_our_component(pid):
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    workdir = state.get("workdir")
    if workdir and Path(workdir).name.startswith("ecpctl-kube-"):
        subprocess.run(["rm", "-rf", workdir], check=False)
    for p in (sandbox / KUBE_STATE, sandbox / "kubeconfig"):
        p.unlink(missing_ok=True)


def cmd_down(args: argparse.Namespace) -> int:
    sandbox = sandbox_dir()
    state = _read_state(sandbox / KUBE_STATE)
    if not state:
        print(f"no control plane is running (no {sandbox / KUBE_STATE})")
        return 0
    pid = state.get("supervisor_pid", -1)
    if _pid_alive(pid) and _is_supervisor(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 60
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _pid_alive(pid):
            os.killpg(pid, signal.SIGKILL)
    _cleanup_kube_state(sandbox, state)
    print("control plane stopped")
    return 0


# ---------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tests.testenv", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("build", help="build and cache the Kubernetes, etcd and kwok binaries")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("env", help="print the cache location and binary paths")
    p.set_defaults(func=cmd_env)

    p = sub.add_parser("up", help="start a local Kubernetes control plane in the background")
    p.add_argument("--nodes", type=int, default=3, help="number of fake nodes (default 3)")
    p.add_argument("--no-crds", action="store_true", help="do not install the prometheus-operator CRDs")
    p.add_argument("--no-postgres", action="store_true", help="do not start a Postgres server beside it")
    p.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for it to become ready")
    p.set_defaults(func=cmd_up)

    p = sub.add_parser("down", help="stop the control plane started by 'up'")
    p.set_defaults(func=cmd_down)

    p = sub.add_parser("_kube-serve")  # internal: run by "up"; no help= keeps it out of --help
    p.add_argument("--sandbox-dir", required=True)
    p.add_argument("--nodes", type=int, default=3)
    p.add_argument("--no-crds", action="store_true")
    p.add_argument("--no-postgres", action="store_true")
    p.set_defaults(func=cmd_kube_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
