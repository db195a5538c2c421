"""Worst cases in FiftyOne, side by side: scored runs become one grouped FiftyOne dataset.

Each *group* is one image of one variant (``key`` = ``<variant>/<image id>``); its *slices* are
what a person compares at once, in this order:

* ``image`` — the colour image. The grid shows this slice, with the chosen model's error
  ``<model>_error`` drawn over it: an ``fo.Heatmap`` of the exact |p − g| (16-bit) in the
  sequential colour map of :mod:`vbbench.browse_media`, transparent where the error is below 1 %.
  It carries every model's metrics and its badge ``<model>_score``;
* ``side-by-side`` — one picture of the group, for the eye: image and ground truth, then each
  model's prediction and error picture next to each other (:func:`vbbench.browse_media.side_by_side`);
* ``ground-truth`` — the ground-truth matte itself (16-bit, white = foreground);
* ``<model>-prediction`` — the model's matte exactly as scored; ``<model>-error`` — the error
  picture (colours over a dimmed grey copy of the image).

Metric fields hold display units and carry the tables' notation: the field ``sim_good_mad_in_1e-3``
is :func:`vbbench.units.key`, its description, sidebar and badge say ``MAD (×10⁻³)``
(:attr:`vbbench.metrics.MetricSpec.header`). Saved views — ``worst-<metric>-<model>``,
``disagree-mad-<a>-vs-<b>``, ``variant-<v>`` — are named by their own URL slugs, so the name works
as typed in the app's ``?view=``.

Model names come from ``--name`` (per run), else ``model.json`` beside the predictions (what
``vbbench predict`` writes), else the prediction folder's name. Two runs of one variant with the
same name, or names whose fields or slugs would clash, are an error that says how to name them
apart; a run that would replace a model already in the dataset needs ``--replace``. Re-running
updates groups in place and adds new models' slices without touching the others; pictures are
redrawn only for new or changed runs (:class:`vbbench.browse_media.DrawnRecord`).

FiftyOne (extra ``app``) is imported only inside the functions; the processes it needs are in
:mod:`vbbench.browse_app`.

Examples
--------
>>> view_path("vbbench-sample", "worst-mad-sim-good")
'/datasets/vbbench-sample?view=worst-mad-sim-good'
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from vbbench import browse_media as media
from vbbench.browse_names import (
    ScoreRun,
    check_names,
    error_field,
    error_slice,
    field_prefix,
    load_run,
    metric_field,
    metric_label,
    prediction_slice,
    score_field,
    slug,
)
from vbbench.errors import BrowseError, UsageError
from vbbench.metrics import METRICS
from vbbench.pairing import find_mattes
from vbbench.registry import did_you_mean
from vbbench.units import NOTATION

__all__ = [
    "ScoreRun",
    "load_run",
    "check_names",
    "build",
    "plan",
    "browse_runs",
    "BrowsePlan",
    "view_path",
    "MAIN_METRICS",
    "WORST_COUNT",
]

MAIN_METRICS = ("mad", "conn", "grad")
WORST_COUNT = 50
GROUP_FIELD = "compare"  # not "group": the manifest's shooting-session group is a field too
IMAGE_SLICE = "image"
SIDE_BY_SIDE_SLICE = "side-by-side"
GT_SLICE = "ground-truth"
MODELS_INFO = "vbbench_models"
#: Bumped whenever the fields a run sets change, so datasets built before are updated on re-run.
FIELDS_VERSION = "1"


# ---- building the dataset --------------------------------------------------------------------


def default_media_dir(name: str) -> Path:
    """Where the pictures of dataset ``name`` go: beside FiftyOne's own dataset folders."""
    import fiftyone as fo

    return Path(fo.config.default_dataset_dir) / "vbbench-browse" / name


