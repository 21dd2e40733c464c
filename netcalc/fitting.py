"""`netcalc fit`: search a spec's top-level params for the configuration that does the
most within a budget of parameters, MACs or memory, every candidate computed exactly.

A single varied param whose figures grow with it (width, depth, the batch) is
bisected: the largest value that fits, in about log2(n) analyses, after a few
spread-out samples show the figures growing. Anything else, several params at
once included, is searched exhaustively, up to a stated number of configurations.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from .errors import NetcalcError, UsageError, did_you_mean

BATCH = "batch"            # `--vary batch=1..512` varies the batch, not a spec param
FIGURES = ("params", "macs", "memory")
MAX_CONFIGURATIONS = 10_000


@dataclass
class Budget:
    """The most a configuration may take; None: no limit on that figure."""

    max_params: int | None = None
    max_macs: int | None = None
    max_memory: int | None = None     # bytes: inference, or a training step's with `training`
    training: bool = False

    def limits(self) -> dict[str, int]:
        return {figure: limit for figure, limit in zip(
            FIGURES, (self.max_params, self.max_macs, self.max_memory)) if limit is not None}


@dataclass
class Candidate:
    """One configuration: its values and exact figures, and what it exceeds."""

    values: dict[str, int]
    params: int | None = None
    macs: int | None = None
    memory: int | None = None          # bytes, as the budget counts them
    over: tuple[str, ...] = ()         # the figures above their limit
    error: str = ""                    # why the spec is not valid at these values

    @property
    def fits(self) -> bool:
        return not self.over and not self.error

    def figure(self, name: str) -> int:
        return self.values[name] if name in self.values else getattr(self, name)


@dataclass(repr=False)
class Fit:
    """What `netcalc.fit` returns: every configuration computed, and the best. Printed,
    it is `netcalc fit`'s text; its repr is one line."""

    name: str
    file: str
    vary: dict[str, tuple[int, ...]]
    budget: Budget
    maximize: str                      # a varied name, or params, macs, memory
    method: str                        # "bisection" or "exhaustive"
    candidates: list[Candidate] = field(default_factory=list)   # each computed once
    configurations: int = 0            # how many the ranges make

    def __repr__(self) -> str:
        best = self.best
        found = ", ".join(f"{k}={v}" for k, v in best.values.items()) if best else "none"
        return (f"<Fit {self.name}: best {found} of {self.configurations:,} configurations "
                f"({len(self.candidates):,} computed, {self.method})>")

    def __str__(self) -> str:
        from .render.fit import plain_text
        return plain_text(self)

    @property
    def best(self) -> Candidate | None:
        ranked = self.ranked()
        return ranked[0] if ranked else None

    def ranked(self) -> list[Candidate]:
        """The configurations that fit, best first (ties: fewer params, smaller values)."""
        return sorted((c for c in self.candidates if c.fits),
                      key=lambda c: (-c.figure(self.maximize), c.params,
                                     tuple(c.values.values())))


