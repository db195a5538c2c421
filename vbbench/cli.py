"""The ``vbbench`` command line: parses arguments and delegates to the stage modules.

Options shared by several commands are declared once, as ``Annotated`` aliases, with one default
each. Every expected failure is a :class:`vbbench.errors.VbbenchError`, caught in one place
(:class:`_Commands`), printed as one ``error:`` message and turned into its exit code; a bug keeps
its traceback. Heavy libraries (torch, onnxruntime, coremltools, fiftyone, dask) are imported
inside the commands that need them, so ``vbbench --help`` and ``vbbench score`` stay light.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from vbbench import __version__
from vbbench.errors import ManualDownloadRequired, UsageError, VbbenchError


class _Commands(TyperGroup):
    """Runs a command with vbbench's error and warning reporting around it."""

    def invoke(self, ctx: Any) -> Any:
        def show(message, category, filename, lineno, file=None, line=None):
            typer.secho(f"warning: {message}", err=True, fg=typer.colors.YELLOW)

        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = show
            try:
                return super().invoke(ctx)
            except ManualDownloadRequired as problem:
                typer.secho(str(problem), err=True)
                raise typer.Exit(problem.exit_code) from None
            except VbbenchError as problem:
                typer.secho(f"error: {problem}", err=True, fg=typer.colors.RED)
                raise typer.Exit(problem.exit_code) from None
            except KeyboardInterrupt:
                typer.secho("interrupted; run the same command again to resume", err=True)
                raise typer.Exit(130) from None


