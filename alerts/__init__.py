"""SLOs as code: the spec, its model, and the recording rules, alerts and rule tests made from it.

For other generators (dashboards):

    from alerts import load_default_spec, records
    spec = load_default_spec()            # alerts/slos.yaml -> alerts.model.SLOSpec
    for slo in spec.slos:                 # alerts.model.SLO
        records.query(records.ERROR_BUDGET_REMAINING, slo)
        records.burn_rate_query(slo, "1h")

See :mod:`alerts.model` for the types and :mod:`alerts.records` for every record name.
"""

from __future__ import annotations

from alerts.load import DEFAULT_SPEC, load_default_spec, load_spec

__all__ = ["DEFAULT_SPEC", "load_default_spec", "load_spec"]
