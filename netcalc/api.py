"""netcalc from Python: `netcalc.summary(...)` in a notebook, as torchinfo's
`summary(model, input_size=...)` is called.

Each function returns plain data (results.py, working.py, grading.py) and raises
`netcalc.SpecError` (with `.path`, `.line`, `.col`, `.layer`) where the spec is
wrong; the command line prints the same data and errors.
"""

from __future__ import annotations

import os

from .errors import UsageError

TYPE_CHECKING = False    # importing typing costs ~4 ms of start-up: annotations only
if TYPE_CHECKING:
    from typing import Any

    from .results import Summary
    from .fitting import Fit
    from .verification import Verification
    from .spec.model import ExpandedSpec
    from .grading import ClassResult


def load(spec: Any, *, input: Any = None, input_size: Any = None, batch: int = 1,
         kwargs: dict | None = None, params: dict | None = None
         ) -> tuple[ExpandedSpec, dict, int]:
    """The expanded spec of anything `summary` takes, the input overrides for it, and the
    batch (a torch module's `input_size` gives it as its first size). `params`: values
    for a YAML spec's top-level params (`{"width": 32}`) instead of its defaults."""
    if input_size is not None:
        if input is not None:
            raise UsageError("give input or input_size, not both")
        sizes = tuple(input_size)
        if len(sizes) < 2:
            raise UsageError(f"input_size is the input's shape with the batch first, as "
                             f"torchinfo takes it: (1, 3, 224, 224), got {sizes}")
        batch, input = sizes[0], sizes[1:]
    expanded, overrides = load_values(spec, _input_values(input), batch, kwargs or {},
                                      params=params)
    return expanded, overrides, batch


def load_values(spec: Any, values: tuple[str, ...], batch: int, kwargs: dict,
                letters: bool = True, params: dict | None = None
                ) -> tuple[ExpandedSpec, dict]:
    """`load` for the command line's `--input` values (3x224x224, name=SHAPE[:dtype]):
    the expanded spec and its input overrides (none for a torch module, whose capture
    ran on them)."""
    from .inputs import input_overrides

    expanded = _expanded(spec, values, batch, kwargs, params)
    if expanded.captured:
        return expanded, {}
    names = [i.name for i in expanded.inputs]
    return expanded, input_overrides(values, names, letters)


def summary(spec: Any, *, input: Any = None, input_size: Any = None, batch: int = 1,
            dtype: str = "float32", depth: int | None = None, optimizer: str = "adam",
            amp: bool = False, kv_cache: int | None = None, checkpoint: tuple = (),
            kwargs: dict | None = None, params: dict | None = None) -> Summary:
    """Every layer's shape, parameters and MACs, with totals and memory.

    `spec`: a spec file's path (YAML or a Python spec), YAML text, a dict in the spec
    format, a `netcalc.Network`, or a torch module: an `nn.Module` class or factory
    (built on the meta device, with `kwargs`) or instance (copied to the meta device),
    with `input` (`"3x224x224"`, `(3, 224, 224)`, `{"input_ids": (128,)}`, letters
    allowed for specs: `"3xHxW"`) or torchinfo's `input_size` (batch first). `params`:
    a YAML spec's top-level params at other values (`{"width": 32}`).
    """
    from .analyze import analyze

    expanded, overrides, batch = load(spec, input=input, input_size=input_size, batch=batch,
                                      kwargs=kwargs, params=params)
    return analyze(expanded, batch=batch, dtype=dtype, input_shapes=overrides, depth=depth,
                   optimizer=optimizer, amp=amp, kv_context=kv_cache,
                   checkpoint=tuple(checkpoint))


def explain(spec: Any, *, layer: str | tuple[str, ...] = (), input: Any = None,
            batch: int = 1, kv_cache: int | None = None, dtype: str = "float32",
            params: dict | None = None) -> list:
    """Each layer's worked computation (working.LayerWorking: formula, numbers, remarks),
    of `layer` (a name or several; a block's name gives its layers), and the KV cache's
    with `kv_cache`."""
    from .analyze import analyze
    from .working import explain_layers

    expanded, overrides, batch = load(spec, input=input, batch=batch, params=params)
    result = analyze(expanded, batch=batch, dtype=dtype, input_shapes=overrides,
                     kv_context=kv_cache)
    names = (layer,) if isinstance(layer, str) else tuple(layer)
    return explain_layers(expanded, result, names)


