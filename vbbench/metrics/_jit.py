"""How the metric kernels are compiled: numba, ``nopython``, no ``fastmath``, cached on disk.

Why numba: Conn needs one ordered union-find pass over the pixels, which neither numpy nor OpenCV
can express without a labelling per threshold, and the float32 filters must do the same IEEE
operations on every element whatever the buffer's alignment (``cv2.magnitude`` does not).
numba installs from wheels with its own LLVM on Linux, macOS and Windows, so nothing is compiled
on the user's side except by the JIT itself.

**First use.** Compiling every kernel takes about 8 s (the uint8 path ~7 s, float and 16-bit
inputs ~1.5 s more). numba writes the machine code to disk (``cache=True``) and every later
process loads it: about 0.5 s for numba's own start-up on the first call plus a few ms per
kernel. The cache lives, in numba's order of preference:

1. in ``$NUMBA_CACHE_DIR`` when that is set;
2. in ``vbbench/metrics/__pycache__/`` beside the source, when that folder is writable (a clone,
   an editable or user install);
3. otherwise (site-packages read-only) in numba's user-wide cache, ``~/.cache/numba/`` on Linux
   (``$XDG_CACHE_HOME/numba``), ``~/Library/Caches/numba`` on macOS,
   ``%LOCALAPPDATA%\\numba\\Cache`` on Windows.

Entries are keyed by the source file's content hash, the numba version and the CPU, so an
upgrade or another machine sharing the home folder recompiles rather than loading stale code.
When none of these folders is writable, the kernels are compiled in every process (with a
warning that says how to fix it). ``python -m vbbench.metrics.warm`` compiles everything once
and prints where the cache is; CI runs it before the test suite.

**Same bits everywhere.** No ``fastmath``: LLVM neither reassociates nor contracts ``a*b + c``
into an FMA, so vectorised loops do per element exactly the IEEE operations written, square
roots and divisions are correctly rounded, and reductions run in a fixed order. A kernel module
must not call numba functions of *another* module: numba's cache is keyed by the caller's file
only, so a changed callee elsewhere would leave stale machine code in use.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numba

__all__ = ["jit", "CACHED"]


def _probe() -> None:  # a function in this folder: numba decides its cache folder per source folder
    return None


def _cache_available() -> bool:
    from numba.core.caching import FunctionCache

    try:
        FunctionCache(_probe)
    except RuntimeError:
        return False
    return True


#: Whether compiled kernels are cached on disk (see the module docstring for where).
CACHED = _cache_available()

if not CACHED:
    warnings.warn(
        "vbbench's metric kernels cannot be cached: no writable folder for numba's cache (neither "
        "vbbench/metrics/__pycache__ nor the user cache folder); every process compiles them (~8 s). "
        "Set NUMBA_CACHE_DIR to a writable folder.",
        stacklevel=2,
    )


def jit(function: Callable) -> Callable:
    """``numba.njit`` with vbbench's options: no ``fastmath``, no bounds checks (the callers
    allocate every array to its exact shape), the GIL released, cached on disk when possible."""
    return numba.njit(nogil=True, cache=CACHED, boundscheck=False)(function)
