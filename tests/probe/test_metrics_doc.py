"""exporters/METRICS.md is generated from the naming module and lists every metric the probe
exporter really exports."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from obsstack.core import metrics_doc, naming
from tests.probe.conftest import PG, REDIS
from tests.support.doubles import HttpDouble, Reply

REPO = Path(__file__).resolve().parents[2]


def test_committed_file_matches_the_naming_module():
    assert (REPO / metrics_doc.PATH).read_text() == metrics_doc.render()


async def test_every_exported_family_is_documented(make_config, exporter_for):
    double = HttpDouble(
        {
            ("GET", "/_cluster/health"): Reply(
                200, {"status": "green", "number_of_nodes": 1, "unassigned_shards": 0}
            )
        }
    )
    try:
        exporter = exporter_for(
            make_config(
                [
                    {"name": "db", **PG},
                    {"name": "cache", **REDIS},
                    {"name": "search", "kind": "elasticsearch", "url": double.url},
                ]
            )
        )
        texts = [
            await exporter.metrics(),
            (await exporter.get("/probe", params={"target": "db"})).text,
        ]
    finally:
        double.close()
    documented = {n for spec in naming.all_metrics() for n in (spec.name, spec.family)}
    exported = {
        family.name
        for text in texts
        for family in text_string_to_metric_families(text)
        if not family.name.startswith(("process_", "python_"))
    }
    assert exported <= documented, exported - documented
    doc = (REPO / metrics_doc.PATH).read_text()
    for spec in naming.all_metrics():
        assert f"| `{spec.name}` |" in doc
