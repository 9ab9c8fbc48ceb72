"""What a freshly opened dashboard asks Prometheus, as Grafana asks it.

- The time range is the dashboard's own (``time.from``/``time.to``) unless the caller gives one.
- Template variables: the ``datasource`` variable is the given Prometheus; each
  ``label_values(selector, label)`` query is asked of Prometheus (``/api/v1/label/<label>/values``)
  and filtered by the variable's ``regex``; a variable whose saved ``current`` is "All" (or
  that has none and includes "All") takes its ``allValue``, else the regex of every value; the
  others keep their saved value when Prometheus still has it, else take the first.
- ``$__interval`` is the range divided by the panel's width in pixels, rounded as Grafana rounds
  it and at least the scrape interval; ``$__rate_interval`` is
  ``max($__interval + scrape interval, 4 * scrape interval)``; ``$__range`` is the range.
- Range queries (``/api/v1/query_range``) step by ``$__interval``; instant queries
  (``/api/v1/query``) run at the end of the range.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import yaml

from obsstack.core.spec import ConfigError, parse_duration
from obsstack.dashboards.lint import expand

Json = dict[str, Any]
_LABEL_VALUES = re.compile(r"^label_values\((?:(.*),\s*)?(\w+)\)$")
_RELATIVE = re.compile(r"^now(?:-(\w+))?(?:/\w)?$")
# Grafana's roundInterval (rangeutil.ts): (below this many seconds, use this interval); 1y above.
_ROUNDING = [
    (0.01, 0.001), (0.015, 0.01), (0.035, 0.02), (0.075, 0.05), (0.15, 0.1), (0.35, 0.2),
    (0.75, 0.5), (1.5, 1), (3.5, 2), (7.5, 5), (12.5, 10), (17.5, 15), (25, 20), (45, 30),
    (90, 60), (210, 120), (450, 300), (750, 600), (1050, 900), (1500, 1200), (2700, 1800),
    (5400, 3600), (9000, 7200), (16200, 10800), (32400, 21600), (86400, 43200),
    (604800, 86400), (1814400, 604800), (3628800, 2592000),
]  # fmt: skip


class SourceProblem(Exception):
    """A query could not be answered; the message is what the panel shows."""


@dataclass(frozen=True)
class TimeRange:
    """Seconds since the epoch, ``start`` < ``end``."""

    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start

    def label(self) -> str:
        """``2026-12-03 08:00:00 to 09:00:00 UTC`` (the date again when it changes)."""
        start = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(self.start))
        end_format = "%H:%M:%S" if start[:10] == _day(self.end) else "%Y-%m-%d %H:%M:%S"
        return f"{start} to {time.strftime(end_format, time.gmtime(self.end))} UTC"


def _day(moment: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(moment))


def dashboard_range(dashboard: Json, now: float) -> TimeRange:
    """The dashboard's saved relative time range (``now-3h`` to ``now``) ending at ``now``."""
    times = dashboard.get("time") or {}
    start = _relative(str(times.get("from", "now-6h")), now)
    end = _relative(str(times.get("to", "now")), now)
    if start is None or end is None or start >= end:
        raise ConfigError(str(dashboard.get("uid", "dashboard")), "time", f"unusable {times!r}")
    return TimeRange(start, end)


def _relative(text: str, now: float) -> float | None:
    match = _RELATIVE.match(text)
    if not match:
        return None
    try:
        return now - (parse_duration(match[1]) if match[1] else 0)
    except ValueError:
        return None


def round_interval(seconds: float) -> float:
    """Grafana's ``roundInterval``: a readable interval near ``seconds``."""
    for below, interval in _ROUNDING:
        if seconds < below:
            return interval
    return 31536000


def duration_text(seconds: float) -> str:
    """A PromQL duration: ``15s``, ``2m``, ``1h``, ``500ms``."""
    millis = round(seconds * 1000)
    for unit, size in (("d", 86400000), ("h", 3600000), ("m", 60000), ("s", 1000)):
        if millis % size == 0 and millis >= size:
            return f"{millis // size}{unit}"
    return f"{millis}ms"


@dataclass(frozen=True)
class Series:
    """One series of a result: its labels and (time, value) points (NaN dropped)."""

    labels: Mapping[str, str]
    points: tuple[tuple[float, float], ...]


