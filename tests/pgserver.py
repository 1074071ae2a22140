"""A throwaway PostgreSQL cluster for tests and benchmarks.

``PgServer`` runs ``initdb`` into a fresh temporary directory, starts ``postgres`` on a free
port that listens on 127.0.0.1 only (plus a unix socket inside the temporary directory) with
durability switched off for speed, and removes everything again on ``stop()``::

    with PgServer() as pg:
        dsn = pg.create_database("omop")   # postgresql://postgres@127.0.0.1:PORT/omop

The server cannot outlive the process that started it: ``stop()`` is registered with
``atexit``, and a small watchdog process waits on a pipe whose only writer is the starting
process. When that process ends in any way (even SIGKILL), the pipe closes and the watchdog
shuts the server down and deletes its directory.

PostgreSQL refuses to run as root; as root, the server runs as the ``postgres`` system user (or
a ``hyperfed-pg`` system user created on first use).

Errors: ``PgServerError`` (the server failed to start or to stop), with its subclass
``PgNotFoundError`` (no PostgreSQL server binaries were found).

No pytest imports here: benchmarks use this module too.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import psycopg
from psycopg import sql

__all__ = ["PgNotFoundError", "PgServer", "PgServerError", "find_pg_bindir"]

REQUIRED_BINARIES = ("initdb", "pg_ctl", "postgres")
FALLBACK_USER = "hyperfed-pg"

DEFAULT_SETTINGS: dict[str, str] = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "shared_buffers": "256MB",
    "work_mem": "64MB",
    "max_connections": "100",
    "max_wal_size": "2GB",
    "checkpoint_timeout": "30min",
    "TimeZone": "UTC",
    "log_min_messages": "warning",
    "logging_collector": "off",
}


class PgServerError(RuntimeError):
    """The throwaway PostgreSQL server could not be started or stopped."""


class PgNotFoundError(PgServerError):
    """No directory with the PostgreSQL server binaries (initdb, pg_ctl, postgres) was found."""


# --------------------------------------------------------------------------------------------
# Finding the binaries


def _has_server_binaries(bindir: Path) -> bool:
    return all(os.access(bindir / name, os.X_OK) for name in REQUIRED_BINARIES)


def _version_key(path: str) -> tuple[int, ...]:
    # /usr/lib/postgresql/15/bin -> (15,); /usr/lib/postgresql/9.6/bin -> (9, 6)
    version = Path(path).parent.name
    return tuple(int(part) for part in re.findall(r"\d+", version)) or (0,)


def _candidate_bindirs() -> Iterator[tuple[str, Path]]:
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
            if out:
                yield "pg_config --bindir", Path(out)
    for path in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True):
        yield "/usr/lib/postgresql/*/bin", Path(path)
    initdb = shutil.which("initdb")
    if initdb:
        yield "PATH", Path(initdb).resolve().parent


def find_pg_bindir() -> Path:
    """The directory holding initdb, pg_ctl and postgres.

    Looks at $HYPERFED_PG_BINDIR (which must then be right), ``pg_config --bindir``, the newest
    /usr/lib/postgresql/*/bin and PATH, in that order.
    """
    explicit = os.environ.get("HYPERFED_PG_BINDIR")
    if explicit:
        bindir = Path(explicit)
        if _has_server_binaries(bindir):
            return bindir
        raise PgNotFoundError(
            f"HYPERFED_PG_BINDIR={explicit!r} does not contain the PostgreSQL server binaries "
            f"{', '.join(REQUIRED_BINARIES)}"
        )
    looked: list[str] = []
    for source, bindir in _candidate_bindirs():
        if _has_server_binaries(bindir):
            return bindir
        looked.append(f"{bindir} ({source})")
    raise PgNotFoundError(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found; looked in "
        + (", ".join(looked) if looked else "pg_config --bindir, /usr/lib/postgresql/*/bin, PATH")
        + ". Install them (Debian/Ubuntu: apt-get install postgresql; `./hf test` does this "
        "when run as root) or set HYPERFED_PG_BINDIR."
    )


# --------------------------------------------------------------------------------------------
# Running as an unprivileged user when we are root


