"""The promtool test of the stack alerts (``stack.test.yml``): each fires on its symptom.

Expected annotations come from :func:`obsstack.alerts.stack_rules.alert_notes` with the
concrete label values, so a change of wording needs no change here.
"""

from __future__ import annotations

from typing import Any

from obsstack.alerts.model import SLOSpec
from obsstack.alerts.render import to_yaml
from obsstack.alerts.series import render as series_name
from obsstack.alerts.stack_rules import ALERTS, StackAlert, alert_notes
from obsstack.core import naming
from obsstack.core.naming import StackComponentMetrics as Stack

EXPORTER = {"job": naming.JOB_EXPORTER, "instance": "exporter:9410"}
POSTGRES = {**EXPORTER, "dependency": "postgres", "kind": "postgres"}
REDIS = {**EXPORTER, "dependency": "redis", "kind": "redis"}
ALERTMANAGER = {"job": "alertmanager", "instance": "alertmanager:9093", "integration": "pagerduty"}
GB = 10**9


def _host(number: int) -> dict[str, str]:
    return {"job": naming.JOB_NODE, "instance": f"host-{number}:9100"}


def _alert(name: str) -> StackAlert:
    return next(a for a in ALERTS if a.name == name)


def _expect(
    spec: SLOSpec, name: str, at: str, labels: dict[str, str] | None, /, **values: str
) -> dict[str, Any]:
    """An alert_rule_test entry: ``name`` fires at ``at`` with ``labels``, or (None) does not."""
    return _expect_all(spec, name, at, [] if labels is None else [(labels, values)])


def _expect_all(
    spec: SLOSpec, name: str, at: str, firing: list[tuple[dict[str, str], dict[str, str]]]
) -> dict[str, Any]:
    """``name`` fires at ``at`` exactly for each (labels, template values) of ``firing``."""
    alert = _alert(name)
    severity, tier = alert.level
    expected = []
    for labels, values in firing:
        full = {**labels, naming.SEVERITY_LABEL: severity, naming.TIER_LABEL: tier}
        expected.append(
            {
                "exp_labels": dict(sorted(full.items())),
                "exp_annotations": alert_notes(alert, spec, **values),
            }
        )
    return {"eval_time": at, "alertname": name, "exp_alerts": expected}


def _series(name: str, labels: dict[str, str], values: str) -> dict[str, str]:
    return {"series": series_name(name, labels), "values": values}


def _dependency_test(spec: SLOSpec) -> dict[str, Any]:
    down = {"dependency": "postgres", "kind": "postgres"}
    return {
        "name": "postgres fails from minute 5, its circuit opens, redis probes get slow",
        "interval": "1m",
        "input_series": [
            _series(naming.DEPENDENCY_UP.name, POSTGRES, "1x4 0x20"),
            _series(naming.DEPENDENCY_UP.name, REDIS, "1x24"),
            _series(naming.DEPENDENCY_CIRCUIT_STATE.name, POSTGRES, "0x4 2x20"),
            _series(naming.DEPENDENCY_PROBE_DURATION.name, REDIS, "0.9x24"),
            _series(naming.DEPENDENCY_PROBE_TIMEOUT.name, REDIS, "1x24"),
            # A zero timeout (not configured yet) must not read as an infinitely slow probe.
            _series(naming.DEPENDENCY_PROBE_DURATION.name, POSTGRES, "0.9x24"),
            _series(naming.DEPENDENCY_PROBE_TIMEOUT.name, POSTGRES, "0x24"),
        ],
        "alert_rule_test": [
            _expect(spec, naming.ALERT_DEPENDENCY_DOWN, "6m", None),
            _expect(spec, naming.ALERT_DEPENDENCY_DOWN, "8m", POSTGRES, **down),
            _expect(spec, naming.ALERT_DEPENDENCY_CIRCUIT_OPEN, "11m", POSTGRES, **down),
            _expect(spec, naming.ALERT_DEPENDENCY_PROBE_SLOW, "9m", None),
            _expect(
                spec,
                naming.ALERT_DEPENDENCY_PROBE_SLOW,
                "11m",
                REDIS,
                dependency="redis",
                kind="redis",
                share="90%",
            ),
        ],
    }


