"""A throwaway Orthanc PACS with its DICOMweb plugin, for tests and benchmarks.

``OrthancServer`` writes a temporary configuration and storage folder, starts the Debian
``Orthanc`` binary on a free loopback port (HTTP only: no DICOM port, remote access refused,
no authentication) with the DICOMweb plugin, and removes everything on ``stop()``::

    with OrthancServer() as pacs:
        pacs.upload(Path("CT_small.dcm"))
        pacs.dicomweb                      # http://127.0.0.1:PORT/dicom-web

The server cannot outlive the process that started it: ``stop()`` runs at exit, and a small
watchdog process waits on a pipe whose only writer is the starting process; when that process
ends in any way (even SIGKILL) the watchdog stops Orthanc and deletes its folder.

Errors: ``OrthancError`` (failed to start, or an upload was refused) and its subclass
``OrthancNotFound`` (no Orthanc binary or DICOMweb plugin; ``./hf test`` installs the Debian
packages ``orthanc`` and ``orthanc-dicomweb``). No pytest imports: benchmarks use it too.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

import httpx

__all__ = ["OrthancError", "OrthancNotFound", "OrthancServer", "find_orthanc"]

PLUGIN_DIRS = ("/usr/share/orthanc/plugins", "/usr/lib/orthanc")


class OrthancError(RuntimeError):
    """The throwaway Orthanc could not be started, or refused an upload."""


class OrthancNotFound(OrthancError):
    """No Orthanc binary, or no DICOMweb plugin (Debian: orthanc, orthanc-dicomweb)."""


def find_orthanc() -> tuple[Path, Path]:
    """(the Orthanc binary, the DICOMweb plugin): $HYPERFED_ORTHANC / PATH / /usr/sbin and
    $HYPERFED_ORTHANC_PLUGINS or the Debian plugin folders."""
    binary = os.environ.get("HYPERFED_ORTHANC") or shutil.which("Orthanc")
    if not binary and Path("/usr/sbin/Orthanc").exists():
        binary = "/usr/sbin/Orthanc"
    if not binary or not os.access(binary, os.X_OK):
        raise OrthancNotFound(
            "the Orthanc binary was not found (Debian/Ubuntu: apt-get install orthanc "
            "orthanc-dicomweb; or set HYPERFED_ORTHANC)"
        )
    dirs = (
        [os.environ["HYPERFED_ORTHANC_PLUGINS"]] if "HYPERFED_ORTHANC_PLUGINS" in os.environ else []
    )
    for folder in [*dirs, *PLUGIN_DIRS]:
        for candidate in sorted(Path(folder).glob("libOrthancDicomWeb.so*")):
            if candidate.is_file():
                return Path(binary), candidate
    raise OrthancNotFound(
        "the Orthanc DICOMweb plugin (libOrthancDicomWeb.so) was not found (Debian/Ubuntu: "
        "apt-get install orthanc-dicomweb; or set HYPERFED_ORTHANC_PLUGINS)"
    )


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
        os.kill(p, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{p}/cmdline", "rb") as f:
            return b"Orthanc" in f.read()
    except OSError:
        return True
if pid and alive(pid):
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
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

_live: set[OrthancServer] = set()


def _stop_all() -> None:
    for server in list(_live):
        with contextlib.suppress(Exception):
            server.stop()


atexit.register(_stop_all)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class OrthancServer:
    """One Orthanc process on 127.0.0.1 with DICOMweb at ``/dicom-web``."""

    def __init__(self, startup_timeout: float = 60.0) -> None:
        self.binary, self.plugin = find_orthanc()
        self.startup_timeout = startup_timeout
        self.base_dir: Path | None = None
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._watchdog_fd: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def dicomweb(self) -> str:
        return f"{self.url}/dicom-web"

    def __enter__(self) -> OrthancServer:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def config(self) -> dict[str, object]:
        assert self.base_dir is not None
        return {
            "Name": "hyperfed-test",
            "StorageDirectory": str(self.base_dir / "storage"),
            "IndexDirectory": str(self.base_dir / "storage"),
            "HttpPort": self.port,
            "HttpServerEnabled": True,
            "DicomServerEnabled": False,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
            "SslEnabled": False,
            "Plugins": [str(self.plugin)],
            "ConcurrentJobs": 1,
            "HttpThreadsCount": 4,
            "StorageCompression": False,
            "SaveJobs": False,
            "StableAge": 1,
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": False},
        }

    def start(self) -> OrthancServer:
        if self._proc is not None:
            return self
        self.base_dir = Path(tempfile.mkdtemp(prefix="hyperfed-orthanc-"))
        self._start_watchdog(self.base_dir)
        _live.add(self)
        last = ""
        for _ in range(5):
            self.port = _free_port()
            config = self.base_dir / "orthanc.json"
            config.write_text(json.dumps(self.config(), indent=2))
            log = open(self.base_dir / "orthanc.log", "ab")  # noqa: SIM115 - kept by Popen
            self._proc = subprocess.Popen(
                [str(self.binary), str(config)],
                cwd=self.base_dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            log.close()
            self._tell(f"pid {self._proc.pid}")
            try:
                self._wait_ready()
                return self
            except OrthancError as exc:
                last = str(exc)
                self._kill()
        self.stop()
        raise OrthancError(f"Orthanc did not start: {last}")

    def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise OrthancError(
                    f"Orthanc exited with {self._proc.returncode}: {self.log_tail()}"
                )
            with contextlib.suppress(httpx.HTTPError):
                r = httpx.get(f"{self.url}/plugins", timeout=2)
                if r.status_code == 200:
                    if "dicom-web" not in r.json():
                        raise OrthancError(f"the DICOMweb plugin did not load: {self.log_tail()}")
                    return
            time.sleep(0.1)
        raise OrthancError(f"no answer within {self.startup_timeout:.0f}s: {self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        if self.base_dir is None:
            return ""
        try:
            text = (self.base_dir / "orthanc.log").read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def upload(self, path: Path) -> dict[str, object]:
        """POST one DICOM file to /instances; Orthanc's answer (ID, Status, ...)."""
        r = httpx.post(
            f"{self.url}/instances",
            content=Path(path).read_bytes(),
            headers={"Content-Type": "application/dicom"},
            timeout=30,
        )
        if r.status_code != 200:
            raise OrthancError(f"upload of {path} refused: HTTP {r.status_code}: {r.text[:200]}")
        answer: dict[str, object] = r.json()
        return answer

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        for sig, wait in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)
            try:
                proc.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def stop(self) -> None:
        self._kill()
        if self.base_dir is not None:
            shutil.rmtree(self.base_dir, ignore_errors=True)
            self.base_dir = None
        if self._watchdog_fd is not None:
            self._tell("stop")
            os.close(self._watchdog_fd)
            self._watchdog_fd = None
        if self._watchdog is not None:
            try:
                self._watchdog.wait(10)
            except subprocess.TimeoutExpired:
                self._watchdog.kill()
                self._watchdog.wait()
            self._watchdog = None
        _live.discard(self)

    def _start_watchdog(self, base: Path) -> None:
        read_fd, write_fd = os.pipe()
        try:
            self._watchdog = subprocess.Popen(
                [sys.executable, "-I", "-", str(read_fd), str(base), "hyperfed-orthanc-watchdog"],
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

    def _tell(self, message: str) -> None:
        if self._watchdog_fd is not None:
            with contextlib.suppress(OSError):
                os.write(self._watchdog_fd, message.encode() + b"\n")
