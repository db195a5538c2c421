"""Leaderboards generated from results files, deterministically.

``build(results_dir, out_dir)`` reads every ``vbbench-result/1`` file under ``results_dir`` and
writes ``README.md`` (a table per dataset, variant and region, models sorted by mean MAD, every
metric in paper units with its 95 % CI), ``leaderboard.csv`` (one row per model, region and
metric, raw and displayed values) and ``index.html`` (the same tables, sortable, no external
resources), plus ``accuracy_vs_speed.png`` (matplotlib, Agg) when results carry ``vbbench
bench`` speeds. The same results always give the same bytes: nothing depends on the clock, the
machine or the order files were found in. ``check`` regenerates into memory and names every
output that differs from the committed one.

Results scored under non-reference metric conventions (``vbbench score --convention``) are
never ranked beside reference results: each such set of conventions gets its own tables, titled
with the conventions, and stays out of the accuracy-versus-speed plot; ``leaderboard.csv`` names
the conventions of every row.
"""

from __future__ import annotations

import csv
import html
import io as text_io
import os
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vbbench import units
from vbbench.errors import ResultError, listing
from vbbench.io import atomic_write_bytes, atomic_write_text
from vbbench.metrics import METRICS, REFERENCE
from vbbench.results import is_reference, load_results

__all__ = ["render", "build", "check", "SEED_TABLE1", "PLOT", "OUTPUT_NAMES", "conventions_label"]

#: Written only when some results file carries speed numbers; otherwise it must not exist.
PLOT = "accuracy_vs_speed.png"
#: Every file :func:`build` writes into its output folder.
OUTPUT_NAMES = ("README.md", "leaderboard.csv", "index.html", PLOT)
MAIN_METRIC = "mad"
#: The seed paper's Table 1 reports on the Shen set MAD that reads like ×10⁻² (percent) and its
#: Sobel "Gradient" error; reproduced in those units for the Shen set only: (metric, scale, label).
SEED_TABLE1 = (("mad", 1e2, "MAD"), ("sobel_l2", 1e3, "Gradient"))


def _cell(stats: dict[str, Any], scale: float) -> str:
    low, high = (value * scale for value in stats["ci95"])
    return f"{stats['mean'] * scale:.3f} [{low:.3f}, {high:.3f}]"


def conventions_label(result: dict[str, Any]) -> str:
    """``""`` for a result scored under the reference conventions, else the settings that differ
    (``conn_ties=row-major``): results with different labels are never ranked together.

    Examples
    --------
    >>> conventions_label({"summary": {"reference_conventions": False, "conventions": {"conn_ties": "row-major"}}})
    'conn_ties=row-major'
    """
    if is_reference(result):
        return ""
    conventions = result["summary"].get("conventions", {})
    changed = {name: value for name, value in conventions.items() if value != getattr(REFERENCE, name, value)}
    return ", ".join(f"{name}={value}" for name, value in sorted(changed.items()))


