"""Kubernetes output: the Prometheus Operator objects, dashboards and exporter workloads of the
stack, from the same SLO spec, naming module and routing file as the compose bundle."""
