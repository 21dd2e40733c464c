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


def test_no_layer_module_builds_another_type_before_it_is_made():
    """A layer type's dataclass is made when a spec names the type; a type whose rule
    builds another type's layer (an encoder layer its attention, a fixed-mode upsampling
    an Upsample) must make that class first, `made(Other)(...)`: built bare, a spec
    naming only the first type crashed."""
    import ast
    from pathlib import Path

    from netcalc.layers.base import Layer

    modules = Path(netcalc.layers.__file__).parent
    for module in pkgutil.iter_modules(netcalc.layers.__path__):
        importlib.import_module(f"netcalc.layers.{module.name}")
    layer_classes = set()
    pending = [Layer]
    while pending:
        cls = pending.pop()
        layer_classes.add(cls.__name__)
        pending += cls.__subclasses__()
    bare = []
    for path in sorted(modules.glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                    and node.func.id in layer_classes:
                bare.append(f"{path.name}:{node.lineno} {node.func.id}(...)")
    assert bare == []


def test_types_whose_rules_build_another_type_work_in_a_fresh_process(tmp_path):
    specs = {"encoder": "input: [10, 64]\nlayers: [{type: transformerencoderlayer, nhead: 4, "
                        "batch_first: true}]\n",
             "upsample": "input: [3, 8, 8]\nlayers: [{type: upsamplingnearest2d, "
                         "scale_factor: 2}]\n"}
    for name, text in specs.items():
        spec = tmp_path / f"{name}.yaml"
        spec.write_text(text)
        done = subprocess.run([sys.executable, "-m", "netcalc", "summary", str(spec),
                               "--format", "json"], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
