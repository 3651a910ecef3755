"""Qiskit result objects that format what the user reads in one numpy pass.

Qiskit builds what the user reads one key or one shot at a time: ``Result.get_counts()`` runs
``postprocess.format_counts_memory`` on every hex key, ``Result.get_memory()`` on every shot, and
``BitArray.get_counts()`` converts every shot's bytes on its own. On large results that is most of
the time from payload to counts (PROTOCOL.md §6.2, §6.3).

:class:`FastResult` and :class:`FastBitArray` are subclasses that return the same values (same
types, keys, values and key order) computed per experiment or pub with numpy: hex keys are parsed
from one joined string, expanded to bits with ``unpackbits``, split into registers by one column
gather and turned into ``str`` by one ``split``; shots are grouped by one sort. Whatever is outside
that path (a key that is not ``0x`` + hex digits, a value wider than ``memory_slots``, no
``memory_slots``, an unusual header, a handful of keys) goes to qiskit's own code unchanged.

Both pickle as the plain qiskit classes, so a pickled result loads without qcourier; copies
(``copy.copy``, ``copy.deepcopy``) keep the subclass.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

import numpy as np
from qiskit.primitives.containers import BitArray
from qiskit.result import Counts, Result
from qiskit.result.models import MeasLevel

__all__ = ["FastBitArray", "FastResult", "format_hex_outcomes"]

#: Below this many keys (or shots) qiskit's per-key code is as fast as the numpy pass.
SMALL = 32

_ZERO, _SPACE, _COMMA = ord("0"), ord(" "), ord(",")

# Value of each hex digit; 255 marks a byte that is not one.
_NIBBLE = np.full(256, 255, dtype=np.uint8)
_NIBBLE[np.frombuffer(b"0123456789abcdef", np.uint8)] = np.arange(16, dtype=np.uint8)
_NIBBLE[np.frombuffer(b"ABCDEF", np.uint8)] = np.arange(10, 16, dtype=np.uint8)

# The header fields Result.get_counts passes to Counts.
_COUNTS_HEADER = frozenset({"time_taken", "creg_sizes", "memory_slots"})

_Array = np.ndarray[Any, Any]


def _hex_bytes(keys: Iterable[str], count: int) -> _Array | None:
    """Big-endian bytes of each ``0x``-prefixed hex key, right-aligned: shape (count, width).

    ``None`` unless every key is ``0x`` followed by at least one hex digit.
    """
    try:
        text = ",".join(keys).encode("ascii")
    except (TypeError, UnicodeEncodeError):
        return None
    buf = np.frombuffer(text, dtype=np.uint8)
    commas = np.flatnonzero(buf == _COMMA)
    if len(commas) != count - 1:
        return None
    ends = np.empty(count, dtype=np.intp)
    ends[:-1] = commas
    ends[-1] = len(buf)
    firsts = np.empty(count, dtype=np.intp)  # each key's first digit, after "0x"
    firsts[0] = 2
    firsts[1:] = commas + 3
    digits = ends - firsts
    if int(digits.min()) < 1:
        return None
    if not (np.all(buf[firsts - 2] == _ZERO) and np.all(buf[firsts - 1] == ord("x"))):
        return None
    width = int(digits.max())
    width += width & 1
    # Right-aligned digit positions; those left of a key's first digit are padding (zeroed).
    offsets = np.arange(-width, 0)
    nibbles = _NIBBLE.take(buf.take(ends[:, None] + offsets, mode="wrap"))
    nibbles *= offsets >= -digits[:, None]
    if np.any(nibbles == 255):
        return None
    packed: _Array = (nibbles[:, 0::2] << 4) | nibbles[:, 1::2]
    return packed


def _layout(width: int, creg_sizes: Any) -> list[int] | None:
    """The source column of each output character, ``width`` standing for a space.

    Mirrors ``postprocess._separate_bitstring``: registers in reverse order, each a slice of the
    bitstring, joined by spaces. ``None`` for sizes that are not non-negative ints.
    """
    if not creg_sizes:
        return list(range(width))
    try:
        sizes = [size for _, size in reversed(creg_sizes)]
    except (TypeError, ValueError):
        return None
    columns: list[int] = []
    start = 0
    for index, size in enumerate(sizes):
        if type(size) is not int or size < 0:
            return None
        if index:
            columns.append(width)
        columns.extend(range(start, min(start + size, width)))
        start += size
    return columns


def _strings(bits: _Array, columns: list[int] | None = None) -> list[str]:
    """One ``str`` per row of a 0/1 ``uint8`` array, laid out by *columns* (see :func:`_layout`)."""
    rows, width = bits.shape
    if columns is None or columns == list(range(width)):
        out = np.empty((rows, width + 1), dtype=np.uint8)
        np.add(bits, _ZERO, out=out[:, :width])
    else:
        table = np.empty((rows, width + 1), dtype=np.uint8)
        np.add(bits, _ZERO, out=table[:, :width])
        table[:, width] = _SPACE
        out = np.empty((rows, len(columns) + 1), dtype=np.uint8)
        out[:, :-1] = table[:, columns]
    out[:, -1] = _COMMA
    strings = out.tobytes().decode("ascii").split(",")
    strings.pop()
    return strings


def _ints(words: _Array) -> list[int]:
    """Python ints from rows of uint64 words, most significant word first."""
    if words.shape[1] == 1:
        ints: list[int] = words[:, 0].tolist()
        return ints
    total = words[:, 0].astype(object)
    for column in range(1, words.shape[1]):
        total = (total << 64) | words[:, column].astype(object)
    wide: list[int] = total.tolist()
    return wide


def _to_words(packed: _Array, num_bits: int) -> _Array:
    """Rows of big-endian bytes (the last *num_bits* bits used) as rows of native uint64 words."""
    rows, width = packed.shape
    keep = min(width, -(-num_bits // 8))
    words = -(-keep // 8)
    padded = np.zeros((rows, 8 * words), dtype=np.uint8)
    padded[:, 8 * words - keep :] = packed[:, width - keep :]
    if num_bits % 8 and keep * 8 >= num_bits:
        padded[:, 8 * words - keep] &= (1 << (num_bits % 8)) - 1
    return padded.view(">u8").astype(np.uint64)


def format_hex_outcomes(
    keys: Iterable[str], count: int, memory_slots: Any, creg_sizes: Any
) -> tuple[list[str], _Array] | None:
    """Format *count* hex keys as ``format_counts_memory`` does with this header.

    Returns the bitstrings and each key's value as uint64 words (see :func:`_to_words`), or
    ``None`` when the keys or the header are outside the fast path.
    """
    if count < SMALL or type(memory_slots) is not int or memory_slots <= 0:
        return None
    columns = _layout(memory_slots, creg_sizes)
    if not columns:
        return None
    packed = _hex_bytes(keys, count)
    if packed is None:
        return None
    bits = np.unpackbits(packed, axis=1)
    extra = bits.shape[1] - memory_slots
    if extra > 0:
        if np.any(bits[:, :extra]):
            return None  # qiskit keeps every digit of a value wider than memory_slots
        bits = bits[:, extra:]
    elif extra < 0:
        bits = np.concatenate([np.zeros((count, -extra), dtype=np.uint8), bits], axis=1)
    return _strings(bits, columns), _to_words(packed, memory_slots)


def _fast_counts(
    data: Any, time_taken: Any = None, creg_sizes: Any = None, memory_slots: Any = None
) -> Counts | None:
    """``Counts(data, time_taken, creg_sizes, memory_slots)``, or ``None`` off the fast path."""
    if not isinstance(data, dict):
        return None
    formatted = format_hex_outcomes(data, len(data), memory_slots, creg_sizes)
    if formatted is None:
        return None
    strings, words = formatted
    hex_raw = dict(data)
    values = list(hex_raw.values())
    counts = Counts.__new__(Counts)
    dict.update(counts, zip(strings, values, strict=True))
    counts.hex_raw = hex_raw
    counts.int_raw = dict(zip(_ints(words), values, strict=True))
    counts.creg_sizes = creg_sizes
    counts.memory_slots = memory_slots
    counts.time_taken = time_taken
    return counts


class FastResult(Result):  # type: ignore[misc]  # qiskit is untyped
    """A qiskit ``Result`` whose ``get_counts()`` and ``get_memory()`` format each experiment
    in one numpy pass; the values, types and key order are qiskit's."""

    def get_counts(self, experiment: Any = None) -> Any:
        keys = range(len(self.results)) if experiment is None else [experiment]
        counts = [self._counts(key) for key in keys]
        return counts[0] if len(counts) == 1 else counts

    def _counts(self, key: Any) -> Any:
        experiment = self._get_experiment(key)
        header = getattr(experiment, "header", None)
        data = self.data(key)
        if "counts" not in data or not (header is None or isinstance(header, dict)):
            return super().get_counts(key)
        options = {k: v for k, v in (header or {}).items() if k in _COUNTS_HEADER}
        counts = _fast_counts(data["counts"], **options)
        return Counts(data["counts"], **options) if counts is None else counts

    def get_memory(self, experiment: Any = None) -> Any:
        exp = self._get_experiment(experiment)
        header = getattr(exp, "header", None)
        if getattr(exp, "meas_level", None) == MeasLevel.CLASSIFIED and isinstance(header, dict):
            memory = self.data(experiment).get("memory")
            if isinstance(memory, list):
                formatted = format_hex_outcomes(
                    memory, len(memory), header.get("memory_slots"), header.get("creg_sizes")
                )
                if formatted is not None:
                    return formatted[0]
        return super().get_memory(experiment)

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled as a plain Result: it loads where qcourier is not installed.
        return (object.__new__, (Result,), dict(self.__dict__))

    def __copy__(self) -> FastResult:
        copied = object.__new__(FastResult)
        copied.__dict__.update(self.__dict__)
        return copied

    def __deepcopy__(self, memo: dict[int, Any]) -> FastResult:
        copied = object.__new__(FastResult)
        memo[id(self)] = copied
        copied.__dict__.update(copy.deepcopy(self.__dict__, memo))
        return copied