def fit(spec: str, vary: dict[str, Sequence[int]], budget: Budget, *,
        maximize: str | None = None, batch: int = 1, dtype: str = "float32",
        optimizer: str = "adam", input: tuple[str, ...] = (),
        limit: int = MAX_CONFIGURATIONS,
        progress: Callable[[int, int], None] | None = None) -> Fit:
    """Search `vary` (param -> the values to try, `batch` for the batch) of the YAML spec
    at path `spec` for the configuration maximizing `maximize` (default: the one varied
    name, else params) within `budget`. Raises UsageError for an unknown name, an empty
    range, a budget no configuration meets (saying the closest figure), or more than
    `limit` configurations to search."""
    from .analyze import analyze
    from .inputs import input_overrides
    from .spec import read_spec_document
    from .spec.expand import expand

    doc, file = read_spec_document(spec)
    _check_names(doc, vary)
    if not budget.limits():
        raise UsageError("give a budget: --max-params, --max-macs or --max-memory")
    maximize = maximize or (next(iter(vary)) if len(vary) == 1 else "params")
    if maximize not in (*vary, *FIGURES):
        raise UsageError(f"--maximize {maximize}: choose {', '.join(FIGURES)} or a varied "
                         f"name ({', '.join(vary)})")
    values = {name: tuple(sorted(set(v))) for name, v in vary.items()}
    base = expand(doc, file)
    overrides = input_overrides(tuple(input), [i.name for i in base.inputs])
    result = Fit(base.name, file, values, budget, maximize, "exhaustive",
                 configurations=_product_size(values))

    computed: dict[tuple, Candidate] = {}     # a configuration is computed once

    def evaluate(chosen: dict[str, int]) -> Candidate:
        key = tuple(chosen.values())
        if key in computed:
            return computed[key]
        candidate = computed[key] = Candidate(dict(chosen))
        params = {k: v for k, v in chosen.items() if k != BATCH}
        try:
            summary = analyze(expand(doc, file, params), batch=chosen.get(BATCH, batch),
                              dtype=dtype, input_shapes=overrides, optimizer=optimizer)
        except NetcalcError as error:
            candidate.error = error.message
        else:
            memory = summary.memory
            candidate.params, candidate.macs = summary.totals.params, summary.totals.macs
            candidate.memory = memory and (memory.training_bytes if budget.training
                                           else memory.inference_bytes)
            candidate.over = tuple(f for f, limit in budget.limits().items()
                                   if candidate.figure(f) is None
                                   or candidate.figure(f) > limit)
        result.candidates.append(candidate)
        if progress is not None:
            progress(len(result.candidates), result.configurations)
        return candidate

    if len(values) == 1 and _bisectable(values, evaluate, maximize, budget) \
            and _bisect(values, evaluate):
        result.method = "bisection"
    else:
        if result.configurations > limit:
            raise UsageError(f"the ranges make {result.configurations:,} configurations, more "
                             f"than --limit {limit:,}: narrow them, or raise --limit")
        for chosen in itertools.product(*values.values()):
            evaluate(dict(zip(values, chosen)))
        result.candidates.sort(key=lambda c: tuple(c.values.values()))
    if result.best is None:
        raise UsageError(_nothing_fits(result))
    return result


def _check_names(doc: Any, vary: dict) -> None:
    """Every varied name a spec param (or the batch); each range not empty."""
    params = doc.get("params", {}) if isinstance(doc, dict) else {}
    loc = params.loc if hasattr(params, "loc") else getattr(doc, "loc", None)
    for name, values in vary.items():
        if name != BATCH and name not in params:
            listed = ", ".join(params) or "none"
            raise UsageError(f"--vary {name}: the spec has no param '{name}'"
                             f"{did_you_mean(name, [*params, BATCH])} (its params: {listed}; "
                             f"'{BATCH}' varies the batch)", loc)
        if not values:
            raise UsageError(f"--vary {name}: the range holds no value")
        if name == BATCH and BATCH in params:
            raise UsageError(f"--vary {BATCH} varies the batch, and the spec has a param "
                             f"'{BATCH}' too: rename the param to vary it", loc)
        if name == BATCH and min(values) < 1:
            raise UsageError(f"--vary {BATCH}: a batch is at least 1, not {min(values)}")


def _product_size(values: dict[str, tuple[int, ...]]) -> int:
    size = 1
    for v in values.values():
        size *= len(v)
    return size


def _bisectable(values: dict[str, tuple[int, ...]], evaluate, maximize: str,
                budget: Budget) -> bool:
    """A few spread-out values (the ends included) all valid, and every budgeted figure
    and the objective growing with the param: then the values that fit are a prefix."""
    (name, options), = values.items()
    count = min(5, len(options))
    picks = sorted({round(k * (len(options) - 1) / max(count - 1, 1)) for k in range(count)})
    samples = [evaluate({name: options[k]}) for k in picks]
    if any(s.error for s in samples):
        return False
    figures = {*budget.limits(), *([maximize] if maximize in FIGURES else [])}
    return all(all(a.figure(f) <= b.figure(f) for a, b in zip(samples, samples[1:]))
               for f in figures)


def _bisect(values: dict[str, tuple[int, ...]], evaluate) -> bool:
    """The largest value that fits, given that those that fit come first; False where a
    value met on the way is no valid network (widths a group count must divide), which
    breaks that order: the search is then exhaustive."""
    (name, options), = values.items()
    computed = {}

    def fits(k: int) -> bool:
        if k not in computed:
            candidate = evaluate({name: options[k]})
            if candidate.error:
                raise _Unordered
            computed[k] = candidate.fits
        return computed[k]

    try:
        lo, hi = 0, len(options) - 1
        if not fits(lo) or fits(hi):
            return True           # none fits, or all do: the samples already say which
        while hi - lo > 1:        # fits(lo), not fits(hi)
            mid = (lo + hi) // 2
            if fits(mid):
                lo = mid
            else:
                hi = mid
        if lo > 0:
            fits(lo - 1)          # the runner-up below the best, for the table
    except _Unordered:
        return False
    return True