def check(spec: Any, answers: Any, *, input: Any = None, batch: int = 1,
          kv_cache: int | None = None, dtype: str = "float32",
          params: dict | None = None) -> list:
    """A student's answers graded (grading.Graded each: given, expected, ✓, the usual
    mistake, the working, `follow_through`: the earlier wrong answer it follows from, for
    half credit). `answers`: an answers file's path, its YAML text, or a dict
    (`{"conv1": {"params": 23296}, "total_macs": ...}`); `grading.score(items)` sums them."""
    from .analyze import analyze
    from .grading import grade

    expanded, overrides, batch = load(spec, input=input, batch=batch, params=params)
    result = analyze(expanded, batch=batch, dtype=dtype, input_shapes=overrides,
                     kv_context=kv_cache)
    return grade(expanded, result, _answers(answers))


def check_many(spec: Any, answers: Any, *, names: Any = None, key: Any = None,
               input: Any = None, batch: int = 1, kv_cache: int | None = None,
               dtype: str = "float32", params: dict | None = None) -> ClassResult:
    """A class's answers graded at once (grading.ClassResult: `.students`, a
    StudentResult each with its items, score and follow-through, or the error that
    stopped its file; `.summary`, the scores, the most common mistakes and the
    questions scored). `answers`: answers files' paths (each student named by the
    file's stem), YAML texts or dicts; one of them alone is a class of one. `names`, the
    students' names in the same order (default: the stems, else student1, student2,
    ...). `key`: the questions set, an answer key's path, YAML text or dict (the
    `.key.yaml` netcalc.exercise writes); every student is scored out of its items.
    Without it, out of every question some student answered. An answers file with an
    error is that student's error."""
    from .analyze import analyze
    from .grading import grade_class, questions_of, student_name

    expanded, overrides, batch = load(spec, input=input, batch=batch, params=params)
    result = analyze(expanded, batch=batch, dtype=dtype, input_shapes=overrides,
                     kv_context=kv_cache)
    if isinstance(answers, (str, bytes, dict, os.PathLike)):
        answers = [answers]             # one file, text or dict: not its characters
    answers = list(answers)
    names = list(names) if names is not None else [
        student_name(os.fspath(a)) if _is_path(a) else f"student{number}"
        for number, a in enumerate(answers, 1)]
    if len(names) != len(answers):
        raise UsageError(f"{len(names)} names for {len(answers)} answers")
    questions = questions_of(expanded, result, _answers(key, "<key>")) \
        if key is not None else None
    return grade_class(expanded, result, [
        (name, os.fspath(a) if _is_path(a) else f"<{name}>",
         lambda a=a, name=name: _answers(a, f"<{name}>"))
        for name, a in zip(names, answers)], questions)


def verify(spec: Any, *, input: Any = None, input_size: Any = None, batch: int = 1,
           dtype: str = "float32", device: str = "auto", runs: int | None = None,
           kwargs: dict | None = None, params: dict | None = None) -> Verification:
    """Build the spec in torch (or run the torch model), and compare every layer's shape,
    parameters and MACs with netcalc's (verification.Verification; `.ok`)."""
    from .analyze import analyze
    from .torch_bridge.verify import verify as run_verify

    expanded, overrides, batch = load(spec, input=input, input_size=input_size, batch=batch,
                                      kwargs=kwargs, params=params)
    if expanded.captured:
        raise UsageError("verify of a torch module: give the model as 'file.py:factory' to "
                         "the command line (netcalc verify), which builds it with real "
                         "weights; netcalc.verify checks specs")
    result = analyze(expanded, batch=batch, dtype=dtype, input_shapes=overrides)
    return run_verify(expanded, result, device=device, runs=runs)


def fit(spec: Any, vary: dict, *, max_params: int | str | None = None,
        max_macs: int | str | None = None, max_memory: int | str | None = None,
        training: bool = False, maximize: str | None = None, batch: int = 1,
        dtype: str = "float32", optimizer: str = "adam", input: Any = None,
        limit: int = 10_000) -> Fit:
    """The configuration of a YAML spec's top-level params (and `batch`) that does the
    most within a budget: `vary` maps each name to the values to try (a range, a list, or
    `"16..256"`); budgets are numbers or text (`"5M"`, `"24GiB"`). Returns the
    fitting.Fit: `.best`, `.ranked()`, every candidate computed with its exact figures."""
    from . import fitting as search

    values = {name: search.parse_values(v, name) if isinstance(v, str) else tuple(v)
              for name, v in vary.items()}

    def amount(value, option, parse):
        return parse(value, option) if isinstance(value, str) else value

    budget = search.Budget(amount(max_params, "max_params", search.parse_count),
                           amount(max_macs, "max_macs", search.parse_count),
                           amount(max_memory, "max_memory", search.parse_bytes), training)
    return search.fit(os.fspath(spec), values, budget, maximize=maximize, batch=batch,
                      dtype=dtype, optimizer=optimizer, input=_input_values(input),
                      limit=limit)


