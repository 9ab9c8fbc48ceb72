"""The business-KPI exporter: SQL queries against the platform's PostgreSQL, served as metrics."""
