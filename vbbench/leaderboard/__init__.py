"""Leaderboards generated from results files, deterministically.

``build(results_dir, out_dir)`` reads every ``vbbench-result/2`` file under ``results_dir`` and
writes into ``out_dir``:

* ``README.md`` and ``index.html`` (the same content, tables sortable): first what the variants
  cost — per dataset a one-sentence headline (which model degrades least when the phone turns and
  when the frame is 16:9), robustness tables of MAD, Grad and Conn per variant with the ratio to
  the original, and ``robustness-<dataset>.png``; then one ranking table per comparable group
  (:mod:`vbbench.leaderboard.groups`) and region, every metric in display units with its 95 %
  interval and each row's paired comparison with the next (ties marked); then the seed paper's
  Table 1 and Table 2 beside ours (``datasets/seed_paper.yaml``); then speeds and
  ``accuracy_vs_speed-<dataset>-<variant>.png`` for each group whose results carry speeds;
* ``leaderboard.csv``: one row per result, region and metric, raw values.

The same results always give the same bytes: nothing depends on the clock, the machine or the
order files were found in. :func:`check` regenerates into memory and names every output that
differs from the one on disk, is missing, or is left over.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from vbbench.errors import ResultError, listing
from vbbench.io import atomic_write_bytes, atomic_write_text
from vbbench.leaderboard.formats import board_csv, board_html, board_markdown
from vbbench.leaderboard.groups import MIN_RELIABLE_N, Group, conventions_label, group_results
from vbbench.leaderboard.plots import accuracy_speed_plot, robustness_plot
from vbbench.leaderboard.tables import ranking_tables, robustness_section, seed_tables, variant_order
from vbbench.results import load_results

__all__ = ["render", "build", "check", "warnings_of", "conventions_label", "Rescorer", "Board"]

#: Generated files of the board whose names depend on the results.
_PLOT_PATTERNS = ("robustness-*.png", "accuracy_vs_speed-*.png", "accuracy_vs_speed.png")


class Board:
    """Everything on the board, computed once from the results."""

    def __init__(self, results: list[dict[str, Any]], paper: dict[str, Any] | None):
        self.results = results
        self.groups: list[Group] = group_results(results)
        self.robustness = []
        self.plots: dict[str, bytes] = {}
        for dataset, headline, tables, means in robustness_section(self.groups):
            name = f"robustness-{dataset}.png"
            variants = ["original", *variant_order({v for by in means.values() for v in by} - {"original"})]
            self.plots[name] = robustness_plot(means, variants, f"{dataset}: MAD per variant")
            self.robustness.append((dataset, headline, tables, name))
        self.rankings = [(group, ranking_tables(group)) for group in self.groups]
        self.seed = seed_tables(self.groups, paper, results) if paper else []
        self.speeds: list[tuple[Group, str]] = []
        for group in self.groups:
            if group.conventions or not any(r["model"].get("speed") for r in group.results):
                continue
            name = f"accuracy_vs_speed-{group.dataset}-{group.variant}.png"
            plot = accuracy_speed_plot(list(group.results))
            if plot is not None:
                self.plots[name] = plot
                self.speeds.append((group, name))


def _paper() -> dict[str, Any] | None:
    """The seed paper's reported numbers, beside the dataset cards (whatever the results folder)."""
    from vbbench.paths import datasets_dir

    path = datasets_dir() / "seed_paper.yaml"
    if not path.is_file():
        return None
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as problem:
        raise ResultError(f"{path}: cannot read the seed paper's numbers ({problem})") from None


def render(results_dir: str | os.PathLike) -> dict[str, str | bytes]:
    """The content of every output, from the results under ``results_dir``.

    Returns
    -------
    dict
        ``{file name: content}``: text for ``README.md``, ``leaderboard.csv``, ``index.html``,
        PNG bytes for each plot.
    """
    results_dir = Path(results_dir)
    board = Board(load_results(results_dir), _paper())
    return {
        "README.md": board_markdown(board),
        "leaderboard.csv": board_csv(board),
        "index.html": board_html(board),
        **dict(sorted(board.plots.items())),
    }


def warnings_of(results_dir: str | os.PathLike) -> list[str]:
    """One line per table whose results rest on fewer than 30 images (or clips)."""
    lines = []
    for group in group_results(load_results(results_dir)):
        smallest = group.smallest_n()
        if smallest < MIN_RELIABLE_N:
            lines.append(
                f"{group.dataset}/{group.variant}: a result rests on {smallest} {group.unit}s (fewer than "
                f"{MIN_RELIABLE_N}); its interval says little, and the board marks it ⚠"
            )
    return lines


def _generated(out_dir: Path) -> set[str]:
    return {path.name for pattern in _PLOT_PATTERNS for path in out_dir.glob(pattern)}


def build(results_dir: str | os.PathLike, out_dir: str | os.PathLike) -> list[Path]:
    """Write the outputs atomically into ``out_dir``; remove plots left from earlier results;
    return the paths written."""
    out_dir = Path(out_dir)
    outputs = render(results_dir)
    written = []
    for name, content in outputs.items():
        path = out_dir / name
        if isinstance(content, bytes):
            atomic_write_bytes(path, content)
        else:
            atomic_write_text(path, content)
        written.append(path)
    for name in _generated(out_dir) - set(outputs):
        (out_dir / name).unlink()
    return written


#: ``rescore(results) -> problems``: re-scores the results whose predictions can be regenerated
#: and names those whose numbers differ (see :func:`check`).
Rescorer = Callable[[list[dict[str, Any]]], list[str]]


def check(results_dir: str | os.PathLike, out_dir: str | os.PathLike, *, rescore: Rescorer | None = None) -> list[str]:
    """Names of the outputs in ``out_dir`` that are missing, left over, or differ from a fresh build.

    Every results file is validated first, as data (:func:`vbbench.results.load_results` lists
    every invalid file). ``rescore`` re-scores the results whose predictions can be regenerated
    and returns one problem per result whose numbers differ, raised as one
    :class:`~vbbench.errors.ResultError` (see ``scripts/build_sample_board.py --check``).
    """
    if rescore is not None:
        problems = rescore(load_results(results_dir))
        if problems:
            raise ResultError(listing(list(problems), "results do not reproduce when scored again"))
    out_dir = Path(out_dir)
    outputs = render(results_dir)
    stale = []
    for name, content in outputs.items():
        path = out_dir / name
        expected = content if isinstance(content, bytes) else content.encode("utf-8")
        if not path.exists() or path.read_bytes() != expected:
            stale.append(str(path))
    stale += [str(out_dir / name) for name in sorted(_generated(out_dir) - set(outputs))]
    return stale
