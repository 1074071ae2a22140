"""A throwaway Orthanc PACS with its DICOMweb plugin, for tests and benchmarks — reachable on
127.0.0.1 only.

Orthanc 1.10 (Debian) cannot bind one address: it listens on every interface. Our rule is
that test servers listen on loopback only, so Orthanc runs in a **private network namespace**
(`unshare --net --map-root-user`, no root needed) where only that namespace's own loopback
exists, and is reached through a Unix-socket bridge:

    test process                          private network namespace
    127.0.0.1:PORT  --(forwarder)-->  orthanc.sock  --(bridge)-->  127.0.0.1:8042 Orthanc

The bridge (a small Python program started inside the namespace) brings the namespace's
loopback up, starts Orthanc on it and forwards every connection of the Unix socket to it; the
forwarder (a thread of the test process) listens on 127.0.0.1 and forwards to the socket. So
tests and the DICOM adapter use an ordinary URL::

    with OrthancServer() as pacs:
        pacs.upload(Path("CT_small.dcm"))
        pacs.dicomweb                      # http://127.0.0.1:PORT/dicom-web

Nothing outlives the process that started it: ``stop()`` runs at exit, and a small watchdog
process waits on a pipe whose only writer is the starting process; when that process ends in
any way (even SIGKILL) the watchdog stops Orthanc and the bridge and deletes the folder.

Errors: ``OrthancError`` (failed to start, or an upload was refused) and its subclass
``OrthancNotFound`` (no Orthanc binary, DICOMweb plugin or `unshare`; ``./hf test`` installs the
Debian packages ``orthanc`` and ``orthanc-dicomweb``). No pytest imports: benchmarks use it too.
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
import threading
import time
from pathlib import Path
from types import TracebackType

import httpx

__all__ = ["OrthancError", "OrthancNotFound", "OrthancServer", "find_orthanc"]

PLUGIN_DIRS = ("/usr/share/orthanc/plugins", "/usr/lib/orthanc")
INNER_PORT = 8042  # Orthanc's port inside the private namespace (nothing else lives there)
_MARKERS = (b"Orthanc", b"hyperfed-orthanc-bridge")


class OrthancError(RuntimeError):
    """The throwaway Orthanc could not be started, or refused an upload."""


class OrthancNotFound(OrthancError):
    """No Orthanc binary, no DICOMweb plugin (Debian: orthanc, orthanc-dicomweb), or no
    `unshare` to give it a private network namespace."""


def find_orthanc() -> tuple[Path, Path]:
    """(the Orthanc binary, the DICOMweb plugin): $HYPERFED_ORTHANC / PATH / /usr/sbin and
    $HYPERFED_ORTHANC_PLUGINS or the Debian plugin folders. `unshare` must exist too."""
    binary = os.environ.get("HYPERFED_ORTHANC") or shutil.which("Orthanc")
    if not binary and Path("/usr/sbin/Orthanc").exists():
        binary = "/usr/sbin/Orthanc"
    if not binary or not os.access(binary, os.X_OK):
        raise OrthancNotFound(
            "the Orthanc binary was not found (Debian/Ubuntu: apt-get install orthanc "
            "orthanc-dicomweb; or set HYPERFED_ORTHANC)"
        )
    if _unshare() is None:
        raise OrthancNotFound(
            "'unshare' (util-linux) was not found: the test Orthanc runs in a private network "
            "namespace so that it listens on loopback only"
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


def _unshare() -> str | None:
    return shutil.which("unshare") or next(
        (p for p in ("/usr/bin/unshare", "/bin/unshare") if os.access(p, os.X_OK)), None
    )


# Runs inside the private network namespace: loopback up, Orthanc on it, a Unix-socket bridge.
_BRIDGE = r"""
import fcntl, os, signal, socket, struct, subprocess, sys, threading, time
binary, config, sock_path, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
base = os.path.dirname(config)
probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
flags = struct.unpack("16sh", fcntl.ioctl(probe.fileno(), 0x8913, struct.pack("16sh", b"lo", 0)))[1]
fcntl.ioctl(probe.fileno(), 0x8914, struct.pack("16sh", b"lo", flags | 1))  # SIOCSIFFLAGS IFF_UP
probe.close()
log = open(os.path.join(base, "orthanc.log"), "ab")
proc = subprocess.Popen([binary, config], cwd=base, stdin=subprocess.DEVNULL, stdout=log,
                        stderr=subprocess.STDOUT)
with open(os.path.join(base, "orthanc.pid.tmp"), "w") as f:
    f.write(str(proc.pid))
os.replace(os.path.join(base, "orthanc.pid.tmp"), os.path.join(base, "orthanc.pid"))
def stop(*_):
    for sig, wait in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
        try:
            proc.send_signal(sig)
            proc.wait(wait)
            break
        except (subprocess.TimeoutExpired, ProcessLookupError):
            continue
    os._exit(0)
signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
def orthanc_ended():
    proc.wait()
    os._exit(3)
threading.Thread(target=orthanc_ended, daemon=True).start()
def pump(a, b):
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            b.sendall(data)
    except OSError:
        pass
    finally:
        try:
            b.shutdown(socket.SHUT_WR)
        except OSError:
            pass
