"""The on-call inbox: a local PagerDuty Events v2 and Opsgenie Alert API."""