app = typer.Typer(
    name="vbbench",
    cls=_Commands,
    help="Curate portrait-matting datasets and score matting models for virtual backgrounds.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"vbbench {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """vbbench: dataset curation and evaluation benchmark for portrait matting."""


# ---- shared options --------------------------------------------------------------------------

DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Where prepared datasets live (default: $VBBENCH_HOME/data).")
]
Workers = Annotated[int | None, typer.Option("--workers", min=1, help="Processes (default: every core).")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")]
Threads = Annotated[int, typer.Option("--threads", min=1, help="Threads of the model runtime and image I/O.")]
InputSize = Annotated[
    str | None,
    typer.Option(
        "--input",
        help="Model input WxH for models without a fixed one (default 256x256; 256x144 for 16:9 frames).",
    ),
]
Dataset = Annotated[str | None, typer.Option("--dataset", help="A prepared dataset (see `vbbench prepare`).")]


def _variant_help() -> str:
    from vbbench.variants import VARIANTS

    return f"Variant of --dataset: {', '.join(VARIANTS)}."


def _model_help() -> str:
    from vbbench.models.registry import model_help

    return model_help()


Variant = Annotated[str, typer.Option("--variant", help=_variant_help())]
Model = Annotated[str | None, typer.Option("--model", help=_model_help())]
ModelConfig = Annotated[
    Path | None,
    typer.Option(
        "--model-config",
        help="A model card (YAML: path, input_size, layout, channels, scale, mean, std, output, activation, state…; "
        "docs/models.md) for an ONNX or TFLite file.",
    ),
]


def _workers(workers: int | None) -> int:
    return workers or os.cpu_count() or 1


def _input(text: str | None) -> tuple[int, int] | None:
    """``--input`` as given, or None to let the model choose (its own, its card's or the default)."""
    return None if text is None else _size(text)


def _size(text: str | None, landscape: bool = False) -> tuple[int, int]:
    """``WxH`` → (width, height); None → the default input (256×144 for 16:9 frames, else 256×256)."""
    if text is None:
        return (256, 144) if landscape else (256, 256)
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise UsageError(f"size {text!r}: expected WIDTHxHEIGHT, e.g. 256x144") from None
    if width < 1 or height < 1:
        raise UsageError(f"size {text!r}: width and height must be positive")
    return width, height


# ---- score -----------------------------------------------------------------------------------


@app.command()
def score(
    pred_dir: Annotated[
        Path, typer.Argument(help="Folder of predicted mattes (PNG; ids = relative paths without extension).")
    ],
    gt: Annotated[Path | None, typer.Option("--gt", help="Folder of ground-truth mattes.")] = None,
    dataset: Dataset = None,
    variant: Variant = "original",
    data_dir: DataDir = None,
    trimap: Annotated[
        Path | None,
        typer.Option("--trimap", help="Folder of trimaps; also scores the unknown band (trimap == 128)."),
    ] = None,
    metrics: Annotated[
        str | None, typer.Option("--metrics", help="Comma-separated metric names (default: all).")
    ] = None,
    workers: Workers = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Output folder (default: PRED_DIR-scores beside PRED_DIR).")
    ] = None,
    error_maps: Annotated[
        bool, typer.Option("--error-maps", help="Also write |p - g| maps to OUT/error_maps/.")
    ] = False,
    resize: Annotated[
        bool,
        typer.Option("--resize", help="Resize predictions of another size to the ground truth (bilinear)."),
    ] = False,
    scheduler: Annotated[
        str | None, typer.Option("--scheduler", help="Dask distributed scheduler address (extra 'dist').")
    ] = None,
    convention: Annotated[
        list[str] | None,
        typer.Option(
            "--convention",
            help="NAME=VALUE to reproduce another implementation, e.g. conn_ties=row-major (see docs/metrics.md).",
        ),
    ] = None,
    clips: Annotated[
        bool,
        typer.Option(
            "--clips",
            help="GT_DIR holds clips (one first-level folder each, frames in name order): also scores dtSSD, "
            "MESSDdt and flicker per clip. Implied by --variant clips.",
        ),
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar and no table.")] = False,
    matte_channel: Annotated[
        str,
        typer.Option(
            "--matte-channel",
            help="Which plane of a prediction is its matte: auto (refuses a fully opaque alpha over other "
            "colour), alpha, or gray (equal colour channels).",
        ),
    ] = "auto",
    trimap_unknown: Annotated[
        int, typer.Option("--trimap-unknown", min=1, max=254, help="Trimap value of the unknown band.")
    ] = 128,
) -> None:
    """Score predicted mattes against ground truth.

    Pairs PRED_DIR with the ground truth by relative path without extension. Mattes are 8- or
    16-bit grayscale PNGs or RGBA images (the alpha channel is the matte); JPEG is accepted with
    a warning. With --dataset, the variant's trimaps are used too. Writes **per_image.csv** (raw
    units) and **summary.json** (schema vbbench-score/1: means, medians, 95% bootstrap CIs) and
    prints a table in display units. Clips (--clips, --variant clips) also get **per_clip.csv**,
    and their summary is over clips.
    """
    from vbbench import score as scoring
    from vbbench.guards import check_outputs
    from vbbench.locks import FolderLock
    from vbbench.metrics import Conventions, TemporalConventions
    from vbbench.metrics.conventions import split_settings
    from vbbench.summary import format_table

    still_settings, temporal_settings = split_settings(convention)
    conventions = Conventions.parse(still_settings)
    temporal_conventions = TemporalConventions.parse(temporal_settings)
    if (gt is None) == (dataset is None):
        raise UsageError("give exactly one of --gt GT_DIR or --dataset NAME")
    provenance = manifest = None
    if dataset is not None:
        from vbbench.prepared import PreparedDataset
        from vbbench.variants import VARIANTS, prepared_files

        prepared = PreparedDataset(dataset, data_dir)
        files = prepared_files(prepared, variant)
        gt = files.alpha
        if trimap is None and files.trimaps.is_dir():
            trimap = files.trimaps
        provenance = prepared.provenance(variant)
        if VARIANTS[variant].clips:
            clips, manifest = True, files.manifest
    assert gt is not None
    names = [name.strip() for name in metrics.split(",") if name.strip()] if metrics else None
    out_dir = out if out is not None else pred_dir.parent / f"{pred_dir.resolve().name}-scores"
    error_dir = out_dir / "error_maps" if error_maps else None
    given = "" if dataset is None else f" of --dataset {dataset}"
    check_outputs(
        folders={"--out": out_dir, "--error-maps folder": error_dir},
        inputs={"PRED_DIR": pred_dir, f"the ground truth{given}": gt, f"the trimaps{given}": trimap},
    )
    if temporal_settings and not clips:
        raise UsageError(f"--convention {temporal_settings[0]!r} is a clip metric's: score clips (--clips)")
    if clips:
        with FolderLock(out_dir):
            _score_clips(
                pred_dir, gt, trimap, manifest=manifest, names=names, workers=_workers(workers), resize=resize,
                error_maps_dir=error_dir, scheduler=scheduler, dataset=provenance, quiet=quiet,
                conventions=conventions, temporal_conventions=temporal_conventions, out_dir=out_dir,
                matte_channel=matte_channel, trimap_unknown=trimap_unknown,
            )  # fmt: skip
        return
    with FolderLock(out_dir):  # a second run into the same --out stops with "in use by PID N"
        result = scoring.score_directories(
            pred_dir,
            gt,
            trimap,
            metrics=names,
            workers=_workers(workers),
            resize=resize,
            error_maps_dir=error_dir,
            scheduler=scheduler,
            dataset=provenance,
            progress=not quiet,
            conventions=conventions,
            checkpoint=out_dir / "per_image.partial.jsonl",
            matte_channel=matte_channel,
            trimap_unknown=trimap_unknown,
        )
        csv_path, json_path = scoring.write_outputs(result, out_dir)
    if not quiet:
        typer.echo(format_table(result.summary))
    typer.echo(f"wrote {csv_path} and {json_path}")


def _score_clips(pred_dir, gt, trimap, *, names, scheduler, quiet, out_dir, **options) -> None:
    """``vbbench score`` of clips: per-frame, per-clip and summary files (:mod:`vbbench.score_clips`)."""
    from vbbench.metrics import METRICS, TEMPORAL_METRICS
    from vbbench.score_clips import score_clip_directories, write_clip_outputs
    from vbbench.summary import format_table

    if scheduler is not None:
        raise UsageError("--scheduler scores images; clips are scored on this machine's processes (--workers)")
    still = temporal = None
    if names is not None:
        for name in names:
            if name not in TEMPORAL_METRICS:
                METRICS[name]  # an unknown name: the did-you-mean error
        still = [name for name in names if name not in TEMPORAL_METRICS]
        # Naming only frame metrics keeps every clip metric the inputs allow: they are the point.
        temporal = [name for name in names if name in TEMPORAL_METRICS] or None
    result = score_clip_directories(
        pred_dir, gt, trimap, metrics=still, temporal_metrics=temporal, progress=not quiet,
        checkpoint=out_dir / "per_clip.partial.jsonl", **options,
    )  # fmt: skip
    paths = write_clip_outputs(result, out_dir)
    if not quiet:
        typer.echo(format_table(result.summary))
    typer.echo(f"wrote {', '.join(str(path) for path in paths)}")


@app.command("metrics")
def list_metrics() -> None:
    """List the metrics: definition, raw unit, how tables show them, border rule and reference."""
    from vbbench import units
    from vbbench.metrics import METRICS, TEMPORAL_METRICS

    specs: list[Any] = [*METRICS.values(), *TEMPORAL_METRICS.values()]
    for spec in specs:
        typer.echo(f"{spec.name}: {spec.title}")
        typer.echo(f"  definition: {spec.definition}")
        typer.echo(f"  raw unit:   {spec.raw_unit}; tables show {spec.header} (key {spec.display_key})")
        typer.echo(f"  border:     {spec.border}")
        typer.echo(f"  reference:  {spec.reference}")
    typer.echo("dtssd, messddt and flicker are clip metrics: scored with --clips or --variant clips, per clip.")
    typer.echo(units.NOTATION)


# ---- the embedded sample ---------------------------------------------------------------------


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Folder for the generated sample and the scores.")] = Path(
        "vbbench-demo"
    ),
    count: Annotated[int, typer.Option("--count", min=1, help="Number of 600×800 portraits to generate.")] = 40,
    seed: Annotated[int, typer.Option("--seed", help="Generator seed (same seed, same bytes).")] = 0,
    workers: Workers = None,
) -> None:
    """Run the whole job offline: generate the embedded sample, score every simulated model, rank.

    Writes the sample to OUT (images, mattes, trimaps, predictions) and each model's
    **per_image.csv** and **summary.json** to OUT/scores/MODEL, then prints the ranking.
    """
    from vbbench.demo import ranking_table, run_demo
    from vbbench.guards import check_outputs

    check_outputs(folders={"--out": out})
    summaries = run_demo(out, count, seed, _workers(workers))
    for region in next(iter(summaries.values()))["scores"]:
        typer.echo(ranking_table(summaries, region) + "\n")
    typer.echo(f"per-image scores and summaries: {out / 'scores'}/<model>/")
    typer.echo(f"score your own model: vbbench score PRED_DIR --gt {out / 'alpha'} --trimap {out / 'trimaps'}")


