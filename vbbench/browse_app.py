"""The processes behind ``vbbench browse``: a FiftyOne database and app server of its own, stopped
and waited for.

FiftyOne's own ``launch_app`` starts ``fiftyone/service/main.py`` wrappers that put themselves in
process groups of their own (``os.setpgrp``) and exit only when their stdin closes, so a Ctrl-C of
the launcher left the app's server alive for 20 s and more. Its database wrapper also attaches to
any FiftyOne database service the user already runs, whatever its database folder. So
:class:`Services` starts the two processes itself — ``mongod`` from the ``fiftyone-db`` package on
FiftyOne's configured database folder, and ``python -m fiftyone.server.main`` — in **one process
group of their own**, and :meth:`Services.stop` stops them in reverse order (the server needs its
database to shut down: stopped together, the server hung 10 s until SIGKILL; in this order it
takes about 2.7 s), then SIGKILLs the group and waits for every child.

:func:`database` points FiftyOne at that database unless the user configured a URI of their own;
it must run before FiftyOne first connects in the process (FiftyOne connects lazily).
:func:`launch` builds the dataset inside it, serves the app, and returns 128 + the signal that
stopped it (130 for Ctrl-C).

FiftyOne (extra ``app``) is imported only inside the functions.

Examples
--------
>>> import sys
>>> with Services(grace=1.0) as services:
...     child = services.start([sys.executable, "-c", "import time; time.sleep(60)"])
...     services.pgid == child.pid
True
>>> services.stopped[0], child.returncode is not None
(1, True)
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from vbbench.errors import BrowseError

__all__ = ["Services", "database", "launch", "free_port"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _listening(port: int, address: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((address, port)) == 0


def _running(pid: int) -> bool:
    """Whether our child ``pid`` has not exited yet, without reaping it."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None
    except ChildProcessError:
        return False


def _child_setup(pgid: int) -> None:  # pragma: no cover - runs in the child between fork and exec
    """Join process group ``pgid`` (0: found one), and on Linux have the kernel send the child
    SIGTERM if vbbench itself dies, even by SIGKILL (``PR_SET_PDEATHSIG``)."""
    os.setpgid(0, pgid)
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


