"""Textbook formulas as pure integer functions, with torch's validity rules.

Each raises ShapeError naming the argument to blame; the numbers in the
message are the user's own.
"""

from __future__ import annotations

from .errors import ShapeError
from .symbolic import not_a_condition

TYPE_CHECKING = False    # annotations only: importing fractions costs ~3 ms of start-up
if TYPE_CHECKING:
    from fractions import Fraction


def conv_out(i: int, k: int, s: int, p: int, d: int) -> int:
    """O = ⌊(I + 2P − D(K − 1) − 1) / S⌋ + 1"""
    effective_kernel = d * (k - 1) + 1
    padded_input = i + 2 * p
    if effective_kernel > padded_input:
        dilated = f" (dilation {d}: {d}·({k} − 1) + 1)" if d != 1 else ""
        raise ShapeError(f"kernel {effective_kernel}{dilated} is larger than the padded input "
                         f"{padded_input} ({i} + 2·{p})", arg="kernel_size")
    return (padded_input - effective_kernel) // s + 1


def same_padding(k: int, d: int) -> tuple[int, int]:
    """torch's padding='same': total D(K − 1), the extra one on the right."""
    total = d * (k - 1)
    return total // 2, total - total // 2


def conv_transpose_out(i: int, k: int, s: int, p: int, d: int, output_padding: int) -> int:
    """O = (I − 1)·S − 2P + D(K − 1) + output_padding + 1"""
    if output_padding >= s and output_padding >= d:
        raise ShapeError(f"output_padding {output_padding} must be smaller than either "
                         f"stride {s} or dilation {d}", arg="output_padding")
    out = (i - 1) * s - 2 * p + d * (k - 1) + output_padding + 1
    if out < 1:
        raise ShapeError(f"output size ({i} − 1)·{s} − 2·{p} + {d}·({k} − 1) + "
                         f"{output_padding} + 1 = {out} is too small", arg="padding")
    return out


