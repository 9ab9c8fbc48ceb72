"""Where alerts go: the deployment-specific part of the Alertmanager configuration.

``compose/alerting.yaml`` says where pages, tickets and the heartbeat go. The value ``local``
sends them to the bundle's on-call inbox (``obsstack oncall-sink``), so a fresh stack pages
nobody; put the real API URLs there to go live. Everything else (routes, grouping,
inhibition) is generated from the SLO spec and the naming conventions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from obsstack.core.spec import Section, open_document

LOCAL = "local"
PRIORITIES = ("P1", "P2", "P3", "P4", "P5")
RESPONDER_TYPES = ("team", "user", "escalation", "schedule")


@dataclass(frozen=True)
class Responder:
    type: str
    name: str


@dataclass(frozen=True)
class Alerting:
    pagerduty_url: str
    opsgenie_api_url: str
    opsgenie_responders: tuple[Responder, ...]
    page_priority: str
    ticket_priority: str
    ticket_webhook_url: str
    heartbeat_url: str
    heartbeat_uses_opsgenie_key: bool
    default_webhook_url: str
    group_wait: str
    group_interval: str
    repeat_interval: str
    heartbeat_interval: str
    grafana_url: str
    stack_name: str


MAX_TIMING = 30 * 86400.0  # any of the timings: longer is a typo


def _url(section: Section, key: str) -> str:
    value: str = section.string(key, LOCAL)
    if value != LOCAL and not value.startswith(("http://", "https://")):
        written = str(section.data[key])  # as written: what a ${VAR} holds is never shown
        shown = repr(written if len(written) <= 60 else written[:60] + "...")
        raise section.error(key, f"must be local or an http(s) URL (got {shown})")
    return value


def _duration_text(section: Section, key: str, default: str) -> str:
    section.duration(key, None, maximum=MAX_TIMING)  # validates the spelling
    return str(section.data.get(key) or default)


def read_alerting(document: Section) -> Alerting:
    version = document.string("version", "obsstack/v1")
    if version != "obsstack/v1":
        raise document.error("version", f"must be obsstack/v1 (got {version!r})")
    pagerduty = document.section("pagerduty", optional=True)
    opsgenie = document.section("opsgenie", optional=True)
    heartbeat = document.section("heartbeat", optional=True)
    timings = document.section("timings", optional=True)
    items = opsgenie.sections("responders", [])
    responders = tuple(
        Responder(item.string("type", choices=RESPONDER_TYPES), item.string("name"))
        for item in items
    )
    for item in items:
        item.close()
    alerting = Alerting(
        pagerduty_url=_url(pagerduty, "url"),
        opsgenie_api_url=_url(opsgenie, "api_url"),
        opsgenie_responders=responders,
        page_priority=opsgenie.string("page_priority", "P1", choices=PRIORITIES),
        ticket_priority=opsgenie.string("ticket_priority", "P3", choices=PRIORITIES),
        ticket_webhook_url=_url(document, "ticket_webhook_url"),
        heartbeat_url=_url(heartbeat, "url"),
        heartbeat_uses_opsgenie_key=heartbeat.boolean("opsgenie_key", False),
        default_webhook_url=_url(document, "default_webhook_url"),
        group_wait=_duration_text(timings, "group_wait", "15s"),
        group_interval=_duration_text(timings, "group_interval", "5m"),
        repeat_interval=_duration_text(timings, "repeat_interval", "4h"),
        heartbeat_interval=_duration_text(timings, "heartbeat_interval", "1m"),
        grafana_url=document.string("grafana_url", "http://localhost:3000"),
        stack_name=document.string("stack_name", "obsstack"),
    )
    for section in (pagerduty, opsgenie, heartbeat, timings, document):
        section.close()
    return alerting


def load_alerting(path: Path | str) -> Alerting:
    """Read an alerting file strictly; errors are ConfigError lines naming the key."""
    return read_alerting(open_document(path))
