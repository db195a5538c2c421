"""The end-to-end demo on the embedded sample: generate, score every simulated model, rank.

It is what the README's first command runs, and it needs no download: the sample set and the
simulated models' predictions are generated (see ``docs/sample.md``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from vbbench import units
from vbbench.metrics import METRICS
from vbbench.score import score_directories, write_outputs

__all__ = ["run_demo", "ranking_table"]

#: Metrics the ranking table shows; every metric is in each model's summary.json.
TABLE_METRICS = ("mad", "mse", "sad", "grad", "conn", "sobel_l2")


def run_demo(
    out_dir: str | os.PathLike, count: int = 40, seed: int = 0, workers: int | None = None, progress: bool = True
) -> dict[str, dict[str, Any]]:
    """Generate the sample set in ``out_dir``, score each simulated model, return the summaries.

    Parameters
    ----------
    out_dir : path
        Folder for the sample (``images/``, ``alpha/``, ``trimaps/``, ``predictions/<model>/``)
        and the scores (``scores/<model>/per_image.csv``, ``summary.json``).
    count : int
        Number of 600×800 portraits.
    seed : int
        Generator seed; the same seed gives the same bytes.
    workers : int, optional
        Processes for scoring (default all cores).
    progress : bool
        Show progress bars.

    Returns
    -------
    dict
        ``{model: summary}`` in the generator's model order.
    """
    from vbbench.sample import SIMULATED_MODELS, generate_sample

    out_dir = Path(out_dir)
    generate_sample(out_dir, count=count, seed=seed, workers=workers or os.cpu_count() or 1, progress=progress)
    summaries = {}
    for model in SIMULATED_MODELS:
        result = score_directories(
            out_dir / "predictions" / model,
            out_dir / "alpha",
            out_dir / "trimaps",
            workers=workers,
            progress=progress,
            dataset={
                "name": "sample",
                "variant": "generated",
                "revision": f"seed={seed},count={count}",
                "split_sha256": None,
            },
        )
        write_outputs(result, out_dir / "scores" / model)
        summaries[model] = result.summary
    return summaries


def ranking_table(summaries: dict[str, dict[str, Any]], region: str = "whole") -> str:
    """Models sorted by mean MAD, each metric in paper units with its 95 % CI half-width.

    Examples
    --------
    >>> summary = {"metrics": {"mad": {"display_scale": 1e3}},
    ...            "scores": {"whole": {"mad": {"mean": 0.01, "ci95": [0.009, 0.011]}}}}
    >>> print(ranking_table({"m": summary}))  # doctest: +NORMALIZE_WHITESPACE
    region: whole; mean ± half-width of the 95% bootstrap CI
    model MAD (×10⁻³)
    m      10.00±1.00
    A header such as MAD (×10⁻³) means the numbers are in units of 10⁻³: 12.3 stands for 0.0123.
    """
    first = next(iter(summaries.values()))
    names = [name for name in TABLE_METRICS if name in first["scores"][region]]
    # The same notation as `vbbench score`'s table, from the metric registry.
    headers = {name: METRICS[name].header for name in names}
    ordered = sorted(summaries, key=lambda model: summaries[model]["scores"][region]["mad"]["mean"])
    width = max(len(model) for model in ordered) + 2
    column = max(17, *(len(header) + 2 for header in headers.values()))
    lines = [
        f"region: {region}; mean ± half-width of the 95% bootstrap CI",
        "model".ljust(width) + "".join(headers[name].rjust(column) for name in names),
    ]
    for model in ordered:
        cells = []
        for name in names:
            stats = summaries[model]["scores"][region][name]
            scale = summaries[model]["metrics"][name]["display_scale"]
            half = (stats["ci95"][1] - stats["ci95"][0]) / 2 * scale
            cells.append(f"{stats['mean'] * scale:.2f}±{half:.2f}".rjust(column))
        lines.append(model.ljust(width) + "".join(cells))
    lines.append(units.NOTATION)
    return "\n".join(lines)
