"""What Prometheus scrapes: the exporters, the instrumented API and the dependency probes.

Each object sets the job label to the name of ``obsstack.core.naming`` that the generated
rules and dashboards query, as the compose bundle's scrape jobs are named.
"""

from __future__ import annotations

from typing import Any

from obsstack.core import naming
from obsstack.kubernetes.objects import (
    MONITORING,
    SCRAPE_INTERVAL,
    SCRAPE_TIMEOUT,
    TOKENS_DIR,
    bearer,
    resource,
)
from obsstack.stack.tokens import SCRAPE_TOKEN
from obsstack.stack.topology import COMPONENTS

PORT_NAME = "http"  # the named port of the exporters' Services and of instrumented pods
SCRAPE_TOKEN_FILE = f"{TOKENS_DIR}/{SCRAPE_TOKEN}"
# The instrumented API service: its pods carry this label and a container port named http.
API_SELECTOR = {"app.kubernetes.io/name": naming.JOB_API}


def job_relabeling(job: str) -> dict[str, str]:
    """A relabeling that names the job (the operator's default is the Service's name)."""
    return {"action": "replace", "targetLabel": "job", "replacement": job}


def _endpoint(job: str, authorized: bool) -> dict[str, Any]:
    endpoint: dict[str, Any] = {
        "port": PORT_NAME,
        "path": "/metrics",
        "interval": SCRAPE_INTERVAL,
        "scrapeTimeout": SCRAPE_TIMEOUT,
        "relabelings": [job_relabeling(job)],
    }
    if authorized:
        endpoint["authorization"] = bearer(SCRAPE_TOKEN_FILE)
    return endpoint


def service_monitor(component: str) -> Any:
    """The ServiceMonitor of an obsstack exporter's Service (named after its job)."""
    job = COMPONENTS[component].job or component
    spec = {
        "selector": {"matchLabels": {"app.kubernetes.io/name": job}},
        "endpoints": [_endpoint(job, COMPONENTS[component].token is not None)],
    }
    return resource(MONITORING, "ServiceMonitor", job, spec)


def api_pod_monitor() -> Any:
    """The instrumented API's pods, in any namespace, as the job the dashboards query."""
    spec = {
        "namespaceSelector": {"any": True},
        "selector": {"matchLabels": dict(API_SELECTOR)},
        "podMetricsEndpoints": [_endpoint(naming.JOB_API, authorized=False)],
    }
    return resource(MONITORING, "PodMonitor", naming.JOB_API, spec)


def dependency_probe(dependencies: list[str]) -> Any:
    """``/probe?target=NAME`` of the probe exporter for every configured dependency.

    The exporter accepts only ``target`` (no ``module``: the dependency's kind is in its
    configuration), so the Probe sets no module. As in the compose bundle, the target is kept
    as the ``dependency`` label and only the ``probe_*`` series are kept (the exporter's
    /metrics has the rest).
    """
    exporter = COMPONENTS["exporter"]
    spec = {
        "jobName": naming.JOB_PROBE,
        "interval": SCRAPE_INTERVAL,
        "scrapeTimeout": SCRAPE_TIMEOUT,
        "prober": {"url": f"{naming.JOB_EXPORTER}:{exporter.port}", "path": "/probe"},
        "authorization": bearer(SCRAPE_TOKEN_FILE),
        "targets": {
            "staticConfig": {
                "static": list(dependencies),
                "relabelingConfigs": [
                    {
                        "action": "replace",
                        "sourceLabels": ["__param_target"],
                        "targetLabel": naming.DEPENDENCY,
                    }
                ],
            }
        },
        "metricRelabelings": [
            {"action": "keep", "sourceLabels": ["__name__"], "regex": "probe_.+"}
        ],
    }
    return resource(MONITORING, "Probe", naming.JOB_PROBE, spec)


def monitors(dependencies: list[str]) -> list[Any]:
    """Every scrape of obsstack's own targets."""
    return [
        service_monitor("exporter"),
        service_monitor("kpis"),
        api_pod_monitor(),
        dependency_probe(dependencies),
    ]