# -- what `spec` may be -------------------------------------------------------------

def _expanded(spec: Any, values: tuple[str, ...], batch: int, kwargs: dict,
              params: dict | None = None) -> ExpandedSpec:
    from .spec import load_spec, parse_spec
    from .spec.model import ExpandedSpec

    if isinstance(spec, os.PathLike):
        return load_spec(spec, params)
    if isinstance(spec, str):
        if "\n" not in spec and (os.path.exists(spec) or spec.endswith((".yaml", ".yml",
                                                                          ".py"))):
            return load_spec(spec, params)          # a missing file says so
        if "\n" not in spec and ":" in spec and is_torch_target(spec):
            _no_params(params, "a torch module takes its values as kwargs")
            from .torch_bridge.capture import capture, to_spec
            return to_spec(capture(spec, values, kwargs, batch))[0]
        return parse_spec(spec, "<string>", params)
    if isinstance(spec, dict):
        import yaml
        return parse_spec(yaml.safe_dump(spec, sort_keys=False), "<dict>", params)
    _no_params(params, "params set a YAML spec's top-level params")
    if isinstance(spec, ExpandedSpec):
        return spec
    if type(spec).__name__ == "Network" and hasattr(spec, "_expanded"):
        return spec._expanded()
    if _is_torch_module(spec) or callable(spec):
        return _captured(spec, values, batch, kwargs)
    raise UsageError(f"netcalc.summary takes a spec's path, YAML text, a dict, a "
                     f"netcalc.Network or a torch module, not {type(spec).__name__}")


def _no_params(params: dict | None, why: str) -> None:
    if params:
        raise UsageError(f"params={params!r}: {why}")


def is_torch_target(text: str) -> bool:
    """`path/to/file.py:ClassName` or `package.module:factory`: a torch module."""
    source, _, attribute = text.rpartition(":")
    return bool(attribute.isidentifier() and source
                and (source.endswith(".py") or all(p.isidentifier() for p in source.split("."))))


def _is_torch_module(value: Any) -> bool:
    return any(c.__module__ == "torch.nn.modules.module" and c.__name__ == "Module"
               for c in type(value).__mro__)


def _captured(model: Any, values: tuple[str, ...], batch: int, kwargs: dict) -> ExpandedSpec:
    """A torch module read as `summary file.py:factory` reads one: a class or factory
    built on the meta device, an instance copied there (its weights are not needed)."""
    from .torch_bridge.capture import capture_model, to_spec
    from .torch_bridge import import_torch

    torch = import_torch()
    if _is_torch_module(model):
        import copy
        name = type(model).__name__
        built = copy.deepcopy(model).to("meta").eval()
    else:
        name = getattr(model, "__name__", type(model).__name__)
        with torch.device("meta"):
            built = model(**kwargs).eval()
    return to_spec(capture_model(built, name, f"<{name}>", values, batch))[0]


def _input_values(input: Any) -> tuple[str, ...]:
    """`--input`'s forms from Python's: "3x224x224", (3, 224, 224), a dict of them."""
    if input is None:
        return ()
    if isinstance(input, str):
        return (input,)
    if isinstance(input, dict):
        return tuple(f"{name}={_shape_text(shape)}" for name, shape in input.items())
    return (_shape_text(input),)


def _shape_text(shape: Any) -> str:
    if isinstance(shape, str):
        return shape
    dtype = ""
    if isinstance(shape, dict):            # {"shape": (128,), "dtype": "int64"}
        shape, dtype = shape["shape"], f":{shape.get('dtype', 'float32')}"
    return "x".join(str(size) for size in shape) + dtype


def _answers(answers: Any, where: str = "<answers>") -> list:
    """An answers file's path, its YAML text, or a dict of them."""
    from .grading import parse_answers, read_answers

    if isinstance(answers, dict):
        import yaml
        return parse_answers(yaml.safe_dump(answers, sort_keys=False), where)
    if _is_path(answers):
        return read_answers(os.fspath(answers))
    return parse_answers(answers, where)


def _is_path(answers: Any) -> bool:
    """A path of an answers file, not its YAML text (nor a dict)."""
    return isinstance(answers, os.PathLike) or isinstance(answers, str) and \
        "\n" not in answers and (os.path.exists(answers) or answers.endswith((".yaml", ".yml")))
