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
from typer.core import TyperGroup

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
Model = Annotated[str, typer.Option("--model", help=_model_help())]


def _workers(workers: int | None) -> int:
    return workers or os.cpu_count() or 1


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
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar and no table.")] = False,
) -> None:
    """Score predicted mattes against ground truth.

    Pairs PRED_DIR with the ground truth by relative path without extension. Mattes are 8- or
    16-bit grayscale PNGs or RGBA images (the alpha channel is the matte); JPEG is accepted with
    a warning. With --dataset, the variant's trimaps are used too. Writes **per_image.csv** (raw
    units) and **summary.json** (schema vbbench-score/1: means, medians, 95% bootstrap CIs) and
    prints a table in display units.
    """
    from vbbench import score as scoring
    from vbbench.metrics import Conventions
    from vbbench.summary import format_table

    conventions = Conventions.parse(convention)
    if (gt is None) == (dataset is None):
        raise UsageError("give exactly one of --gt GT_DIR or --dataset NAME")
    provenance = None
    if dataset is not None:
        from vbbench.prepared import PreparedDataset
        from vbbench.variants import prepared_files

        prepared = PreparedDataset(dataset, data_dir)
        files = prepared_files(prepared, variant)
        gt = files.alpha
        if trimap is None and files.trimaps.is_dir():
            trimap = files.trimaps
        provenance = prepared.provenance(variant)
    assert gt is not None
    names = [name.strip() for name in metrics.split(",") if name.strip()] if metrics else None
    out_dir = out if out is not None else pred_dir.parent / f"{pred_dir.resolve().name}-scores"
    result = scoring.score_directories(
        pred_dir,
        gt,
        trimap,
        metrics=names,
        workers=_workers(workers),
        resize=resize,
        error_maps_dir=out_dir / "error_maps" if error_maps else None,
        scheduler=scheduler,
        dataset=provenance,
        progress=not quiet,
        conventions=conventions,
        checkpoint=out_dir / "per_image.partial.jsonl",
    )
    csv_path, json_path = scoring.write_outputs(result, out_dir)
    if not quiet:
        typer.echo(format_table(result.summary))
    typer.echo(f"wrote {csv_path} and {json_path}")


