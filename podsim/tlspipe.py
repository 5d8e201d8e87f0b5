"""TLS, server side, over a port-forwarded connection's two pipes (stdin and stdout).

kuard serves HTTPS on :8443 when /tls holds ``kuard.crt`` and ``kuard.key`` (the book's Secrets
chapter); the demo app does the same with the certificate from the pod's Secret. The
connection is not a socket, so TLS runs through ``ssl.MemoryBIO`` and plain reads and writes.
"""

from __future__ import annotations

import contextlib
import io
import os
import ssl
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

TLS_HANDSHAKE_RECORD = 0x16
CHUNK = 64 * 1024


class PlainHttpOnTlsPort(Exception):
    """The client spoke plain HTTP to the TLS port."""


def server_context(certificate: bytes, key: bytes, scratch: Path) -> ssl.SSLContext:
    """A server context for the PEM certificate and key; ssl.SSLError when they are unusable.

    OpenSSL loads them from files only: they exist for the duration of the call, in a private
    temporary directory under ``scratch``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    with tempfile.TemporaryDirectory(dir=scratch, prefix=".tls-") as private:
        certificate_path, key_path = Path(private, "tls.crt"), Path(private, "tls.key")
        for path, content in ((certificate_path, certificate), (key_path, key)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
        # An encrypted key must fail, not prompt on the terminal (stdin is the connection).
        context.load_cert_chain(certificate_path, key_path, password=b"")
    return context


class TlsPipe(io.RawIOBase):
    """A readable and writable stream of plaintext over TLS records read from ``rfd`` and
    written to ``wfd``. Wrap it in ``io.BufferedReader`` for ``readline``."""

    def __init__(self, context: ssl.SSLContext, rfd: int, wfd: int) -> None:
        super().__init__()
        self._rfd, self._wfd = rfd, wfd
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._tls = context.wrap_bio(self._incoming, self._outgoing, server_side=True)
        self._eof = False

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def _send(self) -> None:
        view = memoryview(self._outgoing.read())
        while view:
            view = view[os.write(self._wfd, view) :]

    def _receive(self) -> bytes:
        chunk = os.read(self._rfd, CHUNK)
        if chunk:
            self._incoming.write(chunk)
        else:
            self._incoming.write_eof()
            self._eof = True
        return chunk

    def handshake(self) -> None:
        """Complete the handshake. PlainHttpOnTlsPort when the client sent plain HTTP,
        EOFError when it left, ssl.SSLError when the handshake failed."""
        first = True
        while True:
            try:
                self._tls.do_handshake()
                self._send()
                return
            except ssl.SSLWantReadError:
                self._send()
                if self._eof:
                    raise EOFError("the client left during the TLS handshake") from None
                chunk = self._receive()
                if first and chunk and chunk[0] != TLS_HANDSHAKE_RECORD:
                    raise PlainHttpOnTlsPort() from None
                first = first and not chunk
            except ssl.SSLError:
                with contextlib.suppress(OSError):
                    self._send()  # the alert tells the client why
                raise

    def readinto(self, buffer: WriteableBuffer) -> int:
        target = memoryview(buffer).cast("B")
        while True:
            try:
                data = self._tls.read(len(target))
            except ssl.SSLWantReadError:
                self._send()
                if self._eof:
                    return 0
                self._receive()
                continue
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                return 0
            target[: len(data)] = data
            return len(data)

    def write(self, data: ReadableBuffer) -> int:
        payload = bytes(data)
        self._tls.write(payload)
        self._send()
        return len(payload)

    def close(self) -> None:
        if not self.closed:
            with contextlib.suppress(ssl.SSLError, OSError, ValueError):
                self._tls.unwrap()
            with contextlib.suppress(OSError):
                self._send()
        super().close()
