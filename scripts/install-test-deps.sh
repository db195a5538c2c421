#!/usr/bin/env bash
# Install everything the test suite needs into the active Python environment, from the project's
# own files: system packages (Chromium for the app test), PyTorch's CPU wheel first (a bare
# `torch` requirement would pull a multi-GB CUDA build), then vbbench with every extra, under the
# constraints the committed leaderboard was made with.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${VIRTUAL_ENV:-}" ]; then
  echo "install-test-deps: activate a virtual environment first (python3 -m venv .venv && . .venv/bin/activate)" >&2
  exit 2
fi

if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

python -m pip install -q --upgrade pip
python -m pip install -q "torch==2.13.0"
# The versions the committed board was made with (scripts/constraints.txt says why).
python -m pip install -q -c scripts/constraints.txt -e ".[dev,dist,model,app,coreml,mediapipe,video,clips]"

# MediaPipe's own runtime, the reference for the MediaPipe baselines (tests/test_models_mediapipe.py).
# mediapipe 0.10.21 pins numpy < 2, so it lives in its own environment, never imported by vbbench.
if [ ! -x .venv-mediapipe/bin/python ] || ! .venv-mediapipe/bin/python -c "import mediapipe" 2>/dev/null; then
  "$(python -c 'import sys; print(sys._base_executable)')" -m venv .venv-mediapipe
  .venv-mediapipe/bin/python -m pip install -q "mediapipe==0.10.21"
fi
