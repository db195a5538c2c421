"""Keep freed image buffers in the process instead of returning them to the OS.

glibc serves allocations above 128 KiB (every 600×800 float64 map is 3.8 MB) with a fresh
``mmap`` and unmaps them on free, so every temporary array pays page faults again. On the
sandboxed VMs vbbench runs on, that made a simple ``np.abs(a - b)`` 12× slower than with the
memory reused (6.5 ms vs 0.5 ms at 600×800). Raising the mmap and trim thresholds makes glibc
recycle the blocks. It changes no value, only speed; on other C libraries it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_done = False


def keep_freed_memory(threshold_bytes: int = 256 * 1024 * 1024) -> bool:
    """Ask glibc to serve blocks below ``threshold_bytes`` from the reusable heap.

    Returns
    -------
    bool
        True if the setting took effect (glibc), False elsewhere.

    Examples
    --------
    >>> isinstance(keep_freed_memory(), bool)
    True
    """
    global _done
    if _done:
        return True
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    _done = bool(mallopt(_M_MMAP_THRESHOLD, threshold_bytes)) and bool(mallopt(_M_TRIM_THRESHOLD, 2 * threshold_bytes))
    return _done
