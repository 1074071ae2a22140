"""The throwaway PostgreSQL server used by the test session and the benchmarks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from tests.pgserver import PgNotFoundError, PgServer, find_pg_bindir

pytestmark = pytest.mark.postgres


def _alive(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie counts as dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return stat.rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")


def _wait_gone(pid: int, path: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while (_alive(pid) or path.exists()) and time.monotonic() < deadline:
        time.sleep(0.05)


def _tcp_listeners(port: int) -> set[str]:
    """Local addresses (hex, as in /proc/net/tcp*) of sockets listening on `port`."""
    found: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            address, _, hex_port = fields[1].rpartition(":")
            if fields[3] == "0A" and int(hex_port, 16) == port:  # 0A = LISTEN
                found.add(address)
    return found


def test_session_server_answers_queries(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        row = conn.execute("SELECT 1 + 1, current_user, current_database()").fetchone()
    assert row == (2, "postgres", "postgres")
    assert pg_dsn.startswith("postgresql://postgres@127.0.0.1:")


def test_fresh_databases(pg_database: Callable[[str], str]) -> None:
    first, second = pg_database("pgserver_check"), pg_database("pgserver_check")
    assert first != second
    assert first.endswith("/pgserver_check")
    with psycopg.connect(first) as conn:
        conn.execute("CREATE TABLE person (person_id bigint PRIMARY KEY)")
        conn.execute("INSERT INTO person SELECT g FROM generate_series(1, 1000) AS g")
        count = conn.execute("SELECT count(*) FROM person").fetchone()
        assert count == (1000,)
        # UTF-8 and the C collation: deterministic everywhere.
        encoding = conn.execute("SHOW server_encoding").fetchone()
        assert encoding == ("UTF8",)
    with psycopg.connect(second) as conn:
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE tablename = 'person'")
        assert tables.fetchone() == (0,)


def test_listens_on_loopback_only(pg_server: PgServer) -> None:
    with pg_server.connect() as conn:
        row = conn.execute("SHOW listen_addresses").fetchone()
    assert row == ("127.0.0.1",)
    if Path("/proc/net/tcp").exists():
        # 0100007F is 127.0.0.1 in /proc/net/tcp's byte order
        assert _tcp_listeners(pg_server.port) == {"0100007F"}
    assert (pg_server.socket_dir / f".s.PGSQL.{pg_server.port}").is_socket()


def test_durability_is_off_for_speed(pg_server: PgServer) -> None:
    with pg_server.connect() as conn:
        settings = {
            name: conn.execute(f"SHOW {name}").fetchone()
            for name in ("fsync", "synchronous_commit", "full_page_writes", "work_mem")
        }
    assert settings == {
        "fsync": ("off",),
        "synchronous_commit": ("off",),
        "full_page_writes": ("off",),
        "work_mem": ("64MB",),
    }


def test_rejects_database_names_that_are_not_identifiers(pg_server: PgServer) -> None:
    with pytest.raises(ValueError, match="plain identifier"):
        pg_server.create_database('x"; DROP DATABASE postgres; --')


def test_stop_ends_the_server_and_removes_its_files(pg_server: PgServer) -> None:
    server = PgServer(pg_server.bindir).start()
    pid, base, dsn = server.pid, server.base_dir, server.dsn
    assert pid is not None and base is not None
    assert server.running and pid != pg_server.pid
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT 42").fetchone() == (42,)
    server.stop()
    assert not server.running
    assert not _alive(pid)
    assert not base.exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(dsn, connect_timeout=2).close()
    server.stop()  # idempotent


def test_server_dies_with_the_process_that_started_it(pg_server: PgServer, repo_root: Path) -> None:
    script = textwrap.dedent(
        """
        import sys, time
        from tests.pgserver import PgServer
        server = PgServer(sys.argv[1]).start()
        print(server.pid, server.base_dir, flush=True)
        time.sleep(600)
        """
    )
    with subprocess.Popen(
        [sys.executable, "-c", script, str(pg_server.bindir)],
        cwd=repo_root,
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line, "the child process did not start a server"
        pid_text, base_text = line.split()
        pid, base = int(pid_text), Path(base_text)
        assert _alive(pid) and base.is_dir()
        proc.send_signal(signal.SIGKILL)  # no atexit, no finalizers
        proc.wait()
    _wait_gone(pid, base)
    assert not _alive(pid), "postgres outlived the process that started it"
    assert not base.exists(), f"{base} was left behind"


def test_explicit_bindir_must_be_right(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HYPERFED_PG_BINDIR", str(tmp_path))
    with pytest.raises(PgNotFoundError, match="HYPERFED_PG_BINDIR"):
        find_pg_bindir()