def serve(client):
    try:
        target = socket.create_connection(("127.0.0.1", port), timeout=10)
        target.settimeout(None)
    except OSError:
        client.close()
        return
    back = threading.Thread(target=pump, args=(target, client), daemon=True)
    back.start()
    pump(client, target)
    back.join()
    client.close()
    target.close()
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(sock_path)
server.listen(64)
while True:
    client, _ = server.accept()
    threading.Thread(target=serve, args=(client,), daemon=True).start()
"""

_WATCHDOG = r"""
import os, shutil, signal, sys, time
fd, base = int(sys.argv[1]), sys.argv[2]
pids, stopped, buf = [], False, b""
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
            pids.append(int(line[4:]))
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
            line = f.read()
    except OSError:
        return True
    return b"Orthanc" in line or b"hyperfed-orthanc-bridge" in line
for pid in reversed(pids):  # Orthanc first, then the bridge
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        if not alive(pid):
            break
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
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


def _pump(a: socket.socket, b: socket.socket) -> None:
    try:
        while data := a.recv(65536):
            b.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            b.shutdown(socket.SHUT_WR)


class _Forwarder:
    """127.0.0.1:port (a thread of this process) -> the bridge's Unix socket."""

    def __init__(self, sock_path: Path) -> None:
        self.sock_path = str(sock_path)
        self._server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(64)
        self.port = int(self._server.getsockname()[1])
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        target = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            target.connect(self.sock_path)
        except OSError:
            client.close()
            target.close()
            return
        back = threading.Thread(target=_pump, args=(target, client), daemon=True)
        back.start()
        _pump(client, target)
        back.join()
        client.close()
        target.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._server.shutdown(socket.SHUT_RDWR)
        self._server.close()
        self._thread.join(5)


class OrthancServer:
    """One Orthanc in a private network namespace, with DICOMweb at ``/dicom-web``, reached
    on 127.0.0.1 through a Unix-socket bridge."""

    def __init__(self, startup_timeout: float = 60.0) -> None:
        self.binary, self.plugin = find_orthanc()
        self.startup_timeout = startup_timeout
        self.base_dir: Path | None = None
        self._forwarder: _Forwarder | None = None
        self._bridge: subprocess.Popen[bytes] | None = None
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._watchdog_fd: int | None = None
        self.orthanc_pid: int | None = None

    @property
    def port(self) -> int:
        return self._forwarder.port if self._forwarder is not None else 0

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
            "HttpPort": INNER_PORT,
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
        if self._bridge is not None:
            return self
        self.base_dir = Path(tempfile.mkdtemp(prefix="hyperfed-orthanc-"))
        self._start_watchdog(self.base_dir)
        _live.add(self)
        try:
            config = self.base_dir / "orthanc.json"
            config.write_text(json.dumps(self.config(), indent=2))
            sock = self.base_dir / "orthanc.sock"
            unshare = _unshare()
            assert unshare is not None
            log = open(self.base_dir / "bridge.log", "ab")  # noqa: SIM115 - kept by Popen
            self._bridge = subprocess.Popen(
                [unshare, "--net", "--map-root-user", sys.executable, "-I", "-",
                 str(self.binary), str(config), str(sock), str(INNER_PORT),
                 "hyperfed-orthanc-bridge"],
                cwd=self.base_dir,
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
            )  # fmt: skip
            log.close()
            assert self._bridge.stdin is not None
            with self._bridge.stdin as stdin:
                stdin.write(_BRIDGE.encode())
            self._tell(f"pid {self._bridge.pid}")  # unshare execs: the bridge has this pid
            self._forwarder = _Forwarder(sock)
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        assert self._bridge is not None and self.base_dir is not None
        deadline = time.monotonic() + self.startup_timeout
        pid_file = self.base_dir / "orthanc.pid"
        while time.monotonic() < deadline:
            if self.orthanc_pid is None and pid_file.exists():
                self.orthanc_pid = int(pid_file.read_text())
                self._tell(f"pid {self.orthanc_pid}")
            if self._bridge.poll() is not None:
                raise OrthancError(
                    f"Orthanc (or its namespace bridge) exited with {self._bridge.returncode}: "
                    f"{self.log_tail()}"
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
        texts = []
        for name in ("bridge.log", "orthanc.log"):
            try:
                text = (self.base_dir / name).read_text(errors="replace")
            except OSError:
                continue
            texts += text.splitlines()[-lines:]
        return "\n".join(texts) or "(no log)"

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
        """SIGTERM the bridge (it stops Orthanc first), SIGKILL both if that does not do."""
        bridge, self._bridge = self._bridge, None
        if bridge is None:
            return
        for sig, wait in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                bridge.send_signal(sig)
            if sig == signal.SIGKILL and self.orthanc_pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.orthanc_pid, signal.SIGKILL)
            try:
                bridge.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue

    def stop(self) -> None:
        self._kill()
        if self._forwarder is not None:
            self._forwarder.close()
            self._forwarder = None
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
