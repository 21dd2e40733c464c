#!/bin/sh
# Reproduce /tmp/corpus/venv (CPU only; torch is a local +cpu wheel found via pip's find-links /opt/wheels).
set -e
python3 -m venv /tmp/corpus/venv
. /tmp/corpus/venv/bin/activate
pip install torch==2.13.0            # -> torch-2.13.0+cpu (+ filelock fsspec jinja2 networkx sympy typing-extensions)
# pure-Python model zoos, without their declared deps (transformers would pull typer/kernels, timm torchvision>=latest)
pip install --no-deps timm==1.0.31 transformers==5.25.0 torchvision==0.28.0
# the minimal set needed at import time (found by trial imports)
pip install --no-deps numpy==2.4.6 packaging==26.4 pyyaml==6.0.4 regex==2026.12.2 tqdm==4.70.1 \
    safetensors==0.8.0 tokenizers==0.23.3 pillow==13.0.0 \
    huggingface_hub==2.4.0 httpx2==2.17.0 httpcore2==2.17.0 h11==0.16.0 idna==3.21 truststore==0.10.5