@app.command("sample")
def sample_command(
    out_dir: Annotated[Path, typer.Argument(help="Folder to write the sample into (created if needed).")],
    count: Annotated[int, typer.Option("--count", min=1, max=10_000, help="Number of portraits.")] = 40,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Generator seed (same seed, same bytes).")] = 0,
    width: Annotated[int, typer.Option("--width", min=32, help="Image width in pixels.")] = 600,
    height: Annotated[int, typer.Option("--height", min=32, help="Image height in pixels.")] = 800,
    workers: Workers = None,
) -> None:
    """Generate the embedded synthetic portrait-matting sample (no download needed).

    Writes OUT_DIR/**images**/ (composites), **alpha**/ (exact ground-truth mattes),
    **trimaps**/ (unknown band 10 px), **predictions**/MODEL/ for simulated models of graded
    quality (sim-good … sim-holes, best first) and **sample.json** (schema vbbench-sample/1,
    SHA-256 of every file). Deterministic: the same seed and size give the same bytes. An
    interrupted run resumes. The images are synthetic: scores on them say nothing about real
    portraits (see docs/sample.md).
    """
    from vbbench.guards import check_outputs
    from vbbench.sample import SIMULATED_MODELS, generate_sample

    if not out_dir.exists() or out_dir.is_dir():  # generate_sample names an OUT_DIR that is a file
        check_outputs(folders={"OUT_DIR": out_dir})
    root = generate_sample(out_dir, count=count, seed=seed, width=width, height=height, workers=_workers(workers))
    typer.echo(
        f"wrote {count} portraits ({width}×{height} px) and {len(SIMULATED_MODELS)} simulated models' "
        f"predictions to {root}"
    )
    typer.echo(
        f"score one: vbbench score {root / 'predictions' / SIMULATED_MODELS[0]} "
        f"--gt {root / 'alpha'} --trimap {root / 'trimaps'}"
    )


# ---- prepare / verify ------------------------------------------------------------------------


def _data_dir(data_dir: Path | None) -> Path:
    from vbbench.paths import default_data_dir

    return data_dir if data_dir is not None else default_data_dir()