def _grouped(results: list[dict[str, Any]]) -> dict[tuple[str, str, str, str], list[dict[str, Any]]]:
    groups: dict[tuple[str, str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for result in results:
        key = (
            result["benchmark_version"],
            result["dataset"]["name"],
            result["dataset"]["variant"],
            conventions_label(result),
        )
        groups[key].append(result)
    return dict(sorted(groups.items()))


def _ordered(group: list[dict[str, Any]], region: str) -> list[dict[str, Any]]:
    def rank(result):
        scores = result["summary"]["scores"].get(region, {})
        return (scores[MAIN_METRIC]["mean"] if MAIN_METRIC in scores else float("inf"), result["model"]["name"])

    return sorted((r for r in group if region in r["summary"]["scores"]), key=rank)


def _metric_names(group: list[dict[str, Any]], region: str) -> list[str]:
    present = {name for r in group for name in r["summary"]["scores"].get(region, {})}
    return [name for name in METRICS if name in present]


def _tables(results: list[dict[str, Any]]):
    """Yield (title, note, header, rows) for every table, in a fixed order."""
    for (version, dataset, variant, conventions), group in _grouped(results).items():
        regions = sorted({region for r in group for region in r["summary"]["scores"]}, key=lambda r: (r != "whole", r))
        for region in regions:
            names = _metric_names(group, region)
            header = ["model", "simulated", "n"] + [METRICS[name].header for name in names]
            rows = []
            for result in _ordered(group, region):
                scores = result["summary"]["scores"][region]
                first = next(iter(scores.values()))
                rows.append(
                    [result["model"]["name"], "yes" if result["model"]["simulated"] else "no", str(first["n"])]
                    + [_cell(scores[name], METRICS[name].display_scale) if name in scores else "—" for name in names]
                )
            description = group[0]["summary"]["regions"].get(region, region)
            title = f"{dataset} / {variant} / {region}"
            note = (
                f"Benchmark version {version}; region `{region}` ({description}); sorted by mean MAD; "
                "each cell: mean [95% bootstrap CI]."
            )
            if conventions:
                title += f" (non-reference conventions: {conventions})"
                note += (
                    f" Scored under non-reference metric conventions ({conventions}) to reproduce another "
                    "implementation: not comparable with the reference tables, so listed apart."
                )
            yield title, note, header, rows
            if dataset == "shen2016" and region == "whole" and not conventions:
                header = ["model"] + [units.header(label, scale) for _, scale, label in SEED_TABLE1]
                rows = [
                    [r["model"]["name"]]
                    + [_cell(r["summary"]["scores"][region][name], scale) for name, scale, _ in SEED_TABLE1]
                    for r in _ordered(group, region)
                ]
                yield (
                    f"{dataset} / {variant}: the seed paper's Table 1 units",
                    "MAD and the Sobel gradient error in the units the seed paper prints them in.",
                    header,
                    rows,
                )


def _markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    return (
        "<table><thead><tr>"
        + "".join(f"<th>{html.escape(cell)}</th>" for cell in header)
        + "</tr></thead><tbody>"
        + "".join("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows)
        + "</tbody></table>"
    )


def _markdown(results: list[dict[str, Any]]) -> str:
    lines = [
        "# vbbench leaderboards",
        "",
        "Generated by `vbbench leaderboard` from `leaderboards/results/`; do not edit by hand.",
        units.NOTATION + " Definitions: [docs/metrics.md](../docs/metrics.md).",
        "Models marked simulated are the embedded sample's synthetic degradations, not real models.",
        "",
    ]
    if not results:
        lines.append("No results yet.")
    for title, note, header, rows in _tables(results):
        lines += [f"## {title}", "", note, "", *_markdown_table(header, rows), ""]
    if _speed_points(results):
        lines += [
            "## Accuracy versus speed",
            "",
            "Frames per second of the whole virtual-background pipeline "
            "(`vbbench bench`: resize in, inference, resize back, composite, mp4 encode; medians), on the "
            "machine named beside each. Speeds from different machines do not compare.",
            "",
            *_markdown_table(*_speed_table(results)),
            "",
            "Mean MAD over every pixel against those frames per second:",
            "",
            f"![accuracy versus speed]({PLOT})",
            "",
        ]
    else:
        lines += [
            "## Speed",
            "",
            "No results file carries `vbbench bench` numbers yet, so there is no accuracy-versus-speed plot.",
            "",
        ]
    return "\n".join(lines)


def _pixels(size: str) -> tuple[int, str]:
    """Sort key of a frame size ``WxH``: smallest frame first; unparsable sizes last, by name."""
    width, _, height = size.partition("x")
    return (int(width) * int(height), size) if width.isdigit() and height.isdigit() else (1 << 62, size)


def _speed_table(results: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Header and rows: FPS per frame size of every result with speeds, and the machine measured on."""
    timed = sorted(
        (r for r in results if r["model"].get("speed")),
        key=lambda r: (r["dataset"]["name"], r["dataset"]["variant"], r["model"]["name"]),
    )
    sizes = sorted({size for r in timed for size in r["model"]["speed"]}, key=_pixels)
    header = [
        "model",
        "dataset/variant",
        "parameters",
        "model input",
        *(f"FPS at {size}" for size in sizes),
        "measured on",
    ]
    rows = []
    for result in timed:
        model = result["model"]
        rows.append(
            [
                model["name"],
                f"{result['dataset']['name']}/{result['dataset']['variant']}",
                f"{model['parameters']:,}" if model.get("parameters") is not None else "—",
                model.get("speed_input") or "unknown",
                *(f"{model['speed'][size]:.1f}" if size in model["speed"] else "—" for size in sizes),
                model.get("speed_machine") or "unknown",
            ]
        )
    return header, rows


def _speed_points(results: list[dict[str, Any]]) -> dict[str, list[tuple[str, float, float]]]:
    """``{frame size: [(label, fps, mean MAD ×1e-3), ...]}`` for results with speed numbers."""
    points: dict[str, list[tuple[str, float, float]]] = defaultdict(list)
    for result in results:
        if not is_reference(result):  # never plotted beside reference accuracy
            continue
        whole = result["summary"]["scores"].get("whole", {})
        if MAIN_METRIC not in whole:
            continue
        label = f"{result['model']['name']} ({result['dataset']['name']}/{result['dataset']['variant']})"
        for size, fps in (result["model"].get("speed") or {}).items():
            points[size].append((label, float(fps), whole[MAIN_METRIC]["mean"] * METRICS[MAIN_METRIC].display_scale))
    return {size: sorted(points[size]) for size in sorted(points, key=_pixels)}


def _plot(results: list[dict[str, Any]]) -> bytes | None:
    """The accuracy-versus-speed PNG, or None without speed numbers.

    One panel per benchmarked frame size, smallest first; each model keeps one colour and marker
    across panels and is named in one legend below them (labels beside close points overlapped).
    PNG metadata is reduced to nothing that varies (no matplotlib version, no date), so identical
    results give identical bytes.
    """
    points = _speed_points(results)
    if not points:
        return None
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure  # a bare Figure: no pyplot state shared with callers
    from matplotlib.lines import Line2D

    labels = sorted({label for rows in points.values() for label, _, _ in rows})
    colours = matplotlib.colormaps["tab10"]
    style = {label: (colours(index % 10), "osD^v<>ph*"[index % 10]) for index, label in enumerate(labels)}
    figure = Figure(figsize=(4.5 * len(points), 4.2 + 0.25 * ((len(labels) + 1) // 2)), dpi=100)
    for index, (size, rows) in enumerate(points.items()):
        axes = figure.add_subplot(1, len(points), index + 1)
        for label, fps, mad in rows:
            colour, marker = style[label]
            axes.scatter([fps], [mad], color=colour, marker=marker, s=45)
        axes.set_xlabel(f"frames per second at {size}\n(higher is better)")
        axes.set_ylabel(f"{METRICS[MAIN_METRIC].header}, lower is better")
        axes.set_title(f"accuracy versus speed, {size}")
        axes.grid(True, alpha=0.3)
        axes.margins(0.15)
    handles = [
        Line2D([], [], color=colour, marker=marker, linestyle="none", markersize=7)
        for colour, marker in (style[label] for label in labels)
    ]
    figure.legend(handles, labels, loc="lower center", ncol=2, fontsize=8, frameon=False)
    figure.tight_layout(rect=(0, 0.06 * ((len(labels) + 1) // 2), 1, 1))
    buffer = text_io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def _csv(results: list[dict[str, Any]]) -> str:
    buffer = text_io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        [
            "benchmark_version",
            "dataset",
            "variant",
            "model",
            "simulated",
            "region",
            "metric",
            "n",
            "mean",
            "median",
            "ci95_low",
            "ci95_high",
            "display_key",
            "display_scale",
            "conventions",
        ]
    )
    for (version, dataset, variant, conventions), group in _grouped(results).items():
        for result in sorted(group, key=lambda r: r["model"]["name"]):
            for region, scores in sorted(result["summary"]["scores"].items()):
                for name in (n for n in METRICS if n in scores):
                    stats = scores[name]
                    writer.writerow(
                        [
                            version,
                            dataset,
                            variant,
                            result["model"]["name"],
                            result["model"]["simulated"],
                            region,
                            name,
                            stats["n"],
                            repr(stats["mean"]),
                            repr(stats["median"]),
                            repr(stats["ci95"][0]),
                            repr(stats["ci95"][1]),
                            METRICS[name].display_key,
                            repr(METRICS[name].display_scale),
                            conventions or "reference",
                        ]
                    )
    return buffer.getvalue()


_SORT_SCRIPT = """
document.querySelectorAll('table').forEach(function (table) {
  table.querySelectorAll('th').forEach(function (th, column) {
    th.style.cursor = 'pointer';
    th.addEventListener('click', function () {
      var body = table.tBodies[0], rows = Array.from(body.rows);
      var ascending = th.dataset.order !== 'asc'; th.dataset.order = ascending ? 'asc' : 'desc';
      rows.sort(function (a, b) {
        var x = a.cells[column].textContent, y = b.cells[column].textContent;
        var nx = parseFloat(x), ny = parseFloat(y);
        var c = (isNaN(nx) || isNaN(ny)) ? x.localeCompare(y) : nx - ny;
        return ascending ? c : -c;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""


def _html(results: list[dict[str, Any]]) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>vbbench leaderboards</title>',
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:2em}"
        "th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#eee}"
        "td:first-child,th:first-child{text-align:left}</style></head><body>",
        "<h1>vbbench leaderboards</h1>",
        "<p>Generated by <code>vbbench leaderboard</code>; click a column header to sort.</p>",
    ]
    if _speed_points(results):
        parts.append(f'<p><img src="{PLOT}" alt="accuracy versus speed"></p>')
        parts.append(
            "<h2>Speed</h2><p>Frames per second of the whole pipeline (vbbench bench), on the machine "
            "named beside each; speeds from different machines do not compare.</p>"
        )
        parts.append(_html_table(*_speed_table(results)))
    for title, note, header, rows in _tables(results):
        parts.append(f"<h2>{html.escape(title)}</h2><p>{html.escape(note)}</p>")
        parts.append(_html_table(header, rows))
    parts.append(f"<script>{_SORT_SCRIPT}</script></body></html>\n")
    return "\n".join(parts)


def render(results_dir: str | os.PathLike) -> dict[str, str | bytes | None]:
    """The content of every output, from the results under ``results_dir``.

    Returns
    -------
    dict
        ``{file name: content}`` for :data:`OUTPUTS` (text) and :data:`PLOT` (PNG bytes, or
        None when no results file has speed numbers, meaning the file must not exist).

    Examples
    --------
    >>> outputs = render("leaderboards/results")  # doctest: +SKIP
    >>> outputs["README.md"].splitlines()[0]  # doctest: +SKIP
    '# vbbench leaderboards'
    """
    results = load_results(results_dir)
    return {
        "README.md": _markdown(results),
        "leaderboard.csv": _csv(results),
        "index.html": _html(results),
        PLOT: _plot(results),
    }


def build(results_dir: str | os.PathLike, out_dir: str | os.PathLike) -> list[Path]:
    """Write the outputs atomically into ``out_dir``; return their paths.

    A plot left from earlier results that no longer carry speeds is removed, so the folder
    always matches what :func:`check` expects.
    """
    written = []
    for name, content in render(results_dir).items():
        path = Path(out_dir) / name
        if content is None:
            path.unlink(missing_ok=True)
            continue
        if isinstance(content, bytes):
            atomic_write_bytes(path, content)
        else:
            atomic_write_text(path, content)
        written.append(path)
    return written


#: ``rescore(results) -> problems``: re-scores the results whose predictions can be regenerated
#: and names those whose numbers differ (see :func:`check`).
Rescorer = Callable[[list[dict[str, Any]]], list[str]]


def check(results_dir: str | os.PathLike, out_dir: str | os.PathLike, *, rescore: Rescorer | None = None) -> list[str]:
    """Names of the outputs in ``out_dir`` that are missing, left over, or differ from a fresh build.

    Every results file is validated first, as data (:func:`vbbench.results.load_results` lists
    every invalid file, not only the first). Validation cannot see numbers edited consistently
    (a whole row halved); ``rescore`` is the hook for that: called with every validated result,
    it re-scores those whose predictions can be regenerated and returns one problem per result
    whose numbers differ, raised as one :class:`~vbbench.errors.ResultError`. (The re-scoring itself is issue 14's;
    until it lands ``vbbench leaderboard --check`` passes no ``rescore`` and
    ``tests/test_leaderboard.py`` re-scores the committed sample results.)
    """
    if rescore is not None:
        problems = rescore(load_results(results_dir))
        if problems:
            raise ResultError(listing(list(problems), "results do not reproduce when scored again"))
    stale = []
    for name, content in render(results_dir).items():
        path = Path(out_dir) / name
        if content is None:
            if path.exists():
                stale.append(str(path))
            continue
        expected = content if isinstance(content, bytes) else content.encode("utf-8")
        if not path.exists() or path.read_bytes() != expected:
            stale.append(str(path))
    return stale
