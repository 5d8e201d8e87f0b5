"""Serve kubelab over HTTP and websockets: the one place that picks and configures the server.

`python -m kubelab.serve [--host 127.0.0.1] [--port 8000]` runs uvicorn with the websockets
implementation. uvicorn replaced daphne because the terminal's keystroke echo was 5-13% slower
than terminado's under daphne (autobahn and Twisted on every frame) and faster under uvicorn
(bench/terminal_rtt); Channels runs on either, as any ASGI server.
"""

from __future__ import annotations

import argparse

import uvicorn


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m kubelab.serve", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    uvicorn.run(
        "kubelab.asgi:application",
        host=args.host,
        port=args.port,
        ws="websockets",
        # Channels' router has no lifespan protocol; asking would only log an error.
        lifespan="off",
        # X-Forwarded-* only from a proxy on this machine.
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
        # Open terminals would otherwise hold a stop until every browser tab closes.
        timeout_graceful_shutdown=5,
        log_level=args.log_level,
        server_header=False,
    )


if __name__ == "__main__":
    main()
