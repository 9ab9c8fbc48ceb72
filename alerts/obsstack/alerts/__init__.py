"""SLOs as code: the spec, its model, and the recording rules, alerts and rule tests made from it.

For other generators (dashboards):

    from obsstack.alerts import load_default_spec, records
    spec = load_default_spec()            # alerts/slos.yaml -> obsstack.alerts.model.SLOSpec
    for slo in spec.slos:                 # obsstack.alerts.model.SLO
        records.query(records.ERROR_BUDGET_REMAINING, slo)
        records.burn_rate_query(slo, "1h")

See :mod:`obsstack.alerts.model` for the types and :mod:`obsstack.alerts.records` for every
record name.
"""

from __future__ import annotations

from obsstack.alerts.load import load_default_spec, load_spec

__all__ = ["load_default_spec", "load_spec"]