class _Unordered(Exception):
    """A value on the bisection's way is no valid network."""


def _nothing_fits(result: Fit) -> str:
    """No configuration fits: the budget, and the closest any came to it."""
    from .render.units import count

    limits = result.budget.limits()
    valid = [c for c in result.candidates if not c.error]
    ranges = ", ".join(f"{name} in {describe_values(v)}" for name, v in result.vary.items())
    if not valid:
        first = result.candidates[0]
        return f"the spec is valid at none of {ranges}: at {_values_text(first)}, {first.error}"

    def excess(c: Candidate) -> float:
        return max(c.figure(f) / limit for f, limit in limits.items())

    closest = min(valid, key=excess)
    worst = max(limits, key=lambda f: closest.figure(f) / limits[f])
    return (f"no configuration with {ranges} keeps {worst} ≤ {count(limits[worst])}"
            f"{' (training)' if worst == 'memory' and result.budget.training else ''}: "
            f"the closest, {_values_text(closest)}, has {count(closest.figure(worst))}"
            f"{' bytes' if worst == 'memory' else ' ' + worst}")


def _values_text(candidate: Candidate) -> str:
    return ", ".join(f"{k}={v}" for k, v in candidate.values.items())


# -- the command line's values --------------------------------------------------------

_RANGE = re.compile(r"^(-?\d+)\.\.(-?\d+)(?::(\d+))?$")


def parse_values(text: str, name: str) -> tuple[int, ...]:
    """`16..256` (every integer), `16..256:16` (a step), `16,32,64`, or one value."""
    text = text.strip()
    match = _RANGE.match(text)
    if match:
        start, stop, step = int(match[1]), int(match[2]), int(match[3] or 1)
        if step < 1:
            raise UsageError(f"--vary {name}={text}: the step must be at least 1")
        values = tuple(range(start, stop + 1, step))
        if not values:
            raise UsageError(f"--vary {name}={text}: the range is empty ({start} > {stop}); "
                             f"write {stop}..{start}")
        return values
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise UsageError(f"--vary {name}={text}: write a range (16..256, 16..256:16) or "
                         "values (16,32,64)") from None


def describe_values(values: tuple[int, ...]) -> str:
    """(16, 17, ..., 256) -> '16..256'; (16, 32, 48) -> '16..48:16'; else the list."""
    if len(values) > 2:
        step = values[1] - values[0]
        if all(b - a == step for a, b in zip(values, values[1:])):
            return f"{values[0]}..{values[-1]}" + (f":{step}" if step != 1 else "")
    return ",".join(map(str, values))


_SI = {"": 1, "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
_BYTES = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
          "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}
_AMOUNT = re.compile(r"^\s*([0-9][0-9_,]*(?:\.[0-9]+)?(?:e[0-9]+)?)\s*([A-Za-z]*)\s*$")


def parse_count(text: str, option: str) -> int:
    """`5M`, `5000000`, `1.5G`, `5e6` -> a whole number (decimal prefixes)."""
    return _amount(text, option, _SI, "a count like 5M, 1.5G or 5000000")


def parse_bytes(text: str, option: str) -> int:
    """`24GiB`, `24GB`, `512MiB`, `1000000` (bytes) -> bytes."""
    return _amount(text, option, {k.lower(): v for k, v in _BYTES.items()},
                   "a size like 24GiB, 16GB or 512MiB", fold=True)


def _amount(text: str, option: str, units: dict[str, int], example: str,
            fold: bool = False) -> int:
    from fractions import Fraction

    match = _AMOUNT.match(text)
    unit = match and (match[2].lower() if fold else match[2])
    if not match or unit not in units:
        raise UsageError(f"{option} {text}: write {example}")
    number = Fraction(match[1].replace("_", "").replace(",", "")) * units[unit]
    if number.denominator != 1 or number < 1:
        raise UsageError(f"{option} {text}: that is not a whole, positive amount")
    return int(number)