def pool_out(i: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """O = ⌊(I + 2P − D(K − 1) − 1) / S⌋ + 1, or ⌈…⌉ with ceil_mode.

    torch's rules: the padding is at most half the kernel, and in ceil mode
    the last window must start inside the input or its left padding.
    """
    if p > k // 2:
        raise ShapeError(f"padding {p} must be at most half the kernel size {k} "
                         f"(⌊{k}/2⌋ = {k // 2})", arg="padding")
    numerator = i + 2 * p - d * (k - 1) - 1
    if ceil_mode:
        out = (numerator + s - 1) // s + 1      # ⌈numerator / s⌉ + 1 (sizes as letters too)
        if (out - 1) * s >= i + p:
            out -= 1
    else:
        out = numerator // s + 1
    if out < 1:
        raise ShapeError(f"window {d * (k - 1) + 1} is larger than the padded input "
                         f"{i + 2 * p} ({i} + 2·{p}): output size {out}", arg="kernel_size")
    return out


def receptive_field_out(r: int, j: int, start: int | Fraction, k: int, s: int, p: int, d: int
                        ) -> tuple[int, int, int | Fraction]:
    """A sliding window (conv, pool) seen from the network's input, per spatial dim:

    r_out = r_in + (K − 1)·D·j_in                 the field grows by the window's reach
    j_out = j_in·S                                neighbouring units are S inputs apart
    start_out = start_in + ((K − 1)·D/2 − P)·j_in  the first unit's centre: its window's
                                                  middle, the padding P before it
    """
    return r + (k - 1) * d * j, j * s, whole(start + half(((k - 1) * d - 2 * p) * j))


def whole(value: int | Fraction) -> int | Fraction:
    """Two half pixels make a whole one: a Fraction of denominator 1 as the int it is
    (JSON writes whole pixels as ints, half ones as x.5)."""
    return int(value) if getattr(value, "denominator", 0) == 1 and \
        not isinstance(value, int) else value


def half(n: int) -> int | Fraction:
    """n / 2 exactly: an int when n is even (centres of fields are whole or half pixels)."""
    if n % 2 == 0:
        return n // 2
    from fractions import Fraction   # only where a field's centre falls between pixels:
    return Fraction(n, 2)            # importing fractions (and decimal) costs ~3 ms



# -- memory layout: torch's strides, for views ----------------------------------

@not_a_condition
def contiguous_strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Row-major strides: the last dim is 1 apart, each earlier one spans the rest."""
    strides, step = [], 1
    for size in reversed(shape):
        strides.append(step)
        step *= max(size, 1)
    return tuple(reversed(strides))


@not_a_condition
def is_contiguous(shape: tuple[int, ...], strides: tuple[int, ...]) -> bool:
    """torch's is_contiguous: row-major wherever it matters (size-1 dims never do)."""
    if 0 in shape:
        return True
    expected = 1
    for size, stride in zip(reversed(shape), reversed(strides)):
        if size != 1:
            if stride != expected:
                return False
            expected *= size
    return True


@not_a_condition
def view_strides(shape: tuple[int, ...], strides: tuple[int, ...],
                 new_shape: tuple[int, ...]) -> tuple[int, ...] | None:
    """Strides of `new_shape` as a view of a tensor laid out (shape, strides), or None.

    torch's computeStride: walk the old dims from the last, in chunks of dims that
    are contiguous with each other; each chunk must be split or merged exactly by
    the new dims. None means no view exists (`view` fails, `reshape` copies).
    """
    if not shape:
        return (1,) * len(new_shape)
    new_strides = [0] * len(new_shape)
    view_d = len(new_shape) - 1
    chunk_base_stride = strides[-1]
    tensor_numel = view_numel = 1
    for tensor_d in range(len(shape) - 1, -1, -1):
        tensor_numel *= shape[tensor_d]
        chunk_ends = tensor_d == 0 or (shape[tensor_d - 1] != 1 and
                                       strides[tensor_d - 1] != tensor_numel * chunk_base_stride)
        if chunk_ends:
            while view_d >= 0 and (view_numel < tensor_numel or new_shape[view_d] == 1):
                new_strides[view_d] = view_numel * chunk_base_stride
                view_numel *= new_shape[view_d]
                view_d -= 1
            if view_numel != tensor_numel:
                return None
            if tensor_d > 0:
                chunk_base_stride = strides[tensor_d - 1]
                tensor_numel = view_numel = 1
    return tuple(new_strides) if view_d == -1 else None


_CHANNELS_LAST_ORDER = {4: (1, 3, 2, 0), 5: (1, 4, 3, 2, 0)}


@not_a_condition
def is_channels_last(shape: tuple[int, ...], strides: tuple[int, ...]) -> bool:
    """torch's suggest_memory_format: are these strides channels-last (C fastest)?

    A 3-D input counts as it would unsqueezed to 4-D, as torch's 1-d pools see it.
    """
    if len(shape) == 3:
        shape = (shape[0], shape[1], 1, shape[2])
        strides = (strides[0], strides[1], strides[2] * shape[3], strides[2])
    order = _CHANNELS_LAST_ORDER.get(len(shape))
    if order is None or strides[1] == 0:
        return False
    minimum = 0
    for d in order:
        if strides[d] < minimum or (d == 0 and minimum == strides[1]):
            return False    # ambiguous layouts (N111, 1C1W transposed) count as contiguous
        minimum = strides[d] * shape[d] if shape[d] > 1 else strides[d]
    return True


@not_a_condition
def channels_last_strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Strides of [N, C, *spatial] stored as [N, *spatial, C]."""
    n, c, *spatial = shape
    inner = contiguous_strides((*spatial, c))
    return (inner[0] * max(spatial[0], 1), inner[-1], *inner[:-1])


@not_a_condition
def iterator_strides(shape: tuple[int, ...],
                     operands: list[tuple[tuple[int, ...], tuple[int, ...]]]) -> tuple[int, ...]:
    """The output strides torch's TensorIterator gives an elementwise op.

    Dims are ordered fastest first by the operands' strides, in operand order
    (a broadcast dim, stride 0, does not vote; equal strides put the smaller
    dim first), then the output is laid out densely in that order.
    """
    dense = contiguous_strides(shape)
    if all(op_shape == shape and op_strides == dense for op_shape, op_strides in operands):
        return dense                            # the usual case, at once: all contiguous
    ndim = len(shape)
    aligned = []
    for op_shape, op_strides in operands:       # right-align; broadcast dims get stride 0
        pad = ndim - len(op_shape)
        aligned.append([0] * pad + [s if n != 1 or shape[pad + i] == 1 else 0
                                    for i, (n, s) in enumerate(zip(op_shape, op_strides))])

    def should_swap(dim0: int, dim1: int) -> int:
        for strides in aligned:
            s0, s1 = strides[dim0], strides[dim1]
            if s0 == 0 or s1 == 0:
                continue
            if s0 != s1:
                return -1 if s0 < s1 else 1
            if shape[dim0] > shape[dim1]:
                return 1
        return 0

    perm = list(range(ndim - 1, -1, -1))        # fastest first
    for i in range(1, ndim):
        dim1 = i
        for dim0 in range(i - 1, -1, -1):
            comparison = should_swap(perm[dim0], perm[dim1])
            if comparison > 0:
                perm[dim0], perm[dim1] = perm[dim1], perm[dim0]
                dim1 = dim0
            elif comparison < 0:
                break
    strides, step = [0] * ndim, 1
    for d in perm:
        strides[d] = step
        step *= max(shape[d], 1)
    return tuple(strides)
