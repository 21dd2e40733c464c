#!/bin/sh
# Verifies netcalc against torch on a GPU: `netcalc verify --device cuda` over the
# spec library (specs/*.yaml) and a dozen corpus models (tests/corpus/models.py) in
# float32, float16 and bfloat16, with torch's peak memory beside netcalc's estimates
# for a forward pass and for one Adam training step. Under 8 minutes on an H100.
#
#   sh scripts/gpu_check.sh                  # CUDA, the whole lists
#   sh scripts/gpu_check.sh --device cpu     # the short list, ~2 minutes on 2 cores
#   sh scripts/gpu_check.sh --help           # every option (scripts/gpu_check.py)
#
# The python: $PYTHON, else the checkout's .venv, else python3. The corpus needs
# timm, torchvision and transformers (tests/corpus/requirements.txt); without them
# its rows say "skipped". Exit status 1 if any verify differs or anything raised.
set -eu
cd "$(dirname "$0")/.."
if [ -z "${PYTHON:-}" ]; then
    if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
exec "$PYTHON" scripts/gpu_check.py "$@"
