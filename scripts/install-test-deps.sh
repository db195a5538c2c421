#!/usr/bin/env bash
# Install everything the test suite needs into the active Python environment, from the project's
# own files: system packages (Chromium for the app test), PyTorch's CPU wheel first (a bare
# `torch` requirement would pull a multi-GB CUDA build), then vbbench with every extra.
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
python -m pip install -q -e ".[dev,dist,model,app,coreml,mediapipe]"
