# obsstack: `make run` brings the stack up natively, `make test` runs every check.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
DEBIAN_PACKAGES := prometheus prometheus-alertmanager prometheus-node-exporter docker-compose openssl
NEEDED_BINARIES := prometheus promtool prometheus-alertmanager amtool prometheus-node-exporter \
	docker-compose openssl

.PHONY: setup run run-ha stop test lint services bench-probe bench-probe-anchors bench-kpis bench-slo-rules \
	bench-instrumentation bench-instrumentation-cost \
	bench-heartbeat bench-slo-timing

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

## setup: Debian packages (Prometheus, Alertmanager, node-exporter, docker-compose) and the venv
setup: $(VENV)/.installed
	@missing=0; for b in $(NEEDED_BINARIES); do command -v $$b >/dev/null || missing=1; done; \
	if [ $$missing = 1 ]; then \
	  echo "installing Debian packages: $(DEBIAN_PACKAGES)"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(DEBIAN_PACKAGES); \
	fi

## run: the stack with its defaults, on this host (see README for docker compose)
run: setup services
	$(BIN)/obsstack up

## run-ha: the highly available variant on this host: two Prometheus replicas, three
## Alertmanager peers and a store (docs/scaling.md)
run-ha: setup services
	$(BIN)/obsstack up --ha

## stop: stop what `make run` or `make run-ha` started
stop:
	$(BIN)/obsstack down

## services: make sure the PostgreSQL and Redis the tests use are answering
services:
	@pg_isready -q -h 127.0.0.1 -p 5432 || pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start
	@redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## test: lint, type checks, generated-file drift, then the whole test suite
test: setup services lint
	$(BIN)/obsstack generate --check
	$(BIN)/pytest -q; code=$$?; if [ $$code = 5 ]; then echo "no tests collected" >&2; exit 1; fi; exit $$code

## bench-probe: probe exporter scrape time and connections (benchmarks/probe_scrape.md)
bench-probe: setup services
	$(PY) -m benchmarks.probe_scrape

## bench-probe-anchors: the probe exporter beside Debian's postgres_exporter, redis_exporter and
## blackbox_exporter on private PostgreSQL and Redis: healthy, hung, blackholed, restarted, ~15 min
## (benchmarks/probe_anchors.md)
bench-probe-anchors: setup
	@command -v prometheus-postgres-exporter >/dev/null && command -v prometheus-redis-exporter >/dev/null \
	  && command -v prometheus-blackbox-exporter >/dev/null || (apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
	  prometheus-postgres-exporter prometheus-redis-exporter prometheus-blackbox-exporter)
	$(BIN)/pip install --quiet -e '.[bench]'
	$(PY) -m benchmarks.probe_anchors

## bench-kpis: KPI exporter scrape cost and memory over a million-row demo database, beside
## postgres_exporter running the same queries (benchmarks/kpi_scrape.md)
bench-kpis: setup
	@command -v prometheus-postgres-exporter >/dev/null || (apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
	  prometheus-postgres-exporter)
	$(BIN)/pip install --quiet -e '.[bench]'
	$(PY) -m benchmarks.kpi_scrape

## bench-instrumentation: instrument_app against the bare app and its peers, with wrk
## (benchmarks/instrumentation.md)
bench-instrumentation: setup
	@command -v wrk >/dev/null || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk)
	$(BIN)/pip install --quiet -e '.[bench]'
	$(PY) -m benchmarks.instrumentation --rounds 8 --duration 4

## bench-instrumentation-cost: instructions a request costs per instrumentation variant, counted
## by valgrind's callgrind: figures that hold on a busy machine (benchmarks/instrumentation.md)
bench-instrumentation-cost: setup
	@command -v valgrind >/dev/null || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q valgrind)
	$(BIN)/pip install --quiet -e '.[bench]'
	$(PY) -m benchmarks.instrumentation_cost
	$(PY) -m benchmarks.instrumentation --rounds 3 --duration 6 --connections 1

## bench-slo-rules: rule evaluation cost against Sloth's layout with a 30-day history, ~35 min,
## 15 GB of free disk (benchmarks/slo_rules.md)
bench-slo-rules: setup
	$(PY) -m benchmarks.slo_rules --minutes 20 --warmup 5 --routes 8

## bench-heartbeat: Watchdog heartbeat spacing with the shipped timings, ~10 min
## (benchmarks/heartbeat.md)
bench-heartbeat: setup
	$(PY) -m benchmarks.heartbeat --minutes 10

## bench-slo-timing: when SLO alerts fire and clear against Sloth's rules, ~2 min
## (benchmarks/slo_timing.md)
bench-slo-timing: setup
	$(PY) -m benchmarks.slo_timing

## dashboard-pictures: the README's pictures of every dashboard (docs/dashboards/), from the demo
## platform under its default traffic, then during a declared incident, ~25 min
.PHONY: dashboard-pictures
dashboard-pictures: setup services
	$(PY) -m benchmarks.dashboard_pictures
