"""Every job the generated rules and dashboards query is a job the base scrapes.

The job of a scrape is what the Prometheus Operator makes of each object: a ServiceMonitor's
or PodMonitor's job is the Service's (or the monitor's) name unless a relabeling of the
endpoint replaces it (the operator applies endpoint relabelings after its own); a Probe's
is ``spec.jobName``.
"""

from __future__ import annotations

import json
import re

import yaml

from obsstack.core import naming
from obsstack.kubernetes.workloads import string_values
from tests.kubernetes.generated import objects
from tests.support.paths import ROOT

JOB_MATCHER = re.compile(r'\bjob\s*(=~|=)\s*\\?"([^"\\]*)')


def queried_jobs() -> set[str]:
    """The job values named in the PromQL of every rule and every dashboard (queries,
    variables), a regex split at ``|``; ``$job`` is the Service overview's variable, whose
    values are the jobs exporting the HTTP server histogram (the instrumented API)."""
    texts = []
    for path in sorted((ROOT / "alerts" / "generated").glob("*.rules.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            texts += [str(rule["expr"]) for rule in group["rules"]]
    for path in sorted((ROOT / "dashboards" / "generated").glob("*.json")):
        texts += string_values(json.loads(path.read_text()))
    jobs = set()
    for text in texts:
        for _op, value in JOB_MATCHER.findall(text):
            jobs |= set(value.split("|"))
    jobs.discard("$job")
    return jobs | {naming.JOB_API}


def scraped_jobs() -> dict[str, str]:
    """Job -> the object that scrapes it."""
    jobs = {}
    for obj in objects("ServiceMonitor", "PodMonitor"):
        endpoints = obj["spec"].get("endpoints") or obj["spec"]["podMetricsEndpoints"]
        for endpoint in endpoints:
            job = obj["metadata"]["name"]  # the operator's default, roughly
            for relabeling in endpoint.get("relabelings", []):
                if relabeling.get("targetLabel") == "job" and "sourceLabels" not in relabeling:
                    job = relabeling["replacement"]
            jobs[job] = f"{obj['kind']}/{obj['metadata']['name']}"
    for probe in objects("Probe"):
        jobs[probe["spec"]["jobName"]] = f"Probe/{probe['metadata']['name']}"
    return jobs


def test_the_queries_name_jobs():
    """The extraction finds the jobs it should (it is not vacuously empty)."""
    assert {naming.JOB_EXPORTER, naming.JOB_API, naming.JOB_NODE, naming.JOB_CADVISOR} <= (
        queried_jobs()
    )


def test_no_rule_or_dashboard_queries_a_job_nothing_scrapes():
    assert sorted(queried_jobs() - set(scraped_jobs())) == []


def test_the_platform_is_scraped_again_only_for_jobs_that_are_queried():
    """node-exporter and cAdvisor are scraped by kube-prometheus-stack already: the base adds
    a scrape of them only under a job name obsstack's rules or dashboards query."""
    platform = {job for job, source in scraped_jobs().items() if "obsstack-" + job in source}
    assert platform == {naming.JOB_NODE, naming.JOB_CADVISOR}
    assert platform <= queried_jobs()


def test_obsstack_jobs_are_named_as_in_the_compose_bundle():
    compose = yaml.safe_load((ROOT / "compose" / "generated" / "prometheus.yml").read_text())
    compose_jobs = {job["job_name"] for job in compose["scrape_configs"]}
    ours = {naming.JOB_EXPORTER, naming.JOB_PROBE, naming.JOB_KPIS, naming.JOB_API}
    assert ours <= compose_jobs
    assert ours <= set(scraped_jobs())


def test_the_probe_asks_the_exporter_for_each_configured_dependency():
    """Only ``target`` (the exporter refuses any other parameter, ``module`` too), for every
    dependency of kubernetes/exporter.yaml, kept as the dependency label."""
    (probe,) = objects("Probe")
    config = yaml.safe_load((ROOT / "kubernetes" / "exporter.yaml").read_text())
    assert probe["spec"]["targets"]["staticConfig"]["static"] == [
        d["name"] for d in config["dependencies"]
    ]
    assert "module" not in probe["spec"] and "params" not in probe["spec"]
    assert probe["spec"]["prober"] == {"url": "obsstack-exporter:9410", "path": "/probe"}
    (relabeling,) = probe["spec"]["targets"]["staticConfig"]["relabelingConfigs"]
    assert relabeling["sourceLabels"] == ["__param_target"]
    assert relabeling["targetLabel"] == naming.DEPENDENCY


def test_scrapes_of_the_exporters_send_the_scrape_token():
    token = {"type": "Bearer", "credentials": {"name": "obsstack-tokens", "key": "scrape_token"}}
    (probe,) = objects("Probe")
    assert probe["spec"]["authorization"] == token
    for monitor in objects("ServiceMonitor"):
        if monitor["metadata"]["name"] in (naming.JOB_EXPORTER, naming.JOB_KPIS):
            assert monitor["spec"]["endpoints"][0]["authorization"] == token
