"""When Prometheus 2.42 evaluates a rule group, so that a backfilled record continues its grid.

A group evaluates at ``base + offset``, ``base`` a multiple of its interval since the epoch and
``offset`` the hash of the group modulo the interval (``rules.Group.EvalTimestamp``): the hash
is ``labels.Labels.Hash`` of ``{file="<rule file>", name="<group>"}``, XXH64 (seed 0) of each
label's name and value followed by a ``0xff`` byte, names sorted, and the rule file is the path
as the configuration's ``rule_files`` gives it. Records carry that time in milliseconds.
"""

from __future__ import annotations

_MASK = (1 << 64) - 1
_P1 = 11400714785074694791
_P2 = 14029467366897019727
_P3 = 1609587929392839161
_P4 = 9650029242287828579
_P5 = 2870177450012600261
_SEPARATOR = b"\xff"


def _rotate(value: int, bits: int) -> int:
    return ((value << bits) | (value >> (64 - bits))) & _MASK


def _round(accumulator: int, lane: int) -> int:
    return _rotate((accumulator + lane * _P2) & _MASK, 31) * _P1 & _MASK


def _merge(accumulator: int, lane: int) -> int:
    return ((accumulator ^ _round(0, lane)) * _P1 + _P4) & _MASK


def _lane(data: bytes, at: int, size: int = 8) -> int:
    return int.from_bytes(data[at : at + size], "little")


def xxh64(data: bytes) -> int:
    """XXH64 of ``data`` with seed 0 (Go's ``github.com/cespare/xxhash/v2``)."""
    size, at = len(data), 0
    if size >= 32:
        lanes = [(_P1 + _P2) & _MASK, _P2, 0, -_P1 & _MASK]
        while at + 32 <= size:
            lanes = [_round(v, _lane(data, at + 8 * i)) for i, v in enumerate(lanes)]
            at += 32
        digest = sum(_rotate(v, bits) for v, bits in zip(lanes, (1, 7, 12, 18), strict=True))
        for lane in lanes:
            digest = _merge(digest & _MASK, lane)
    else:
        digest = _P5
    digest = (digest + size) & _MASK
    while at + 8 <= size:
        digest = (_rotate(digest ^ _round(0, _lane(data, at)), 27) * _P1 + _P4) & _MASK
        at += 8
    if at + 4 <= size:
        digest = (_rotate(digest ^ (_lane(data, at, 4) * _P1 & _MASK), 23) * _P2 + _P3) & _MASK
        at += 4
    for byte in data[at:]:
        digest = _rotate(digest ^ (byte * _P5 & _MASK), 11) * _P1 & _MASK
    digest = (digest ^ (digest >> 33)) * _P2 & _MASK
    digest = (digest ^ (digest >> 29)) * _P3 & _MASK
    return digest ^ (digest >> 32)


def group_hash(name: str, file: str) -> int:
    """``hash()`` of the rule group ``name`` loaded from ``file``."""
    text = b"".join(
        k.encode() + _SEPARATOR + v.encode() + _SEPARATOR
        for k, v in (("file", file), ("name", name))
    )
    return xxh64(text)


def group_offset_ms(name: str, file: str, interval: float) -> int:
    """Milliseconds past each multiple of ``interval`` (seconds) at which the group evaluates."""
    nanoseconds = round(interval * 1e9)
    return (group_hash(name, file) % nanoseconds) // 1_000_000