def _existing_groups(dataset) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """``key → slice → sample id`` and ``key → group id`` of a grouped dataset."""
    by_key: dict[str, dict[str, str]] = {}
    groups: dict[str, str] = {}
    if len(dataset):
        view = dataset.select_group_slices()
        for key, slice_name, sample_id, group in zip(
            *view.values(["key", f"{GROUP_FIELD}.name", "id", f"{GROUP_FIELD}.id"])
        ):
            by_key.setdefault(key, {})[slice_name] = sample_id
            groups[key] = group
    return by_key, groups


def _files(model: str, image_id: str) -> tuple[str, str, str]:
    """A model's pictures of an image, relative to the variant's media folder."""
    folder = slug(model)
    return f"{folder}/prediction/{image_id}.png", f"{folder}/error-map/{image_id}.png", f"{folder}/error/{image_id}.png"


def _draw(
    folder: Path, runs: list[ScoreRun], rows: list[str], images: dict[str, Path], workers: int
) -> tuple[int, int]:
    """Draw the variant's stale pictures into ``folder``; returns (files drawn, files up to date).

    ``rows`` are the models of the variant's side-by-side picture (every model the dataset has on
    it); models not among ``runs`` are read back from their stored pictures.
    """
    from vbbench.parallel import process_map

    record = media.DrawnRecord(folder)
    by_model = {run.model: run for run in runs}
    first = runs[0]
    tasks, signatures, fresh = [], {}, 0
    for image_id, gt in first.ground_truth.items():
        image = images[image_id]
        gt_file = f"{GT_SLICE}/{image_id}.png"
        signatures[gt_file] = media.signature(gt)
        models, row_signatures = [], []
        for model in rows:
            files = _files(model, image_id)
            run = by_model.get(model)
            if run is None:
                missing = [name for name in files if not (folder / name).is_file() or name not in record.entries]
                if missing:
                    raise BrowseError(
                        f"{folder / missing[0]}: the stored picture of model {model!r} is gone; pass its run "
                        f"again (--runs SCORE_DIR --name {model})"
                    )
                row_signatures.append(record.entries[files[0]])
                fresh += len(files)  # kept as they are
                models.append(media.ModelDrawing(model, Path(), Path(), False, False, *files))
                continue
            signed = media.signature(
                run.predictions[image_id], run.ground_truth[image_id], image, extra=f"resize={run.resize}"
            )
            redraw = not all(record.fresh(name, signed) for name in files)
            fresh += 0 if redraw else len(files)
            signatures.update(dict.fromkeys(files, signed))
            row_signatures.append(signed)
            pred, truth = run.predictions[image_id], run.ground_truth[image_id]
            models.append(media.ModelDrawing(model, pred, truth, run.resize, redraw, *files))
        montage = f"{SIDE_BY_SIDE_SLICE}/{image_id}.png"
        signatures[montage] = media.signature(image, gt) + "".join(f"|{m}={s}" for m, s in zip(rows, row_signatures))
        gt_stale = not record.fresh(gt_file, signatures[gt_file])
        montage_stale = not record.fresh(montage, signatures[montage])
        fresh += (not gt_stale) + (not montage_stale)
        if gt_stale or montage_stale or any(m.redraw for m in models):
            tasks.append(
                media.GroupDrawing(
                    folder, image_id, image, gt, gt_file, gt_stale, tuple(models), montage if montage_stale else None
                )
            )
    drawn = 0
    try:
        for written in process_map(media.draw_group, tasks, workers, preload=["vbbench.browse_media"]):
            record.entries.update({name: signatures[name] for name in written})
            drawn += len(written)
    finally:
        record.save()
    return drawn, fresh