@app.command()
def prepare(
    datasets: Annotated[
        list[str] | None, typer.Argument(help="Datasets to prepare (default: every one at hand).")
    ] = None,
    data_dir: DataDir = None,
    source: Annotated[
        Path | None, typer.Option("--from", help="The dataset's zip archive or extracted folder (one dataset only).")
    ] = None,
    url: Annotated[
        str | None, typer.Option("--url", help="Direct download URL (one dataset only; or $VBBENCH_<NAME>_URL).")
    ] = None,
    sha256: Annotated[
        str | None, typer.Option("--sha256", help="Expected SHA-256 of the download (or $VBBENCH_<NAME>_SHA256).")
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Fail when verification finds defects beyond the card's known ones.")
    ] = False,
    allow_partial: Annotated[
        bool,
        typer.Option(
            "--allow-partial",
            help="Accept a set with fewer pairs than its card expects; it is marked partial in its split record, "
            "score summaries and results.",
        ),
    ] = False,
    resplit: Annotated[
        bool, typer.Option("--resplit", help="Replace a committed split list that differs (moved items are reported).")
    ] = False,
    variants: Annotated[
        str | None,
        typer.Option(
            "--variants",
            help="Comma-separated variants to make, or 'all' (default: every variant but clips, which is on request).",
        ),
    ] = None,
    clip_frames: Annotated[
        int | None, typer.Option("--clip-frames", min=2, help="Frames per clip of the clips variant (default 30).")
    ] = None,
    clip_count: Annotated[
        int | None,
        typer.Option("--clip-count", min=1, help="Clips of the first N test items in id order (default: every one)."),
    ] = None,
    workers: Workers = None,
    quiet: Quiet = False,
) -> None:
    """Prepare datasets: download or import → verify → 17:3 split → test-split variants.

    With no dataset named, prepares the embedded **sample** and every real set whose data is at
    hand (archive in $VBBENCH_HOME/archives, or imported before) and prints the manual steps for
    the others. Idempotent and resumable: finished steps are skipped after checking their outputs;
    a second prepare of the same data folder stops and names the PID of the first.
    Exits with code 3 when a named dataset must first be downloaded by hand (the steps are printed),
    and with 1 when a set is incomplete (unless --allow-partial).
    """
    from vbbench import prepare as preparing
    from vbbench.cards import get_dataset
    from vbbench.errors import MANUAL_EXIT_CODE
    from vbbench.guards import check_outputs

    root = _data_dir(data_dir)
    check_outputs(folders={"--data-dir": root})
    explain: list = []
    if datasets:
        names = list(dict.fromkeys(datasets))
        for name in names:
            get_dataset(name)
    else:
        names, explain = preparing.default_selection(root)
    if (source or url) and len(names) != 1:
        raise UsageError("--from and --url need exactly one dataset name, e.g. vbbench prepare aisegment --from PATH")
    wanted, clip_spec = _variant_selection(variants, clip_frames, clip_count)
    results = []
    manual: list[str] = []
    for name in names:
        try:
            results.append(
                preparing.prepare_dataset(
                    name, root, source=source, url=url, sha256=sha256, strict=strict, allow_partial=allow_partial,
                    resplit=resplit, workers=_workers(workers), progress=not quiet, variants=wanted, clip_spec=clip_spec,
                )
            )  # fmt: skip
        except ManualDownloadRequired as problem:
            manual.append(str(problem))
    for result in results:
        for note in result.notes:
            typer.secho(f"note: {note}", err=True)
        typer.echo(f"{result.name}: split {result.split_status} ({result.split_path})")
        typer.echo("  " + result.split_text.replace("\n", "\n  "))
        if result.split_path is not None and not get_dataset(result.name).split.committed:
            typer.echo(
                f"  commit {result.split_path.parent}/split.csv and split.json to datasets/{result.name}/ to share the split"
            )
    if results:
        typer.echo(_prepare_table(results, root))
    for card in explain:
        typer.echo("\n" + preparing.manual_instructions(card))
    if manual:
        for text in manual:
            typer.secho(text, err=True)
        raise typer.Exit(code=MANUAL_EXIT_CODE)


def _variant_selection(
    variants: str | None, clip_frames: int | None, clip_count: int | None
) -> tuple[tuple[str, ...] | None, Any]:
    """``--variants`` (names, or ``all``), ``--clip-frames`` and ``--clip-count`` as prepare's arguments."""
    from vbbench.variants import VARIANTS

    wanted = None
    if variants is not None:
        names = [name.strip() for name in variants.split(",") if name.strip()]
        wanted = VARIANTS.names() if names == ["all"] else tuple(VARIANTS.check(names))
    clip_spec = None
    if clip_frames is not None or clip_count is not None:
        from vbbench.clips import ClipSpec

        if wanted is None or not any(VARIANTS[name].clips for name in wanted):
            raise UsageError("--clip-frames and --clip-count describe the clips variant: add --variants clips")
        clip_spec = ClipSpec(frames=clip_frames or ClipSpec.frames, count=clip_count)
    return wanted, clip_spec


def _prepare_table(results: list, data_dir: Path) -> str:
    header = ("dataset", "pairs", "defects", "ignored", "train", "test", "test %", "variants")
    rows = [
        (
            r.name + (" (partial)" if r.partial else ""),
            str(r.usable_pairs),
            f"{r.errors} ({r.known_errors} known)" if r.known_errors else str(r.errors),
            str(r.ignored),
            str(r.train),
            str(r.test),
            f"{100 * r.test / max(r.train + r.test, 1):.1f}",
            ", ".join(r.variants),
        )
        for r in results
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines) + f"\nprepared under {data_dir}; defects listed in <dataset>/verify/defects.csv"