def _scrape_test(spec: SLOSpec) -> dict[str, Any]:
    api = {"job": naming.JOB_API}
    return {
        "name": "the exporter, one of two API instances and one of two hosts stop answering",
        "interval": "1m",
        "input_series": [
            _series(Stack.UP.name, EXPORTER, "0x20"),
            _series(Stack.UP.name, {**api, "instance": "api-1:8000"}, "0x20"),
            _series(Stack.UP.name, {**api, "instance": "api-2:8000"}, "1x20"),
            _series(Stack.UP.name, _host(1), "0x20"),
            _series(Stack.UP.name, _host(2), "1x20"),
        ],
        "alert_rule_test": [
            _expect(spec, naming.ALERT_EXPORTER_DOWN, "6m", EXPORTER),
            _expect(spec, naming.ALERT_HOST_DOWN, "4m", None),
            _expect(spec, naming.ALERT_HOST_DOWN, "6m", _host(1), instance="host-1:9100"),
            _expect(spec, naming.ALERT_TARGET_DOWN, "9m", None),
            # HostDown speaks for the host: TargetDown leaves job node to it.
            _expect(spec, naming.ALERT_TARGET_DOWN, "11m", api, value="50", job=naming.JOB_API),
        ],
    }


def _mount(mountpoint: str, device: str, fstype: str = "ext4") -> dict[str, str]:
    return {**_host(1), "mountpoint": mountpoint, "device": device, "fstype": fstype}


def _filesystem(labels: dict[str, str], size: int, avail: str, readonly: int = 0) -> list[Any]:
    """The three series node-exporter exports per filesystem; ``avail`` in promtool notation."""
    return [
        _series(Stack.NODE_FILESYSTEM_SIZE.name, labels, f"{size}x100"),
        _series(Stack.NODE_FILESYSTEM_AVAIL.name, labels, avail),
        _series(Stack.NODE_FILESYSTEM_READONLY.name, labels, f"{readonly}x100"),
    ]


def _disk_test(spec: SLOSpec) -> dict[str, Any]:
    data = _mount("/data", "/dev/vdb")
    notes = {"mountpoint": "/data", "device": "/dev/vdb", "instance": "host-1:9100"}
    return {
        "name": "/data fills at 6 GB an hour; a slow, a far-from-full, a read-only, a tmpfs and "
        "a young mount stay quiet",
        "interval": "5m",
        "input_series": [
            # 50 GB of 100 left at first, 0.5 GB less every 5 minutes: empty after 8h20m.
            *_filesystem(data, 100 * GB, f"{50 * GB}-{GB // 2}x100"),
            # A quarter left, shrinking by 120 MB an hour: 200 hours to go.
            *_filesystem(_mount("/srv", "/dev/vdc"), 100 * GB, f"{25 * GB}-{GB // 100}x100"),
            # Far from full, growing slowly.
            *_filesystem(_mount("/", "/dev/vda"), 100 * GB, f"{90 * GB}-{GB // 20}x100"),
            # 1 % left, but nothing can write to it.
            *_filesystem(_mount("/srv/archive", "/dev/vdd"), 100 * GB, f"{GB}x100", readonly=1),
            # Memory, not disk: emptied at the pace of /data, over 8h20m.
            *_filesystem(_mount("/tmp", "tmpfs", "tmpfs"), GB, f"{GB // 2}-{GB // 200}x100"),
            # Mounted at 7h, filling fast: too little history to extrapolate until 8h.
            *_filesystem(_mount("/scratch", "/dev/vde"), 100 * GB, f"_x84 {15 * GB}-{GB // 2}x15"),
        ],
        "alert_rule_test": [
            _expect(spec, naming.ALERT_HOST_DISK_FILLS_IN_24H, "1h30m", None),
            # Under 40 % from 1h45m, then for: 1h.
            _expect(spec, naming.ALERT_HOST_DISK_FILLS_IN_24H, "2h40m", None),
            _expect(spec, naming.ALERT_HOST_DISK_FILLS_IN_24H, "2h50m", data, share="33%", **notes),
            # Under 20 % from 5h05m, then for: 30m.
            _expect(spec, naming.ALERT_HOST_DISK_FILLS_IN_4H, "5h30m", None),
            _expect(spec, naming.ALERT_HOST_DISK_FILLS_IN_4H, "5h40m", data, share="16%", **notes),
            _expect(spec, naming.ALERT_HOST_DISK_FILLS_IN_4H, "7h45m", data, share="3.5%", **notes),
            _expect(
                spec, naming.ALERT_HOST_DISK_FILLS_IN_24H, "7h45m", data, share="3.5%", **notes
            ),
            # Under 5 % from 7h35m, then for: 15m.
            _expect(spec, naming.ALERT_HOST_DISK_ALMOST_FULL, "7h45m", None),
            _expect(spec, naming.ALERT_HOST_DISK_ALMOST_FULL, "7h55m", data, share="2.5%", **notes),
        ],
    }


