"""The board's tables, as data: rankings with their paired ties, robustness, the seed paper's
tables and speeds. :mod:`vbbench.leaderboard.formats` writes them as Markdown, HTML and CSV.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from vbbench import units
from vbbench.compare import paired_difference, robustness
from vbbench.leaderboard.groups import MAIN_METRIC, MIN_RELIABLE_N, Group, metric_spec
from vbbench.variants import VARIANTS

__all__ = ["Table", "ranking_tables", "robustness_section", "seed_tables", "speed_rows", "pixels", "variant_order"]

#: Variants that say "the phone turned" and "the call frame" in the headline.
TURNED = ("rot90cw", "rot90ccw")
CALL_FRAME = "call16x9"
#: Metrics of the robustness tables.
ROBUSTNESS_METRICS = ("mad", "grad", "conn")


@dataclass(frozen=True)
class Table:
    """One table of the board."""

    title: str
    note: str
    header: list[str]
    rows: list[list[str]]
    images: tuple[str, ...] = field(default=())


def _cell(stats: dict[str, Any], scale: float) -> str:
    low, high = (value * scale for value in stats["ci95"])
    return f"{stats['mean'] * scale:.3f} [{low:.3f}, {high:.3f}]"


def _n(stats: dict[str, Any]) -> str:
    return f"{stats['n']} ⚠" if stats["n"] < MIN_RELIABLE_N else str(stats["n"])


def _vs_next(first: dict[str, Any], second: dict[str, Any], region: str, metric: str) -> str:
    """The paired comparison of two adjacent rows: ``tie`` when the 95 % interval of the mean
    difference contains 0, else the lead in display units."""
    one, two = first["per_unit"], second["per_unit"]
    if one["ids"] != two["ids"] or metric not in one["scores"][region] or metric not in two["scores"][region]:
        return "not paired (other images)"
    difference = paired_difference(two["scores"][region][metric], one["scores"][region][metric])
    scale = metric_spec(metric).display_scale
    if difference.tie:
        return f"tie ({difference.mean * scale:.3f} [{difference.low * scale:.3f}, {difference.high * scale:.3f}])"
    if max(abs(difference.low), abs(difference.high)) * scale < 0.0005:
        # Real (the interval excludes 0) but below the table's precision: a few pixels one code apart.
        return f"negligible lead ({difference.mean * scale:.1e} [{difference.low * scale:.1e}, {difference.high * scale:.1e}])"
    return f"leads by {difference.mean * scale:.3f} [{difference.low * scale:.3f}, {difference.high * scale:.3f}]"


def ranking_tables(group: Group) -> list[Table]:
    """One table per region of a comparable group, best mean MAD first, each row paired with the
    next one on the same images."""
    tables = []
    for region in group.regions():
        names = group.metrics(region)
        ranked = group.ranked(region)
        main = MAIN_METRIC if MAIN_METRIC in names else names[0]
        header = ["model", "simulated", "n", *(metric_spec(name).header for name in names),
                  f"vs next ({metric_spec(main).header}, paired)"]  # fmt: skip
        rows = []
        for position, result in enumerate(ranked):
            scores = result["summary"]["scores"][region]
            following = ranked[position + 1] if position + 1 < len(ranked) else None
            rows.append(
                [
                    result["model"]["name"],
                    "yes" if result["model"]["simulated"] else "no",
                    _n(next(iter(scores.values()))),
                ]
                + [_cell(scores[name], metric_spec(name).display_scale) if name in scores else "—" for name in names]
                + [_vs_next(result, following, region, main) if following is not None else "—"]
            )
        description = group.results[0]["summary"]["regions"].get(region, region)
        unit = "clip" if group.unit == "clip" else "image"
        title = f"{group.dataset} / {group.variant} / {region}"
        note = (
            f"Benchmark version {group.benchmark_version}; split {(group.split_sha256 or 'none')[:12]}; region "
            f"`{region}` ({description}); sorted by mean {metric_spec(main).label}; each cell: mean [95% bootstrap CI "
            f"over {unit}s]. vs next: the mean difference to the next row on the same {unit}s and its paired 95% "
            "bootstrap interval; 'tie' when the interval contains 0, so the order of those two rows is not established."
        )
        if group.partial:
            title += " (partial set)"
            note += " A partial set: fewer pairs than the dataset has, accepted with --allow-partial."
        if any(result["summary"]["scores"][region][main]["n"] < MIN_RELIABLE_N for result in ranked):
            note += f" ⚠: fewer than {MIN_RELIABLE_N} {unit}s, so the interval says little."
        if group.conventions:
            title += f" (non-reference conventions: {group.conventions})"
            note += (
                f" Scored under non-reference metric conventions ({group.conventions}) to reproduce another "
                "implementation: not comparable with the reference tables, so listed apart."
            )
        tables.append(Table(title, note, header, rows))
    return tables


def variant_order(variants: set[str]) -> list[str]:
    declared = [name for name in VARIANTS if name in variants]
    return declared + sorted(variants - set(declared))


#: Display scale of a sum metric divided by the image's pixel count (robustness tables).
PER_PIXEL_SCALE = 1e3


def per_pixel_mean(result: dict[str, Any], metric: str) -> float | None:
    """Mean over the images of a sum metric divided by each image's pixel count, region ``whole``.

    A sum (SAD, Grad, Conn) grows with the frame, so a smaller frame (the 16:9 crop, the clips'
    640×360) would seem to cost nothing. The pixel count of image i is SAD_i / MAD_i exactly
    (MAD is SAD over the same pixels); where MAD_i = 0 the prediction equals the ground truth, so
    every error sum is 0 too. None when the per-image SAD and MAD are not both recorded.

    Examples
    --------
    >>> result = {"per_unit": {"scores": {"whole": {"grad": [8.0, 2.0], "sad": [4.0, 0.0], "mad": [0.5, 0.0]}}}}
    >>> per_pixel_mean(result, "grad")  # (8 · 0.5 / 4 + 0) / 2
    0.5
    """
    scores = result["per_unit"]["scores"].get("whole", {})
    if not {metric, "sad", "mad"} <= scores.keys():
        return None
    values = [
        value * mad / sad if sad > 0 else 0.0 for value, sad, mad in zip(scores[metric], scores["sad"], scores["mad"])
    ]
    return sum(values) / len(values) if values else None


def robustness_means(
    groups: list[Group], metric: str
) -> dict[tuple[str, str, str | None], dict[str, dict[str, float]]]:
    """``{(version, dataset, split): {model: {variant: mean}}}`` over reference-convention groups,
    region ``whole``; sum metrics per pixel (:func:`per_pixel_mean`), so frames of different
    sizes compare."""
    means: dict[tuple[str, str, str | None], dict[str, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    summed = metric_spec(metric).reduction == "sum"
    for group in groups:
        if group.conventions:
            continue
        for result in group.results:
            scores = result["summary"]["scores"].get("whole", {})
            if metric not in scores:
                continue
            mean = per_pixel_mean(result, metric) if summed else scores[metric]["mean"]
            if mean is not None:
                key = (group.benchmark_version, group.dataset, group.split_sha256)
                means[key][result["model"]["name"]][group.variant] = mean
    return means


def robustness_section(groups: list[Group]) -> list[tuple[str, str, list[Table], dict[str, dict[str, float]]]]:
    """Per dataset (and split): its name, the headline sentence, one robustness table per metric,
    and the MAD means the robustness plot draws."""
    sections = []
    by_metric = {metric: robustness_means(groups, metric) for metric in ROBUSTNESS_METRICS}
    for key, models in sorted(
        by_metric[MAIN_METRIC].items(), key=lambda item: (item[0][0], item[0][1], item[0][2] or "")
    ):
        version, dataset, split = key
        rows_of = robustness(models, MAIN_METRIC)
        if not rows_of:
            continue
        tables = []
        for metric in ROBUSTNESS_METRICS:
            metric_models = by_metric[metric].get(key, {})
            rows = robustness(metric_models, metric)
            if not rows:
                continue
            variants = variant_order({variant for row in rows for variant in row.values})
            spec = metric_spec(metric)
            summed = spec.reduction == "sum"
            label = f"{spec.label} per pixel" if summed else spec.label
            scale = PER_PIXEL_SCALE if summed else spec.display_scale
            header = ["model", f"original {units.header(label, scale)}", *variants, "worst (ratio)"]
            table_rows = []
            for row in rows:
                cells = [
                    f"{row.values[v] * scale:.3f} (×{row.ratio(v):.2f})" if v in row.values else "—" for v in variants
                ]
                worst, ratio = row.worst()
                table_rows.append([row.model, f"{row.original * scale:.3f}", *cells, f"{worst} (×{ratio:.2f})"])
            what = (
                f"{spec.label} is a sum over the image, so it is divided by each image's pixel count before "
                "averaging: a smaller frame (the 16:9 crop, the clips) would otherwise seem to cost nothing. Mean"
                if summed
                else "Mean"
            )
            note = (
                f"{what} {label} over every pixel on each variant of the {dataset} test split, and in brackets the "
                "ratio variant / original: what that condition costs the model. Sorted by the worst ratio, most "
                "robust last."
            )
            tables.append(Table(f"{dataset}: robustness, {label}", note, header, table_rows))
        sections.append((dataset, _headline(dataset, rows_of), tables, models))
    return sections


def _headline(dataset: str, rows) -> str:
    """One sentence: which model degrades least when the phone turns and when the frame is 16:9."""
    parts = []
    for what, variants in (("when the phone turns", TURNED), ("when the frame is 16:9", (CALL_FRAME,))):
        candidates = [row for row in rows if any(v in row.values for v in variants)]
        if not candidates:
            continue
        best = min(candidates, key=lambda row: (row.worst(variants)[1], row.model))
        variant, ratio = best.worst(variants)
        part = f"{best.model} degrades least {what} (MAD ×{ratio:.2f} on {variant})"

        # Degrading least is not being best: a model that starts poorly can lose the least.
        def worst_value(row) -> float:
            return max(row.values[v] for v in variants if v in row.values)

        accurate = min(candidates, key=lambda row: (worst_value(row), row.model))
        if accurate.model != best.model:
            scale = metric_spec(MAIN_METRIC).display_scale
            part += (
                f", while {accurate.model} has the lowest MAD there ({units.header('MAD', scale)}: "
                f"{worst_value(accurate) * scale:.1f} against {worst_value(best) * scale:.1f})"
            )
        parts.append(part)
    if not parts:
        return f"On {dataset}, no model has results on the turned or 16:9 variants yet."
    return f"On {dataset}, " + "; ".join(parts) + "."


def pixels(size: str) -> tuple[int, str]:
    """Sort key of a frame size ``WxH``: smallest first; unparsable sizes last, by name."""
    width, _, height = size.partition("x")
    return (int(width) * int(height), size) if width.isdigit() and height.isdigit() else (1 << 62, size)


def speed_rows(results: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Header and rows: FPS per frame size of every model with speeds (one row per model and
    measurement, whichever variants carry it), and the machine measured on."""
    measured: dict[tuple, dict[str, Any]] = {}
    for result in results:
        model = result["model"]
        if model.get("speed"):
            key = (model["name"], model.get("speed_machine") or "", model.get("speed_input") or "")
            measured.setdefault(key, model)
    sizes = sorted({size for model in measured.values() for size in model["speed"]}, key=pixels)
    header = ["model", "parameters", "model input", *(f"FPS at {size}" for size in sizes), "measured on"]
    rows = [
        [
            model["name"],
            f"{model['parameters']:,}" if model.get("parameters") is not None else "—",
            model.get("speed_input") or "unknown",
            *(f"{model['speed'][size]:.1f}" if size in model["speed"] else "—" for size in sizes),
            model.get("speed_machine") or "unknown",
        ]
        for _, model in sorted(measured.items())
    ]
    return header, rows