@app.command()
def verify(
    name: Annotated[str, typer.Argument(help="A prepared dataset.")],
    data_dir: DataDir = None,
    strict: Annotated[bool, typer.Option("--strict", help="Fail when defects are found.")] = False,
    workers: Workers = None,
    quiet: Quiet = False,
) -> None:
    """Re-hash and re-check every file of a prepared dataset against its lock manifest.

    Fails (naming the files) if any file changed, went missing or was added since the first
    verification, or if a prepared variant's file differs from its manifest; with --strict, also
    when defects beyond the card's known ones are found.
    """
    from vbbench.guards import check_outputs
    from vbbench.prepare import run_verify

    check_outputs(folders={"--data-dir": _data_dir(data_dir)})
    report, variant_files = run_verify(
        name, _data_dir(data_dir), strict=strict, workers=_workers(workers), progress=not quiet
    )
    typer.echo(
        f"{name}: {report.usable} usable pairs of {report.pairs}, {report.errors} defects, "
        f"{report.ignored} ignored files; files match {report.lock_path}; "
        f"{variant_files} variant files match their manifests"
        if not report.locked
        else f"{name}: {report.usable} usable pairs, lock written to {report.lock_path}"
    )
    typer.echo(f"defects: {report.defects_path}")


# ---- models ----------------------------------------------------------------------------------


@app.command()
def train(
    dataset: Annotated[
        str,
        typer.Option(
            "--dataset",
            help="'sample' (rendered on the fly), a prepared dataset (its train split), or 'folders' with --images/--alpha.",
        ),
    ] = "sample",
    images: Annotated[Path | None, typer.Option("--images", help="Training images (with --dataset folders).")] = None,
    alpha: Annotated[
        Path | None, typer.Option("--alpha", help="Training mattes, paired with --images by relative path.")
    ] = None,
    data_dir: DataDir = None,
    out: Annotated[
        Path,
        typer.Option(
            "--out", help="Folder for checkpoint.pt, weights.pt and record.json; an existing checkpoint is resumed."
        ),
    ] = Path("runs/train"),
    steps: Annotated[int, typer.Option("--steps", min=1, help="Optimiser steps.")] = 2000,
    batch: Annotated[int, typer.Option("--batch", min=1, help="Batch size (the paper: 32).")] = 32,
    lr: Annotated[float, typer.Option("--lr", help="Adam learning rate, fixed (the paper: 1e-4).")] = 1e-4,
    input_size: InputSize = None,
    pool: Annotated[int, typer.Option("--pool", min=1, help="Portraits rendered for --dataset sample.")] = 256,
    seed: Annotated[int, typer.Option("--seed", help="Seed of weights, batches and augmentation.")] = 0,
    validate_every: Annotated[
        int, typer.Option("--validate-every", min=1, help="Steps between validation MADs.")
    ] = 100,
    then: Annotated[
        str | None,
        typer.Option(
            "--then",
            help="Fine-tune afterwards, into OUT/then: 'sample', a prepared dataset, or 'folders' (--then-images/--then-alpha).",
        ),
    ] = None,
    then_images: Annotated[Path | None, typer.Option("--then-images", help="Fine-tuning images.")] = None,
    then_alpha: Annotated[Path | None, typer.Option("--then-alpha", help="Fine-tuning mattes.")] = None,
    then_steps: Annotated[int, typer.Option("--then-steps", min=1, help="Fine-tuning steps.")] = 1000,
    device: Annotated[
        str, typer.Option("--device", help="auto (a CUDA GPU if PyTorch sees one), cpu or cuda.")
    ] = "auto",
) -> None:
    """Train the reference U-Net with the seed paper's recipe (extra `model`); resumable.

    The paper's recipe is `--dataset aisegment --then shen2016` after `vbbench prepare` of both.
    Augmentation: scale 1-1.15, rotation within ±30° (p 0.5), flip (p 0.5), crop. Loss: L1 + BCE +
    Sobel gradient. Validation MAD on 16 items of the dataset's test split (16 rendered portraits
    for 'sample' and 'folders'); it is only watched, never used to pick weights.
    """
    from vbbench.guards import check_outputs
    from vbbench.models import train as training

    check_outputs(
        folders={"--out": out},
        inputs={"--images": images, "--alpha": alpha, "--then-images": then_images, "--then-alpha": then_alpha},
    )
    width, height = _size(input_size)
    device = training.resolve_device(device)
    data, validation = training.training_data(dataset, data_dir=data_dir, images=images, alpha=alpha, pool=pool)
    if then is not None:  # check the second stage's data before hours of the first
        second, second_validation = training.training_data(
            then, data_dir=data_dir, images=then_images, alpha=then_alpha, pool=pool
        )
    config = training.TrainConfig(
        steps=steps, batch=batch, learning_rate=lr, width=width, height=height, seed=seed,
        validate_every=validate_every,
    )  # fmt: skip
    record = training.train(data, validation, config, out, device=device)
    if then is not None:
        # The paper's recipe: pre-train on the large set, then fine-tune on the high-quality one.
        fine = training.TrainConfig(**{**config.__dict__, "steps": then_steps})
        record = training.train(
            second, second_validation, fine, out / "then", initial_weights=out / "weights.pt", device=device
        )
        out = out / "then"
    typer.echo(
        f"trained {record['steps']} steps on {record['data']}; final loss {record['final']['total']:.4f}, "
        f"validation MAD {record['final'].get('validation_mad', float('nan')):.4f} (alpha, 0-1); wrote {out}/weights.pt"
    )


