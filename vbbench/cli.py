"""The ``vbbench`` command line: parses arguments and delegates to the stage modules.

Heavy libraries (torch, onnxruntime, coremltools, fiftyone, dask) are imported inside the
commands that need them, so ``vbbench --help`` and ``vbbench score`` stay light.
Expected failures print one actionable line and end with ``raise typer.Exit(code=1) from None``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vbbench import __version__
from vbbench.models.registry import MODELS  # numpy and the standard library only; heavy parts load lazily

app = typer.Typer(
    name="vbbench",
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
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """vbbench: dataset curation and evaluation benchmark for portrait matting."""


MODEL_HELP = f"A registered baseline ({', '.join(MODELS)}) or a path to an .onnx file or .mlpackage."


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``message`` to stderr and return the Exit to raise (``raise fail(...) from None``)."""
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(code=code)


# ---- score (scoring core) ------------------------------------------------------------------


@app.command()
def score(
    pred_dir: Annotated[
        Path, typer.Argument(help="Folder of predicted mattes (PNG; ids = relative paths without extension).")
    ],
    gt: Annotated[Path | None, typer.Option("--gt", help="Folder of ground-truth mattes.")] = None,
    dataset: Annotated[
        str | None, typer.Option("--dataset", help="A prepared dataset whose ground truth to use instead of --gt.")
    ] = None,
    variant: Annotated[
        str, typer.Option("--variant", help="Variant of --dataset: original, rot90cw, rot90ccw, rot30, call16x9.")
    ] = "original",
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Where prepared datasets live (default: $VBBENCH_HOME/data).")
    ] = None,
    trimap: Annotated[
        Path | None, typer.Option("--trimap", help="Folder of trimaps; also scores the unknown band (trimap == 128).")
    ] = None,
    metrics: Annotated[
        str | None, typer.Option("--metrics", help="Comma-separated metric names (default: all).")
    ] = None,
    workers: Annotated[int | None, typer.Option("--workers", min=1, help="Processes (default: all cores).")] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Output folder (default: PRED_DIR-scores beside PRED_DIR).")
    ] = None,
    error_maps: Annotated[
        bool, typer.Option("--error-maps", help="Also write |p - g| maps to OUT/error_maps/.")
    ] = False,
    resize: Annotated[
        bool,
        typer.Option(
            "--resize", help="Resize predictions of another size to the ground truth (bilinear) instead of failing."
        ),
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
    a warning. Writes **per_image.csv** (raw units) and **summary.json** (schema
    vbbench-score/1: means, medians, 95% bootstrap CIs) and prints a table in paper units.
    """
    import warnings

    from vbbench import score as scoring
    from vbbench.metrics import Conventions

    try:
        conventions = Conventions.parse(convention)
    except ValueError as problem:
        raise fail(str(problem)) from None

    if (gt is None) == (dataset is None):
        raise fail("give exactly one of --gt GT_DIR or --dataset NAME") from None
    provenance = None
    if dataset is not None:
        try:
            from vbbench.sources import get_dataset
            from vbbench.split import split_sha256
            from vbbench.variants import variant_paths

            paths = variant_paths(dataset, variant, data_dir)
            card = get_dataset(dataset)
            provenance = {
                "name": dataset,
                "variant": variant,
                "revision": getattr(card, "revision", None),
                "split_sha256": split_sha256(dataset, data_dir),
            }
        except (KeyError, ValueError, FileNotFoundError) as problem:
            raise fail(str(problem).strip("'\"")) from None
        gt = paths.alpha
    names = [name.strip() for name in metrics.split(",") if name.strip()] if metrics else None
    out_dir = out if out is not None else pred_dir.parent / f"{pred_dir.resolve().name}-scores"
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = scoring.score_directories(
                pred_dir,
                gt,
                trimap,
                names,
                workers,
                resize,
                out_dir / "error_maps" if error_maps else None,
                scheduler,
                provenance,
                not quiet,
                conventions,
                checkpoint=out_dir / "per_image.partial.jsonl",
            )
    except scoring.ScoreError as problem:
        raise fail(str(problem)) from None
    for warning in caught:
        typer.secho(f"warning: {warning.message}", err=True, fg=typer.colors.YELLOW)
    csv_path, json_path = scoring.write_outputs(result, out_dir)
    if not quiet:
        typer.echo(scoring.format_table(result.summary))
    typer.echo(f"wrote {csv_path} and {json_path}")


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Folder for the generated sample and the scores.")] = Path(
        "vbbench-demo"
    ),
    count: Annotated[int, typer.Option("--count", min=1, help="Number of 600×800 portraits to generate.")] = 40,
    seed: Annotated[int, typer.Option("--seed", help="Generator seed (same seed, same bytes).")] = 0,
    workers: Annotated[int | None, typer.Option("--workers", min=1, help="Processes (default: all cores).")] = None,
) -> None:
    """Run the whole job offline: generate the embedded sample, score every simulated model, rank.

    Writes the sample to OUT (images, mattes, trimaps, predictions) and each model's
    **per_image.csv** and **summary.json** to OUT/scores/MODEL, then prints the ranking.
    """
    from vbbench.demo import ranking_table, run_demo
    from vbbench.score import ScoreError

    try:
        summaries = run_demo(out, count, seed, workers)
    except ScoreError as problem:
        raise fail(str(problem)) from None
    for region in next(iter(summaries.values()))["scores"]:
        typer.echo(ranking_table(summaries, region) + "\n")
    typer.echo(f"per-image scores and summaries: {out / 'scores'}/<model>/")
    typer.echo(f"score your own model: vbbench score PRED_DIR --gt {out / 'alpha'} --trimap {out / 'trimaps'}")


@app.command("metrics")
def list_metrics() -> None:
    """List the metrics: definition, raw unit, how tables show them, border rule and reference."""
    from vbbench.metrics import METRICS

    for spec in METRICS.values():
        typer.echo(f"{spec.name}: {spec.title}")
        typer.echo(f"  definition: {spec.definition}")
        typer.echo(f"  raw unit:   {spec.raw_unit}; tables show {spec.display_unit} ({spec.display_key})")
        typer.echo(f"  border:     {spec.border}")
        typer.echo(f"  reference:  {spec.reference}")


# ---- sample (embedded generated data set) -------------------------------------------------


@app.command("sample")
def sample_command(
    out_dir: Annotated[Path, typer.Argument(help="Folder to write the sample into (created if needed).")],
    count: Annotated[int, typer.Option("--count", min=1, max=10_000, help="Number of portraits.")] = 40,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Generator seed (same seed, same bytes).")] = 0,
    width: Annotated[int, typer.Option("--width", min=32, help="Image width in pixels.")] = 600,
    height: Annotated[int, typer.Option("--height", min=32, help="Image height in pixels.")] = 800,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Processes to generate with.")] = 1,
) -> None:
    """Generate the embedded synthetic portrait-matting sample (no download needed).

    Writes OUT_DIR/**images**/ (composites), **alpha**/ (exact ground-truth mattes),
    **trimaps**/ (unknown band 10 px), **predictions**/MODEL/ for simulated models of graded
    quality (sim-good … sim-holes, best first) and **sample.json** (schema vbbench-sample/1,
    SHA-256 of every file). Deterministic: the same seed and size give the same bytes. An
    interrupted run resumes. The images are synthetic: scores on them say nothing about real
    portraits (see docs/sample.md).
    """
    import warnings

    from vbbench.sample import SIMULATED_MODELS, generate_sample

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            root = generate_sample(out_dir, count=count, seed=seed, width=width, height=height, workers=workers)
    except ValueError as problem:
        raise fail(str(problem)) from None
    except OSError as problem:
        raise fail(
            f"cannot write the sample to {out_dir}: {problem.strerror or problem} ({problem.filename or out_dir})"
        ) from None
    for warning in caught:
        typer.secho(f"warning: {warning.message}", err=True, fg=typer.colors.YELLOW)
    typer.echo(
        f"wrote {count} portraits ({width}×{height} px) and {len(SIMULATED_MODELS)} simulated models' "
        f"predictions to {root}"
    )
    typer.echo(
        f"score one: vbbench score {root / 'predictions' / SIMULATED_MODELS[0]} "
        f"--gt {root / 'alpha'} --trimap {root / 'trimaps'}"
    )


# ---- prepare / verify (dataset curation) ---------------------------------------------------


def _default_data_dir(data_dir: Path | None) -> Path:
    from vbbench.sources import default_data_dir

    return data_dir if data_dir is not None else default_data_dir()


@app.command()
def prepare(
    datasets: Annotated[
        list[str] | None, typer.Argument(help="Datasets to prepare (default: every one at hand).")
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Where prepared datasets live (default: $VBBENCH_HOME/data).")
    ] = None,
    source: Annotated[
        Path | None, typer.Option("--from", help="The dataset's zip archive or extracted folder (one dataset only).")
    ] = None,
    url: Annotated[
        str | None, typer.Option("--url", help="Direct download URL (one dataset only; or $VBBENCH_<NAME>_URL).")
    ] = None,
    sha256: Annotated[
        str | None, typer.Option("--sha256", help="Expected SHA-256 of the download (or $VBBENCH_<NAME>_SHA256).")
    ] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Fail when verification finds defects.")] = False,
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Processes for generating, verifying and variants.")
    ] = 2,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """Prepare datasets: download or import → verify → 17:3 split → test-split variants.

    With no dataset named, prepares the embedded **sample** and every real set whose data is at
    hand (archive in $VBBENCH_HOME/archives, or imported before) and prints the manual steps for
    the others. Idempotent and resumable: finished steps are skipped after checking their outputs.
    Exits with code 3 when a named dataset must first be downloaded by hand (the steps are printed).
    """
    from vbbench import prepare as preparing
    from vbbench.sources import MANUAL_EXIT_CODE, DatasetError, ManualDownloadRequired, get_dataset

    root = _default_data_dir(data_dir)
    explain: list = []
    try:
        if datasets:
            names = list(dict.fromkeys(datasets))
            for name in names:
                get_dataset(name)
        else:
            names, explain = preparing.default_selection(root)
    except DatasetError as problem:
        raise fail(str(problem)) from None
    if (source or url) and len(names) != 1:
        raise fail(
            "--from and --url need exactly one dataset name, e.g. vbbench prepare aisegment --from PATH"
        ) from None
    results = []
    manual: list[str] = []
    for name in names:
        try:
            results.append(
                preparing.prepare_dataset(
                    name,
                    root,
                    source=source,
                    url=url,
                    sha256=sha256,
                    strict=strict,
                    workers=workers,
                    progress=not quiet,
                )
            )
        except ManualDownloadRequired as problem:
            manual.append(str(problem))
        except (DatasetError, ValueError, FileNotFoundError) as problem:
            raise fail(str(problem)) from None
        except OSError as problem:
            raise fail(f"{problem.filename or root}: {problem.strerror or problem}") from None
    for result in results:
        typer.echo(f"{result.name}: {result.split_text}")
        if result.split_path is not None and result.name != "sample":
            typer.echo(f"  split list: {result.split_path} (commit it to datasets/{result.name}/ to share the split)")
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
            r.name,
            str(r.usable_pairs),
            str(r.errors),
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
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Where prepared datasets live (default: $VBBENCH_HOME/data).")
    ] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Fail when defects are found.")] = False,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Decoding processes.")] = 2,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Re-hash and re-check every file of a prepared dataset against its lock manifest.

    Fails (naming the files) if any file changed, went missing or was added since the first
    verification; with --strict, also when defects are found.
    """
    from vbbench.prepare import run_verify
    from vbbench.sources import DatasetError

    root = _default_data_dir(data_dir)
    try:
        report = run_verify(name, root, strict=strict, workers=workers, progress=not quiet)
    except (DatasetError, FileNotFoundError) as problem:
        raise fail(str(problem)) from None
    typer.echo(
        f"{name}: {report.usable} usable pairs of {report.pairs}, {report.errors} defects, "
        f"{report.ignored} ignored files; files match {report.lock_path}"
        if not report.locked
        else f"{name}: {report.usable} usable pairs, lock written to {report.lock_path}"
    )
    typer.echo(f"defects: {report.defects_path}")


# ---- train / export / predict / bench (models) ---------------------------------------------


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise fail(f"size {text!r}: expected WIDTHxHEIGHT, e.g. 256x144") from None
    return width, height


@app.command()
def train(
    dataset: Annotated[
        str,
        typer.Option(
            "--dataset",
            help="'sample' (rendered on the fly), a prepared dataset (aisegment, shen2016: its train split), or 'folders' with --images/--alpha.",
        ),
    ] = "sample",
    images: Annotated[Path | None, typer.Option("--images", help="Training images (with --dataset folders).")] = None,
    alpha: Annotated[
        Path | None, typer.Option("--alpha", help="Training mattes, paired with --images by relative path.")
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Where prepared datasets live (default: $VBBENCH_HOME/data).")
    ] = None,
    out: Annotated[
        Path,
        typer.Option(
            "--out", help="Folder for checkpoint.pt, weights.pt and record.json; an existing checkpoint is resumed."
        ),
    ] = Path("runs/train"),
    steps: Annotated[int, typer.Option("--steps", min=1, help="Optimiser steps.")] = 2000,
    batch: Annotated[int, typer.Option("--batch", min=1, help="Batch size (the paper: 32).")] = 32,
    lr: Annotated[float, typer.Option("--lr", help="Adam learning rate, fixed (the paper: 1e-4).")] = 1e-4,
    input_size: Annotated[
        str, typer.Option("--input", help="Network input WxH: 256x256, or 256x144 for 16:9.")
    ] = "256x256",
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
    then_images: Annotated[
        Path | None, typer.Option("--then-images", help="Fine-tuning images (with --then folders).")
    ] = None,
    then_alpha: Annotated[
        Path | None, typer.Option("--then-alpha", help="Fine-tuning mattes (with --then folders).")
    ] = None,
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
    try:
        device = training.resolve_device(device)
        data, validation = training.training_data(dataset, data_dir=data_dir, images=images, alpha=alpha, pool=pool)
        if then is not None:  # check the second stage's data before hours of the first
            second, second_validation = training.training_data(
                then, data_dir=data_dir, images=then_images, alpha=then_alpha, pool=pool
            )
        config = training.TrainConfig(
            steps=steps,
            batch=batch,
            learning_rate=lr,
            width=width,
            height=height,
            seed=seed,
            validate_every=validate_every,
        )
        record = training.train(data, validation, config, out, device=device)
        if then is not None:
            # The paper's recipe: pre-train on the large set, then fine-tune on the high-quality one.
            fine = training.TrainConfig(**{**config.__dict__, "steps": then_steps})
            record = training.train(
                second, second_validation, fine, out / "then", initial_weights=out / "weights.pt", device=device
            )
            out = out / "then"
    except ValueError as problem:
        raise fail(str(problem)) from None
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
    input_size: Annotated[
        str, typer.Option("--input", help="Fixed input WxH: 256x256, or 256x144 for 16:9.")
    ] = "256x256",
    int8: Annotated[
        bool,
        typer.Option(
            "--int8",
            help="Also write OUT-int8.onnx: static QDQ per-channel int8, calibrated on 16 sample training images.",
        ),
    ] = False,
) -> None:
    """Export the shipped reference weights (extra `model`), checked against PyTorch (max |Δ| < 1e-4)."""
    from vbbench.models.registry import ModelError, _reference_model

    if to not in ("onnx", "coreml"):
        raise fail(f"--to {to}: choose onnx or coreml") from None
    width, height = _size(input_size)
    if to == "coreml":
        try:
            import numpy as np
            import torch

            from vbbench.models.coreml import EmulatedProgram, export_coreml
            from vbbench.models.train import sample_set, to_input

            model = _reference_model()
            path = export_coreml(model, out, width, height)
            program = EmulatedProgram(path)
            batch = np.stack([to_input(image, width, height) for image in sample_set(3, seed=3).images])
            with torch.no_grad():
                difference = float((program(torch.from_numpy(batch)) - model(torch.from_numpy(batch))).abs().max())
        except (ModelError, ValueError) as problem:
            raise fail(str(problem)) from None
        typer.echo(
            f"wrote {path} (ML program, {program.int8_weights} int8 weight tensors, input {width}x{height}); "
            f"max |int8 emulated - PyTorch| = {difference:.2e}"
        )
        return
    try:
        from vbbench.models.export import OPSET, export_onnx, max_abs_difference
        from vbbench.models.unet import count_macs, count_parameters

        model = _reference_model()
        path = export_onnx(model, out, width, height)
    except (ModelError, ValueError) as problem:
        raise fail(str(problem)) from None
    typer.echo(
        f"wrote {path} (opset {OPSET}, input {width}x{height}, {count_parameters(model):,} parameters, "
        f"{count_macs(model, width, height) / 1e6:.1f} M MACs per frame); "
        f"max |ONNX Runtime - PyTorch| = {max_abs_difference(model, path, width, height):.2e}"
    )
    if int8:
        from vbbench.models.quantize import cached_onnx_int8
        from vbbench.models.train import sample_set

        quantized = path.with_name(f"{path.stem}-int8.onnx")
        quantized.unlink(missing_ok=True)  # a fresh export gets a fresh calibration
        cached_onnx_int8(path, sample_set(16, seed=1).images, width, height)
        typer.echo(
            f"wrote {quantized} (int8 QDQ, per-channel weights; "
            f"max |int8 - PyTorch| = {max_abs_difference(model, quantized, width, height):.2e})"
        )


@app.command()
def predict(
    model: Annotated[str, typer.Option("--model", help=MODEL_HELP)],
    out: Annotated[Path, typer.Option("--out", help="Folder for <id>.png mattes and model.json.")],
    images: Annotated[Path | None, typer.Option("--images", help="Folder of images to predict.")] = None,
    dataset: Annotated[str | None, typer.Option("--dataset", help="A prepared dataset (instead of --images).")] = None,
    variant: Annotated[str, typer.Option("--variant", help="Variant of --dataset.")] = "original",
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Where prepared datasets live.")] = None,
    input_size: Annotated[
        str | None,
        typer.Option(
            "--input",
            help="Model input WxH for the reference models; default 256x144 (16:9) for --variant call16x9, else 256x256. MediaPipe models have their own.",
        ),
    ] = None,
    batch: Annotated[int, typer.Option("--batch", min=1, help="Images per model call.")] = 8,
    threads: Annotated[int, typer.Option("--threads", min=1, help="Threads for the runtime and for image I/O.")] = 2,
) -> None:
    """Predict mattes with a baseline (extra `model`), ready for `vbbench score`; resumable."""
    from vbbench.models.predict import predict_folder
    from vbbench.models.registry import ModelError, load_runner

    if (images is None) == (dataset is None):
        raise fail("give exactly one of --images DIR or --dataset NAME") from None
    try:
        if dataset is not None:
            from vbbench.variants import variant_paths

            images = variant_paths(dataset, variant, data_dir).images
        if input_size is None:  # a 16:9 call frame is seen at 256×144, the seed's landscape input
            input_size = "256x144" if dataset is not None and variant == "call16x9" else "256x256"
        runner = load_runner(model, _size(input_size), threads)
        result = predict_folder(runner, images, out, batch, threads)
    except (ModelError, ValueError, FileNotFoundError) as problem:
        raise fail(str(problem)) from None
    typer.echo(
        f"predicted {result['predicted']} images, kept {result['skipped']} finished ones "
        f"({runner.name}, input {runner.input_width}x{runner.input_height}); wrote {out}"
    )


@app.command()
def bench(
    model: Annotated[str, typer.Option("--model", help=MODEL_HELP)] = "reference-onnx",
    sizes: Annotated[
        str, typer.Option("--sizes", help="Comma-separated frame sizes WxH.")
    ] = "640x360,1280x720,1920x1080",
    input_size: Annotated[
        str, typer.Option("--input", help="Model input WxH (256x144 is the 16:9 input).")
    ] = "256x144",
    frames: Annotated[int, typer.Option("--frames", min=1, help="Timed frames per size.")] = 60,
    threads: Annotated[int, typer.Option("--threads", min=1, help="Runtime threads.")] = 2,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the numbers as JSON.")] = None,
) -> None:
    """Frames per second of the virtual-background pipeline, per stage (the seed's Table 2, here)."""
    import json

    from vbbench.io import atomic_write_text
    from vbbench.models.bench import benchmark, format_report, machine_description
    from vbbench.models.registry import ModelError, load_runner

    try:
        runner = load_runner(model, _size(input_size), threads)
    except (ModelError, ValueError) as problem:
        raise fail(str(problem)) from None
    reports = benchmark(runner, [_size(size) for size in sizes.split(",")], frames)
    machine = machine_description(threads)
    typer.echo(format_report(runner, reports))
    typer.echo(f"machine: {machine}")
    if json_out:
        atomic_write_text(
            json_out, json.dumps({"model": runner.metadata(), "machine": machine, "frames": reports}, indent=1) + "\n"
        )


@app.command()
def composite(
    video: Annotated[Path, typer.Argument(help="Input video (anything OpenCV reads).")],
    background: Annotated[Path, typer.Option("--background", help="Background image.")],
    out: Annotated[Path, typer.Option("--out", help="Output video (.mp4).")] = Path("composited.mp4"),
    model: Annotated[str, typer.Option("--model", help=MODEL_HELP)] = "reference-onnx",
    input_size: Annotated[str, typer.Option("--input", help="Model input WxH (256x144 keeps 16:9).")] = "256x144",
    threads: Annotated[int, typer.Option("--threads", min=1, help="Runtime threads.")] = 2,
) -> None:
    """Replace the background of a video with a model's mattes (the virtual background itself)."""
    from vbbench.models.bench import composite_video
    from vbbench.models.registry import ModelError, load_runner

    try:
        runner = load_runner(model, _size(input_size), threads)
        result = composite_video(runner, video, background, out)
    except (ModelError, ValueError) as problem:
        raise fail(str(problem)) from None
    typer.echo(
        f"wrote {out}: {result['frames']} frames at {result['width']}x{result['height']}, "
        f"{result['fps']:.1f} frames/s end to end"
    )


# ---- browse / leaderboard ------------------------------------------------------------------


@app.command()
def browse(
    runs: Annotated[
        list[Path],
        typer.Option("--runs", help="Score output folders (from vbbench score --out), one per model and variant."),
    ],
    dataset: Annotated[
        str | None,
        typer.Option(
            "--dataset",
            help="Prepared dataset the runs scored (default: the one their summaries name); every run must match.",
        ),
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
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Where prepared datasets live.")] = None,
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
        from vbbench import browse as browsing
    except ImportError as problem:
        raise fail(f"browse needs FiftyOne: pip install 'vbbench[app]' ({problem})") from None
    try:
        import fiftyone  # noqa: F401
    except ImportError as problem:
        raise fail(f"browse needs FiftyOne: pip install 'vbbench[app]' ({problem})") from None
    try:
        loaded = [browsing.load_run(folder) for folder in runs]
        by_variant: dict[str, list] = {}
        names = set()
        for run in loaded:
            provenance = run.summary.get("dataset") or {}
            if dataset and provenance.get("name") not in (None, dataset):
                raise browsing.BrowseError(
                    f"{run.folder}: scored dataset {provenance['name']!r}, not --dataset {dataset!r}"
                )
            names.add(provenance.get("name") or dataset)
            by_variant.setdefault(provenance.get("variant") or "original", []).append(run)
        if len(names) > 1:
            raise browsing.BrowseError(
                f"the runs scored different datasets ({', '.join(sorted(map(str, names)))}): browse one at a time"
            )
        set_name = names.pop()
        for wanted in variants or []:
            if wanted not in by_variant:
                raise browsing.BrowseError(
                    f"no run scored variant {wanted!r} (runs have: {', '.join(sorted(by_variant))})"
                )
        if variants:
            by_variant = {variant: by_variant[variant] for variant in variants}
        if images is not None and len(by_variant) > 1:
            raise browsing.BrowseError("--images serves one variant; pass --variant V")
        if images is None and not set_name:
            raise browsing.BrowseError("the runs were scored with --gt: pass --images with the scored images")
        dataset_name = name or f"vbbench-{set_name or 'runs'}"
        for variant, variant_runs in by_variant.items():
            folder, manifest = images, None
            if folder is None:
                from vbbench.variants import variant_paths

                paths = variant_paths(set_name, variant, data_dir)
                folder, manifest = paths.images, paths.manifest  # the manifest adds split and group
            built = browsing.build(dataset_name, variant_runs, folder, variant, manifest)
    except (browsing.BrowseError, ValueError, FileNotFoundError) as problem:
        raise fail(str(problem)) from None
    worst = f"worst-mad-{browsing.field_name(loaded[-1].model)}"
    typer.echo(
        f"FiftyOne dataset {dataset_name}: {len(built)} samples; saved views: {', '.join(built.list_saved_views())}"
    )
    if not launch:
        typer.echo(
            f"open it with: vbbench browse --runs … --launch, or in Python: "
            f"fiftyone.launch_app(fiftyone.load_dataset({dataset_name!r}))"
        )
        return
    import fiftyone as fo

    # The session itself holds the worst-case view: a session on the bare dataset pushes its own
    # (empty) view to the browser and can race the URL's ?view= away.
    session = fo.launch_app(built, view=built.load_saved_view(worst), port=port, address="127.0.0.1", auto=False)
    typer.echo(f"worst cases: {browsing.view_url(dataset_name, worst, port)}", color=False)
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
    from vbbench.results import ResultError

    try:
        if check:
            stale = boards.check(results, out)
            if stale:
                raise fail("stale leaderboard outputs (run `vbbench leaderboard`): " + ", ".join(stale))
            typer.echo(f"leaderboards in {out} are up to date with {results}")
            return
        for path in boards.build(results, out):
            typer.echo(f"wrote {path}")
    except ResultError as problem:
        raise fail(str(problem)) from None


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
    import json
    from datetime import datetime, timezone

    from vbbench.results import ResultError, bench_fields, make_result, write_result
    from vbbench.score import ScoreError, load_summary

    try:
        loaded = load_summary(summary)
        metadata = json.loads(meta.read_text(encoding="utf-8")) if meta else {}
        if loaded.get("dataset") is None:
            raise fail(
                f"{summary}: scored with --gt, so it names no dataset; score with --dataset NAME --variant V"
            ) from None
        metadata["name"] = model
        if bench:
            metadata.update(bench_fields(json.loads(bench.read_text(encoding="utf-8")), bench))
        day = date or datetime.now(timezone.utc).date().isoformat()
        typer.echo(f"wrote {write_result(make_result(loaded, metadata, day), results)}")
    except (ScoreError, ResultError, OSError, json.JSONDecodeError) as problem:
        raise fail(str(problem)) from None


if __name__ == "__main__":
    app()