class Services:
    """The processes vbbench starts for FiftyOne, in one process group of their own.

    Use as a context manager; leaving it (normally, by exception, or after :meth:`serve_forever`
    returned on SIGINT/SIGTERM) stops the group (:meth:`stop`).

    Parameters
    ----------
    grace : float
        Seconds each process gets after its SIGTERM before the group is SIGKILLed.
    log_dir : path, optional
        Where each process's output goes (``<name>.log``); default: discarded.
    """

    def __init__(self, grace: float = 10.0, log_dir: str | os.PathLike | None = None):
        self.grace = grace
        self.pgid: int | None = None
        self.children: list[subprocess.Popen] = []
        self.log_dir = Path(log_dir) if log_dir else None
        self.stopped: tuple[int, float] | None = None  # (processes, seconds) of the last stop

    def start(self, command: list[str], env: dict[str, str] | None = None, name: str = "service") -> subprocess.Popen:
        """Start ``command`` in the group (the first one founds it)."""
        log = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - the child keeps its copy
        try:
            child = subprocess.Popen(
                command,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log if log is not None else subprocess.DEVNULL,
                stderr=subprocess.STDOUT,
                preexec_fn=functools.partial(_child_setup, self.pgid or 0),
            )
        finally:
            if log is not None:
                log.close()
        if self.pgid is None:
            self.pgid = child.pid
        self.children.append(child)
        return child

    def stop(self) -> None:
        """Stop the group: each process in reverse start order gets SIGTERM and up to ``grace``
        seconds, then the group gets SIGKILL (stragglers and grandchildren too) and every child is
        waited for. Children stay unreaped until then, so the group id cannot be reused under us."""
        if self.pgid is None:
            return
        started = time.monotonic()
        for child in reversed(self.children):
            if _running(child.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child.pid, signal.SIGTERM)
                deadline = time.monotonic() + self.grace
                while _running(child.pid) and time.monotonic() < deadline:
                    time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pgid, signal.SIGKILL)
        for child in self.children:
            child.wait()
        self.stopped = (len(self.children), time.monotonic() - started)
        self.children.clear()
        self.pgid = None

    def __enter__(self) -> Services:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start_database(self, database_dir: str | os.PathLike, timeout: float = 60.0) -> str:
        """A ``mongod`` of ours on ``database_dir`` (FiftyOne's own, 127.0.0.1 only); returns its URI."""
        from fiftyone.core.service import DatabaseService

        database_dir = Path(database_dir)
        (database_dir / "log").mkdir(parents=True, exist_ok=True)
        port = free_port()
        log = database_dir / "log" / "mongo.log"
        command = [DatabaseService.find_mongod(), "--dbpath", str(database_dir), "--logpath", str(log)]
        command += ["--bind_ip", "127.0.0.1", "--port", str(port), "--nounixsocket"]
        child = self.start(command, name="mongod")
        deadline = time.monotonic() + timeout
        while not _listening(port):
            if child.poll() is not None:
                raise BrowseError(
                    f"the FiftyOne database could not start on {database_dir} (exit {child.returncode}; log: {log}): "
                    "another FiftyOne process may be using it. Close it, or point vbbench at that "
                    "database with FIFTYONE_DATABASE_URI"
                )
            if time.monotonic() > deadline:
                raise BrowseError(f"the FiftyOne database on {database_dir} did not start within {timeout:.0f} s")
            time.sleep(0.1)
        return f"mongodb://127.0.0.1:{port}"

    def start_app(self, port: int, address: str = "127.0.0.1") -> subprocess.Popen:
        """Start the FiftyOne app server (``fiftyone.server.main``) on ``address:port``; it takes a
        few seconds to listen (:meth:`wait_for_app`), time in which the dataset can be built."""
        if _listening(port, address):
            raise BrowseError(f"port {port} is in use: pass another --port")
        env = {key: value for key, value in os.environ.items() if key != "FIFTYONE_DISABLE_SERVICES"}
        command = [sys.executable, "-m", "fiftyone.server.main", "--port", str(port), "--address", address]
        return self.start(command, env=env, name="app")

    @staticmethod
    def wait_for_app(child: subprocess.Popen, port: int, address: str = "127.0.0.1", timeout: float = 120.0) -> None:
        """Wait until the app server ``child`` listens."""
        deadline = time.monotonic() + timeout
        while not _listening(port, address):
            if child.poll() is not None:
                raise BrowseError(f"the FiftyOne app server exited at start (exit {child.returncode})")
            if time.monotonic() > deadline:
                raise BrowseError(f"the FiftyOne app server did not listen on {address}:{port} within {timeout:.0f} s")
            time.sleep(0.25)

    def serve_forever(self) -> int:
        """Block until SIGINT or SIGTERM (returns its number) or until a service dies (returns 0)."""
        received: list[int] = []

        def handler(signum, frame):
            received.append(signum)

        previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            while not received and all(child.poll() is None for child in self.children):
                time.sleep(0.2)
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)
        return received[0] if received else 0


@contextlib.contextmanager
def database(services: Services) -> Iterator[None]:
    """Point FiftyOne at a database of ``services`` unless a database URI is configured already.

    Must be entered before FiftyOne first connects in this process.

    Raises
    ------
    BrowseError
        If FiftyOne is connected already (it would have started its own service wrapper).
    """
    import fiftyone as fo
    import fiftyone.core.odm.database as food

    if fo.config.database_uri is None:
        if food._client is not None:
            raise BrowseError("FiftyOne is already connected to a database service of its own in this process")
        uri = services.start_database(fo.config.database_dir)
        fo.config.database_uri = uri
        os.environ["FIFTYONE_DATABASE_URI"] = uri  # the app server reads it
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            food._disconnect()


def launch(
    build: Callable[[], str],
    port: int = 5151,
    address: str = "127.0.0.1",
    on_ready: Callable[[str], None] | None = None,
    grace: float = 10.0,
) -> int:
    """Build, serve the app on ``address:port`` until Ctrl-C or SIGTERM, then stop what was started.

    Parameters
    ----------
    build : callable
        Runs once the database is up; returns the URL path to open (``/datasets/NAME?view=VIEW``).
    on_ready : callable, optional
        Called with the full URL once the app listens.

    Returns
    -------
    int
        0 if a service died by itself, else 128 + the signal that stopped the app.
    """
    with Services(grace=grace) as services:
        with database(services):
            server = services.start_app(port, address)  # it starts up while the dataset is built
            path = build()
            services.wait_for_app(server, port, address)
            if on_ready is not None:
                on_ready(f"http://{address}:{port}{path}")
            signum = services.serve_forever()
    count, seconds = services.stopped or (0, 0.0)
    print(f"stopped the app: {count} processes in {seconds:.1f} s", file=sys.stderr, flush=True)
    return 128 + signum if signum else 0
