"""The platform's own targets, scraped under the job names the stack rules and dashboards use.

kube-prometheus-stack already scrapes node-exporter and the kubelet's cAdvisor, as jobs
``node-exporter`` and ``kubelet`` that its own rules and dashboards query. obsstack's stack
alerts and Stack health dashboard query ``node`` and ``cadvisor`` (``obsstack.core.naming``),
as the compose bundle names them: these ServiceMonitors scrape the chart's Services once more
under those names (the series of one more node-exporter and cAdvisor per node). Selectors and
ports as the chart (kube-prometheus-stack 88.5) and its prometheus-node-exporter subchart
label them. (Alertmanager's metrics are queried without a job: the chart's scrape serves.)
"""

from __future__ import annotations

from typing import Any

from obsstack.core import naming
from obsstack.kubernetes.monitors import job_relabeling
from obsstack.kubernetes.objects import MONITORING, SCRAPE_INTERVAL, resource

SERVICE_ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"


def _monitor(job: str, selector: dict[str, str], endpoint: dict[str, Any], **spec: Any) -> Any:
    endpoint = {**endpoint, "interval": SCRAPE_INTERVAL, "relabelings": [job_relabeling(job)]}
    body = {**spec, "selector": {"matchLabels": selector}, "endpoints": [endpoint]}
    return resource(MONITORING, "ServiceMonitor", f"obsstack-{job}", body)


def platform_monitors() -> list[Any]:
    """node-exporter and the kubelet's cAdvisor, as jobs node and cadvisor."""
    return [
        _monitor(
            naming.JOB_NODE,
            {"app.kubernetes.io/name": "prometheus-node-exporter"},
            {"port": "http-metrics"},
        ),
        _monitor(
            naming.JOB_CADVISOR,
            {"app.kubernetes.io/name": "kubelet", "k8s-app": "kubelet"},
            {
                "port": "https-metrics",
                "scheme": "https",
                "path": "/metrics/cadvisor",
                "honorLabels": True,
                "bearerTokenFile": f"{SERVICE_ACCOUNT}/token",
                "tlsConfig": {"caFile": f"{SERVICE_ACCOUNT}/ca.crt", "insecureSkipVerify": True},
            },
            namespaceSelector={"matchNames": ["kube-system"]},
        ),
    ]
