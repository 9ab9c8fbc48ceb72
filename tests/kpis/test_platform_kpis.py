"""The shipped KPI queries (exporters/kpis/platform.yaml) against the demo platform's schema."""

from __future__ import annotations

import yaml

from exporters.demo.schema import ensure_schema
from exporters.kpis.config import SHIPPED, load_config
from exporters.kpis.engine import KpiEngine
from tests.instrumentation.helpers import samples
from tests.kpis.helpers import exposition, write


async def test_every_shipped_kpi_runs_against_the_demo_schema(tmp_path, schema, db):
    await ensure_schema(db, schema)
    await ensure_schema(db, schema)  # idempotent
    await db.execute("""
        INSERT INTO ai_queries (tenant_id, agent_type, status, duration_ms)
        SELECT t.id, a, s, 100 FROM tenants t,
               (VALUES ('planner', 'succeeded'), ('planner', 'failed'),
                       ('doc_search', 'succeeded')) AS q(a, s)
        WHERE t.slug = 'acme';
        INSERT INTO code_reviews (tenant_id, repository, result)
        SELECT id, 'acme/api', 'approved' FROM tenants WHERE slug = 'acme';
        UPDATE users SET last_seen_at = now() WHERE email LIKE '%@acme.example';
        INSERT INTO backups (kind, status, started_at, finished_at) VALUES
            ('full', 'succeeded', '2026-01-01T00:00:00Z', '2026-01-01T00:01:00Z'),
            ('full', 'failed', '2026-01-02T00:00:00Z', '2026-01-02T00:01:00Z');
        INSERT INTO graph_sync (entity, graph_nodes, synced_at) VALUES
            ('tenants', 12, now()), ('users', 58, now()), ('code_reviews', 1, now());
        INSERT INTO login_events (user_id, outcome)
        SELECT id, o FROM users, (VALUES ('failure'), ('failure'), ('lockout')) AS e(o)
        WHERE email = 'user1@wonka.example';
        INSERT INTO rate_limit_rejections (tenant_id)
        SELECT id FROM tenants WHERE slug IN ('wonka', 'wonka', 'tyrell');
    """)  # fmt: skip
    data = yaml.safe_load(SHIPPED.read_text())
    data["database"]["search_path"] = schema
    engine = KpiEngine(load_config(write(tmp_path, data)))
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