@app.command()
def export(
    to: Annotated[
        str, typer.Option("--to", help="Format: onnx, or coreml (an int8-weight .mlpackage; extra `coreml`).")
    ] = "onnx",
    out: Annotated[Path, typer.Option("--out", help="Output file.")] = Path("reference.onnx"),
    input_size: InputSize = None,
    int8: Annotated[
        bool,
        typer.Option(
            "--int8",
            help="Also write OUT-int8.onnx: static QDQ per-channel int8, calibrated on 16 sample training images.",
        ),
    ] = False,
    weights: Annotated[
        Path | None,
        typer.Option(
            "--weights", help="weights.pt of `vbbench train`, or its run folder (default: the shipped weights)."
        ),
    ] = None,
) -> None:
    """Export the shipped or your trained U-Net weights (extra `model`), checked against PyTorch (max |Δ| < 1e-4)."""
    from vbbench.guards import check_outputs
    from vbbench.models.export import export_weights

    check_outputs(files={"--out": out}, inputs={"--weights": weights} if weights is not None else None)
    for line in export_weights(to, out, *_size(input_size), int8=int8, weights=weights):
        typer.echo(line)


@app.command()
def predict(
    out: Annotated[Path, typer.Option("--out", help="Folder for <id>.png mattes and model.json.")],
    model: Model = None,
    model_config: ModelConfig = None,
    images: Annotated[Path | None, typer.Option("--images", help="Folder of images to predict.")] = None,
    dataset: Dataset = None,
    variant: Variant = "original",
    data_dir: DataDir = None,
    input_size: InputSize = None,
    batch: Annotated[int, typer.Option("--batch", min=1, help="Images per model call.")] = 8,
    threads: Threads = 2,
) -> None:
    """Predict mattes with a model, ready for `vbbench score`; resumable.

    A recurrent model's state is reset for every image directly in the folder and for every
    first-level subfolder (a clip, frames in name order).
    """
    from vbbench.guards import check_outputs
    from vbbench.locks import FolderLock
    from vbbench.models.predict import predict_folder
    from vbbench.models.registry import load_runner

    if (images is None) == (dataset is None):
        raise UsageError("give exactly one of --images DIR or --dataset NAME")
    landscape = False
    if dataset is not None:
        from vbbench.prepared import PreparedDataset
        from vbbench.variants import VARIANTS, prepared_files

        images = prepared_files(PreparedDataset(dataset, data_dir), variant).images
        landscape = VARIANTS[variant].landscape  # a 16:9 call frame is seen at the model's 16:9 input
    assert images is not None
    check_outputs(
        folders={"--out": out}, inputs={"--images" if dataset is None else f"the images of --dataset {dataset}": images}
    )
    with FolderLock(out):
        runner = load_runner(model, _input(input_size), threads, landscape=landscape, config=model_config)
        result = predict_folder(runner, images, out, batch, threads)
    clips = f", {result['clips']} clips with the state reset at each" if result["clips"] is not None else ""
    typer.echo(
        f"predicted {result['predicted']} images, kept {result['skipped']} finished ones "
        f"({runner.name}, input {runner.input_label}{clips}); wrote {out}"
    )


@app.command()
def bench(
    model: Model = None,
    model_config: ModelConfig = None,
    video: Annotated[
        Path | None,
        typer.Option("--video", help="Time a real video file or clip folder: decode, the pipeline, H.264 encode."),
    ] = None,
    sizes: Annotated[
        str | None,
        typer.Option("--sizes", help="Comma-separated synthetic frame sizes WxH (default 640x360,1280x720,1920x1080)."),
    ] = None,
    input_size: InputSize = None,
    frames: Annotated[
        int | None, typer.Option("--frames", min=1, help="Timed frames per size (default 60; --video: all).")
    ] = None,
    threads: Threads = 2,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the numbers as JSON.")] = None,
) -> None:
    """Frames per second of the virtual-background pipeline, p50/p95 ms per stage (the seed paper's Table 2, here).

    With --video, the real file is decoded and run as `vbbench composite` runs it; without, one
    static synthetic call frame per size stands in for the camera, and the output says so.
    Default model: reference-onnx.
    """
    import json

    from vbbench.io import atomic_write_text
    from vbbench.models.bench import bench_video, benchmark, format_report, machine_description
    from vbbench.models.registry import load_runner

    if video is not None and sizes is not None:
        raise UsageError("--sizes is for synthetic frames; --video runs at the video's own size")
    from vbbench.guards import check_outputs

    check_outputs(files={"--json": json_out}, inputs={"--video": video})
    if video is not None:
        from vbbench.models.video import open_video

        source = open_video(video)  # a bad video fails before the model loads
        landscape = source.width > source.height
    else:
        landscape = True
    if model is None and model_config is None:
        model = "reference-onnx"
    runner = load_runner(model, _input(input_size), threads, landscape=landscape, config=model_config)
    if video is not None:
        reports = [bench_video(runner, video, frames)]
    else:
        reports = benchmark(
            runner, [_size(size) for size in (sizes or "640x360,1280x720,1920x1080").split(",")], frames or 60
        )
    machine = machine_description(threads)
    typer.echo(format_report(runner, reports))
    typer.echo(f"machine: {machine}")
    if json_out:
        document = {"model": runner.metadata(), "machine": machine, "frames": reports}
        atomic_write_text(json_out, json.dumps(document, indent=1) + "\n")


