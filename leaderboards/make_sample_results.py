"""Regenerate the committed sample results: `python leaderboards/make_sample_results.py [DATE]`.

Scores the embedded sample's simulated models and writes leaderboards/results/sample/generated/,
then rebuilds the leaderboards. The date defaults to the one already recorded, so a rerun
reproduces the committed files byte for byte.
"""

import json
import sys
from pathlib import Path

from vbbench.leaderboard import build, sample_results

HERE = Path(__file__).resolve().parent

if __name__ == "__main__":
    recorded = sorted((HERE / "results" / "sample" / "generated").glob("*.json"))
    date = sys.argv[1] if len(sys.argv) > 1 else (
        json.loads(recorded[0].read_text())["date"] if recorded else "2026-11-25")
    for path in sample_results(HERE / "results", date, workers=2, progress=True):
        print("wrote", path.relative_to(HERE.parent))
    for path in build(HERE / "results", HERE):
        print("wrote", path.relative_to(HERE.parent))
