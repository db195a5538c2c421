"""The one process pool every stage uses: forkserver workers, one OpenCV thread each, ordered results.

Why *forkserver*: a plain ``fork`` copies the parent's threads' locks (tqdm's monitor, OpenCV's
thread pool, a Dask client) into the child, where nobody will release them — workers were seen to
hang. ``spawn`` is safe but starts a fresh interpreter per worker and re-imports everything
(~0.4 s each). A forkserver is one clean, single-threaded interpreter that has imported the
modules once (``preload``) and forks each worker from itself.

Two details make it safe for users:

* The forkserver interpreter is started with ``PYTHONSAFEPATH=1``. Python 3.11's forkserver
  ignores the parent's ``sys.path`` and runs with the current folder first, so a folder named
  ``vbbench`` where the user stands (the parent of a clone, an empty ``mkdir vbbench``) was
  imported instead of the package and every worker died with ``ImportError``.
* Each worker watches the run's process and exits when it is gone, so ``kill -9`` of a run
  leaves no worker behind (the forkserver then exits too).

Examples
--------
>>> list(process_map(abs, [-1, 2, -3], workers=1))
[1, 2, 3]
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

__all__ = ["process_map", "worker_setup", "pool", "start"]

T = TypeVar("T")
R = TypeVar("R")

_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent_pid: int) -> None:
    """Exit this worker when the process that started the run is gone.

    A worker's parent is the forkserver, not the run, and the forkserver outlives a killed run
    while workers still hold its "alive" pipe: so each worker watches the run's PID itself (a
    daemon thread, once a second) and, where Linux allows, also asks for SIGKILL when the
    forkserver goes.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass

    def watch() -> None:
        while True:
            time.sleep(1.0)
            try:
                os.kill(parent_pid, 0)
            except ProcessLookupError:
                os._exit(1)
            except PermissionError:
                pass

    threading.Thread(target=watch, name="vbbench-parent-watch", daemon=True).start()


def worker_setup(parent_pid: int) -> None:
    """Initializer of every worker: one OpenCV thread (one process per core already), reused
    memory for large temporaries, and exit with the parent."""
    import cv2

    from vbbench._memory import keep_freed_memory

    cv2.setNumThreads(1)
    keep_freed_memory()
    _die_with_parent(parent_pid)


@contextlib.contextmanager
def _safe_path_environment() -> Iterator[None]:
    previous = os.environ.get("PYTHONSAFEPATH")
    os.environ["PYTHONSAFEPATH"] = "1"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("PYTHONSAFEPATH", None)
        else:
            os.environ["PYTHONSAFEPATH"] = previous


def start(preload: Iterable[str] = ()) -> None:
    """Start the forkserver now, importing ``preload`` in the background; returns at once.

    A later :func:`pool` forks its workers from this warm interpreter, so a caller that starts
    it before other work (``vbbench score`` before listing the pairs) hides the imports behind
    that work. The preload list counts only at the first start in a process: a forkserver
    that is already running keeps its own.

    Examples
    --------
    >>> start(["vbbench.io"])
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["vbbench.parallel", *preload])
    with _safe_path_environment():
        from multiprocessing import forkserver

        forkserver.ensure_running()


def pool(workers: int, preload: Iterable[str] = ()) -> ProcessPoolExecutor:
    """A process pool of ``workers`` forkserver workers (see the module docstring).

    Parameters
    ----------
    workers : int
        Number of processes.
    preload : iterable of str
        Modules the forkserver imports once, so workers start without importing them.

    Returns
    -------
    concurrent.futures.ProcessPoolExecutor
    """
    start(preload)
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("forkserver"),
        initializer=worker_setup,
        initargs=(os.getpid(),),
    )


def process_map(
    function: Callable[[T], R],
    tasks: Iterable[T],
    workers: int,
    *,
    chunksize: int | None = None,
    preload: Iterable[str] = (),
    always_pool: bool = False,
) -> Iterator[R]:
    """``map(function, tasks)`` on ``workers`` processes, results in task order, streamed.

    With ``workers <= 1`` (or a single task) it runs in this process. Results never depend on
    the worker count.

    Parameters
    ----------
    function : callable
        A module-level function (it is pickled by reference).
    tasks : iterable
        Its arguments, one per call.
    workers : int
        Processes; 1 runs in this process.
    chunksize : int, optional
        Tasks sent to a worker at once; default about a quarter of an even share, at most 32.
    preload : iterable of str
        Modules to import once in the forkserver (e.g. the module defining ``function``).
    always_pool : bool
        Use a worker process even for one worker or one task: for a caller that started the
        forkserver early (:func:`start`), whose preload then serves this run too and this process
        never imports what the work needs.

    Yields
    ------
    Each call's result, in the order of ``tasks``.
    """
    tasks = list(tasks)
    if not tasks or (not always_pool and (workers <= 1 or len(tasks) <= 1)):
        from vbbench._memory import keep_freed_memory

        keep_freed_memory()
        for task in tasks:
            yield function(task)
        return
    size = chunksize or max(1, min(32, len(tasks) // (workers * 4)))
    module = getattr(function, "__module__", None)
    with pool(max(workers, 1), [*preload, *([module] if module and module != "__main__" else [])]) as executor:
        yield from executor.map(function, tasks, chunksize=size)
