"""The dependency probe exporter: probes every configured dependency and serves the results."""
