"""One connection's life: requests read and answered until the client is done or idle too
long, each logged as kuard logs it; on kuard's HTTPS port, the TLS layer under it. Stdlib only:
it runs in the demo app's jail.
"""

from __future__ import annotations

import io
import os
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Protocol, TextIO

from podsim.demohttp import (
    ByteReader,
    ByteWriter,
    HttpError,
    Request,
    Response,
    printable,
    read_request,
    response_bytes,
)

IDLE_SECONDS = 300
TLS_PORT = 8443
TLS_DIR = "/tls"


class App(Protocol):
    """What a connection needs of the app (podsim.demoapp.DemoApp)."""

    def handle(self, request: Request) -> Response: ...

    def tls_material(self) -> tuple[bytes, bytes] | None: ...


class IdleTimeout(Exception):
    """No complete request arrived in time."""


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    raise IdleTimeout()


def remote_address() -> str:
    """Where the connection seems to come from: kubectl port-forward's end inside the pod's
    network namespace is loopback, from an ephemeral port that differs per connection."""
    return f"127.0.0.1:{32768 + os.getpid() % 28000}"


def access_line(remote: str, request: Request | None, response: Response) -> str:
    """kuard's request log line (``RemoteAddr Method URL``) with the status appended."""
    if request is None:
        reason = printable(response.body.decode("latin-1").strip())
        return f"{remote} bad request ({response.status}): {reason}"
    return f"{remote} {printable(request.method)} {printable(request.target)} {response.status}"


def serve_connection(app: App, rfile: ByteReader, wfile: ByteWriter, log: TextIO) -> int:
    """Answer requests until the connection ends; the exit status of ``serve``."""

    def send(response: Response, request: Request | None, close: bool) -> None:
        head = request is not None and request.method == "HEAD"
        keep_alive_10 = request is not None and request.version == "HTTP/1.0" and not close
        wfile.write(response_bytes(response, head=head, close=close, keep_alive_10=keep_alive_10))
        wfile.flush()
        print(access_line(remote, request, response), file=log, flush=True)

    remote = remote_address()
    signal.signal(signal.SIGALRM, _on_alarm)
    try:
        while True:
            signal.alarm(IDLE_SECONDS)
            try:
                request = read_request(rfile, wfile)
            except HttpError as error:
                signal.alarm(0)
                send(Response(error.status, f"{error.message}\n".encode()), None, close=True)
                return 0
            except (ValueError, UnicodeError) as error:  # a parsing case missed above
                signal.alarm(0)
                print(f"demoapp: unparsable request: {type(error).__name__}", file=log)
                send(Response(400, b"malformed request\n"), None, close=True)
                return 0
            signal.alarm(0)
            if request is None:
                return 0
            try:
                response = app.handle(request)
            except Exception as error:
                print(f"demoapp: internal error: {type(error).__name__}: {error}", file=log)
                response = Response(500, b"internal error\n", close=True)
            close = response.close or not request.keep_alive
            send(response, request, close)
            if close:
                return 0
    except IdleTimeout:
        return 0
    except (BrokenPipeError, ConnectionResetError):
        return 0
    finally:
        signal.alarm(0)


def serve_tls(app: App, state_dir: Path, log: TextIO) -> int:
    """kuard's HTTPS on :8443, with the certificate and key the pod mounts at /tls."""
    import ssl  # only here: most connections never need it, and it costs start-up time

    from podsim import tlspipe

    material = app.tls_material()
    assert material is not None
    try:
        context = tlspipe.server_context(*material, scratch=state_dir)
    except (ssl.SSLError, OSError) as error:
        print(f"demoapp: {TLS_DIR}/kuard.crt and kuard.key are unusable: {error}", file=log)
        return 2
    stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
    stream = tlspipe.TlsPipe(context, stdin, stdout)
    remote = remote_address()
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(IDLE_SECONDS)
    try:
        stream.handshake()
    except tlspipe.PlainHttpOnTlsPort:
        message = b"Client sent an HTTP request to an HTTPS server.\n"
        response = Response(400, message, close=True)
        os.write(stdout, response_bytes(response, head=False, close=True, keep_alive_10=False))
        print(f"{remote} bad request (400): plain HTTP on the HTTPS port", file=log)
        return 0
    except (ssl.SSLError, EOFError, OSError, IdleTimeout) as error:
        print(f"{remote} TLS handshake error: {printable(str(error))}", file=log)
        return 0
    finally:
        signal.alarm(0)
    try:
        return serve_connection(app, io.BufferedReader(stream), stream, log)
    finally:
        stream.close()
