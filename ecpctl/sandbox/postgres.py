"""A real, throw-away Postgres 15 server for tests: initdb in a temporary directory, loopback only.

Debian's server binaries (package `postgresql`) are used as they are. Postgres refuses to run as
root, so when tests run as root the cluster belongs to the `postgres` OS user (made if missing).

Authentication mirrors a production setup closely enough for tenant roles to be tested: the
superuser `postgres` is trusted on loopback and on the socket; every other role must log in with a
scram-sha-256 password.

    with PostgresServer() as pg:
        url = pg.create_database("state_test")      # postgresql://postgres@127.0.0.1:PORT/state_test
"""

from __future__ import annotations

import atexit
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PG_MAJOR = 15
OS_USER = "postgres"
FALLBACK_BINDIR = Path(f"/usr/lib/postgresql/{PG_MAJOR}/bin")
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0

# Speed over durability: a test cluster never survives a crash worth keeping.
FAST_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "password_encryption": "scram-sha-256",
    "listen_addresses": "127.0.0.1",
}

PG_HBA = """\
# superuser: trusted on the socket and on loopback (tests administer through it)
local   all   postgres                  trust
host    all   postgres   127.0.0.1/32   trust
# every other role logs in with a password, as tenant roles do in production
local   all   all                       scram-sha-256
host    all   all        127.0.0.1/32   scram-sha-256
"""

_DB_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class PostgresUnavailable(RuntimeError):
    """The Postgres server binaries are not installed."""


class PostgresError(RuntimeError):
    """The test server could not be set up, started or stopped; the message ends with its log."""


