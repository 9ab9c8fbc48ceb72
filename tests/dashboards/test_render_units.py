"""Values shown in panel units as Grafana's value formats show them (checked against
packages/grafana-data/src/valueFormats: categories.ts, valueFormats.ts, dateTimeFormatters.ts)."""

from __future__ import annotations

from typing import Any

import pytest

from obsstack.dashboards.render_data import TimeRange, interval_values
from obsstack.dashboards.render_queries import legend_name
from obsstack.dashboards.render_units import colour, format_value, palette_colour, threshold_colour


@pytest.mark.parametrize(
    ("value", "unit", "decimals", "shown"),
    [
        (0.123, "percentunit", None, "12.3%"),
        (0.999, "percentunit", 3, "99.900%"),
        (42.0, "percent", None, "42%"),
        (0.0123, "s", None, "12.3 ms"),
        (0.0005, "s", None, "500 µs"),
        (1.5, "s", None, "1.50 s"),
        (75.0, "s", None, "1.25 min"),
        (250.0, "ms", None, "250 ms"),
        (1234567.0, "bytes", None, "1.18 MiB"),
        (2000.0, "Bps", None, "2 kB/s"),
        (12.5, "reqps", None, "12.5 req/s"),
        (1500.0, "reqps", None, "1.50K req/s"),
        (5.0, "cpm", None, "5 c/m"),
        (1234.0, "short", None, "1.23 K"),
        (3.0, "none", None, "3"),
        (2.5, "suffix:x", None, "2.50 x"),
        (93784.0, "dtdurations", None, "1 day, 2 hours"),
        (None, "s", None, "-"),
    ],
)
def test_values_in_units(value, unit, decimals, shown):
    assert format_value(value, unit, decimals) == shown


def test_threshold_steps_pick_the_highest_step_reached():
    steps: list[dict[str, Any]] = [
        {"color": "red", "value": None},
        {"color": "orange", "value": 0.9},
        {"color": "green", "value": 0.99},
    ]
    assert [threshold_colour(v, steps) for v in (0.5, 0.9, 0.995, None)] == [
        "#F2495C",
        "#FF9830",
        "#73BF69",
        "#F2495C",
    ]


def test_named_and_palette_colours_are_the_dark_themes():
    assert colour("semi-dark-green") == "#56A64B"
    assert colour("rgb(255, 0, 10)") == "#FF000A"
    assert colour("#123456") == "#123456"
    assert [palette_colour(i) for i in range(3)] == ["#73BF69", "#FADE2A", "#5794F2"]


@pytest.mark.parametrize(
    ("legend", "labels", "name"),
    [
        ("{{route}} ({{ method }})", {"route": "/a", "method": "GET"}, "/a (GET)"),
        ("{{missing}}x", {"route": "/a"}, "x"),
        ("__auto", {"route": "/a"}, "/a"),
        (
            None,
            {"__name__": "up", "job": "api", "instance": "h:1"},
            'up{instance="h:1", job="api"}',
        ),
        (None, {}, "sum(up)"),
    ],
)
def test_series_names_as_grafanas_prometheus_data_source_gives_them(legend, labels, name):
    assert legend_name(legend, labels, "sum(up)") == name


@pytest.mark.parametrize(
    ("seconds", "width", "scrape", "interval", "rate"),
    [
        (3600, 780, 15.0, "15s", "1m"),  # 4.6 s a pixel: the scrape interval is the floor
        (3600, 780, 1.0, "5s", "6s"),  # max($__interval + scrape, 4 x scrape)
        (604800, 780, 15.0, "15m", "915s"),  # 775 s a pixel rounds to 15m
        (86400 * 90, 780, 15.0, "3h", "10815s"),  # 9969 s a pixel rounds to 3h
    ],
)
def test_interval_and_rate_interval_as_grafana_computes_them(
    seconds, width, scrape, interval, rate
):
    bound = interval_values(TimeRange(0, seconds), width, scrape)
    assert (bound["__interval"], bound["__rate_interval"]) == (interval, rate)
    assert bound["__range"] == f"{seconds}s"
