"""The board's plots: accuracy against speed, and each model's MAD per variant.

Both are drawn with matplotlib's Agg backend on a bare ``Figure`` and saved without metadata that
varies (no matplotlib version, no date), so the same results give the same bytes. A plot never
mixes results that are not comparable: :func:`accuracy_speed_plot` refuses results of more than
one dataset, variant, split or set of conventions.
"""

from __future__ import annotations

import io
from collections import defaultdict
from typing import Any

from vbbench.errors import ResultError, UsageError
from vbbench.leaderboard.groups import MAIN_METRIC, conventions_label, metric_spec

__all__ = ["accuracy_speed_plot", "robustness_plot"]


def _matplotlib():
    """matplotlib with the Agg backend, or the extra to install (it is not a core dependency)."""
    try:
        import matplotlib
    except ImportError:
        raise UsageError("the board's plots need matplotlib: pip install 'vbbench[plot]'") from None
    matplotlib.use("Agg")
    return matplotlib


def _figure(width: float, height: float):
    _matplotlib()
    from matplotlib.figure import Figure  # a bare Figure: no pyplot state shared with callers

    return Figure(figsize=(width, height), dpi=100)


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def _styles(labels: list[str]):
    colours = _matplotlib().colormaps["tab10"]
    return {label: (colours(index % 10), "osD^v<>ph*"[index % 10]) for index, label in enumerate(labels)}


def accuracy_speed_plot(results: list[dict[str, Any]]) -> bytes | None:
    """Mean MAD against the pipeline's FPS, one panel per frame size, or None without speeds.

    Raises
    ------
    ResultError
        If the results are not all of one dataset, variant, split and set of conventions.
    """
    keys = {
        (r["dataset"]["name"], r["dataset"]["variant"], r["dataset"].get("split_sha256"), conventions_label(r))
        for r in results
    }
    if len(keys) > 1:
        shown = "; ".join(
            f"{d}/{v} split {(s or 'none')[:12]} {c or 'reference'}" for d, v, s, c in sorted(keys, key=str)
        )
        raise ResultError(f"an accuracy-versus-speed plot takes results of one dataset, variant, split and set of "
                          f"conventions, not {shown}")  # fmt: skip
    from vbbench.leaderboard.tables import pixels

    points: dict[str, list[tuple[str, float, float]]] = defaultdict(list)
    scale = metric_spec(MAIN_METRIC).display_scale
    for result in results:
        whole = result["summary"]["scores"].get("whole", {})
        for size, fps in (result["model"].get("speed") or {}).items():
            if MAIN_METRIC in whole:
                points[size].append((result["model"]["name"], float(fps), whole[MAIN_METRIC]["mean"] * scale))
    if not points:
        return None
    _matplotlib()  # first: a clear error without the plot extra
    from matplotlib.lines import Line2D

    sizes = sorted(points, key=pixels)
    labels = sorted({label for rows in points.values() for label, _, _ in rows})
    style = _styles(labels)
    figure = _figure(4.5 * len(sizes), 4.2 + 0.25 * ((len(labels) + 1) // 2))
    for index, size in enumerate(sizes):
        axes = figure.add_subplot(1, len(sizes), index + 1)
        for label, fps, mad in sorted(points[size]):
            colour, marker = style[label]
            axes.scatter([fps], [mad], color=colour, marker=marker, s=45)
        axes.set_xlabel(f"frames per second at {size}\n(higher is better)")
        axes.set_ylabel(f"{metric_spec(MAIN_METRIC).header}, lower is better")
        axes.set_title(f"accuracy versus speed, {size}")
        axes.grid(True, alpha=0.3)
        axes.margins(0.15)
    handles = [Line2D([], [], color=c, marker=m, linestyle="none", markersize=7) for c, m in (style[x] for x in labels)]
    figure.legend(handles, labels, loc="lower center", ncol=2, fontsize=8, frameon=False)
    figure.tight_layout(rect=(0, 0.06 * ((len(labels) + 1) // 2), 1, 1))
    return _png(figure)


def robustness_plot(means: dict[str, dict[str, float]], variants: list[str], title: str) -> bytes:
    """Each model's mean MAD on every variant: one line per model, variants along the x axis."""
    _matplotlib()  # first: a clear error without the plot extra
    from matplotlib.lines import Line2D

    models = sorted(means)
    style = _styles(models)
    scale = metric_spec(MAIN_METRIC).display_scale
    figure = _figure(max(6.0, 0.9 * len(variants) + 2.5), 4.6 + 0.25 * ((len(models) + 1) // 2))
    axes = figure.add_subplot(1, 1, 1)
    for model in models:
        colour, marker = style[model]
        xs = [index for index, variant in enumerate(variants) if variant in means[model]]
        ys = [means[model][variants[index]] * scale for index in xs]
        axes.plot(xs, ys, color=colour, marker=marker, linewidth=1.2, markersize=6)
    axes.set_xticks(range(len(variants)))
    axes.set_xticklabels(variants, rotation=30, ha="right", fontsize=8)
    axes.set_ylabel(f"{metric_spec(MAIN_METRIC).header}, lower is better")
    axes.set_title(title)
    axes.grid(True, alpha=0.3)
    handles = [Line2D([], [], color=c, marker=m, linestyle="-", markersize=6) for c, m in (style[x] for x in models)]
    figure.legend(handles, models, loc="lower center", ncol=3, fontsize=8, frameon=False)
    figure.tight_layout(rect=(0, 0.05 * ((len(models) + 2) // 3), 1, 1))
    return _png(figure)
