"""The highly available stack, natively with the real binaries (tests.bundle.ha_stack): two
Prometheus replicas, a three-peer Alertmanager cluster and the store (a third Prometheus taking
the replicas' remote writes), paging the PagerDuty and Opsgenie double (tests.support.paging_apis).

Losing the Alertmanager that sent a page, or a Prometheus replica, during an incident still
pages once at each API and resolves the incident, never paging again after it; the store holds
both replicas' series, told apart by ``replica``; the two Watchdogs make one heartbeat stream.
"""

from __future__ import annotations

import functools
import itertools
import time
from pathlib import Path

import httpx

from obsstack.core import naming
from obsstack.core.naming import REPLICA_LABEL
from obsstack.stack.topology import ALERTMANAGER_PEERS, PROMETHEUS_REPLICAS
from tests.bundle.ha_stack import HaStack, ha_stack
from tests.bundle.test_runner import obsstack
from tests.support.paging_apis import OPSGENIE, PAGERDUTY
from tests.support.processes import free_port, wait_until

SETTLE = 10.0  # two group intervals, past the last peer's wait: whatever is due is sent
PAGE = naming.ALERT_SLO_BURN_RATE_PAGE
GOSSIP = 1.0  # five of Alertmanager's gossip intervals


def incidents(stack: HaStack) -> dict[str, tuple[int, bool, bool]]:
    """Pages, whether a resolve arrived, and open state of each API's incident, by API (one
    expected each). Alertmanager's cluster delivers at least once: a peer whose notification log
    had not reached the others may send a trigger or resolve again, which PagerDuty and Opsgenie
    deduplicate by ``dedup_key`` and ``alias``; a trigger after the resolve pages again."""
    out = {}
    for api in (PAGERDUTY, OPSGENIE):
        found = stack.apis.incidents(api)
        assert len(found) == 1, (api, found)
        out[api] = (found[0].pages, found[0].resolves > 0, found[0].open)
    return out


def paged(stack: HaStack) -> bool:
    return all(stack.apis.incidents(api) for api in (PAGERDUTY, OPSGENIE))


def resolved(stack: HaStack) -> bool:
    return all(
        i.resolves for api in (PAGERDUTY, OPSGENIE) for i in stack.apis.incidents(api)
    ) and paged(stack)


def test_losing_the_alertmanager_that_paged_still_resolves_the_incident_once(tmp_path: Path):
    with ha_stack(tmp_path) as stack:
        stack.target.burn(1.0)
        wait_until(lambda: paged(stack), 60, "the page")
        senders = [
            p for p in ALERTMANAGER_PEERS if stack.notifications(p, "pagerduty") > 0
            or stack.notifications(p, "opsgenie") > 0
        ]  # fmt: skip
        assert len(senders) == 1, senders
        # Lost after its notification log has gone out to the others (gossip every 200 ms):
        # a peer lost before that is paged again by the next one, as Alertmanager's
        # at-least-once delivery means.
        time.sleep(GOSSIP)
        stack.kill(senders[0])
        stack.target.burn(0.0)
        wait_until(lambda: resolved(stack), 90, "the resolve, from another peer")
        time.sleep(SETTLE)
        assert incidents(stack) == {PAGERDUTY: (1, True, False), OPSGENIE: (1, True, False)}
        survivors = [p for p in ALERTMANAGER_PEERS if p != senders[0]]
        assert sum(stack.notifications(p, "pagerduty") for p in survivors) >= 1  # the resolve
        assert stack.apis.rejected == []


def test_losing_a_prometheus_replica_during_a_burn_still_pages_once(tmp_path: Path):
    with ha_stack(tmp_path) as stack:
        lost, kept = PROMETHEUS_REPLICAS
        stack.target.burn(1.0)
        wait_until(lambda: stack.firing(lost, PAGE), 30, "the burn alert on the lost replica")
        stack.kill(lost)
        wait_until(lambda: paged(stack), 60, "the page")
        # Longer than the lost replica's alert lives on in Alertmanager (4 x the resend delay):
        # the alert it sent was the kept replica's alert, so nothing changes when it expires.
        time.sleep(10)
        assert stack.firing(kept, PAGE)
        assert incidents(stack) == {PAGERDUTY: (1, False, True), OPSGENIE: (1, False, True)}
        stack.target.burn(0.0)
        wait_until(lambda: resolved(stack), 60, "the resolve")
        time.sleep(SETTLE)
        assert incidents(stack) == {PAGERDUTY: (1, True, False), OPSGENIE: (1, True, False)}
        assert stack.apis.rejected == []