def build(
    name: str,
    runs: list[ScoreRun],
    images_dir: str | os.PathLike,
    manifest: str | os.PathLike | None = None,
    media_dir: str | os.PathLike | None = None,
    show: str | None = None,
    replace: bool = False,
    workers: int = 1,
):
    """Create or update the persistent grouped FiftyOne dataset ``name`` from runs of one variant.

    Parameters
    ----------
    name : str
        FiftyOne dataset name (one per benchmark set, e.g. ``vbbench-sample``).
    runs : list of ScoreRun
        Score outputs of the models to show, all of one variant.
    images_dir : path
        The colour images the models saw, ids as in the runs.
    manifest : path, optional
        The prepared variant's ``manifest.csv``: adds ``split``, shooting-session ``group`` and
        ``source_id`` as fields (and the split as a tag).
    media_dir : path, optional
        Where the pictures go (default :func:`default_media_dir`); one folder per variant.
    show : str, optional
        The model whose error and badge the grid shows (default: the last run's).
    replace : bool
        Let a run replace a model of the same name and variant that came from another folder.
    workers : int
        Processes drawing the pictures.

    Returns
    -------
    (fiftyone.core.dataset.Dataset, dict)
        The dataset and what was drawn: ``{"drawn": files, "up_to_date": files, "media": folder}``.
    """
    import fiftyone as fo
    import pandas as pd

    if not runs:
        raise BrowseError("no score runs given (--runs SCORE_DIR …)")
    variant = runs[0].variant
    if any(run.variant != variant for run in runs):
        raise BrowseError("build() takes the runs of one variant; browse_runs() groups them")
    check_names(runs)
    existing = fo.load_dataset(name) if fo.dataset_exists(name) else None
    if existing is not None and existing.media_type != "group":
        raise BrowseError(
            f"FiftyOne dataset {name!r} was made by an older vbbench browse (not grouped): delete it "
            f"(fiftyone datasets delete {name}) and run again"
        )
    known: dict[str, dict[str, dict]] = dict(existing.info.get(MODELS_INFO, {})) if existing is not None else {}
    check_names(runs, known, replace)
    models = [*known, *(run.model for run in runs if run.model not in known)]
    show = show or runs[-1].model
    if show not in models:
        raise UsageError(
            f"--show {show!r} is not a model of this dataset{did_you_mean(show, models)} (models: {', '.join(models)})"
        )
    ids = list(runs[0].ground_truth)
    for run in runs:
        if set(run.ground_truth) != set(ids):
            raise BrowseError(f"{run.folder} scored other images than {runs[0].folder}: browse them separately")
        missing = [image_id for image_id in ids if image_id not in run.predictions]
        if missing:
            raise BrowseError(f"{run.folder}: no prediction for {', '.join(missing[:5])}")
    found = find_mattes(images_dir)
    absent = [image_id for image_id in ids if image_id not in found]
    if absent:
        raise BrowseError(f"{images_dir}: no image for {', '.join(absent[:5])}; pass --images with the scored images")
    images = {image_id: found[image_id] for image_id in ids}
    rows = None
    if manifest is not None:
        rows = pd.read_csv(manifest, dtype=str, keep_default_na=False).set_index("id")
        unknown = [image_id for image_id in ids if image_id not in rows.index]
        if unknown:
            raise BrowseError(f"{manifest}: no row for {', '.join(unknown[:5])}")
    by_key, group_ids = _existing_groups(existing) if existing is not None else ({}, {})
    had = {key.split("/", 1)[1] for key in by_key if key.startswith(f"{variant}/")}
    if had and had != set(ids):
        raise BrowseError(
            f"the dataset's variant {variant!r} has other images than {runs[0].folder} "
            f"({len(had)} vs {len(ids)}): browse it into another --dataset-name"
        )

    row_models = [model for model, variants in known.items() if variant in variants]
    row_models += [run.model for run in runs if run.model not in row_models]
    folder = Path(media_dir) if media_dir is not None else default_media_dir(name)
    folder = (folder / slug(variant)).resolve()
    drawn, up_to_date = _draw(folder, runs, row_models, images, workers)

    dataset = existing
    if dataset is None:
        dataset = fo.Dataset(name, persistent=True)
        dataset.add_group_field(GROUP_FIELD, default=IMAGE_SLICE)

    def meta(image_id: str) -> dict[str, Any]:
        fields: dict[str, Any] = {"key": f"{variant}/{image_id}", "image_id": image_id, "variant": variant}
        tags = [variant]
        if rows is not None:
            fields.update(
                {
                    column: rows.at[image_id, column]
                    for column in ("split", "group", "source_id")
                    if column in rows.columns
                }
            )
            if "split" in rows.columns:
                tags.append(rows.at[image_id, "split"])
        return {**fields, "tags": tags}

    def sample(slice_name: str, path: Path, shows: str, image_id: str, **fields: Any):
        group = fo.Group(id=group_ids[f"{variant}/{image_id}"])
        return fo.Sample(
            filepath=str(path), shows=shows, **{GROUP_FIELD: group.element(slice_name)}, **meta(image_id), **fields
        )

    new, added = [], set()
    for image_id in ids:
        if f"{variant}/{image_id}" not in group_ids:
            group_ids[f"{variant}/{image_id}"] = fo.Group().id
            new += [
                sample(IMAGE_SLICE, images[image_id].resolve(), "image", image_id),
                sample(SIDE_BY_SIDE_SLICE, folder / SIDE_BY_SIDE_SLICE / f"{image_id}.png", "side by side", image_id),
                sample(GT_SLICE, folder / GT_SLICE / f"{image_id}.png", "ground truth", image_id),
            ]
    if new:
        added.add(IMAGE_SLICE)
    for run in runs:
        for image_id in ids:
            prediction, _, error = _files(run.model, image_id)
            have = by_key.get(f"{variant}/{image_id}", {})
            for slice_name, path, shows in (
                (prediction_slice(run.model), prediction, f"{run.model} prediction"),
                (error_slice(run.model), error, f"{run.model} |p − g|"),
            ):
                if slice_name not in have:
                    new.append(sample(slice_name, folder / path, shows, image_id, model=run.model))
                    added.add(run.model)
    if new:
        dataset.add_samples(new, progress=False)
        # FiftyOne reloads every in-memory sample of the dataset after each set_values: let go.
        new.clear()
    for run in runs:
        record = known.get(run.model, {}).get(variant, {})
        fingerprint = f"{FIELDS_VERSION}:{run.fingerprint()}"
        if record.get("fingerprint") == fingerprint and not added & {IMAGE_SLICE, run.model}:
            continue  # the same run as last time, on the same samples: its fields are set already
        _set_fields(dataset, run, folder)
        known.setdefault(run.model, {})[variant] = {
            "run": str(run.folder.resolve()),
            "name_source": run.name_source,
            "pred_dir": str(run.pred_dir.resolve()),
            "fingerprint": fingerprint,
        }
    dataset.info[MODELS_INFO] = known
    dataset.info["vbbench_notation"] = NOTATION
    dataset.description = f"vbbench worst cases; metric fields are in display units. {NOTATION}"
    _configure_app(dataset, models, show)
    _save_views(dataset, models)
    dataset.save()
    return dataset, {"drawn": drawn, "up_to_date": up_to_date, "media": folder}