def _first_occurrences(words: _Array, num_bits: int) -> tuple[_Array, _Array]:
    """Where each distinct row of *words* first occurs (a mask) and how often it occurs.

    The counts are in the order of first occurrence, as a dict filled shot by shot has them.
    """
    shots = len(words)
    shift = max(1, (shots - 1).bit_length())
    if words.shape[1] == 1 and num_bits + shift <= 64:
        # One sort of value-then-index keys: each run of equal values starts at its first shot.
        keys = (words[:, 0] << np.uint64(shift)) | np.arange(shots, dtype=np.uint64)
        keys.sort()
        ordered = keys >> np.uint64(shift)
        new = np.empty(shots, dtype=bool)
        new[0] = True
        np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
        starts = np.flatnonzero(new)
        firsts = (keys[starts] & np.uint64((1 << shift) - 1)).astype(np.intp)
    else:
        order = np.lexsort(words.T[::-1])  # stable: ties keep shot order
        sorted_words = words[order]
        new = np.empty(shots, dtype=bool)
        new[0] = True
        np.any(sorted_words[1:] != sorted_words[:-1], axis=1, out=new[1:])
        starts = np.flatnonzero(new)
        firsts = order[starts]
    sizes = np.diff(starts, append=shots)
    is_first = np.zeros(shots, dtype=bool)
    is_first[firsts] = True
    at_first = np.zeros(shots, dtype=np.intp)
    at_first[firsts] = sizes
    return is_first, at_first[is_first]


