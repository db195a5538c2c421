"""Masks from MediaPipe's own runtime, the reference for vbbench's MediaPipe baselines.

Run with a Python that has ``mediapipe==0.10.21`` (it pins numpy < 2, so not vbbench's
environment; vbbench is not imported here):

    python3 -m venv /tmp/mpvenv && /tmp/mpvenv/bin/pip install mediapipe==0.10.21
    /tmp/mpvenv/bin/python scripts/mediapipe_reference.py tests/data/mediapipe

For every ``images/<name>.png`` under the folder, runs ``mp.solutions.selfie_segmentation``
(model_selection 0 = mediapipe-general, 1 = mediapipe-landscape) and writes the mask as a 16-bit
PNG ``masks/<model>/<name>.png`` (value = round(mask · 65535)), plus ``reference.json`` with the
versions. Each image goes through a fresh graph, so no state carries from one image to the next.
``tests/test_models_mediapipe.py`` compares vbbench's ai-edge-litert runner with these masks.
"""

import hashlib
import json
import sys
from pathlib import Path

import cv2
import mediapipe as mp
import numpy as np

MODELS = {"mediapipe-general": 0, "mediapipe-landscape": 1}


def main(folder: Path) -> None:
    images = sorted((folder / "images").glob("*.png"))
    if not images:
        sys.exit(f"{folder / 'images'}: no .png images")
    for model, selection in MODELS.items():
        (folder / "masks" / model).mkdir(parents=True, exist_ok=True)
        for path in images:
            rgb = cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
            with mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=selection) as graph:
                mask = graph.process(rgb).segmentation_mask
            coded = np.round(np.clip(mask, 0.0, 1.0) * 65535.0).astype(np.uint16)
            cv2.imwrite(str(folder / "masks" / model / path.name), coded)
    record = {
        "made_by": "scripts/mediapipe_reference.py",
        "mediapipe": mp.__version__,
        "numpy": np.__version__,
        "opencv": cv2.__version__,
        "api": "mediapipe.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0|1), one graph per image",
        "mask_coding": "uint16 PNG, value = round(segmentation_mask * 65535)",
        "images": {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in images},
    }
    (folder / "reference.json").write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {2 * len(images)} masks under {folder / 'masks'}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "tests/data/mediapipe"))
