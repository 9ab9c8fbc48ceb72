"""PromQL building blocks shared by the dashboards, so every panel writes a rate, a quantile or
an error ratio the same way (``$__rate_interval``, counters only inside ``rate``/``increase``)."""

from __future__ import annotations


def _by(labels: str) -> str:
    return f" by ({labels}) " if labels else ""


def selector(metric: str, matchers: str = "") -> str:
    """``metric{matchers}``."""
    return f"{metric}{{{matchers}}}"


def rate(metric: str, matchers: str = "", by: str = "") -> str:
    """Per-second rate of a counter, summed ``by`` the given labels."""
    return f"sum{_by(by)}(rate({selector(metric, matchers)}[$__rate_interval]))"


def per_minute(metric: str, matchers: str = "", by: str = "") -> str:
    """Rate of a counter per minute (for events too rare to read per second)."""
    return f"{rate(metric, matchers, by)} * 60"


def over_range(metric: str, matchers: str = "", by: str = "") -> str:
    """How much a counter grew over the dashboard's time range (for instant queries)."""
    return f"sum{_by(by)}(increase({selector(metric, matchers)}[$__range]))"


def quantile(q: float, histogram: str, matchers: str = "", by: str = "") -> str:
    """The ``q`` quantile of a histogram (its base name), from its buckets."""
    grouping = ", ".join(filter(None, ["le", by]))
    return f"histogram_quantile({q}, {rate(histogram + '_bucket', matchers, grouping)})"


def ratio_or_zero(part: str, whole: str) -> str:
    """``part / whole`` that is 0, not absent, for groups where ``part`` has no series yet (a
    failure counter that never fired)."""
    return f"({part} or {whole} * 0) / {whole}"
