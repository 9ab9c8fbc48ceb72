"""The shipped KPI queries (exporters/obsstack/kpis/platform.yaml) against the demo platform's
schema, as the shipped reader role (exporters/obsstack/kpis/reader_role.sql)."""

from __future__ import annotations

import yaml

from obsstack.kpis import reader_role
from obsstack.kpis.config import SHIPPED, load_config
from obsstack.kpis.engine import KpiEngine
from tests.instrumentation.helpers import samples
from tests.kpis.conftest import ReaderCluster
from tests.kpis.helpers import exposition, write


async def test_every_shipped_kpi_runs_as_the_shipped_reader_role(tmp_path, reader_cluster):
    """The demo schema (created twice: idempotent) read by the role reader_role.sql creates,
    which passes the exporter's privilege check: the SQL grants what the queries read."""
    cluster: ReaderCluster = reader_cluster
    data = yaml.safe_load(SHIPPED.read_text())
    assert data["database"]["search_path"] == reader_role.SCHEMA
    data["database"] = cluster.database(reader_role.ROLE, cluster.reader_password)
    config = load_config(write(tmp_path, data))
    assert not config.database.allow_privileged_role
    engine = KpiEngine(config)
    assert await engine.check_role() == []
    await engine.start(schedule=False)
    try:
        for state in engine.states.values():
            await engine.run(state)
    finally:
        await engine.stop()
    assert {n: s.last_error for n, s in engine.states.items() if not s.success} == {}

    text = exposition(engine)
    assert samples(text, "platform_ai_queries_total") == {
        (("agent_type", "doc_search"),): 1,
        (("agent_type", "planner"),): 2,
    }
    assert samples(text, "platform_ai_query_failures_total") == {
        (("agent_type", "doc_search"),): 0,
        (("agent_type", "planner"),): 1,
    }
    assert samples(text, "platform_code_reviews_total") == {(("result", "approved"),): 1}
    assert samples(text, "platform_active_users") == {(): 5}
    assert samples(text, "platform_tenants") == {
        (("plan", "enterprise"),): 2,
        (("plan", "free"),): 6,
        (("plan", "pro"),): 4,
    }
    assert samples(text, "platform_backup_last_success_timestamp_seconds") == {(): 1767225660}
    assert samples(text, "platform_graph_sync_drift") == {
        (("entity", "code_reviews"),): 0,
        (("entity", "tenants"),): 0,
        (("entity", "users"),): 2,
    }
    assert samples(text, "platform_login_failures_total") == {(): 2}
    assert samples(text, "platform_account_lockouts_total") == {(): 1}
    assert samples(text, "platform_rate_limit_rejections_total") == {
        (("tenant", "tyrell"),): 1,
        (("tenant", "wonka"),): 1,
    }
