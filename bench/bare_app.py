"""A bare FastAPI app, served exactly as the gateway is served: the floor for bench_sessions.py.

    .venv/bin/python bench/bare_app.py --port 8099

One route, ``GET /bare``, answering a small JSON object from memory: no middleware, no
dependencies, no backend call. The ``uvicorn.run`` arguments are those of
``lethe_gateway.api`` (host 127.0.0.1 as the gateway's default ``LETHE_GATEWAY_HOST``);
keep them in step when the gateway's change.
"""

from __future__ import annotations

import argparse

import uvicorn
from fastapi import FastAPI

app = FastAPI(title="bare", docs_url=None, redoc_url=None, openapi_url=None)


@app.get("/bare")
async def bare() -> dict[str, str]:
    return {"status": "ok", "served_by": "bare FastAPI"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        timeout_graceful_shutdown=5,
    )


if __name__ == "__main__":
    main()