def find_bindir() -> Path:
    """The directory of `initdb` and `postgres`: `pg_config --bindir`, else Debian's path."""
    candidates: list[Path] = []
    try:
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, timeout=10)
        if out.returncode == 0 and out.stdout.strip():
            candidates.append(Path(out.stdout.strip()))
    except (OSError, subprocess.SubprocessError):
        pass
    candidates.append(FALLBACK_BINDIR)
    for path in candidates:
        if (path / "initdb").is_file() and (path / "postgres").is_file():
            return path
    raise PostgresUnavailable(
        f"Postgres {PG_MAJOR} server binaries not found (looked in "
        + ", ".join(str(p) for p in candidates)
        + "); install the Debian package `postgresql` (apt-get install -y postgresql)")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """One private Postgres cluster on 127.0.0.1 with a random port; a context manager."""

    def __init__(self, *, bindir: Path | None = None, base_dir: Path | None = None):
        self.bindir = Path(bindir) if bindir else find_bindir()
        self._base_dir = base_dir
        self.root: Path | None = None
        self.port: int | None = None
        self._proc: subprocess.Popen | None = None
        self._as_root = os.geteuid() == 0
        self._atexit = False

    # --- paths and addresses ---------------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        return self._root() / "data"

    @property
    def socket_dir(self) -> Path:
        return self._root() / "socket"

    @property
    def log_path(self) -> Path:
        return self._root() / "postgres.log"

    @property
    def admin_dsn(self) -> str:
        """Superuser DSN, database `postgres` (trusted on loopback: no password)."""
        return self.dsn("postgres")

    def dsn(self, dbname: str, user: str = "postgres", password: str | None = None) -> str:
        auth = user if password is None else f"{user}:{password}"
        return f"postgresql://{auth}@127.0.0.1:{self._port()}/{dbname}"

    # --- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> PostgresServer:
        try:
            self.start()
        except BaseException:
            self.cleanup()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()

    def start(self) -> None:
        """Start the server (running initdb first if the cluster is new); wait until it answers."""
        if self.running:
            return
        if self.root is None:
            self._init_cluster()
        if not self._atexit:
            atexit.register(self.cleanup)
            self._atexit = True
        keep_port = self.port is not None
        for attempt in range(3):
            if not keep_port:
                self.port = free_port()
            try:
                self._spawn_and_wait()
                return
            except PostgresError:
                # A port taken between free_port() and bind(): try another one.
                if keep_port or attempt == 2 or "could not bind" not in self.log_tail():
                    raise

    def stop(self) -> None:
        """Fast shutdown (SIGINT), SIGKILL if it does not finish in time."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)

    def restart(self) -> None:
        """Stop and start again on the same port: every client connection is cut."""
        self.stop()
        self.start()

    def cleanup(self) -> None:
        """Stop the server and delete its directory."""
        self.stop()
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # --- databases -------------------------------------------------------------------------

    def connect(self, dbname: str = "postgres"):
        """A psycopg connection as superuser, in autocommit mode."""
        import psycopg
        return psycopg.connect(self.dsn(dbname), autocommit=True, connect_timeout=10)

    def create_database(self, name: str) -> str:
        """CREATE DATABASE `name`; returns its superuser DSN."""
        from psycopg import sql
        self._check_name(name)
        with self.connect() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.dsn(name)

    def drop_database(self, name: str) -> None:
        """DROP DATABASE, cutting off sessions still connected to it."""
        from psycopg import sql
        self._check_name(name)
        with self.connect() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except (OSError, PostgresError):
            return "(no log)"

    # --- internals -------------------------------------------------------------------------

    def _root(self) -> Path:
        if self.root is None:
            raise PostgresError("the test Postgres server has not been started")
        return self.root

    def _port(self) -> int:
        if self.port is None:
            raise PostgresError("the test Postgres server has not been started")
        return self.port

    @staticmethod
    def _check_name(name: str) -> None:
        if not _DB_NAME.fullmatch(name):
            raise ValueError(f"test database name {name!r}: use lower-case letters, digits and _")

    def _init_cluster(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="ecpctl-pg-", dir=self._base_dir))
        self.socket_dir.mkdir()
        self.log_path.touch()
        if self._as_root:
            _ensure_os_user()
            entry = pwd.getpwnam(OS_USER)
            for path in (self.root, self.socket_dir, self.log_path):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        self.root.chmod(0o700)
        cmd = [str(self.bindir / "initdb"), "-D", str(self.data_dir), "-U", "postgres",
               "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"]
        with open(self.log_path, "ab") as log:
            res = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=self._env(),
                                 **self._user_kw(), timeout=120)
        if res.returncode != 0:
            raise PostgresError(f"initdb failed (exit {res.returncode}):\n{self.log_tail()}")
        (self.data_dir / "pg_hba.conf").write_text(PG_HBA)

    def _spawn_and_wait(self) -> None:
        settings = {**FAST_SETTINGS, "port": str(self.port),
                    "unix_socket_directories": str(self.socket_dir)}
        cmd = [str(self.bindir / "postgres"), "-D", str(self.data_dir)]
        for key, value in settings.items():
            cmd += ["-c", f"{key}={value}"]
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=self._env(),
                                          start_new_session=True, **self._user_kw())
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self._proc.poll() is not None:
                code, self._proc = self._proc.returncode, None
                raise PostgresError(f"postgres exited with code {code} while starting "
                                    f"(port {self.port}):\n{self.log_tail()}")
            if self._answers():
                return
            if time.monotonic() > deadline:
                self.stop()
                raise PostgresError(f"postgres did not accept connections within {START_TIMEOUT:g}s "
                                    f"(port {self.port}):\n{self.log_tail()}")
            time.sleep(0.1)

    def _answers(self) -> bool:
        import psycopg
        try:
            with psycopg.connect(self.admin_dsn, connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.OperationalError:
            return False

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C", LANG="C", HOME=str(self._root()))
        return env

    def _user_kw(self) -> dict:
        return {"user": OS_USER, "group": OS_USER} if self._as_root else {}


def _ensure_os_user() -> None:
    try:
        pwd.getpwnam(OS_USER)
        return
    except KeyError:
        pass
    res = subprocess.run(["useradd", "--system", "--user-group", "--no-create-home",
                          "--shell", "/usr/sbin/nologin", OS_USER], capture_output=True, text=True)
    if res.returncode != 0:
        raise PostgresError(f"cannot create the OS user {OS_USER!r} that runs Postgres: {res.stderr.strip()}")
