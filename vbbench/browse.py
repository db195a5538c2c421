"""Worst cases in FiftyOne: scored runs become one persistent FiftyOne dataset per benchmark set.

Each sample is one image of one variant, with the ground-truth matte, every model's predicted
matte and its error map |p − g| as ``fo.Heatmap`` (mattes are continuous; a Segmentation would
show them as classes), every metric of every model as a float field (``<model>_<metric>`` for the
whole image, ``<model>_<metric>_unknown`` for the trimap's unknown band), and the variant as a
field and tag. Saved views list the worst 50 images per model and main metric
(``worst-mad-<model>``), where two models disagree most (``disagree-mad-<a>-vs-<b>``) and each
variant (``variant-<v>``). Re-running updates samples in place (keyed by ``key`` =
``<variant>/<image id>``), adds new models' fields and never duplicates samples.

FiftyOne (extra ``app``) is imported only here, inside the functions.
"""

from __future__ import annotations

import itertools
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vbbench.errors import BrowseError, ScoreError
from vbbench.io import read_matte, write_png
from vbbench.metrics import to_alpha
from vbbench.pairing import find_mattes
from vbbench.score import read_per_image
from vbbench.summary import load_summary

__all__ = ["ScoreRun", "load_run", "build", "browse_runs", "view_url", "MAIN_METRICS", "WORST_COUNT"]

MAIN_METRICS = ("mad", "conn", "grad")
WORST_COUNT = 50


@dataclass(frozen=True)
class ScoreRun:
    """One ``vbbench score`` output folder and what it refers to."""

    model: str
    folder: Path
    summary: dict[str, Any]
    per_image: pd.DataFrame
    predictions: dict[str, Path]
    ground_truth: dict[str, Path]


def field_name(model: str) -> str:
    """A FiftyOne field prefix for a model name (``sim-good`` → ``sim_good``)."""
    return re.sub(r"[^0-9A-Za-z_]", "_", model)


def load_run(folder: str | os.PathLike, model: str | None = None) -> ScoreRun:
    """Read a score output folder (``summary.json``, ``per_image.csv``) and find its files.

    The model name defaults to the prediction folder's name recorded in the summary.
    """
    folder = Path(folder)
    try:
        summary = load_summary(folder / "summary.json")
    except ScoreError as problem:
        raise BrowseError(f"{problem} (pass folders written by `vbbench score --out`)") from None
    options = summary["options"]
    pred_dir, gt_dir = Path(options["pred_dir"]), Path(options["gt_dir"])
    for what, path in (("prediction", pred_dir), ("ground-truth", gt_dir)):
        if not path.is_dir():
            raise BrowseError(f"{folder / 'summary.json'}: its {what} folder {path} is gone (scored elsewhere?)")
    return ScoreRun(
        model=model or pred_dir.resolve().name,
        folder=folder,
        summary=summary,
        per_image=pd.DataFrame(read_per_image(folder / "per_image.csv")),
        predictions=find_mattes(pred_dir),
        ground_truth=find_mattes(gt_dir),
    )


def _error_map(run: ScoreRun, image_id: str) -> Path:
    """The run's |p − g| map for an image, written beside the run if scoring did not."""
    path = run.folder / "error_maps" / f"{image_id}.png"
    if not path.exists():
        gt = to_alpha(read_matte(run.ground_truth[image_id]))
        pred = read_matte(run.predictions[image_id])
        if pred.shape != gt.shape:
            import cv2

            pred = cv2.resize(to_alpha(pred), (gt.shape[1], gt.shape[0]), interpolation=cv2.INTER_LINEAR)
        write_png(path, np.round(np.abs(to_alpha(pred) - gt) * 255.0).astype(np.uint8))
    return path


def _find_image(images: dict[str, Path], image_id: str, where: Path) -> Path:
    if image_id not in images:
        raise BrowseError(f"{where}: no image for {image_id!r}; pass --images with the scored images")
    return images[image_id]


