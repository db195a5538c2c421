"""Regenerate the committed sample results: `python leaderboards/make_sample_results.py [DATE] [--bench]`.

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
import sys
from pathlib import Path

from vbbench.leaderboard import SAMPLE_BASELINES, build, sample_results

HERE = Path(__file__).resolve().parent

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
