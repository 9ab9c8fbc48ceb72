"""A stand-in for the AI SaaS platform that produces real traffic, metrics, logs and traces.

``obsstack demo serve`` runs the platform API (FastAPI, PostgreSQL, Redis) instrumented with
:mod:`obsstack.instrumentation`; ``obsstack demo traffic`` drives it with a steady mix of
AI queries, code reviews, logins and scanner noise. See exporters/obsstack/demo/README.md.
"""
