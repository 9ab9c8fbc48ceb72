"""The README's pictures of the dashboards: the demo platform under its default traffic, then
during a declared incident.

Brings the stack up natively as ``make run`` does (``obsstack up`` on free ports), with two
differences that keep it apart from anything else on the host: the demo's database is a private
PostgreSQL (the probe exporter probes that one instead of 127.0.0.1:5432) and its Redis keys
have a prefix of their own, so the incident touches nobody else's demo. It lets the
default traffic run for ``--warmup`` minutes, renders every dashboard over the last
``--window``, declares an incident (``PUT /internal/incident`` on the demo: one agent's model
API fails half the time and slows down threefold), waits ``--incident-wait`` minutes and
renders again. The pictures, scaled to at most ``--width`` pixels, go to
``docs/dashboards/<name>.png`` and ``docs/dashboards/incident/<name>.png``.

Run: ``make dashboard-pictures`` (about 25 minutes), or
``.venv/bin/python -m benchmarks.dashboard_pictures [--warmup 15 --incident-wait 7]``.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import redis
import yaml

from tests.support.paths import ROOT
from tests.support.processes import OBSSTACK, free_port
from tests.support.servers import PrivatePostgres

COMPONENTS = ("prometheus", "alertmanager", "exporter", "oncall-sink", "demo", "kpis")
INCIDENT = {"agent_type": "code_assistant", "failure_rate": 0.5, "latency_factor": 3, "minutes": 60}
MAX_BYTES = 400 * 1024


def obsstack(*argv: str, env: dict[str, str] | None = None) -> str:
    """Run an obsstack command; its output, or exit with its error."""
    done = subprocess.run(
        [*OBSSTACK, *argv], capture_output=True, text=True, env={**os.environ, **(env or {})}
    )
    if done.returncode != 0:
        sys.exit(f"obsstack {argv[0]} failed: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def wait(minutes: float, what: str) -> None:
    """Sleep, saying so once a minute."""
    end = time.monotonic() + minutes * 60
    while (left := end - time.monotonic()) > 0:
        print(f"  {what}: {left / 60:.1f} min left", flush=True)
        time.sleep(min(60.0, left))


def shrink(source: Path, target: Path, width: int) -> int:
    """``source`` scaled to at most ``width`` pixels wide, as a palette PNG when the full-colour
    one is larger than MAX_BYTES; the bytes written."""
    from PIL import Image

    with Image.open(source) as opened:
        image = opened.convert("RGB")
    if image.width > width:
        height = round(image.height * width / image.width)
        image = image.resize((width, height), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=True)
    if buffer.tell() > MAX_BYTES:
        buffer = io.BytesIO()
        image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(
            buffer, "PNG", optimize=True
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(buffer.getvalue())
    return buffer.tell()


def render(prometheus: str, window: str, rendered: Path, target: Path, width: int) -> None:
    """Render every dashboard over the last ``window`` and put the scaled pictures in ``target``."""
    print(obsstack("dashboards", "render", "--prometheus", prometheus, "--last", window,
                   "--out", str(rendered)), end="")  # fmt: skip
    for png in sorted(rendered.glob("*.png")):
        size = shrink(png, target / png.name, width)
        print(f"  {target / png.name}: {size // 1024} KB")


def exporter_config(workdir: Path, postgres_port: int) -> Path:
    """The shipped probe configuration, its PostgreSQL being the demo's private one."""
    config = yaml.safe_load((ROOT / "exporters/config/exporter.yaml").read_text())
    for dependency in config["dependencies"]:
        if dependency["kind"] == "postgres":
            dependency.update(port=postgres_port, database="postgres")
    path = workdir / "exporter.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def drop_keys(prefix: str) -> None:
    """Remove the demo's keys from the shared Redis."""
    client = redis.Redis(host="127.0.0.1", port=6379)
    keys = list(client.scan_iter(f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warmup", type=float, default=15.0, help="minutes of default traffic")
    parser.add_argument(
        "--incident-wait", type=float, default=7.0, help="minutes of incident before rendering"
    )
    parser.add_argument("--window", default="15m", help="time range of each picture")
    parser.add_argument("--out", type=Path, default=Path("docs/dashboards"))
    parser.add_argument("--width", type=int, default=1600, help="largest picture width")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="obsstack-pictures-") as tmp:
        workdir = Path(tmp)
        state = workdir / "state"
        postgres = PrivatePostgres().start()
        prefix = f"obsstack_pictures_{uuid.uuid4().hex[:8]}:"
        ports = {name: free_port() for name in COMPONENTS}
        env = {
            "OBSSTACK_DEMO_POSTGRES_DSN": f"postgresql://postgres@127.0.0.1:{postgres.port}/postgres",
            "OBSSTACK_DEMO_REDIS_PREFIX": prefix,
        }
        probes = exporter_config(workdir, postgres.port)
        try:
            print(obsstack("up", "--state-dir", str(state), "--exporter-config", str(probes),
                           *(f"--port={name}={port}" for name, port in ports.items()),
                           env=env), end="")  # fmt: skip
            prometheus = f"http://127.0.0.1:{ports['prometheus']}"
            wait(args.warmup, "default traffic")
            render(prometheus, args.window, workdir / "default", args.out, args.width)
            demo = f"http://127.0.0.1:{ports['demo']}"
            httpx.put(f"{demo}/internal/incident", json=INCIDENT, timeout=10).raise_for_status()
            print(f"incident declared: {INCIDENT}")
            wait(args.incident_wait, "incident")
            render(prometheus, args.window, workdir / "incident", args.out / "incident", args.width)
        finally:
            subprocess.run([*OBSSTACK, "down", "--state-dir", str(state)], capture_output=True)
            drop_keys(prefix)
            postgres.destroy()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