@app.command()
def composite(
    video: Annotated[Path, typer.Argument(help="Input video file, or a clip folder of frame images (name order).")],
    background: Annotated[Path | None, typer.Option("--background", help="Background image.")] = None,
    blur: Annotated[
        float | None,
        typer.Option("--blur", help="Blur the real background with this sigma (pixels) instead of replacing it."),
    ] = None,
    fit: Annotated[
        str,
        typer.Option("--fit", help="How the background fills the frame: cover (crop), contain (letterbox), stretch."),
    ] = "cover",
    out: Annotated[Path, typer.Option("--out", help="Output video (H.264 MP4, the source's audio kept).")] = Path(
        "composited.mp4"
    ),
    matte_out: Annotated[
        Path | None, typer.Option("--matte-out", help="Also write the matte video (H.264, gray).")
    ] = None,
    model: Model = None,
    model_config: ModelConfig = None,
    input_size: InputSize = None,
    threads: Threads = 2,
    fps: Annotated[
        float | None, typer.Option("--fps", min=0.001, help="Frame rate of a clip folder (default 30).")
    ] = None,
    crf: Annotated[
        int, typer.Option("--crf", min=0, max=51, help="x264 quality: 0 lossless … 51; 18–23 look good.")
    ] = 20,
    quiet: Quiet = False,
) -> None:
    """Replace (or blur) the background of a video with a model's mattes: the virtual background itself.

    Default model: mediapipe-landscape (works on real images). Writes H.264 in MP4 (plays in
    browsers) with the source's frame count, size, timestamps and audio; the output is checked
    before the first frame and appears only when complete.
    """
    from vbbench.models.pipeline import DEFAULT_COMPOSITE_MODEL, check_outputs, composite_video
    from vbbench.models.pixels import FIT_MODES
    from vbbench.models.registry import load_runner
    from vbbench.models.video import open_video

    if (background is None) == (blur is None):
        raise UsageError("give exactly one of --background IMAGE or --blur SIGMA")
    if fit not in FIT_MODES:
        raise UsageError(f"--fit {fit}: choose one of {', '.join(FIT_MODES)}")
    source = open_video(video, fps)
    check_outputs(source.path, out, matte_out, background)  # before the model loads
    if model is None and model_config is None:
        model = DEFAULT_COMPOSITE_MODEL
    runner = load_runner(
        model, _input(input_size), threads, landscape=source.width > source.height, config=model_config
    )
    result = composite_video(
        runner, source, out, background=background, blur=blur, fit=fit, matte_out=matte_out, crf=crf, progress=not quiet
    )
    audio = f", audio {result['audio']}" if result["audio"] else ", no audio in the source"
    matte = f" and the matte to {matte_out}" if matte_out is not None else ""
    typer.echo(
        f"wrote {out}{matte}: {result['frames']} frames at {result['width']}x{result['height']}{audio} "
        f"({runner.name}, input {runner.input_label}; {result['fps']:.1f} frames/s end to end)"
    )


# ---- browse / leaderboard --------------------------------------------------------------------