def _memory_test(spec: SLOSpec) -> dict[str, Any]:
    def host(number: int, available: int, psi: str | None, major_faults: str) -> list[Any]:
        labels = _host(number)
        series = [
            _series(Stack.NODE_MEMORY_TOTAL.name, labels, f"{16 * GB}x30"),
            _series(Stack.NODE_MEMORY_AVAILABLE.name, labels, f"{available}x30"),
            _series(Stack.NODE_VMSTAT_PGMAJFAULT.name, labels, major_faults),
        ]
        if psi is not None:
            series.append(_series(Stack.NODE_PRESSURE_MEMORY_WAITING.name, labels, psi))
        return series

    return {
        "name": "hosts short of memory: stalling (PSI), faulting (no PSI), calm; one stalls "
        "with memory to spare",
        "interval": "1m",
        "input_series": [
            # 1 GB of 16 available, tasks waiting for memory 30 % of the time.
            *host(1, GB, "0+18x30", "0+600x30"),
            # 0.8 GB available, a kernel without PSI, 2000 major faults a second.
            *host(2, 8 * GB // 10, None, "0+120000x30"),
            # 1 GB available but no stalls: the page cache is small, nothing waits.
            *host(3, GB, "0+1x30", "0+600x30"),
            # Stalling (a memory cgroup at its limit, say) with half the memory free.
            *host(4, 8 * GB, "0+18x30", "0+600x30"),
        ],
        "alert_rule_test": [
            _expect(spec, naming.ALERT_HOST_MEMORY_PRESSURE, "10m", None),
            _expect_all(
                spec,
                naming.ALERT_HOST_MEMORY_PRESSURE,
                "20m",
                [
                    (_host(1), {"instance": "host-1:9100", "share": "6.25%"}),
                    (_host(2), {"instance": "host-2:9100", "share": "5%"}),
                ],
            ),
        ],
    }


def _exporter_absent_test(spec: SLOSpec) -> dict[str, Any]:
    return {
        "name": "the exporter is missing from the scrape configuration",
        "interval": "1m",
        "input_series": [
            _series(Stack.UP.name, {"job": naming.JOB_API, "instance": "api-1:8000"}, "1x10")
        ],
        "alert_rule_test": [
            _expect(spec, naming.ALERT_EXPORTER_DOWN, "6m", {"job": naming.JOB_EXPORTER}),
        ],
    }


def _pipeline_test(spec: SLOSpec) -> dict[str, Any]:
    group = {"rule_group": "/etc/prometheus/rules/slos-api.rules.yml;obsstack-slo-api-latency"}
    return {
        "name": "rule evaluations and half the PagerDuty notifications fail; Watchdog fires",
        "interval": "1m",
        "input_series": [
            _series(Stack.RULE_EVALUATION_FAILURES.name, group, "0+1x30"),
            _series(Stack.AM_NOTIFICATIONS.name, ALERTMANAGER, "0+10x30"),
            _series(Stack.AM_NOTIFICATIONS_FAILED.name, ALERTMANAGER, "0+5x30"),
        ],
        "alert_rule_test": [
            _expect(spec, naming.ALERT_WATCHDOG, "0s", {}),
            _expect(spec, naming.ALERT_RULE_EVALUATION_FAILURES, "10m", None),
            _expect(spec, naming.ALERT_RULE_EVALUATION_FAILURES, "20m", group, value="5", **group),
            _expect(
                spec,
                naming.ALERT_NOTIFICATIONS_FAILING,
                "10m",
                ALERTMANAGER,
                share="50%",
                instance=ALERTMANAGER["instance"],
                integration="pagerduty",
            ),
        ],
    }


def _container(service: str, container_id: str) -> dict[str, str]:
    """cAdvisor's labels for a container of the compose bundle."""
    return {
        "job": naming.JOB_CADVISOR,
        "instance": "cadvisor:8080",
        "id": f"/system.slice/docker-{container_id}.scope",
        "name": f"obsstack-{service}-1",
        "image": f"obsstack/{service}:1",
        Stack.COMPOSE_SERVICE_LABEL: service,
    }


def _container_test(spec: SLOSpec) -> dict[str, Any]:
    demo, redis = _container("demo", "d1"), _container("redis", "r1")
    cpu = Stack.CONTAINER_CPU_USAGE.name
    oom = Stack.CONTAINER_OOM_EVENTS.name
    return {
        "name": "demo crash-loops, postgres restarts once, grafana is recreated, a redis "
        "worker is OOM-killed",
        "interval": "1m",
        "input_series": [
            # A new run every 2 minutes: the CPU counter starts over each time.
            _series(cpu, {**demo, "cpu": "total"}, " ".join(["0 1"] * 15)),
            _series(cpu, {**_container("postgres", "p1"), "cpu": "total"}, "0+1x9 0+1x20"),
            # A deployment recreates the container: a new id, a new series, no restart.
            _series(cpu, {**_container("grafana", "g1"), "cpu": "total"}, "0+1x9"),
            _series(cpu, {**_container("grafana", "g2"), "cpu": "total"}, "_x10 0+1x20"),
            _series(cpu, {**redis, "cpu": "total"}, "0+1x30"),
            _series(oom, redis, "0x9 1x20"),
            _series(oom, demo, "0x30"),
            _series(Stack.NODE_VMSTAT_OOM_KILL.name, _host(1), "0x9 1x20"),
            _series(Stack.NODE_VMSTAT_OOM_KILL.name, _host(2), "0x30"),
        ],
        "alert_rule_test": [
            # A third restart at 6m, then for: 5m.
            _expect(spec, naming.ALERT_CONTAINER_RESTARTING, "10m", None),
            _expect(
                spec,
                naming.ALERT_CONTAINER_RESTARTING,
                "12m",
                demo,
                value="6",
                name=demo["name"],
                service="demo",
            ),
            # postgres's one restart (at 10m) and grafana's new container stay quiet.
            _expect(
                spec,
                naming.ALERT_CONTAINER_RESTARTING,
                "17m",
                demo,
                value="7",
                name=demo["name"],
                service="demo",
            ),
            _expect(spec, naming.ALERT_CONTAINER_OOM_KILLED, "9m", None),
            _expect(
                spec,
                naming.ALERT_CONTAINER_OOM_KILLED,
                "12m",
                redis,
                value="1",
                name=redis["name"],
                service="redis",
            ),
            _expect(spec, naming.ALERT_HOST_OOM_KILL, "9m", None),
            _expect(
                spec, naming.ALERT_HOST_OOM_KILL, "12m", _host(1), value="1", instance="host-1:9100"
            ),
            # Fifteen minutes after the kill, the alerts resolve.
            _expect(spec, naming.ALERT_CONTAINER_OOM_KILLED, "26m", None),
            _expect(spec, naming.ALERT_HOST_OOM_KILL, "26m", None),
        ],
    }


def render_tests(spec: SLOSpec) -> list[dict[str, Any]]:
    return [
        _dependency_test(spec),
        _scrape_test(spec),
        _exporter_absent_test(spec),
        _pipeline_test(spec),
        _disk_test(spec),
        _memory_test(spec),
        _container_test(spec),
    ]


def render(spec: SLOSpec, stack_rules: str) -> str:
    document = {
        "rule_files": [f"../{stack_rules}"],
        "evaluation_interval": "1m",
        "tests": render_tests(spec),
    }
    return to_yaml(document, "alerts/obsstack/alerts/stack_tests.py")
