"""Bounded label values: the first or the largest N values keep their own label, the rest ``other``.

A label fed by user input (tenant ids, agent types, KPI rows) would otherwise grow the number of
series without bound. Admission is sticky: a value that got its own label keeps it, so a
counter never moves between series.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence

from obsstack.core import naming

OTHER = naming.OTHER_TENANT


class LabelCap:
    """Admits at most ``limit`` distinct values, pinned ones first, then first come first served.

    ``pinned`` are values that always keep their label (e.g. the largest tenants, known from
    billing); they count towards the limit. In multi-process mode each worker admits on its own:
    pin the values every worker must agree on.
    """

    def __init__(self, limit: int, pinned: Iterable[str] = (), other: str = OTHER) -> None:
        if limit < 0:
            raise ValueError("limit must not be negative")
        self.limit = limit
        self.other = other
        self._kept: set[str] = set(list(pinned)[:limit])
        self._lock = threading.Lock()

    def __call__(self, value: str) -> str:
        """The label value to use for ``value``."""
        if value in self._kept:
            return value
        with self._lock:
            if value in self._kept or len(self._kept) < self.limit:
                self._kept.add(value)
                return value
        return self.other

    @property
    def kept(self) -> frozenset[str]:
        return frozenset(self._kept)


class RankedCap:
    """Caps label sets of a result that is recomputed on every run (a KPI query).

    The label sets already admitted keep their slot while they appear in the results; free slots
    go to the newcomers with the largest values. Every other row is summed into one label set
    whose values are all ``other``.
    """

    def __init__(self, limit: int, other: str = OTHER) -> None:
        self.limit = limit
        self.other = other
        self._kept: set[tuple[str, ...]] = set()

    def apply(self, rows: Sequence[tuple[tuple[str, ...], float]]) -> dict[tuple[str, ...], float]:
        """Map (label values, value) rows to at most ``limit`` + 1 series."""
        present = {labels for labels, _ in rows}
        kept = self._kept & present
        newcomers = sorted(
            ((labels, value) for labels, value in rows if labels not in kept),
            key=lambda row: (-row[1], row[0]),
        )
        for labels, _ in newcomers:
            if len(kept) >= self.limit:
                break
            kept.add(labels)
        self._kept = kept
        out: dict[tuple[str, ...], float] = {}
        for labels, value in rows:
            key = labels if labels in kept else tuple(self.other for _ in labels)
            out[key] = out.get(key, 0.0) + value
        return out
