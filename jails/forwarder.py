"""The jail's only way out: a per-session Unix socket whose bytes go to the API server only.

The forwarder never parses the stream (kubectl and the API server speak TLS end to end through
it), so the learner's token is the only credential and RBAC is what confines them. The upstream
address is fixed when the session starts, from kubelab's own kubeconfig for the learner.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 16  # per session: kubectl opens one or two; a watch or two more
CHUNK = 64 * 1024
# All sessions of this process together: each connection holds two descriptors, and the web
# server must keep enough for its own sockets, however many learners open relay connections.
_open = 0


def total_limit() -> int:
    """Forwarded connections this process may hold at once: what its descriptor limit leaves
    after a reserve of 1,024 for everything else, two per connection, 64 to 8,192."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        soft = 1 << 20
    return max(64, min(8192, (soft - 1024) // 2))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()  # backpressure: never buffer more than the transport's limit
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(OSError, RuntimeError):
            if writer.can_write_eof():
                writer.write_eof()


class ApiForwarder:
    def __init__(self, socket_path: Path, upstream_host: str, upstream_port: int) -> None:
        self.socket_path = socket_path
        self.upstream = (upstream_host, upstream_port)
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self, *, owner_uid: int | None) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()
        self._server = await asyncio.start_unix_server(self._handle, path=str(self.socket_path))
        # Connecting needs write permission on the socket: the session's uid alone (and root).
        # The directory is root's, so nobody can swap the socket for something else meanwhile.
        if owner_uid is not None:
            os.chown(self.socket_path, owner_uid, owner_uid)
        os.chmod(self.socket_path, 0o600)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        global _open
        task = asyncio.current_task()
        if len(self._tasks) >= MAX_CONNECTIONS or task is None:
            log.info("terminal API forwarder: a session's %d connections are open", MAX_CONNECTIONS)
            writer.close()
            return
        if _open >= total_limit():
            log.warning("terminal API forwarder: %d connections open in all; refusing more", _open)
            writer.close()
            return
        _open += 1
        self._tasks.add(task)
        upstream_writer: asyncio.StreamWriter | None = None
        try:
            host, port = self.upstream
            try:
                up_reader, upstream = await asyncio.wait_for(
                    asyncio.open_connection(host, port), timeout=10
                )
            except (TimeoutError, OSError) as exc:
                log.warning("terminal API forwarder cannot reach %s:%s: %s", host, port, exc)
                return
            upstream_writer = upstream
            await asyncio.gather(_pipe(reader, upstream_writer), _pipe(up_reader, writer))
        except asyncio.CancelledError:
            # close() ends open connections by cancelling them; that is not an error (asyncio
            # would log a cancelled connection task as one).
            pass
        finally:
            _open -= 1
            self._tasks.discard(task)
            for w in (writer, upstream_writer):
                if w is not None:
                    w.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()
