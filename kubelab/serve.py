"""Serve kubelab over HTTP and websockets: the one place that picks and configures the server.

`python -m kubelab.serve [--host 127.0.0.1] [--port 8000]` runs uvicorn on uvloop with the
sans-I/O websockets protocol. The choice is measured by bench/terminal_rtt (keystroke echo against
terminado, 50 concurrent typists, interleaved rounds in one run): daphne (autobahn and Twisted on
every frame) was 5-13% slower than terminado; uvicorn's legacy websockets protocol wakes two tasks
per frame received and cost about 480 us of server CPU per keystroke; sans-I/O hands the frame
straight to the consumer, and uvloop makes each loop turn cheaper, together about 270 us against
terminado's 420. Channels runs on any of them, as on any ASGI server.
"""

from __future__ import annotations

import argparse
import contextlib
import resource

import uvicorn

from kubelab.env import env_list


def descriptors_raise() -> int:
    """Raise the soft descriptor limit to the hard one (a shell's 1,024 is a few dozen
    learners' terminals); returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def trusted_proxies() -> list[str]:
    """KUBELAB_TRUSTED_PROXIES: the proxies whose X-Forwarded-For uvicorn believes."""
    return env_list("KUBELAB_TRUSTED_PROXIES", [])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m kubelab.serve", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--log-level", default="info")
    # For comparing implementations (bench/terminal_rtt); the defaults are what kubelab runs.
    parser.add_argument("--loop", default="uvloop", choices=["uvloop", "asyncio"])
    parser.add_argument(
        "--ws", default="websockets-sansio", choices=["websockets-sansio", "websockets"]
    )
    args = parser.parse_args(argv)
    nofile = descriptors_raise()
    uvicorn.run(
        "kubelab.asgi:application",
        host=args.host,
        port=args.port,
        ws=args.ws,
        loop=args.loop,
        # Channels' router has no lifespan protocol; asking would only log an error.
        lifespan="off",
        # X-Forwarded-For counts only from the proxies named in KUBELAB_TRUSTED_PROXIES (none
        # by default: then the peer's address is the client's, whatever the headers say).
        proxy_headers=bool(trusted_proxies()),
        forwarded_allow_ips=",".join(trusted_proxies()) or None,
        # Beyond this many connections and tasks at once, new ones get a 503 rather than the
        # process running out of descriptors.
        limit_concurrency=max(64, nofile // 4),
        # The protocol refuses frames over 64 KiB anyway (terminal/protocol.py); decoding
        # 16 MiB ones first would let one socket make the server allocate that much per frame.
        ws_max_size=128 * 1024,
        # Open terminals would otherwise hold a stop until every browser tab closes.
        timeout_graceful_shutdown=5,
        log_level=args.log_level,
        server_header=False,
    )


if __name__ == "__main__":
    main()