@dataclass
class Prometheus:
    """The Prometheus HTTP API a dashboard's data source points at."""

    url: str
    timeout: float = 10.0
    client: httpx.Client = field(default_factory=httpx.Client)

    def check(self) -> None:
        """Raise ConfigError naming ``--prometheus`` when nothing answers as Prometheus."""
        try:
            self._get("/api/v1/status/buildinfo", {})
        except SourceProblem as problem:
            raise ConfigError("--prometheus", "", str(problem)) from None

    def scrape_interval(self) -> float:
        """The global ``scrape_interval`` of Prometheus's loaded configuration (default 1m)."""
        data = self._get("/api/v1/status/config", {})
        config = yaml.safe_load(data.get("yaml", "")) or {}
        text = (config.get("global") or {}).get("scrape_interval", "1m")
        return parse_duration(str(text))

    def label_values(self, label: str, selector: str | None, window: TimeRange) -> list[str]:
        params: dict[str, Any] = {"start": window.start, "end": window.end}
        if selector:
            params["match[]"] = selector
        return sorted(self._get(f"/api/v1/label/{label}/values", params))

    def query_range(self, expr: str, window: TimeRange, step: float) -> list[Series]:
        params = {"query": expr, "start": window.start, "end": window.end, "step": step}
        return _series(self._get("/api/v1/query_range", params)["result"])

    def query(self, expr: str, moment: float) -> list[Series]:
        return _series(self._get("/api/v1/query", {"query": expr, "time": moment})["result"])

    def _get(self, path: str, params: Mapping[str, Any]) -> Any:
        try:
            response = self.client.get(f"{self.url}{path}", params=params, timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise SourceProblem(f"Prometheus not reachable at {self.url}: {reason(exc)}") from None
        try:
            body = response.json()
        except ValueError:
            raise SourceProblem(
                f"{self.url}{path} answered HTTP {response.status_code}, not Prometheus JSON"
            ) from None
        if not isinstance(body, dict) or body.get("status") != "success":
            error = (
                body.get("error", f"HTTP {response.status_code}") if isinstance(body, dict) else ""
            )
            raise SourceProblem(f"Prometheus error: {error}")
        return body.get("data")


def reason(exc: httpx.HTTPError) -> str:
    """An HTTP client error in one line (``[Errno 111] Connection refused``)."""
    text = str(exc).strip().strip("'\"") or type(exc).__name__
    return text.splitlines()[0]


def _series(result: list[Json]) -> list[Series]:
    out = []
    for item in result:
        values = item.get("values") or ([item["value"]] if "value" in item else [])
        points = []
        for moment, text in values:
            number = float(text)
            if not math.isnan(number):
                points.append((float(moment), number))
        out.append(Series(dict(item.get("metric", {})), tuple(points)))
    return out


# -- variables ----------------------------------------------------------------------------------
def resolve_variables(dashboard: Json, source: Prometheus, window: TimeRange) -> dict[str, str]:
    """Variable name -> the value a freshly opened dashboard binds it to."""
    values: dict[str, str] = {}
    for variable in (dashboard.get("templating") or {}).get("list", []):
        name = variable["name"]
        kind = variable.get("type")
        if kind == "datasource":
            values[name] = "prometheus"
        elif kind in ("constant", "textbox"):
            values[name] = str(variable.get("query", ""))
        elif kind == "custom":
            options = [o.strip() for o in str(variable.get("query", "")).split(",") if o.strip()]
            values[name] = _choose(variable, options)
        elif kind == "query":
            values[name] = _choose(variable, _query_options(variable, values, source, window))
    return values


def _query_options(
    variable: Json, bound: Mapping[str, str], source: Prometheus, window: TimeRange
) -> list[str]:
    query = variable.get("query")
    text = query.get("query", "") if isinstance(query, dict) else str(query or "")
    match = _LABEL_VALUES.match(text.strip())
    if not match:
        return []
    selector = expand(match[1], bound) if match[1] else None
    try:
        found = source.label_values(match[2], selector, window)
    except SourceProblem:
        return []
    if variable.get("regex"):
        pattern = re.compile(str(variable["regex"]).strip("/"))
        found = [v for v in found if pattern.search(v)]
    return found


def takes_all(variable: Json) -> bool:
    """Whether a freshly opened dashboard selects "All" for ``variable``: its saved value is
    "All", or it has none and offers "All"."""
    current = (variable.get("current") or {}).get("value")
    wants_all = current in ("$__all", ["$__all"]) or not current
    return bool(variable.get("includeAll")) and wants_all


def _choose(variable: Json, options: list[str]) -> str:
    current = (variable.get("current") or {}).get("value")
    if takes_all(variable):
        if variable.get("allValue"):
            return str(variable["allValue"])
        return "(" + "|".join(re.escape(o) for o in options) + ")" if options else ".*"
    if isinstance(current, str) and current in options:
        return current
    return options[0] if options else ""


def query_step(window: TimeRange, width_px: int, scrape: float) -> float:
    """``$__interval`` in seconds: one point per pixel, rounded, at least the scrape interval."""
    return max(scrape, round_interval(window.seconds / max(width_px, 1)))


def interval_values(window: TimeRange, width_px: int, scrape: float) -> dict[str, str]:
    """Grafana's global variables for a panel ``width_px`` wide over ``window``."""
    interval = query_step(window, width_px, scrape)
    rate = max(interval + scrape, 4 * scrape)
    seconds = round(window.seconds)
    return {
        "__interval": duration_text(interval),
        "__interval_ms": str(round(interval * 1000)),
        "__rate_interval": duration_text(rate),
        "__range": f"{seconds}s",
        "__range_s": str(seconds),
        "__range_ms": str(seconds * 1000),
    }