def test_the_store_holds_both_replicas_and_one_heartbeat_stream_arrives(tmp_path: Path):
    with ha_stack(tmp_path) as stack:
        raw = 'up{job="alertmanager"}'
        wait_until(
            lambda: len(stack.query("store", raw)) == 2 * len(ALERTMANAGER_PEERS),
            60,
            "both replicas' samples in the store",
        )
        series = stack.query("store", raw)
        by_replica = sorted(s["metric"][REPLICA_LABEL] for s in series)
        assert by_replica == sorted(PROMETHEUS_REPLICAS * len(ALERTMANAGER_PEERS))
        once = stack.query("store", f"max without ({REPLICA_LABEL}) ({raw})")
        assert sorted(s["metric"]["instance"] for s in once) == sorted(
            stack.url(peer).removeprefix("http://") for peer in ALERTMANAGER_PEERS
        )
        assert all(s["value"][1] == "1" for s in once)
        assert all(s["metric"]["stack"] == "obsstack" for s in series)
        # Each replica's own view is local: no replica label on its queries.
        assert REPLICA_LABEL not in stack.query(PROMETHEUS_REPLICAS[0], raw)[0]["metric"]

        # Both replicas fire the Watchdog; Alertmanager gets one alert, one stream.
        wait_until(lambda: stack.apis.webhooks("heartbeat"), 30, "the first heartbeat")
        time.sleep(12)
        beats = stack.apis.webhooks("heartbeat")
        for beat in beats:
            assert len(beat.body["alerts"]) == 1, beat.body["alerts"]
            assert REPLICA_LABEL not in beat.body["alerts"][0]["labels"]
        spacings = [round(b.received_at - a.received_at, 1) for a, b in itertools.pairwise(beats)]
        assert len(spacings) >= 5, spacings
        assert all(1.5 <= s <= 2.5 for s in spacings), spacings
        assert all(stack.firing(replica, naming.ALERT_WATCHDOG) for replica in PROMETHEUS_REPLICAS)
        assert stack.apis.incidents() == []


def cluster_of(peers: int, status_url: str) -> bool:
    return len(httpx.get(status_url).json()["cluster"]["peers"]) == peers


def test_obsstack_up_ha_starts_the_pair_the_cluster_and_the_store(tmp_path: Path):
    state = tmp_path / "state"
    names = (
        "oncall-sink",
        "exporter",
        "node-exporter",
        *ALERTMANAGER_PEERS,
        *PROMETHEUS_REPLICAS,
        "store",
    )
    ports = {name: free_port() for name in names}
    ports |= {f"{peer}:cluster": free_port() for peer in ALERTMANAGER_PEERS}
    argv = ["--state-dir", str(state), "--scrape-interval", "1s", "--no-demo", "--ha"]
    started = obsstack("up", *argv, *(f"--port={name}={port}" for name, port in ports.items()))
    try:
        assert started.returncode == 0, started.stderr
        for name in (*ALERTMANAGER_PEERS, *PROMETHEUS_REPLICAS, "store"):
            assert f"{name:<14} http://127.0.0.1:{ports[name]}/" in started.stdout, name
        for peer in ALERTMANAGER_PEERS:
            three = functools.partial(
                cluster_of, 3, f"http://127.0.0.1:{ports[peer]}/api/v2/status"
            )
            wait_until(three, 60, f"{peer} in a cluster of 3")
        store = f"http://127.0.0.1:{ports['store']}/api/v1/query"

        def replicas_in_store() -> list[str]:
            result = httpx.get(store, params={"query": "count by (replica) (up)"}).json()
            return sorted(s["metric"][REPLICA_LABEL] for s in result["data"]["result"])

        wait_until(
            lambda: replicas_in_store() == sorted(PROMETHEUS_REPLICAS), 60, "both in the store"
        )
    finally:
        stopped = obsstack("down", "--state-dir", str(state))
    assert stopped.returncode == 0, stopped.stderr
    for name in (*ALERTMANAGER_PEERS, *PROMETHEUS_REPLICAS, "store"):
        assert f"stopped {name} " in stopped.stdout, (name, stopped.stdout)