def build(
    name: str,
    runs: list[ScoreRun],
    images_dir: str | os.PathLike,
    variant: str = "original",
    manifest: str | os.PathLike | None = None,
):
    """Create or update the persistent FiftyOne dataset ``name`` from score runs.

    Parameters
    ----------
    name : str
        FiftyOne dataset name (one per benchmark set, e.g. ``vbbench-sample``).
    runs : list of ScoreRun
        Score outputs of the models to show, all of the same variant.
    images_dir : path
        The colour images the models saw, ids as in the runs.
    variant : str
        Variant the runs scored.
    manifest : path, optional
        The prepared variant's ``manifest.csv``: adds each image's ``split``, shooting-session
        ``group`` and ``source_id`` as fields (and the split as a tag).

    Returns
    -------
    fiftyone.core.dataset.Dataset
    """
    import fiftyone as fo
    from fiftyone import ViewField as F

    if not runs:
        raise BrowseError("no score runs given (--runs SCORE_DIR …)")
    images = find_mattes(images_dir)
    dataset = fo.load_dataset(name) if fo.dataset_exists(name) else fo.Dataset(name, persistent=True)
    ground_truth = runs[0].ground_truth
    keys = [f"{variant}/{image_id}" for image_id in ground_truth]
    existing = set(dataset.values("key")) if "key" in dataset.get_field_schema() else set()
    new = [
        fo.Sample(
            filepath=str(_find_image(images, image_id, Path(images_dir)).resolve()),
            key=key,
            image_id=image_id,
            variant=variant,
            tags=[variant],
        )
        for key, image_id in zip(keys, ground_truth)
        if key not in existing
    ]
    if new:
        dataset.add_samples(new)
    if manifest is not None:
        rows = pd.read_csv(manifest, dtype=str, keep_default_na=False).set_index("id")
        unknown = [image_id for image_id in ground_truth if image_id not in rows.index]
        if unknown:
            raise BrowseError(f"{manifest}: no row for {', '.join(unknown[:5])}")
        for column in ("split", "group", "source_id"):
            if column in rows.columns:
                dataset.set_values(
                    column, {f"{variant}/{i}": rows.at[i, column] for i in ground_truth}, key_field="key"
                )
    dataset.set_values(
        "gt_matte",
        {
            key: fo.Heatmap(map_path=str(path.resolve()), range=[0, 255])
            for key, path in zip(keys, ground_truth.values())
        },
        key_field="key",
    )
    for run in runs:
        prefix = field_name(run.model)
        missing = sorted(set(ground_truth) - set(run.predictions))
        if missing:
            raise BrowseError(f"{run.folder}: no prediction for {', '.join(missing[:5])}")
        dataset.set_values(
            f"{prefix}_matte",
            {
                f"{variant}/{i}": fo.Heatmap(map_path=str(run.predictions[i].resolve()), range=[0, 255])
                for i in ground_truth
            },
            key_field="key",
        )
        dataset.set_values(
            f"{prefix}_error",
            {
                f"{variant}/{i}": fo.Heatmap(map_path=str(_error_map(run, i).resolve()), range=[0, 255])
                for i in ground_truth
            },
            key_field="key",
        )
        for region, rows in run.per_image.groupby("region"):
            suffix = "" if region == "whole" else f"_{region}"
            for metric in run.summary["options"]["metrics"]:
                values = {f"{variant}/{image_id}": float(value) for image_id, value in zip(rows["image"], rows[metric])}
                dataset.set_values(f"{prefix}_{metric}{suffix}", values, key_field="key")
    _save_views(dataset, [run.model for run in runs], variant, F)
    # The grid opens on the ground truth, each model's error map and its MAD.
    schema = dataset.get_field_schema()
    shown = ["gt_matte"] + sorted(
        name for name in schema if name.endswith("_error") or (name.endswith("_mad") and "_mad_" not in name)
    )
    dataset.app_config.active_fields = fo.ActiveFields(paths=shown)
    dataset.save()
    return dataset


