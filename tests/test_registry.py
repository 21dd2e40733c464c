"""The registry's map of type names to modules, which lets a spec load only the layer
modules it uses, against what importing each module registers."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import netcalc.layers
from netcalc.layers.registry import MODULE_OF, REGISTRY, all_types


def test_every_registered_type_is_mapped_to_the_module_that_declares_it():
    for module in pkgutil.iter_modules(netcalc.layers.__path__):
        importlib.import_module(f"netcalc.layers.{module.name}")
    declared = {name: cls.__module__.rsplit(".", 1)[1] for name, cls in REGISTRY.items()}
    assert declared == MODULE_OF
    assert all_types() is REGISTRY


def test_a_spec_loads_only_the_layer_modules_it_uses(tmp_path):
    spec = tmp_path / "small.yaml"
    spec.write_text("input: [3, 32, 32]\nlayers:\n  - {type: conv2d, out_channels: 8, "
                    "kernel_size: 3}\n  - {type: relu}\n")
    script = ("import sys; from netcalc.cli import run; run(['summary', sys.argv[1], "
              "'--format', 'json']); print(sorted(m for m in sys.modules "
              "if m.startswith('netcalc.layers.')), file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", script, str(spec)], capture_output=True,
                          text=True, check=True)
    loaded = {name.rsplit(".", 1)[1] for name in eval(done.stderr.strip().splitlines()[-1])}
    assert {"conv", "activation"} <= loaded
    assert not loaded & {"recurrent", "transformer", "attention", "resize", "matmul"}