def _server_user() -> pwd.struct_passwd | None:
    """The account to run PostgreSQL as: None when we are not root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", FALLBACK_USER):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    result = subprocess.run(
        [
            useradd,
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            FALLBACK_USER,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        return pwd.getpwnam(FALLBACK_USER)  # also when a concurrent session created it
    except KeyError:
        raise PgServerError(
            "PostgreSQL refuses to run as root, there is no `postgres` user, and creating the "
            f"system user {FALLBACK_USER!r} failed: {result.stderr.strip() or result.returncode}"
        ) from None


def _traversable_by(path: Path, user: pwd.struct_passwd | None) -> bool:
    """Whether `user` can reach entries of `path` (search permission on it and its parents)."""
    if user is None:
        return True
    for part in [path, *path.parents]:
        try:
            st = part.stat()
        except OSError:
            return False
        if st.st_uid == user.pw_uid:
            ok = bool(st.st_mode & 0o100)
        elif st.st_gid == user.pw_gid:
            ok = bool(st.st_mode & 0o010)
        else:
            ok = bool(st.st_mode & 0o001)
        if not ok:
            return False
    return True


def _base_parent(user: pwd.struct_passwd | None) -> Path:
    """A directory to create the cluster in: traversable by `user`, short enough for sockets."""
    candidates = [Path(tempfile.gettempdir()), Path("/tmp"), Path("/var/tmp"), Path("/dev/shm")]
    for candidate in candidates:
        # A unix socket path must stay under ~107 bytes: leave room for the rest of it.
        if (
            candidate.is_dir()
            and len(str(candidate)) < 60
            and os.access(candidate, os.W_OK | os.X_OK)
            and _traversable_by(candidate, user)
        ):
            return candidate
    who = f"user {user.pw_name!r}" if user else "this user"
    raise PgServerError(
        f"no temporary directory usable by {who}: tried {', '.join(map(str, candidates))}"
    )


# --------------------------------------------------------------------------------------------
# The watchdog: shuts the server down when the starting process dies

_WATCHDOG = r"""
import os, shutil, signal, sys, time
fd, base = int(sys.argv[1]), sys.argv[2]
pid, stopped, buf = 0, False, b""
while True:
    try:
        chunk = os.read(fd, 4096)
    except InterruptedError:
        continue
    if not chunk:
        break
    buf += chunk
    *lines, buf = buf.split(b"\n")
    for line in lines:
        if line.startswith(b"pid "):
            pid = int(line[4:])
        elif line == b"stop":
            stopped = True
if stopped:
    sys.exit(0)