@app.command("metrics")
def list_metrics() -> None:
    """List the metrics: definition, raw unit, how tables show them, border rule and reference."""
    from vbbench import units
    from vbbench.metrics import METRICS

    for spec in METRICS.values():
        typer.echo(f"{spec.name}: {spec.title}")
        typer.echo(f"  definition: {spec.definition}")
        typer.echo(f"  raw unit:   {spec.raw_unit}; tables show {spec.header} (key {spec.display_key})")
        typer.echo(f"  border:     {spec.border}")
        typer.echo(f"  reference:  {spec.reference}")
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
    from vbbench.sample import SIMULATED_MODELS, generate_sample

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

    root = _data_dir(data_dir)
    explain: list = []
    if datasets:
        names = list(dict.fromkeys(datasets))
        for name in names:
            get_dataset(name)
    else:
        names, explain = preparing.default_selection(root)
    if (source or url) and len(names) != 1:
        raise UsageError("--from and --url need exactly one dataset name, e.g. vbbench prepare aisegment --from PATH")
    results = []
    manual: list[str] = []
    for name in names:
        try:
            results.append(
                preparing.prepare_dataset(
                    name, root, source=source, url=url, sha256=sha256, strict=strict, allow_partial=allow_partial,
                    resplit=resplit, workers=_workers(workers), progress=not quiet,
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
    from vbbench.prepare import run_verify

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
    from vbbench.models import train as training

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
) -> None:
    """Export the shipped reference weights (extra `model`), checked against PyTorch (max |Δ| < 1e-4)."""
    from vbbench.models.export import export_weights

    for line in export_weights(to, out, *_size(input_size), int8=int8):
        typer.echo(line)


@app.command()
def predict(
    model: Model,
    out: Annotated[Path, typer.Option("--out", help="Folder for <id>.png mattes and model.json.")],
    images: Annotated[Path | None, typer.Option("--images", help="Folder of images to predict.")] = None,
    dataset: Dataset = None,
    variant: Variant = "original",
    data_dir: DataDir = None,
    input_size: InputSize = None,
    batch: Annotated[int, typer.Option("--batch", min=1, help="Images per model call.")] = 8,
    threads: Threads = 2,
) -> None:
    """Predict mattes with a model, ready for `vbbench score`; resumable."""
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
    runner = load_runner(model, _size(input_size, landscape), threads)
    result = predict_folder(runner, images, out, batch, threads)
    typer.echo(
        f"predicted {result['predicted']} images, kept {result['skipped']} finished ones "
        f"({runner.name}, input {runner.input_width}x{runner.input_height}); wrote {out}"
    )


@app.command()
def bench(
    model: Model = "reference-onnx",
    sizes: Annotated[
        str, typer.Option("--sizes", help="Comma-separated frame sizes WxH.")
    ] = "640x360,1280x720,1920x1080",
    input_size: InputSize = None,
    frames: Annotated[int, typer.Option("--frames", min=1, help="Timed frames per size.")] = 60,
    threads: Threads = 2,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the numbers as JSON.")] = None,
) -> None:
    """Frames per second of the virtual-background pipeline, per stage (the seed's Table 2, here)."""
    import json

    from vbbench.io import atomic_write_text
    from vbbench.models.bench import benchmark, format_report, machine_description
    from vbbench.models.registry import load_runner

    runner = load_runner(model, _size(input_size, landscape=True), threads)
    reports = benchmark(runner, [_size(size) for size in sizes.split(",")], frames)
    machine = machine_description(threads)
    typer.echo(format_report(runner, reports))
    typer.echo(f"machine: {machine}")
    if json_out:
        document = {"model": runner.metadata(), "machine": machine, "frames": reports}
        atomic_write_text(json_out, json.dumps(document, indent=1) + "\n")


@app.command()
def composite(
    video: Annotated[Path, typer.Argument(help="Input video (anything OpenCV reads).")],
    background: Annotated[Path, typer.Option("--background", help="Background image.")],
    out: Annotated[Path, typer.Option("--out", help="Output video (.mp4).")] = Path("composited.mp4"),
    model: Model = "reference-onnx",
    input_size: InputSize = None,
    threads: Threads = 2,
) -> None:
    """Replace the background of a video with a model's mattes (the virtual background itself)."""
    from vbbench.models.bench import composite_video
    from vbbench.models.registry import load_runner

    runner = load_runner(model, _size(input_size, landscape=True), threads)
    result = composite_video(runner, video, background, out)
    typer.echo(
        f"wrote {out}: {result['frames']} frames at {result['width']}x{result['height']}, "
        f"{result['fps']:.1f} frames/s end to end"
    )


# ---- browse / leaderboard --------------------------------------------------------------------


@app.command()
def browse(
    runs: Annotated[
        list[Path],
        typer.Option("--runs", help="Score output folders (from vbbench score --out), one per model and variant."),
    ],
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
    name: Annotated[
        str | None, typer.Option("--name", help="FiftyOne dataset name (default: vbbench-DATASET).")
    ] = None,
    data_dir: DataDir = None,
    launch: Annotated[
        bool, typer.Option("--launch", help="Serve the app on 127.0.0.1 and print the worst-case view's URL.")
    ] = False,
    port: Annotated[int, typer.Option("--port", help="Port of the app with --launch.")] = 5151,
) -> None:
    """Show the worst cases in FiftyOne (extra `app`): mattes, error maps and metrics of every run.

    Builds or updates a persistent FiftyOne dataset with saved views such as **worst-mad-MODEL**
    and **disagree-mad-A-vs-B**; re-running adds new models without duplicating samples.
    """
    try:
        import fiftyone  # noqa: F401

        from vbbench import browse as browsing
    except ImportError as problem:
        raise UsageError(f"browse needs FiftyOne: pip install 'vbbench[app]' ({problem})") from None
    built, worst = browsing.browse_runs(runs, dataset, variants, images, name, data_dir)
    typer.echo(
        f"FiftyOne dataset {built.name}: {len(built)} samples; saved views: {', '.join(built.list_saved_views())}"
    )
    if not launch:
        typer.echo(
            "open it with: vbbench browse --runs … --launch, or in Python: "
            f"fiftyone.launch_app(fiftyone.load_dataset({built.name!r}))"
        )
        return
    import fiftyone as fo

    # The session itself holds the worst-case view: a session on the bare dataset pushes its own
    # (empty) view to the browser and can race the URL's ?view= away.
    session = fo.launch_app(built, view=built.load_saved_view(worst), port=port, address="127.0.0.1", auto=False)
    typer.echo(f"worst cases: {browsing.view_url(built.name, worst, port)}", color=False)
    session.wait(-1)


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

    if check:
        stale = boards.check(results, out)
        if stale:
            raise ResultError("stale leaderboard outputs (run `vbbench leaderboard`): " + ", ".join(stale))
        typer.echo(f"leaderboards in {out} are up to date with {results}")
        return
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
) -> None:
    """Turn a score summary into a leaderboard results file (then run `vbbench leaderboard`)."""
    from vbbench.results import add_result as adding

    typer.echo(f"wrote {adding(summary, model, results, meta=meta, bench=bench, date=date)}")


if __name__ == "__main__":
    app()