def _set_fields(dataset, run: ScoreRun, folder: Path) -> None:
    """A run's error heatmap (on the image slice), and its metrics in display units and badge on
    the slices that show the model: the image, the side-by-side picture and its own two."""
    import fiftyone as fo
    from fiftyone import ViewField as F

    variant, model = run.variant, run.model
    dataset.select_group_slices(IMAGE_SLICE).set_values(
        error_field(model),
        {
            f"{variant}/{image_id}": fo.Heatmap(
                map_path=str(folder / _files(model, image_id)[1]), range=[media.DRAWN_FROM_CODE, media.FULL]
            )
            for image_id in run.ground_truth
        },
        key_field="key",
    )
    # One call per field for all those slices, values in the view's order (with key_field, a view
    # holding several samples per key would get only one of them set).
    shown_in = [IMAGE_SLICE, SIDE_BY_SIDE_SLICE, prediction_slice(model), error_slice(model)]
    samples = dataset.select_group_slices(shown_in).match(F("variant") == variant)
    keys = samples.values("key")
    for metric in run.summary["options"]["metrics"]:
        spec = METRICS[metric]
        for region in dict.fromkeys(row["region"] for row in run.rows):
            values = {
                f"{variant}/{row['image']}": row[metric] * spec.display_scale
                for row in run.rows
                if row["region"] == region
            }
            field = metric_field(model, metric, region)
            samples.set_values(field, [values[key] for key in keys])
            _describe(dataset, field, metric_label(model, metric, region))
            if metric == "mad" and region == "whole":
                samples.set_values(score_field(model), [f"{spec.header} {values[key]:.4g} · {model}" for key in keys])
                _describe(dataset, score_field(model), f"{model} {spec.header} (the grid's badge)")


