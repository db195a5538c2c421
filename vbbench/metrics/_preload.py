"""Imported by the scoring pool's forkserver (``vbbench.score`` preloads it): loads the compiled
metric kernels once, so every worker forked from it starts with them instead of paying numba's
start-up (~0.8 s) on its own (:mod:`vbbench.metrics._jit`)."""

from vbbench.metrics.warm import warm_up

try:
    warm_up()
except Exception:  # noqa: BLE001 - a worker meets the same failure on its first pair, with its traceback
    pass