def alive(p):
    try:
        with open(f"/proc/{p}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
        return state not in (b"Z", b"X")
    except (OSError, IndexError):
        try:
            os.kill(p, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

def is_postgres(p):
    try:
        with open(f"/proc/{p}/cmdline", "rb") as f:
            return b"postgres" in f.read()
    except OSError:
        return True

if pid and alive(pid) and is_postgres(pid):
    for sig, wait in ((signal.SIGINT, 15.0), (signal.SIGQUIT, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if not alive(pid):
            break
for _ in range(20):
    shutil.rmtree(base, ignore_errors=True)
    if not os.path.exists(base):
        break
    time.sleep(0.25)
"""


# --------------------------------------------------------------------------------------------
# The server

_live_servers: set[PgServer] = set()
_live_lock = threading.Lock()


def _stop_all_at_exit() -> None:
    with _live_lock:
        servers = list(_live_servers)
    for server in servers:
        with contextlib.suppress(Exception):
            server.stop()


atexit.register(_stop_all_at_exit)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _dynamic_shm_type() -> str:
    # Docker gives /dev/shm 64MB by default: too small for parallel hash joins.
    try:
        st = os.statvfs("/dev/shm")
    except OSError:
        return "mmap"
    return "posix" if st.f_bavail * st.f_frsize >= 1 << 30 else "mmap"


class PgServer:
    """A throwaway PostgreSQL cluster on 127.0.0.1; a context manager.

    ``settings`` are extra or overriding ``postgres -c`` settings.
    """

    def __init__(
        self,
        bindir: str | os.PathLike[str] | None = None,
        *,
        settings: Mapping[str, str] | None = None,
        startup_timeout: float = 60.0,
    ) -> None:
        self.bindir = Path(bindir) if bindir is not None else find_pg_bindir()
        if not _has_server_binaries(self.bindir):
            raise PgNotFoundError(
                f"{self.bindir} does not contain the PostgreSQL server binaries "
                f"{', '.join(REQUIRED_BINARIES)}"
            )
        self.settings = {
            **DEFAULT_SETTINGS,
            "dynamic_shared_memory_type": _dynamic_shm_type(),
            **(settings or {}),
        }
        self.startup_timeout = startup_timeout
        self.host = "127.0.0.1"
        self.port = 0
        self.user = "postgres"
        self.base_dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._watchdog_fd: int | None = None
        self._run_as: pwd.struct_passwd | None = None
        self._db_names: set[str] = set()
        self._lock = threading.Lock()
        self.startup_seconds = 0.0

    # -- public properties ---------------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        return self._require_base() / "data"

    @property
    def socket_dir(self) -> Path:
        return self._require_base()

    @property
    def log_path(self) -> Path:
        return self._require_base() / "postgres.log"

    @property
    def pid(self) -> int | None:
        """The postmaster's process id while running."""
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def dsn(self) -> str:
        """The DSN of the default `postgres` database."""
        return self.dsn_for("postgres")

    def dsn_for(self, dbname: str) -> str:
        if not self.port:
            raise PgServerError("the PostgreSQL server is not running")
        return f"postgresql://{self.user}@{self.host}:{self.port}/{dbname}"

    # -- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> PgServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> PgServer:
        with self._lock:
            if self._proc is not None:
                return self
            started = time.monotonic()
            self._run_as = _server_user()
            base = Path(tempfile.mkdtemp(prefix="hyperfed-pg-", dir=_base_parent(self._run_as)))
            self.base_dir = base
            with _live_lock:
                _live_servers.add(self)
            try:
                self._start_watchdog(base)
                if self._run_as is not None:
                    os.chown(base, self._run_as.pw_uid, self._run_as.pw_gid)
                base.chmod(0o700)
                self._initdb()
                self._start_postmaster()
            except BaseException:
                self._stop_locked()
                raise
            self.startup_seconds = time.monotonic() - started
            return self

    def stop(self, timeout: float = 30.0) -> None:
        """Shut the server down (fast mode) and delete its directory; idempotent."""
        with self._lock:
            self._stop_locked(timeout)

    # -- databases ------------------------------------------------------------------------

    def connect(self, dbname: str = "postgres", **kwargs: Any) -> psycopg.Connection[Any]:
        """A psycopg connection to `dbname` (keyword arguments go to psycopg.connect)."""
        return psycopg.connect(self.dsn_for(dbname), **kwargs)

    def create_database(self, name: str, *, template: str | None = None) -> str:
        """Create an empty database `name` and return its DSN."""
        self._check_name(name)
        query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            self._check_name(template)
            query = sql.SQL("{} TEMPLATE {}").format(query, sql.Identifier(template))
        with self.connect(autocommit=True) as conn:
            conn.execute(query)
        self._db_names.add(name)
        return self.dsn_for(name)

    def drop_database(self, name: str) -> None:
        self._check_name(name)
        query = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        with self.connect(autocommit=True) as conn:
            conn.execute(query)
        self._db_names.discard(name)

    @staticmethod
    def _check_name(name: str) -> None:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", name):
            raise ValueError(
                f"database name {name!r} must be a plain identifier (letters, digits, _; "
                "at most 63 characters)"
            )

    # -- internals ------------------------------------------------------------------------

    def _require_base(self) -> Path:
        if self.base_dir is None:
            raise PgServerError("the PostgreSQL server has not been started")
        return self.base_dir

    def _child_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        env.pop("LANG", None)
        if self._run_as is not None:
            env.update(HOME=str(self.base_dir), USER=self._run_as.pw_name)
            env["LOGNAME"] = self._run_as.pw_name
        return env

    def _user_kwargs(self) -> dict[str, Any]:
        if self._run_as is None:
            return {}
        return {"user": self._run_as.pw_uid, "group": self._run_as.pw_gid, "extra_groups": []}

    def _start_watchdog(self, base: Path) -> None:
        read_fd, write_fd = os.pipe()  # both ends are non-inheritable by default
        try:
            # The program comes on stdin so that `ps` shows a short command line.
            self._watchdog = subprocess.Popen(
                [sys.executable, "-I", "-", str(read_fd), str(base), "hyperfed-pg-watchdog"],
                pass_fds=(read_fd,),
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            assert self._watchdog.stdin is not None
            with self._watchdog.stdin as stdin:
                stdin.write(_WATCHDOG.encode())
        except BaseException:
            os.close(write_fd)
            raise
        finally:
            os.close(read_fd)
        self._watchdog_fd = write_fd

    def _tell_watchdog(self, message: str) -> None:
        if self._watchdog_fd is not None:
            with contextlib.suppress(OSError):
                os.write(self._watchdog_fd, message.encode() + b"\n")

    def _initdb(self) -> None:
        base = self._require_base()
        cmd = [
            str(self.bindir / "initdb"),
            "-D",
            str(self.data_dir),
            "--auth=trust",
            "-U",
            self.user,
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
        ]
        result = subprocess.run(
            cmd,
            cwd=base,
            env=self._child_env(),
            capture_output=True,
            text=True,
            check=False,
            start_new_session=True,
            **self._user_kwargs(),
        )
        if result.returncode != 0 and "--no-instructions" in (result.stderr or ""):
            # initdb before PostgreSQL 13 lacks --no-instructions
            cmd.remove("--no-instructions")
            result = subprocess.run(
                cmd,
                cwd=base,
                env=self._child_env(),
                capture_output=True,
                text=True,
                check=False,
                start_new_session=True,
                **self._user_kwargs(),
            )
        if result.returncode != 0:
            raise PgServerError(
                f"initdb failed (exit {result.returncode}): {' '.join(cmd)}\n"
                f"{result.stdout}{result.stderr}"
            )

    def _start_postmaster(self, attempts: int = 5) -> None:
        last_error = ""
        for _ in range(attempts):
            port = _free_port()
            try:
                self._launch(port)
                return
            except _PortTaken as exc:
                last_error = str(exc)
        raise PgServerError(f"could not find a free port in {attempts} attempts: {last_error}")

    def _launch(self, port: int) -> None:
        base = self._require_base()
        settings = {
            **self.settings,
            "port": str(port),
            "listen_addresses": self.host,
            "unix_socket_directories": str(base),
        }
        cmd = [str(self.bindir / "postgres"), "-D", str(self.data_dir)]
        for key, value in settings.items():
            cmd += ["-c", f"{key}={value}"]
        with open(self.log_path, "ab") as log:
            proc = subprocess.Popen(
                cmd,
                cwd=base,
                env=self._child_env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **self._user_kwargs(),
            )
        self._proc = proc
        self._tell_watchdog(f"pid {proc.pid}")
        deadline = time.monotonic() + self.startup_timeout
        last_error: Exception | None = None
        while True:
            if proc.poll() is not None:
                self._proc = None
                log_text = self._log_tail()
                if "could not bind" in log_text or "Address already in use" in log_text:
                    raise _PortTaken(log_text)
                raise PgServerError(
                    f"postgres exited with code {proc.returncode} during startup; "
                    f"log {self.log_path}:\n{log_text}"
                )
            try:
                with psycopg.connect(
                    host=self.host, port=port, user=self.user, dbname="postgres", connect_timeout=2
                ) as conn:
                    conn.execute("SELECT 1")
                break
            except psycopg.OperationalError as exc:
                last_error = exc
            if time.monotonic() > deadline:
                raise PgServerError(
                    f"postgres did not accept connections within {self.startup_timeout:.0f}s: "
                    f"{last_error}\nlog {self.log_path}:\n{self._log_tail()}"
                )
            time.sleep(0.05)
        self.port = port

    def _log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def _stop_locked(self, timeout: float = 30.0) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            # SIGINT = "fast" shutdown (pg_ctl stop -m fast), then immediate, then kill.
            for sig, wait in (
                (signal.SIGINT, timeout),
                (signal.SIGQUIT, 5.0),
                (signal.SIGKILL, 5.0),
            ):
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(sig)
                try:
                    proc.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        self.port = 0
        if self.base_dir is not None:
            shutil.rmtree(self.base_dir, ignore_errors=True)
            self.base_dir = None
        if self._watchdog_fd is not None:
            self._tell_watchdog("stop")
            os.close(self._watchdog_fd)
            self._watchdog_fd = None
        if self._watchdog is not None:
            try:
                self._watchdog.wait(10)
            except subprocess.TimeoutExpired:
                self._watchdog.kill()
                self._watchdog.wait()
            self._watchdog = None
        with _live_lock:
            _live_servers.discard(self)


class _PortTaken(PgServerError):
    pass