def _save_views(dataset, models: list[str], variant: str, F) -> None:
    schema = dataset.get_field_schema()
    known = sorted({name for name in schema if name.endswith("_error")})
    all_models = [name[: -len("_error")] for name in known]
    for model in all_models:
        for metric in MAIN_METRICS:
            field = f"{model}_{metric}"
            if field in schema:
                view = dataset.exists(field).sort_by(field, reverse=True).limit(WORST_COUNT)
                dataset.save_view(f"worst-{metric}-{model}", view, overwrite=True)
    for first, second in itertools.combinations(all_models, 2):
        a, b = f"{first}_mad", f"{second}_mad"
        if a in schema and b in schema:
            view = dataset.exists(a).exists(b).sort_by((F(a) - F(b)).abs(), reverse=True).limit(WORST_COUNT)
            dataset.save_view(f"disagree-mad-{first}-vs-{second}", view, overwrite=True)
    dataset.save_view(f"variant-{variant}", dataset.match_tags(variant), overwrite=True)


def view_url(dataset_name: str, view_name: str, port: int) -> str:
    """URL of a saved view in a FiftyOne app served on 127.0.0.1:``port``."""
    from urllib.parse import quote

    import fiftyone.core.utils as fou

    # The app addresses saved views by slug (``worst-mad-sim_good`` → ``worst-mad-sim-good``).
    return f"http://127.0.0.1:{port}/datasets/{quote(dataset_name)}?view={fou.to_slug(view_name)}"


def browse_runs(
    folders: list[Path],
    dataset: str | None = None,
    variants: list[str] | None = None,
    images: Path | None = None,
    name: str | None = None,
    data_dir: Path | None = None,
):
    """``vbbench browse``: load score runs, check they belong together, build the FiftyOne dataset.

    Returns
    -------
    (dataset, worst_view) : (fiftyone.core.dataset.Dataset, str)
        The built dataset and the name of the last run's worst-MAD view.
    """
    loaded = [load_run(folder) for folder in folders]
    by_variant: dict[str, list[ScoreRun]] = {}
    names = set()
    for run in loaded:
        provenance = run.summary.get("dataset") or {}
        if dataset and provenance.get("name") not in (None, dataset):
            raise BrowseError(f"{run.folder}: scored dataset {provenance['name']!r}, not --dataset {dataset!r}")
        names.add(provenance.get("name") or dataset)
        by_variant.setdefault(provenance.get("variant") or "original", []).append(run)
    if len(names) > 1:
        raise BrowseError(
            f"the runs scored different datasets ({', '.join(sorted(map(str, names)))}): browse one at a time"
        )
    set_name: str | None = names.pop()
    for wanted in variants or []:
        if wanted not in by_variant:
            raise BrowseError(f"no run scored variant {wanted!r} (runs have: {', '.join(sorted(by_variant))})")
    if variants:
        by_variant = {variant: by_variant[variant] for variant in variants}
    if images is not None and len(by_variant) > 1:
        raise BrowseError("--images serves one variant; pass --variant V")
    if images is None and not set_name:
        raise BrowseError("the runs were scored with --gt: pass --images with the scored images")
    dataset_name = name or f"vbbench-{set_name or 'runs'}"
    built = None
    for variant, variant_runs in by_variant.items():
        folder, manifest = images, None
        if folder is None:
            from vbbench.prepared import PreparedDataset
            from vbbench.variants import prepared_files

            assert set_name is not None  # checked above: runs scored with --gt need --images
            files = prepared_files(PreparedDataset(set_name, data_dir), variant)
            folder, manifest = files.images, files.manifest  # the manifest adds split and group
        built = build(dataset_name, variant_runs, folder, variant, manifest)
    return built, f"worst-mad-{field_name(loaded[-1].model)}"