def seed_tables(groups: list[Group], paper: dict[str, Any], results: list[dict[str, Any]]) -> list[Table]:
    """The seed paper's Table 1 (the Shen set, in its units, its rows beside ours) and Table 2
    (whole-pipeline FPS, its three phones beside the `bench` rows)."""
    tables = []
    table1 = paper["table1"]
    shen = [g for g in groups if g.dataset == "shen2016" and g.variant == "original" and not g.conventions]
    for group in shen:
        scales = table1["units"]
        header = ["model", *(units.header(metric_spec(name).label if name != "sobel_l2" else "Gradient", scale)
                             for name, scale in scales.items())]  # fmt: skip
        rows = [
            [result["model"]["name"]]
            + [_cell(scores[name], scale) if name in scores else "—" for name, scale in scales.items()]
            for result in group.ranked("whole")
            for scores in [result["summary"]["scores"]["whole"]]
        ]
        rows += [[f"paper: {row['name']}", *(f"{row[name]}" for name in scales)] for row in table1["rows"]]
        note = f"{table1['what']}, as {paper['title']} prints them."
        if not table1["rows"]:
            note += " The paper's own two rows are not recorded (datasets/seed_paper.yaml): add them to compare."
        tables.append(Table("The seed paper's Table 1", note, header, rows))
    table2 = paper["table2"]
    header, ours = speed_rows(results)
    sizes = table2["sizes"]
    paper_header = ["device or model", *(f"FPS at {size}" for size in sizes), "measured on"]
    rows = [[row["device"], *(str(fps) for fps in row["fps"]), "the paper"] for row in table2["rows"]]
    for row in ours:
        by_size = dict(zip(header[3:-1], row[3:-1]))
        rows.append([f"{row[0]} (input {row[2]})", *(by_size.get(f"FPS at {size}", "—") for size in sizes), row[-1]])
    note = f"{table2['what']}: the paper's phones beside `vbbench bench` on the machine named in each row."
    if not shen:
        note += " Table 1 (Gradient and MAD on the Shen 2016 set, in the paper's units) appears once Shen 2016 results exist."
    tables.append(Table("The seed paper's Table 2", note, paper_header, rows))
    return tables
