"""What a command loads: only its own command module, and only the layer modules of the
types its spec uses (the registry's map, checked against what each module registers)."""

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
    assert all_types() is REGISTRY        # the one-line declarations made too
    declared = {name: cls.__module__.rsplit(".", 1)[1] for name, cls in REGISTRY.items()}
    assert declared == MODULE_OF


def test_every_command_is_mapped_to_a_module_that_defines_it():
    from netcalc.command_line import COMMANDS, cli
    for name in COMMANDS:
        command = cli.get_command(None, name)
        assert command is not None and command.name == name


def test_a_summary_loads_its_command_and_the_layer_modules_its_spec_uses(tmp_path):
    spec = tmp_path / "small.yaml"
    spec.write_text("input: [3, 32, 32]\nlayers:\n  - {type: conv2d, out_channels: 8, "
                    "kernel_size: 3}\n  - {type: relu}\n")
    script = ("import sys; from netcalc.cli import run; run(['summary', sys.argv[1], "
              "'--format', 'json']); from netcalc.layers.registry import REGISTRY; "
              "from netcalc.layers import conv; print('__dataclass_fields__' in "
              "vars(conv.ConvNd), '__dataclass_fields__' in vars(conv.ConvTransposeNd), "
              "file=sys.stderr); "
              "print(sorted(n for n, c in REGISTRY.items() if c.family == 'activation'), "
              "file=sys.stderr); print(sorted(m for m in sys.modules "
              "if m.startswith('netcalc.')), file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", script, str(spec)], capture_output=True,
                          text=True, check=True)
    modules = eval(done.stderr.strip().splitlines()[-1])
    layers = {name.rsplit(".", 1)[1] for name in modules if name.startswith("netcalc.layers.")}
    assert {"conv", "activation"} <= layers
    # of the one-line declarations only relu is made (prelu and threshold are classes
    # written out, made with their module)
    made = eval(done.stderr.strip().splitlines()[-2])
    assert made == ["prelu", "relu", "threshold"]
    # of the module's layer types, the one the spec names is a dataclass; the other not yet
    assert done.stderr.strip().splitlines()[-3] == "True False"
    assert not layers & {"recurrent", "transformer", "attention", "resize", "matmul", "slicing",
                          "combine"}
    commands = {name.rsplit(".", 1)[1] for name in modules if name.startswith("netcalc.commands.")}
    assert commands == {"summary"}
    assert not any(name.startswith(("netcalc.torch_bridge", "torch")) for name in modules)
