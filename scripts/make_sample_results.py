"""Regenerate the committed sample results: `python scripts/make_sample_results.py [DATE] [--bench]`.

Scores the embedded sample's simulated models and shipped baselines and writes
leaderboards/results/sample/generated/, then rebuilds the leaderboards. The date defaults to the
one already recorded and the baselines' speeds (and their machine) to the ones already recorded,
so a rerun reproduces the committed files byte for byte on the same kind of CPU (elsewhere the
baselines' scores move in the seventh digit: float kernels round differently); `--bench` measures the speeds anew with
`vbbench bench` (whole pipeline, 2 runtime threads) for the baselines that run under a deployment
runtime: the reference ONNX exports at the 16:9 input 256x144 and the MediaPipe models at their
own inputs. PyTorch and the Core ML emulation are not deployment speeds and get none.
"""

import json
import os
import sys
from pathlib import Path

from vbbench.leaderboard import build

HERE = Path(__file__).resolve().parents[1] / "leaderboards"

#: Baselines put on the sample board: every registered one. All are deterministic on one kind of
#: machine; the MediaPipe files come from the mediapipe wheel on PyPI (sha256-checked).
SAMPLE_BASELINES = (
    "reference",
    "reference-onnx",
    "reference-onnx-int8",
    "reference-coreml-int8",
    "mediapipe-general",
    "mediapipe-landscape",
)


def sample_results(
    results_dir: str | os.PathLike,
    date: str,
    count: int = 40,
    seed: int = 0,
    workers: int | None = None,
    progress: bool = False,
    baselines: tuple[str, ...] = SAMPLE_BASELINES,
    speeds: dict[str, dict[str, float]] | None = None,
    speed_machine: str | None = None,
    speed_inputs: dict[str, str] | None = None,
) -> list[Path]:
    """Score the embedded sample's simulated models and shipped baselines; write results files.

    The baselines (``baselines``; extras ``model``, ``coreml``, ``mediapipe``) predict the sample —
    the reference model and its exports at 256×256 with the weights in ``vbbench/models/weights``,
    the MediaPipe models at their fixed inputs — and are scored like any model. ``speeds`` gives a
    baseline's ``vbbench bench`` FPS per frame size, measured on ``speed_machine`` (see
    :func:`vbbench.models.bench.machine_description`) with the model input ``speed_inputs[name]``
    (WxH); measured, so not reproducible: they are kept as given and left out of CI's re-scoring
    comparison.

    Generates the sample (``count`` portraits, ``seed``) in a temporary folder, scores every
    simulated model against the ground truth with trimaps, and writes one results file per model
    (dataset ``sample``, variant ``generated``), marked ``simulated``. Folder paths in the
    summaries are recorded relative to the sample root, so the files do not depend on where the
    sample was generated.
    """
    import json
    import tempfile

    from vbbench.results import make_result, write_result
    from vbbench.sample import SIMULATED_MODELS, generate_sample
    from vbbench.score import score_directories

    written = []
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        generate_sample(root, count=count, seed=seed, workers=workers or 1, progress=progress)
        manifest = json.loads((root / "sample.json").read_text())
        dataset = {
            "name": "sample",
            "variant": "generated",
            "revision": f"generator {manifest['generator_version']}, seed {seed}, {count} images",
            "split_sha256": None,
        }
        for model in SIMULATED_MODELS:
            result = score_directories(
                root / "predictions" / model,
                root / "alpha",
                root / "trimaps",
                workers=workers,
                progress=progress,
                dataset=dataset,
            )
            summary = result.summary
            summary["options"].update(pred_dir=f"predictions/{model}", gt_dir="alpha", trimap_dir="trimaps")
            document = make_result(
                summary,
                {
                    "name": model,
                    "simulated": True,
                    "description": "synthetic degradation of the ground truth (vbbench.sample), not a model",
                },
                date,
            )
            written.append(write_result(document, results_dir))
        for name in baselines:
            from vbbench.models.predict import predict_folder
            from vbbench.models.registry import load_runner

            runner = load_runner(name, (256, 256), threads=2)
            predictions = root / "predictions" / name
            metadata = predict_folder(runner, root / "images", predictions, progress=progress)["model"]
            result = score_directories(
                predictions, root / "alpha", root / "trimaps", workers=workers, progress=progress, dataset=dataset
            )
            summary = result.summary
            summary["options"].update(pred_dir=f"predictions/{name}", gt_dir="alpha", trimap_dir="trimaps")
            metadata["description"] = metadata.pop("notes", "")
            speed = (speeds or {}).get(name)
            document = make_result(
                summary,
                {
                    **metadata,
                    "simulated": False,
                    "speed": speed,
                    "speed_machine": speed_machine if speed else None,
                    "speed_input": (speed_inputs or {}).get(name) if speed else None,
                },
                date,
            )
            written.append(write_result(document, results_dir))
    return written


if __name__ == "__main__":
    recorded = sorted((HERE / "results" / "sample" / "generated").glob("*.json"))
    arguments = [a for a in sys.argv[1:] if not a.startswith("--")]
    date = arguments[0] if arguments else (json.loads(recorded[0].read_text())["date"] if recorded else "2026-11-25")
    speeds, machine, inputs = {}, None, {}
    for name in SAMPLE_BASELINES:
        path = HERE / "results" / "sample" / "generated" / f"{name}.json"
        recorded_model = json.loads(path.read_text())["model"] if path.exists() else {}
        if recorded_model.get("speed"):
            speeds[name], machine = recorded_model["speed"], recorded_model.get("speed_machine")
            inputs[name] = recorded_model.get("speed_input")
    if "--bench" in sys.argv:
        from vbbench.models.bench import benchmark, machine_description
        from vbbench.models.registry import load_runner

        speeds, machine, inputs = {}, machine_description(2), {}
        for name in ("reference-onnx", "reference-onnx-int8", "mediapipe-general", "mediapipe-landscape"):
            runner = load_runner(name, (256, 144), threads=2)
            reports = benchmark(runner, [(640, 360), (1280, 720), (1920, 1080)], frames=60)
            speeds[name] = {r["size"]: round(r["fps"], 1) for r in reports}
            inputs[name] = f"{runner.input_width}x{runner.input_height}"
            print(name, speeds[name])
    for path in sample_results(
        HERE / "results", date, workers=2, progress=True, speeds=speeds, speed_machine=machine, speed_inputs=inputs
    ):
        print("wrote", path.relative_to(HERE.parent))
    for path in build(HERE / "results", HERE):
        print("wrote", path.relative_to(HERE.parent))