class FastBitArray(BitArray):  # type: ignore[misc]  # qiskit is untyped
    """A qiskit ``BitArray`` whose ``get_counts()``, ``get_int_counts()`` and
    ``get_bitstrings()`` work on whole arrays; the values and key order are qiskit's.

    Arrays derived from it (indexing, slicing, reshaping, bitwise operators) stay fast.
    """

    def _rows(self, loc: Any) -> _Array | None:
        """The (shots, bytes) rows qiskit iterates for *loc*, or ``None`` to leave it to qiskit."""
        array = self._array
        rows = array.reshape(-1, array.shape[-1]) if loc is None else array[loc]
        if rows.ndim != 2 or rows.shape[0] < SMALL or self._num_bits <= 0:
            return None
        result: _Array = rows
        return result

    def _bitstrings(self, rows: _Array) -> list[str]:
        bits = np.unpackbits(rows, axis=1)
        return _strings(bits[:, bits.shape[1] - self._num_bits :])

    def get_counts(self, loc: Any = None) -> dict[str, int]:
        rows = self._rows(loc)
        if rows is None:
            counts: dict[str, int] = super().get_counts(loc)
            return counts
        is_first, sizes = _first_occurrences(_to_words(rows, self._num_bits), self._num_bits)
        return dict(zip(self._bitstrings(rows[is_first]), sizes.tolist(), strict=True))

    def get_int_counts(self, loc: Any = None) -> dict[int, int]:
        rows = self._rows(loc)
        if rows is None:
            int_counts: dict[int, int] = super().get_int_counts(loc)
            return int_counts
        words = _to_words(rows, self._num_bits)
        is_first, sizes = _first_occurrences(words, self._num_bits)
        return dict(zip(_ints(words[is_first]), sizes.tolist(), strict=True))

    def get_bitstrings(self, loc: Any = None) -> list[str]:
        rows = self._rows(loc)
        if rows is None:
            bitstrings: list[str] = super().get_bitstrings(loc)
            return bitstrings
        return self._bitstrings(rows)

    def __getitem__(self, indices: Any) -> FastBitArray:
        return _fast(super().__getitem__(indices))

    def reshape(self, *shape: Any) -> FastBitArray:
        return _fast(super().reshape(*shape))

    def transpose(self, *axes: Any) -> FastBitArray:
        return _fast(super().transpose(*axes))

    def slice_bits(self, indices: Any) -> FastBitArray:
        return _fast(super().slice_bits(indices))

    def slice_shots(self, indices: Any) -> FastBitArray:
        return _fast(super().slice_shots(indices))

    def postselect(self, *args: Any, **kwargs: Any) -> FastBitArray:
        return _fast(super().postselect(*args, **kwargs))

    def __and__(self, other: Any) -> FastBitArray:
        return _fast(super().__and__(other))

    def __or__(self, other: Any) -> FastBitArray:
        return _fast(super().__or__(other))

    def __xor__(self, other: Any) -> FastBitArray:
        return _fast(super().__xor__(other))

    def __invert__(self) -> FastBitArray:
        return _fast(super().__invert__())

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled as a plain BitArray: it loads where qcourier is not installed.
        return (BitArray, (self._array, self._num_bits))

    def __copy__(self) -> FastBitArray:
        return FastBitArray(self._array, self._num_bits)

    def __deepcopy__(self, memo: dict[int, Any]) -> FastBitArray:
        return FastBitArray(copy.deepcopy(self._array, memo), self._num_bits)


def _fast(bits: Any) -> FastBitArray:
    return FastBitArray(bits.array, bits.num_bits)
