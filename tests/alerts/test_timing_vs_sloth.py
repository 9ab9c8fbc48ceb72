"""obsstack's SLO alerts fire no later than Sloth's and clear no later than Sloth's + 5 minutes.

The oracle is Sloth's own rule layout (tests.support.sloth_layout, checked against the rules
Sloth v0.16 generates for its example specs), loaded beside ours in one real promtool run and
fed the same input series: steady error ratios at 0.5x, 2x, 20x and 100x the budget rate, a
20x burn after a clean day, a 5-minute burst at 50 %, a 20-minute burst at 10 %, a quiet night
followed by an outage at peak traffic (event counters and a raw ratio SLI), a latency burst,
and a Sloth-format spec read through the Sloth path. Figures: benchmarks/slo_timing.md.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from obsstack.alerts.model import SLO
from tests.support import timing
from tests.support.timing import OURS, SLOTH, Scenario, Timeline

CLEAR_SLACK = 300.0  # may clear up to 5 minutes after Sloth's


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> list[tuple[SLO, Scenario, Timeline]]:
    slos = timing.comparison_slos(Path(tmp_path_factory.mktemp("timing")))
    with ThreadPoolExecutor(max_workers=2) as pool:
        timelines = pool.map(lambda slo: timing.run(slo, timing.scenarios_for(slo)), slos)
        return [
            (slo, scenario, line)
            for slo, lines in zip(slos, timelines, strict=True)
            for scenario, line in zip(timing.scenarios_for(slo), lines, strict=True)
        ]


def _cases(runs):
    for slo, scenario, line in runs:
        for tier in ("page", "ticket"):
            yield f"{slo.service}/{slo.name}, {scenario.name}, {tier}", slo, line, tier


def test_every_alert_sloth_fires_fires_here_no_later_than_one_evaluation_after(runs):
    fired = 0
    for case, slo, line, tier in _cases(runs):
        theirs, ours = line.first(SLOTH, tier), line.first(OURS, tier)
        if theirs is None:
            continue
        fired += 1
        assert ours is not None, f"{case}: Sloth's rules fire at {theirs}s, ours never do"
        assert ours <= theirs + slo.evaluation_interval, f"{case}: ours {ours}s, Sloth {theirs}s"
    assert fired >= 15  # the scenarios page and open tickets: the comparison is not empty


def test_no_alert_fires_here_where_sloth_stays_quiet(runs):
    for case, _slo, line, tier in _cases(runs):
        if line.first(SLOTH, tier) is None:
            assert line.first(OURS, tier) is None, f"{case}: ours fires, Sloth's does not"


def test_alerts_clear_no_later_than_five_minutes_after_sloth(runs):
    cleared = 0
    for case, slo, line, tier in _cases(runs):
        theirs = line.cleared(SLOTH, tier, slo.evaluation_interval)
        ours = line.cleared(OURS, tier, slo.evaluation_interval)
        if theirs is None:
            continue
        cleared += 1
        assert ours is not None, f"{case}: Sloth's clears at {theirs}s, ours still fires"
        assert ours <= theirs + CLEAR_SLACK, f"{case}: ours clears {ours}s, Sloth {theirs}s"
    assert cleared >= 5


def test_the_quiet_night_outage_pages_with_a_raw_ratio_sli_too(runs):
    """The case of a missed page: traffic-weighted windows, also for Sloth's `raw` SLIs."""
    pages = {
        slo.name: line.first(OURS, "page")
        for slo, scenario, line in runs
        if scenario.name.startswith("quiet night")
    }
    assert pages.keys() == {"checkout", "checkout-ratio"}
    assert all(at is not None and at <= 300 for at in pages.values()), pages