def _describe(dataset, path: str, description: str) -> None:
    """Set a field's description, saving only a change (each save rewrites the dataset document)."""
    field = dataset.get_field(path)
    if field.description != description:
        field.description = description
        field.save()


def _configure_app(dataset, models: list[str], show: str) -> None:
    """The grid on the image slice with ``show``'s error and badge; the error colour scale; sidebar
    groups in the tables' notation.

    FiftyOne 1.22.1's app builds its first colour scheme from the dataset's stored one without the
    ``rgb`` samples its server computes for each colour scale, and then paints every heatmap in the
    default viridis; so each scale is stored with its ``rgb`` too (the same 256 colours,
    :data:`vbbench.browse_media.COLOR_TABLE`). Heatmaps follow a colour scale only when colouring
    by value.
    """
    import fiftyone as fo

    schema = dataset.get_field_schema()
    dataset.default_group_slice = IMAGE_SLICE
    others = [score_field(m) for m in models if m != show] if len(models) <= 3 else []
    shown = ["shows", error_field(show), score_field(show), *others]
    dataset.app_config.active_fields = fo.ActiveFields(paths=[path for path in shown if path in schema])
    scale = {"list": media.colorscale(), "rgb": media.COLOR_TABLE.tolist()}
    dataset.app_config.color_scheme = fo.ColorScheme(
        color_by="value",
        opacity=media.OPACITY,
        colorscales=[{"path": error_field(m), **scale} for m in models],
    )
    groups = [fo.SidebarGroupDocument(name="tags", paths=[]), fo.SidebarGroupDocument(name="label tags", paths=[])]
    groups.append(fo.SidebarGroupDocument(name="error |p − g| ≥ 1 %", paths=[error_field(m) for m in models]))
    for model in [show, *(m for m in models if m != show)]:  # the shown model's group first
        prefix = field_prefix(model) + "_"
        paths = sorted(p for p in schema if p.startswith(prefix) and p not in (error_field(model), score_field(model)))
        groups.append(fo.SidebarGroupDocument(name=model, paths=[score_field(model), *paths]))
    about = ("shows", "key", "image_id", "variant", "model", "split", "group", "source_id")
    groups.append(fo.SidebarGroupDocument(name="image", paths=[p for p in about if p in schema]))
    groups.append(fo.SidebarGroupDocument(name="metadata", paths=[], expanded=False))
    groups.append(fo.SidebarGroupDocument(name="other", paths=[], expanded=False))
    dataset.app_config.sidebar_groups = groups


def _save_views(dataset, models: list[str]) -> None:
    """Worst-N per model and main metric, largest MAD disagreement per pair, one view per variant;
    names are their own URL slugs. A view depends only on field names, so existing ones are kept
    (saving a view rewrites the whole dataset document)."""
    from fiftyone import ViewField as F

    schema, saved = dataset.get_field_schema(), set(dataset.list_saved_views())

    def save(name: str, view, description: str | None = None) -> None:
        if name not in saved:
            dataset.save_view(name, view, description=description)

    for model in models:
        for metric in MAIN_METRICS:
            field = metric_field(model, metric)
            if field in schema:
                save(
                    f"worst-{metric}-{slug(model)}",
                    dataset.exists(field).sort_by(field, reverse=True).limit(WORST_COUNT),
                    f"the {WORST_COUNT} images where {metric_label(model, metric)} is largest",
                )
    for first, second in itertools.combinations(models, 2):
        a, b = metric_field(first, "mad"), metric_field(second, "mad")
        if a in schema and b in schema:
            save(
                f"disagree-mad-{slug(first)}-vs-{slug(second)}",
                dataset.exists(a).exists(b).sort_by((F(a) - F(b)).abs(), reverse=True).limit(WORST_COUNT),
                f"the {WORST_COUNT} images where {first} and {second} differ most in MAD",
            )
    for variant in dataset.distinct("variant"):
        save(f"variant-{slug(variant)}", dataset.match_tags(variant))


