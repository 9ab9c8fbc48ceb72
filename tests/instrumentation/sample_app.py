"""A small instrumented service for the tests that need a real uvicorn process.

``python -m tests.instrumentation.sample_app --port P [--workers N]``; ``SAMPLE_UPSTREAM`` is the
base URL ``/fanout`` calls with httpx (the service itself, by default); ``SAMPLE_ACCESS_LOG=1``
turns uvicorn's access line on.
"""

from __future__ import annotations

import argparse
import logging
import os

import httpx
import uvicorn
from fastapi import FastAPI

from obsstack.core.logs import configure_logging
from obsstack.instrumentation import instrument_app, prepare_multiprocess_dir, set_tenant

log = logging.getLogger("sample")


def create_app() -> FastAPI:
    configure_logging("INFO")
    app = FastAPI()
    instrument_app(
        app, "sample-service", fastapi_tracing=os.environ.get("SAMPLE_FASTAPI_TRACING") == "1"
    )
    upstream = os.environ.get("SAMPLE_UPSTREAM", "")

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        set_tenant("acme")
        log.info("item requested", extra={"item": item_id})
        return {"item": item_id}

    @app.get("/fanout")
    async def fanout() -> dict[str, int]:
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{upstream}/items/7")
        return {"upstream_status": response.status_code}

    @app.get("/leak")
    async def leak() -> dict[str, str]:
        log.warning(
            "calling the model API with Authorization: Bearer sk-live-0123456789abcdefghij",
            extra={"headers": {"Authorization": "Basic c2VjcmV0OnNlY3JldA=="}},
        )
        log.error("database unreachable at postgresql://app:hunter2@db:5432/platform")
        return {"ok": "yes"}

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    if args.workers > 1:
        prepare_multiprocess_dir()
    uvicorn.run(
        "tests.instrumentation.sample_app:create_app",
        factory=True,
        host="127.0.0.1",
        port=args.port,
        workers=args.workers,
        log_config=None,
        access_log=os.environ.get("SAMPLE_ACCESS_LOG") == "1",
    )


if __name__ == "__main__":
    main()
