"""Where the checkout's files are: the obsstack directory the tests run against."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ALERTING = ROOT / "compose" / "alerting.yaml"