def view_path(dataset_name: str, view_name: str) -> str:
    """The app's URL path of a saved view (view names are their own slugs)."""
    return f"/datasets/{quote(dataset_name)}?view={quote(view_name)}"


@dataclass(frozen=True)
class BrowsePlan:
    """What :func:`browse_runs` will build, checked before any FiftyOne process starts."""

    dataset_name: str
    show: str
    variants: tuple[tuple[tuple[ScoreRun, ...], Path, Path | None], ...]  # (runs, images, manifest)


def plan(
    runs: list[tuple[Path, str | None]],
    *,
    dataset: str | None = None,
    variants: list[str] | None = None,
    images: Path | None = None,
    dataset_name: str | None = None,
    data_dir: Path | None = None,
    show: str | None = None,
) -> BrowsePlan:
    """Load score runs and check that they belong together (``vbbench browse`` before FiftyOne).

    Parameters
    ----------
    runs : list of (path, str or None)
        Score output folders and the model name given for each (``None``: from ``model.json`` or
        the prediction folder).
    dataset, variants, images, data_dir
        Which prepared dataset and variants the runs must have scored, and where their images are
        (``images`` for runs scored with ``--gt``, one variant only).
    dataset_name : str, optional
        FiftyOne dataset name (default ``vbbench-<dataset>``).
    show : str, optional
        The model the grid shows (default: the last run's).
    """
    loaded = [load_run(folder, name) for folder, name in runs]
    check_names(loaded)
    by_variant: dict[str, list[ScoreRun]] = {}
    names = set()
    for run in loaded:
        provenance = run.summary.get("dataset") or {}
        if dataset and provenance.get("name") not in (None, dataset):
            raise BrowseError(f"{run.folder}: scored dataset {provenance['name']!r}, not --dataset {dataset!r}")
        names.add(provenance.get("name") or dataset)
        by_variant.setdefault(run.variant, []).append(run)
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
    planned = []
    for variant, variant_runs in by_variant.items():
        folder, manifest = images, None
        if folder is None:
            from vbbench.prepared import PreparedDataset
            from vbbench.variants import prepared_files

            assert set_name is not None  # checked above: runs scored with --gt need --images
            files = prepared_files(PreparedDataset(set_name, data_dir), variant)
            folder, manifest = files.images, files.manifest  # the manifest adds split and group
        planned.append((tuple(variant_runs), folder, manifest))
    shown = show or planned[-1][0][-1].model
    return BrowsePlan(dataset_name or f"vbbench-{set_name or 'runs'}", shown, tuple(planned))


def browse_runs(planned: BrowsePlan, *, replace: bool = False, media_dir: Path | None = None, workers: int = 1):
    """``vbbench browse``: build the FiftyOne dataset of a :func:`plan`, one variant at a time.

    Returns
    -------
    (dataset, worst_view, reports)
        The built dataset, the name of the shown model's worst-MAD view and one :func:`build`
        report per variant.
    """
    built, reports = None, []
    for index, (runs, images, manifest) in enumerate(planned.variants):
        last = index == len(planned.variants) - 1  # the last build configures the app for every model
        built, report = build(
            planned.dataset_name,
            list(runs),
            images,
            manifest,
            media_dir=media_dir,
            show=planned.show if last else None,
            replace=replace,
            workers=workers,
        )
        reports.append({"variant": runs[0].variant, **report})
    return built, f"worst-mad-{slug(planned.show)}", reports
