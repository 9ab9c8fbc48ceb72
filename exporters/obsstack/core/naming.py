"""The naming conventions of obsstack: every metric, label, rule prefix and alert name.

Exporters build their metric families from these specs, generators write rules against them and
dashboards query them, so a dashboard can never ask for a metric that no exporter exports.
``exporters/METRICS.md`` is generated from this module (``obsstack generate``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MetricType = Literal["counter", "gauge", "histogram", "info"]


@dataclass(frozen=True)
class MetricSpec:
    """One exported metric: its full name (with ``_total`` for counters), type, help and labels."""

    name: str
    type: MetricType
    help: str
    labels: tuple[str, ...] = ()
    group: str = ""

    @property
    def family(self) -> str:
        """The name without the ``_total`` / ``_info`` suffix, as prometheus-client wants it."""
        for suffix in ("_total", "_info"):
            if self.name.endswith(suffix):
                return self.name[: -len(suffix)]
        return self.name


_EXPORTED: list[MetricSpec] = []


def _exported(
    name: str, type: MetricType, help: str, labels: tuple[str, ...] = (), group: str = ""
) -> MetricSpec:
    """A metric obsstack exports: its spec, listed by :func:`all_metrics` in definition order."""
    spec = MetricSpec(name, type, help, labels, group)
    _EXPORTED.append(spec)
    return spec


# -- labels ----------------------------------------------------------------------------------
DEPENDENCY = "dependency"
KIND = "kind"
REASON = "reason"
ROLE = "role"
STATUS = "status"
VERSION = "version"

# The reasons a probe fails; a fixed set so the label stays bounded.
REASON_TIMEOUT = "timeout"
REASON_REFUSED = "refused"
REASON_AUTH = "auth"
REASON_PROTOCOL = "protocol"
REASON_UNHEALTHY = "unhealthy"
FAILURE_REASONS = (REASON_TIMEOUT, REASON_REFUSED, REASON_AUTH, REASON_PROTOCOL, REASON_UNHEALTHY)

# dependency_circuit_state values
CIRCUIT_CLOSED = 0
CIRCUIT_OPEN = 2

# -- dependency probe exporter: core -----------------------------------------------------------
_DEP = (DEPENDENCY, KIND)
CORE = "Dependency probes (every kind)"

DEPENDENCY_UP = _exported(
    "dependency_up", "gauge", "1 if the last probe of the dependency succeeded, else 0.", _DEP, CORE
)
DEPENDENCY_PROBE_DURATION = _exported(
    "dependency_probe_duration_seconds",
    "gauge",
    "Wall time of the last probe of the dependency, retries included.",
    _DEP,
    CORE,
)
DEPENDENCY_PROBE_TIMEOUT = _exported(
    "dependency_probe_timeout_seconds",
    "gauge",
    "Time budget the last probe of the dependency had.",
    _DEP,
    CORE,
)
DEPENDENCY_PROBE_FAILURES = _exported(
    "dependency_probe_failures_total",
    "counter",
    "Failed probes by reason (timeout, refused, auth, protocol, unhealthy).",
    (*_DEP, REASON),
    CORE,
)
DEPENDENCY_PROBE_RETRIES = _exported(
    "dependency_probe_retries_total",
    "counter",
    "Extra attempts made after a transient error, within the probe's time budget.",
    _DEP,
    CORE,
)
DEPENDENCY_CIRCUIT_STATE = _exported(
    "dependency_circuit_state",
    "gauge",
    "Circuit breaker state: 0 closed, 2 open (down; each scrape makes one trial probe).",
    _DEP,
    CORE,
)
DEPENDENCY_CIRCUIT_OPENS = _exported(
    "dependency_circuit_opens_total",
    "counter",
    "Times the circuit breaker of the dependency opened.",
    _DEP,
    CORE,
)
DEPENDENCY_LAST_SUCCESS = _exported(
    "dependency_last_success_timestamp_seconds",
    "gauge",
    "Unix time of the last successful probe of the dependency.",
    _DEP,
    CORE,
)
BUILD_INFO = _exported(
    "obsstack_build_info",
    "info",
    "Version of obsstack and of the Python running it.",
    (VERSION, "python_version"),
    CORE,
)

# -- blackbox-style /probe ---------------------------------------------------------------------
PROBE = "Single-dependency probes (/probe?target=NAME)"
PROBE_SUCCESS = _exported("probe_success", "gauge", "1 if the probe succeeded, else 0.", (), PROBE)
PROBE_DURATION = _exported("probe_duration_seconds", "gauge", "Wall time of this probe.", (), PROBE)
PROBE_TIMEOUT = _exported(
    "probe_timeout_seconds", "gauge", "Time budget this probe had.", (), PROBE
)
PROBE_FAILURE_REASON = _exported(
    "probe_failure_info",
    "info",
    "Why this probe failed (only present when it failed).",
    (REASON,),
    PROBE,
)

# -- kind details: one prefix per kind -----------------------------------------------------------
POSTGRES = "PostgreSQL details (kind postgres)"
DEPENDENCY_POSTGRES_CONNECT_DURATION = _exported(
    "dependency_postgres_connect_duration_seconds",
    "gauge",
    "Time to open the connection and authenticate.",
    _DEP,
    POSTGRES,
)
DEPENDENCY_POSTGRES_QUERY_DURATION = _exported(
    "dependency_postgres_query_duration_seconds",
    "gauge",
    "Round trip of SELECT 1 under statement_timeout.",
    _DEP,
    POSTGRES,
)
DEPENDENCY_POSTGRES_IN_RECOVERY = _exported(
    "dependency_postgres_in_recovery",
    "gauge",
    "1 if the server is a replica (pg_is_in_recovery()), 0 if primary.",
    _DEP,
    POSTGRES,
)
DEPENDENCY_POSTGRES_CONNECTIONS = _exported(
    "dependency_postgres_connections",
    "gauge",
    "Client connections in use (pg_stat_activity).",
    _DEP,
    POSTGRES,
)
DEPENDENCY_POSTGRES_MAX_CONNECTIONS = _exported(
    "dependency_postgres_max_connections",
    "gauge",
    "The server's max_connections setting.",
    _DEP,
    POSTGRES,
)

REDIS = "Redis details (kind redis)"
DEPENDENCY_REDIS_PING_DURATION = _exported(
    "dependency_redis_ping_duration_seconds", "gauge", "Round trip of PING.", _DEP, REDIS
)
DEPENDENCY_REDIS_IS_REPLICA = _exported(
    "dependency_redis_is_replica",
    "gauge",
    "1 if INFO reports role:slave, 0 if master.",
    _DEP,
    REDIS,
)
DEPENDENCY_REDIS_LOADING = _exported(
    "dependency_redis_loading",
    "gauge",
    "1 while the server loads its dataset from disk (it refuses most commands then).",
    _DEP,
    REDIS,
)
DEPENDENCY_REDIS_CONNECTED_CLIENTS = _exported(
    "dependency_redis_connected_clients", "gauge", "Connected clients.", _DEP, REDIS
)
DEPENDENCY_REDIS_MAX_CLIENTS = _exported(
    "dependency_redis_max_clients", "gauge", "The maxclients setting.", _DEP, REDIS
)
DEPENDENCY_REDIS_MEMORY_USED = _exported(
    "dependency_redis_memory_used_bytes", "gauge", "Memory used (used_memory).", _DEP, REDIS
)
DEPENDENCY_REDIS_MEMORY_MAX = _exported(
    "dependency_redis_memory_max_bytes",
    "gauge",
    "The maxmemory setting (0 means no limit).",
    _DEP,
    REDIS,
)
DEPENDENCY_REDIS_KEYSPACE_HITS = _exported(
    "dependency_redis_keyspace_hits_total",
    "counter",
    "Successful key lookups since the server started.",
    _DEP,
    REDIS,
)
DEPENDENCY_REDIS_KEYSPACE_MISSES = _exported(
    "dependency_redis_keyspace_misses_total",
    "counter",
    "Failed key lookups since the server started.",
    _DEP,
    REDIS,
)

NEO4J = "Neo4j details (kind neo4j)"
DEPENDENCY_NEO4J_QUERY_DURATION = _exported(
    "dependency_neo4j_query_duration_seconds",
    "gauge",
    "Round trip of the Cypher query RETURN 1 over the HTTP API.",
    _DEP,
    NEO4J,
)

QDRANT = "Qdrant details (kind qdrant)"
DEPENDENCY_QDRANT_READY = _exported(
    "dependency_qdrant_ready", "gauge", "1 if /readyz answers 200 (shards ready).", _DEP, QDRANT
)
DEPENDENCY_QDRANT_COLLECTIONS = _exported(
    "dependency_qdrant_collections",
    "gauge",
    "Number of collections (only with an API key).",
    _DEP,
    QDRANT,
)

ELASTICSEARCH = "Elasticsearch details (kind elasticsearch)"
ELASTICSEARCH_STATUS_VALUES = {"green": 0, "yellow": 1, "red": 2}
DEPENDENCY_ELASTICSEARCH_STATUS = _exported(
    "dependency_elasticsearch_cluster_status",
    "gauge",
    "Cluster health from /_cluster/health: 0 green, 1 yellow, 2 red.",
    _DEP,
    ELASTICSEARCH,
)
DEPENDENCY_ELASTICSEARCH_UNASSIGNED_SHARDS = _exported(
    "dependency_elasticsearch_unassigned_shards", "gauge", "Unassigned shards.", _DEP, ELASTICSEARCH
)
DEPENDENCY_ELASTICSEARCH_NODES = _exported(
    "dependency_elasticsearch_nodes", "gauge", "Nodes in the cluster.", _DEP, ELASTICSEARCH
)

HTTP = "HTTP details (kind http, presets openai and supabase)"
DEPENDENCY_HTTP_STATUS_CODE = _exported(
    "dependency_http_status_code", "gauge", "HTTP status code of the last response.", _DEP, HTTP
)
DEPENDENCY_HTTP_TLS_EXPIRY = _exported(
    "dependency_http_tls_cert_expiry_timestamp_seconds",
    "gauge",
    "Unix time at which the server's TLS certificate expires.",
    _DEP,
    HTTP,
)
DEPENDENCY_HTTP_RATELIMIT_REMAINING_REQUESTS = _exported(
    "dependency_http_ratelimit_remaining_requests",
    "gauge",
    "x-ratelimit-remaining-requests header of the last response (OpenAI).",
    _DEP,
    HTTP,
)
DEPENDENCY_HTTP_RATELIMIT_REMAINING_TOKENS = _exported(
    "dependency_http_ratelimit_remaining_tokens",
    "gauge",
    "x-ratelimit-remaining-tokens header of the last response (OpenAI).",
    _DEP,
    HTTP,
)
DEPENDENCY_HTTP_RATELIMIT_LIMIT_REQUESTS = _exported(
    "dependency_http_ratelimit_limit_requests",
    "gauge",
    "x-ratelimit-limit-requests header of the last response (OpenAI).",
    _DEP,
    HTTP,
)
DEPENDENCY_HTTP_RATELIMIT_LIMIT_TOKENS = _exported(
    "dependency_http_ratelimit_limit_tokens",
    "gauge",
    "x-ratelimit-limit-tokens header of the last response (OpenAI).",
    _DEP,
    HTTP,
)

# -- service instrumentation (OpenTelemetry HTTP semantic conventions) ---------------------------
HTTP_REQUEST_METHOD = "http_request_method"
HTTP_ROUTE = "http_route"
HTTP_RESPONSE_STATUS_CODE = "http_response_status_code"
UNMATCHED_ROUTE = "unmatched"
SERVICE = "Service instrumentation (instrument_app)"
HTTP_SERVER_REQUEST_DURATION = _exported(
    "http_server_request_duration_seconds",
    "histogram",
    "Duration of HTTP server requests.",
    (HTTP_REQUEST_METHOD, HTTP_ROUTE, HTTP_RESPONSE_STATUS_CODE),
    SERVICE,
)
HTTP_SERVER_ACTIVE_REQUESTS = _exported(
    "http_server_active_requests",
    "gauge",
    "HTTP server requests in flight.",
    (HTTP_REQUEST_METHOD,),
    SERVICE,
)
HTTP_SERVER_REQUEST_BODY_SIZE = _exported(
    "http_server_request_body_size_bytes",
    "histogram",
    "Size of HTTP server request bodies.",
    (HTTP_REQUEST_METHOD, HTTP_ROUTE),
    SERVICE,
)
HTTP_SERVER_RESPONSE_BODY_SIZE = _exported(
    "http_server_response_body_size_bytes",
    "histogram",
    "Size of HTTP server response bodies.",
    (HTTP_REQUEST_METHOD, HTTP_ROUTE, HTTP_RESPONSE_STATUS_CODE),
    SERVICE,
)

# -- business KPIs (instrumented services and the KPI exporter) ---------------------------------
AGENT_TYPE = "agent_type"
RESULT = "result"
TENANT = "tenant"
QUERY = "query"
OTHER_TENANT = "other"  # label value of every tenant beyond the cardinality cap
BUSINESS = "Business KPIs (services and the KPI exporter)"
AI_QUERIES = _exported(
    "ai_queries_total", "counter", "AI queries answered, by agent type.", (AGENT_TYPE,), BUSINESS
)
AI_QUERY_FAILURES = _exported(
    "ai_query_failures_total",
    "counter",
    "AI queries that failed, by agent type.",
    (AGENT_TYPE,),
    BUSINESS,
)
AI_QUERY_DURATION = _exported(
    "ai_query_duration_seconds",
    "histogram",
    "Duration of AI queries, by agent type.",
    (AGENT_TYPE,),
    BUSINESS,
)
CODE_REVIEWS = _exported(
    "code_reviews_total", "counter", "Code reviews completed, by result.", (RESULT,), BUSINESS
)
ACTIVE_USERS = _exported(
    "active_users", "gauge", "Users active in the last 5 minutes.", (), BUSINESS
)
TENANT_REQUESTS = _exported(
    "tenant_requests_total",
    "counter",
    'Requests per tenant; tenants beyond the label cap are counted as tenant="other".',
    (TENANT,),
    BUSINESS,
)
TENANT_LABEL_CAP = _exported(
    "tenant_label_cap",
    "gauge",
    "Most tenants that keep their own tenant label value; the rest are counted as other.",
    (),
    BUSINESS,
)

KPI = "KPI query exporter (obsstack kpis)"
KPI_QUERY_SUCCESS = _exported(
    "kpi_query_success", "gauge", "1 if the last run of the KPI query succeeded.", (QUERY,), KPI
)
KPI_QUERY_DURATION = _exported(
    "kpi_query_duration_seconds",
    "gauge",
    "Duration of the last run of the KPI query.",
    (QUERY,),
    KPI,
)
KPI_LAST_SUCCESS = _exported(
    "kpi_last_success_timestamp_seconds",
    "gauge",
    "Unix time of the last successful run of the KPI query.",
    (QUERY,),
    KPI,
)
KPI_LABEL_CAP = _exported(
    "kpi_label_cap",
    "gauge",
    "Most label sets the KPI query keeps; the rest are summed into one set of label values other.",
    (QUERY,),
    KPI,
)

# Business KPIs computed from the platform database by the shipped KPI queries
# (exporters/obsstack/kpis/platform.yaml). The services count what they serve
# (ai_queries_total, ...); these count what the database recorded, across every instance.
PLAN = "plan"
ENTITY = "entity"
PLATFORM = "Platform KPIs from the database (obsstack kpis, exporters/obsstack/kpis/platform.yaml)"
PLATFORM_AI_QUERIES = _exported(
    "platform_ai_queries_total",
    "counter",
    "AI queries recorded by the platform, by agent type.",
    (AGENT_TYPE,),
    PLATFORM,
)
PLATFORM_AI_QUERY_FAILURES = _exported(
    "platform_ai_query_failures_total",
    "counter",
    "AI queries recorded as failed by the platform, by agent type.",
    (AGENT_TYPE,),
    PLATFORM,
)
PLATFORM_CODE_REVIEWS = _exported(
    "platform_code_reviews_total",
    "counter",
    "Code reviews recorded by the platform, by result.",
    (RESULT,),
    PLATFORM,
)
PLATFORM_ACTIVE_USERS = _exported(
    "platform_active_users",
    "gauge",
    "Distinct users with activity in the last 5 minutes, across every instance.",
    (),
    PLATFORM,
)
PLATFORM_TENANTS = _exported(
    "platform_tenants", "gauge", "Tenants, by subscription plan.", (PLAN,), PLATFORM
)
PLATFORM_BACKUP_LAST_SUCCESS = _exported(
    "platform_backup_last_success_timestamp_seconds",
    "gauge",
    "Unix time at which the last successful backup finished (age: time() - value).",
    (),
    PLATFORM,
)
PLATFORM_GRAPH_SYNC_DRIFT = _exported(
    "platform_graph_sync_drift",
    "gauge",
    "PostgreSQL rows minus Neo4j graph nodes, per entity (0 when in sync).",
    (ENTITY,),
    PLATFORM,
)
PLATFORM_LOGIN_FAILURES = _exported(
    "platform_login_failures_total",
    "counter",
    "Failed logins recorded by the platform.",
    (),
    PLATFORM,
)
PLATFORM_ACCOUNT_LOCKOUTS = _exported(
    "platform_account_lockouts_total",
    "counter",
    "Accounts locked after repeated failed logins.",
    (),
    PLATFORM,
)
PLATFORM_RATE_LIMIT_REJECTIONS = _exported(
    "platform_rate_limit_rejections_total",
    "counter",
    "Requests rejected by the rate limiter, by tenant (capped, the rest as other).",
    (TENANT,),
    PLATFORM,
)

# -- rules and alerts --------------------------------------------------------------------------
SLO_RULE_PREFIX = "slo:"  # recording rules: slo:<measure>:<window>
SLO_RULE_GROUP_PREFIX = "obsstack-slo-"
STACK_RULE_GROUP = "obsstack-stack"
# Labels obsstack sets on its own records and alerts. Its own machinery is namespaced
# (obsstack_*), like Sloth's sloth_*, so that no user label (an SLO's labels, a Sloth spec's
# labels, the labels a grouped SLI keeps) can collide with it. `severity` is the Alertmanager
# convention and a spec may override it; routing and inhibition read the tier, never severity.
SLO_LABEL = "obsstack_slo"
SERVICE_LABEL = "obsstack_service"
TIER_LABEL = "obsstack_tier"  # page, ticket, heartbeat, inhibitor: what Alertmanager routes on
SEVERITY_LABEL = "severity"
STACK_LABEL = "stack"  # Prometheus external label: one stack's alerts never touch another's
# External label of each Prometheus of an HA pair, dropped from its alerts and aggregated away
# (or deduplicated on by the store's query layer) in queries.
REPLICA_LABEL = "replica"
SEVERITY_PAGE = "critical"
SEVERITY_TICKET = "warning"
TIER_PAGE = "page"
TIER_TICKET = "ticket"
RESERVED_LABEL_PREFIX = "obsstack_"

ALERT_DEPENDENCY_DOWN = "DependencyDown"
ALERT_DEPENDENCY_CIRCUIT_OPEN = "DependencyCircuitOpen"
ALERT_DEPENDENCY_PROBE_SLOW = "DependencyProbeSlow"
ALERT_EXPORTER_DOWN = "ExporterDown"
ALERT_TARGET_DOWN = "TargetDown"
ALERT_RULE_EVALUATION_FAILURES = "PrometheusRuleEvaluationFailures"
ALERT_NOTIFICATIONS_FAILING = "AlertmanagerNotificationsFailing"
ALERT_WATCHDOG = "Watchdog"
# The host (node-exporter) and the containers of the compose bundle (cAdvisor).
ALERT_HOST_DOWN = "HostDown"
ALERT_HOST_DISK_FILLS_IN_4H = "HostDiskWillFillIn4Hours"
ALERT_HOST_DISK_FILLS_IN_24H = "HostDiskWillFillIn24Hours"
ALERT_HOST_DISK_ALMOST_FULL = "HostDiskAlmostFull"
ALERT_HOST_MEMORY_PRESSURE = "HostMemoryPressure"
ALERT_HOST_OOM_KILL = "HostOOMKill"
ALERT_CONTAINER_RESTARTING = "ContainerRestarting"
ALERT_CONTAINER_OOM_KILLED = "ContainerOOMKilled"
# SLO alerts (alerts/generated/<service>.<slo>.rules.yml), one rule of each per SLO. The burn
# rate alerts may be renamed per SLO (Sloth's alerting.name): match them by tier, not by name.
ALERT_SLO_BURN_RATE_PAGE = "SLOBurnRatePage"
ALERT_SLO_BURN_RATE_TICKET = "SLOBurnRateTicket"
ALERT_SLO_BUDGET_EXHAUSTED = "SLOErrorBudgetExhausted"
ALERT_SLO_DATA_ABSENT = "SLODataAbsent"
# Watchdog: always firing, routed to a dead man's switch and never to a person.
SEVERITY_NONE = "none"
TIER_HEARTBEAT = "heartbeat"
# AlertExplained: never notifies. It fires while another alert is explained by a louder one
# (an SLO's ticket by its page, an SLO alert by a dependency outage, a dependency's slow probe
# by the dependency being down) and only for as long as the explained alert itself fires, so
# Alertmanager mutes the explained alert without ever muting its resolve.
ALERT_EXPLAINED = "AlertExplained"
TIER_INHIBITOR = "inhibitor"
EXPLAINS_LABEL = "explains"  # the tier (page, ticket) or the stack alert name it mutes
CAUSE_LABEL = "cause"  # page or dependency: what explains it
CAUSE_PAGE = "page"
CAUSE_DEPENDENCY = "dependency"

# Scrape job names used by the bundle's Prometheus configuration.
JOB_EXPORTER = "obsstack-exporter"  # the probe exporter's /metrics
JOB_PROBE = "obsstack-probe"  # the probe exporter's /probe, one target per dependency
JOB_KPIS = "obsstack-kpis"  # the business-KPI exporter
JOB_API = "saas-api"  # the platform's API service (the demo platform stands in for it)
JOB_NODE = "node"  # node-exporter: the host (CPU, memory, filesystems, network)
JOB_CADVISOR = "cadvisor"  # cAdvisor: the containers of the compose bundle
# Filesystems node-exporter reports that are not disks that fill up: memory (tmpfs, ramfs), a
# container's overlay root, squashfs images. Disk alerts and panels leave them out.
VOLATILE_FSTYPES = "tmpfs|ramfs|overlay|squashfs"


def all_metrics() -> list[MetricSpec]:
    """Every metric obsstack exports, in definition order."""
    return list(_EXPORTED)


# -- metrics read from the stack's components (not exported by obsstack) -------------------------
class StackComponentMetrics:
    """Metrics that the stack's own components export and obsstack's dashboards read.

    obsstack does not export these: they are class attributes rather than module globals so that
    :func:`all_metrics` and ``METRICS.md`` (what obsstack exports) leave them out, while dashboard
    lint still takes its whole allow-list from this module. Names and labels as the projects
    document them (Prometheus 2.42+, Alertmanager 0.25+, OpenTelemetry Collector and Jaeger v2
    internal telemetry through the Prometheus reader, Loki 3.x, node-exporter 1.5 to 1.10,
    cAdvisor 0.56); ``group`` names the source.
    """

    PROMETHEUS = "Prometheus (synthetic series and its own /metrics)"
    UP = MetricSpec(
        "up",
        "gauge",
        "1 if the last scrape of the target succeeded.",
        ("job", "instance"),
        PROMETHEUS,
    )
    ALERTS = MetricSpec(
        "ALERTS",
        "gauge",
        "One series per pending or firing alert, with the alert's labels.",
        ("alertname", "alertstate"),
        PROMETHEUS,
    )
    RULE_EVALUATION_FAILURES = MetricSpec(
        "prometheus_rule_evaluation_failures_total",
        "counter",
        "Rule evaluations that failed.",
        ("rule_group",),
        PROMETHEUS,
    )
    RULE_EVALUATIONS = MetricSpec(
        "prometheus_rule_evaluations_total",
        "counter",
        "Rule evaluations.",
        ("rule_group",),
        PROMETHEUS,
    )
    RULE_GROUP_LAST_DURATION = MetricSpec(
        "prometheus_rule_group_last_duration_seconds",
        "gauge",
        "Duration of the last evaluation of the rule group.",
        ("rule_group",),
        PROMETHEUS,
    )
    RULE_GROUP_INTERVAL = MetricSpec(
        "prometheus_rule_group_interval_seconds",
        "gauge",
        "Evaluation interval of the rule group.",
        ("rule_group",),
        PROMETHEUS,
    )
    TSDB_STORAGE_BLOCKS_BYTES = MetricSpec(
        "prometheus_tsdb_storage_blocks_bytes",
        "gauge",
        "Bytes used by the persisted TSDB blocks.",
        (),
        PROMETHEUS,
    )
    TSDB_HEAD_SERIES = MetricSpec(
        "prometheus_tsdb_head_series", "gauge", "Series in the TSDB head block.", (), PROMETHEUS
    )
    NOTIFICATIONS_DROPPED = MetricSpec(
        "prometheus_notifications_dropped_total",
        "counter",
        "Alerts dropped because sending them to Alertmanager failed.",
        (),
        PROMETHEUS,
    )

    ALERTMANAGER = "Alertmanager"
    AM_NOTIFICATIONS = MetricSpec(
        "alertmanager_notifications_total",
        "counter",
        "Notification attempts, per integration (pagerduty, opsgenie, ...).",
        ("integration",),
        ALERTMANAGER,
    )
    AM_NOTIFICATIONS_FAILED = MetricSpec(
        "alertmanager_notifications_failed_total",
        "counter",
        "Notification attempts that failed, per integration (0.26+ adds a reason label).",
        ("integration",),
        ALERTMANAGER,
    )
    AM_ALERTS = MetricSpec(
        "alertmanager_alerts", "gauge", "Alerts held, by state.", ("state",), ALERTMANAGER
    )

    COLLECTOR = "OpenTelemetry Collector and Jaeger v2 (internal telemetry)"
    _RECEIVER = ("receiver", "transport")
    _EXPORTER = ("exporter",)
    RECEIVER_ACCEPTED_SPANS = MetricSpec(
        "otelcol_receiver_accepted_spans_total",
        "counter",
        "Spans pushed into the pipeline.",
        _RECEIVER,
        COLLECTOR,
    )
    RECEIVER_REFUSED_SPANS = MetricSpec(
        "otelcol_receiver_refused_spans_total",
        "counter",
        "Spans that could not be pushed into the pipeline.",
        _RECEIVER,
        COLLECTOR,
    )
    RECEIVER_ACCEPTED_LOG_RECORDS = MetricSpec(
        "otelcol_receiver_accepted_log_records_total",
        "counter",
        "Log records pushed into the pipeline.",
        _RECEIVER,
        COLLECTOR,
    )
    RECEIVER_REFUSED_LOG_RECORDS = MetricSpec(
        "otelcol_receiver_refused_log_records_total",
        "counter",
        "Log records that could not be pushed into the pipeline.",
        _RECEIVER,
        COLLECTOR,
    )
    RECEIVER_ACCEPTED_METRIC_POINTS = MetricSpec(
        "otelcol_receiver_accepted_metric_points_total",
        "counter",
        "Metric points pushed into the pipeline.",
        _RECEIVER,
        COLLECTOR,
    )
    RECEIVER_REFUSED_METRIC_POINTS = MetricSpec(
        "otelcol_receiver_refused_metric_points_total",
        "counter",
        "Metric points that could not be pushed into the pipeline.",
        _RECEIVER,
        COLLECTOR,
    )
    EXPORTER_SENT_SPANS = MetricSpec(
        "otelcol_exporter_sent_spans_total",
        "counter",
        "Spans sent to the destination.",
        _EXPORTER,
        COLLECTOR,
    )
    EXPORTER_SEND_FAILED_SPANS = MetricSpec(
        "otelcol_exporter_send_failed_spans_total",
        "counter",
        "Spans that failed to be sent to the destination.",
        _EXPORTER,
        COLLECTOR,
    )
    EXPORTER_SENT_LOG_RECORDS = MetricSpec(
        "otelcol_exporter_sent_log_records_total",
        "counter",
        "Log records sent to the destination.",
        _EXPORTER,
        COLLECTOR,
    )
    EXPORTER_SEND_FAILED_LOG_RECORDS = MetricSpec(
        "otelcol_exporter_send_failed_log_records_total",
        "counter",
        "Log records that failed to be sent to the destination.",
        _EXPORTER,
        COLLECTOR,
    )
    EXPORTER_SENT_METRIC_POINTS = MetricSpec(
        "otelcol_exporter_sent_metric_points_total",
        "counter",
        "Metric points sent to the destination.",
        _EXPORTER,
        COLLECTOR,
    )
    EXPORTER_SEND_FAILED_METRIC_POINTS = MetricSpec(
        "otelcol_exporter_send_failed_metric_points_total",
        "counter",
        "Metric points that failed to be sent to the destination.",
        _EXPORTER,
        COLLECTOR,
    )
    EXPORTER_QUEUE_SIZE = MetricSpec(
        "otelcol_exporter_queue_size",
        "gauge",
        "Batches in the exporter's sending queue.",
        _EXPORTER,
        COLLECTOR,
    )
    EXPORTER_QUEUE_CAPACITY = MetricSpec(
        "otelcol_exporter_queue_capacity",
        "gauge",
        "Capacity of the exporter's sending queue.",
        _EXPORTER,
        COLLECTOR,
    )

    LOKI = "Loki"
    LOKI_LINES_RECEIVED = MetricSpec(
        "loki_distributor_lines_received_total",
        "counter",
        "Log entries received by the distributor, per tenant.",
        ("tenant",),
        LOKI,
    )
    LOKI_BYTES_RECEIVED = MetricSpec(
        "loki_distributor_bytes_received_total",
        "counter",
        "Uncompressed bytes received by the distributor, per tenant.",
        ("tenant",),
        LOKI,
    )
    LOKI_DISCARDED_SAMPLES = MetricSpec(
        "loki_discarded_samples_total",
        "counter",
        "Log entries rejected (rate limits, validation), per reason and tenant.",
        ("reason", "tenant"),
        LOKI,
    )

    NODE = "node-exporter (1.5, Debian 12's prometheus-node-exporter)"
    _FILESYSTEM = ("device", "fstype", "mountpoint")
    NODE_CPU_SECONDS = MetricSpec(
        "node_cpu_seconds_total",
        "counter",
        "Seconds each CPU spent in each mode (user, system, iowait, idle ...).",
        ("cpu", "mode"),
        NODE,
    )
    NODE_MEMORY_AVAILABLE = MetricSpec(
        "node_memory_MemAvailable_bytes",
        "gauge",
        "Memory available for new work without swapping (MemAvailable of /proc/meminfo).",
        (),
        NODE,
    )
    NODE_MEMORY_TOTAL = MetricSpec(
        "node_memory_MemTotal_bytes", "gauge", "Usable memory (MemTotal).", (), NODE
    )
    NODE_PRESSURE_MEMORY_WAITING = MetricSpec(
        "node_pressure_memory_waiting_seconds_total",
        "counter",
        "Time some task waited for memory (PSI 'some'; kernels with PSI only).",
        (),
        NODE,
    )
    NODE_VMSTAT_PGMAJFAULT = MetricSpec(
        "node_vmstat_pgmajfault",
        "counter",
        "Major page faults (pages read back from disk), from /proc/vmstat.",
        (),
        NODE,
    )
    NODE_VMSTAT_OOM_KILL = MetricSpec(
        "node_vmstat_oom_kill",
        "counter",
        "Processes the kernel's OOM killer killed, a container's at its memory limit included.",
        (),
        NODE,
    )
    NODE_FILESYSTEM_AVAIL = MetricSpec(
        "node_filesystem_avail_bytes",
        "gauge",
        "Filesystem space available to non-root users.",
        _FILESYSTEM,
        NODE,
    )
    NODE_FILESYSTEM_SIZE = MetricSpec(
        "node_filesystem_size_bytes", "gauge", "Filesystem size.", _FILESYSTEM, NODE
    )
    NODE_FILESYSTEM_READONLY = MetricSpec(
        "node_filesystem_readonly",
        "gauge",
        "1 if the filesystem is mounted read-only.",
        _FILESYSTEM,
        NODE,
    )
    NODE_NETWORK_RECEIVE_BYTES = MetricSpec(
        "node_network_receive_bytes_total",
        "counter",
        "Bytes received, per network device.",
        ("device",),
        NODE,
    )
    NODE_NETWORK_TRANSMIT_BYTES = MetricSpec(
        "node_network_transmit_bytes_total",
        "counter",
        "Bytes sent, per network device.",
        ("device",),
        NODE,
    )

    CADVISOR = "cAdvisor (0.56, the compose bundle's containers)"
    # The compose service of a container (cAdvisor's --whitelisted_container_labels keeps it).
    COMPOSE_SERVICE_LABEL = "container_label_com_docker_compose_service"
    _CONTAINER = ("id", "name", "image", COMPOSE_SERVICE_LABEL)
    CONTAINER_CPU_USAGE = MetricSpec(
        "container_cpu_usage_seconds_total",
        "counter",
        "CPU time the container consumed (cpu=total unless per-CPU usage is enabled); it "
        "starts over from 0 when the container restarts (a new cgroup).",
        (*_CONTAINER, "cpu"),
        CADVISOR,
    )
    CONTAINER_MEMORY_WORKING_SET = MetricSpec(
        "container_memory_working_set_bytes",
        "gauge",
        "The container's working set: what its memory limit is compared with.",
        _CONTAINER,
        CADVISOR,
    )
    CONTAINER_SPEC_MEMORY_LIMIT = MetricSpec(
        "container_spec_memory_limit_bytes",
        "gauge",
        "The container's memory limit (0 when it has none).",
        _CONTAINER,
        CADVISOR,
    )
    CONTAINER_OOM_EVENTS = MetricSpec(
        "container_oom_events_total",
        "counter",
        "OOM kills cAdvisor read from /dev/kmsg for a container that outlived them.",
        _CONTAINER,
        CADVISOR,
    )

    @classmethod
    def all(cls) -> list[MetricSpec]:
        """Every metric of this section, in definition order."""
        return [value for value in vars(cls).values() if isinstance(value, MetricSpec)]