class _BrowseCommand(TyperCommand):
    """Keeps the command line as typed: Click keeps each option's values but not their order, and
    each ``--name`` names the ``--runs`` just before it."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        ctx.meta["typed"] = list(args)
        return super().parse_args(ctx, args)


@app.command(cls=_BrowseCommand)
def browse(
    ctx: typer.Context,
    runs: Annotated[
        list[Path],
        typer.Option("--runs", help="Score output folders (from vbbench score --out), one per model and variant."),
    ],
    names: Annotated[
        list[str] | None,
        typer.Option(
            "--name",
            help="Model name of the --runs just before it (default: the name in model.json beside its "
            "predictions, else the prediction folder's name).",
        ),
    ] = None,
    dataset: Annotated[
        str | None,
        typer.Option("--dataset", help="Prepared dataset the runs scored (default: the one their summaries name)."),
    ] = None,
    variants: Annotated[
        list[str] | None,
        typer.Option("--variant", help="Only these variants (repeatable; default: every variant among the runs)."),
    ] = None,
    images: Annotated[
        Path | None,
        typer.Option("--images", help="The colour images scored, for runs scored with --gt (one variant only)."),
    ] = None,
    dataset_name: Annotated[
        str | None, typer.Option("--dataset-name", help="FiftyOne dataset name (default: vbbench-DATASET).")
    ] = None,
    show: Annotated[
        str | None, typer.Option("--show", help="Model whose error and MAD the grid shows (default: the last run's).")
    ] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Let a run replace a model of the same name from another folder.")
    ] = False,
    media_dir: Annotated[
        Path | None,
        typer.Option("--media-dir", help="Where the pictures go (default: beside FiftyOne's dataset folders)."),
    ] = None,
    data_dir: DataDir = None,
    workers: Workers = None,
    launch: Annotated[
        bool, typer.Option("--launch", help="Serve the app on 127.0.0.1 and print the worst-case view's URL.")
    ] = False,
    port: Annotated[int, typer.Option("--port", help="Port of the app with --launch.")] = 5151,
) -> None:
    """Show the worst cases in FiftyOne (extra `app`): image, ground truth, each model's prediction
    and error side by side.

    Builds or updates a persistent grouped FiftyOne dataset with saved views such as
    **worst-mad-MODEL** and **disagree-mad-A-vs-B**; re-running adds new models and redraws only
    the pictures of new or changed runs. Stop `--launch` with Ctrl-C: it stops every process it started.
    """
    # FiftyOne's dependencies (strawberry, mongoengine) warn about their own deprecations: not
    # the user's to act on. This command's filters are restored when it returns.
    warnings.simplefilter("ignore", DeprecationWarning)
    from vbbench import browse as browsing
    from vbbench.browse_names import pair_names

    pairs = pair_names(ctx.meta.get("typed", []))
    assert [folder for folder, _ in pairs] == runs and len([n for _, n in pairs if n]) == len(names or [])
    # Every check that needs no database runs before FiftyOne is imported or any process starts.
    planned = browsing.plan(
        pairs,
        dataset=dataset,
        variants=variants,
        images=images,
        dataset_name=dataset_name,
        data_dir=data_dir,
        show=show,
    )
    try:
        import fiftyone  # noqa: F401
    except ImportError as problem:
        raise UsageError(f"browse needs FiftyOne: pip install 'vbbench[app]' ({problem})") from None
    from vbbench.browse_app import Services, database
    from vbbench.browse_app import launch as serve

    def build() -> str:
        built, worst, reports = browsing.browse_runs(
            planned, replace=replace, media_dir=media_dir, workers=workers or os.cpu_count() or 1
        )
        typer.echo(
            f"FiftyOne dataset {built.name}: {len(built)} images; slices: {', '.join(built.group_slices)}; "
            f"saved views: {', '.join(built.list_saved_views())}"
        )
        for report in reports:
            typer.echo(
                f"pictures of variant {report['variant']}: {report['drawn']} drawn, {report['up_to_date']} "
                f"up to date, in {report['media']}"
            )
        return browsing.view_path(built.name, worst)

    if not launch:
        with Services() as services, database(services):
            path = build()
        typer.echo(f"open it with: vbbench browse … --launch (the worst cases are at {path})")
        return
    raise typer.Exit(serve(build, port=port, on_ready=lambda url: typer.echo(f"worst cases: {url}", color=False)))


@app.command()
def leaderboard(
    results: Annotated[
        Path, typer.Option("--results", help="Folder of results files (<dataset>/<variant>/<model>.json).")
    ] = Path("leaderboards/results"),
    out: Annotated[Path, typer.Option("--out", help="Where README.md, leaderboard.csv and index.html go.")] = Path(
        "leaderboards"
    ),
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Write nothing; fail if the outputs in OUT are stale or a results file is invalid."
        ),
    ] = False,
) -> None:
    """Regenerate the leaderboards from results files, deterministically (CI runs --check)."""
    from vbbench import leaderboard as boards
    from vbbench.errors import ResultError
    from vbbench.guards import check_outputs

    for line in boards.warnings_of(results):
        typer.secho(f"warning: {line}", err=True, fg=typer.colors.YELLOW)
    if check:
        stale = boards.check(results, out)
        if stale:
            raise ResultError("stale leaderboard outputs (run `vbbench leaderboard`): " + ", ".join(stale))
        typer.echo(f"leaderboards in {out} are up to date with {results}")
        return
    # Only writability: the board's files are never *.json, so they cannot mix with the results
    # (and --out holds --results by default).
    check_outputs(folders={"--out": out})
    for path in boards.build(results, out):
        typer.echo(f"wrote {path}")


@app.command("add-result")
def add_result(
    summary: Annotated[Path, typer.Argument(help="summary.json written by vbbench score.")],
    model: Annotated[str, typer.Option("--model", help="Model name shown on the board (letters, digits, . _ -).")],
    meta: Annotated[
        Path | None,
        typer.Option(
            "--meta", help="model.json from vbbench predict (parameters, input size, runtime, weights sha256)."
        ),
    ] = None,
    bench: Annotated[
        Path | None,
        typer.Option("--bench", help="JSON from `vbbench bench --json`: FPS per frame size for the speed plot."),
    ] = None,
    date: Annotated[str | None, typer.Option("--date", help="ISO date of the run (default: today, UTC).")] = None,
    results: Annotated[Path, typer.Option("--results", help="Results folder to add to.")] = Path(
        "leaderboards/results"
    ),
    replace: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="Replace this model's existing result; what is not given again (its speed, its metadata) is kept.",
        ),
    ] = False,
) -> None:
    """Turn a score summary into a leaderboard results file (then run `vbbench leaderboard`).

    An existing result of the same model, dataset and variant is never overwritten without
    --replace.
    """
    from vbbench.guards import check_outputs
    from vbbench.results import add_result as adding

    check_outputs(folders={"--results": results}, inputs={"SUMMARY": summary, "--meta": meta, "--bench": bench})
    written = adding(summary, model, results, meta=meta, bench=bench, date=date, replace=replace)
    typer.echo(f"wrote {written}")


if __name__ == "__main__":
    app()
