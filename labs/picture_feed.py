"""The watcher's feed of namespace pictures (sandbox.pictures): after a change in a learner's
namespace, the picture is built from the watcher's shared cache and sent to the pages showing
it, on a thread of its own so the watch streams and the graders never wait for it.

Changes are debounced per namespace on both edges, like grading but shorter: the first change
is drawn at once, and a burst (a scale to 3: three Pods made, scheduled, started, ready, and
their ReplicaSet's status) is drawn again 50 ms after its last change, and at least every 300 ms
while it lasts, so the page animates each step and always ends on the final state.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from channels.layers import get_channel_layer
from django.db import close_old_connections

import k8s
from sandbox.pictures import picture_publish

logger = logging.getLogger(__name__)

PICTURE_DEBOUNCE = 0.05
PICTURE_MAX_WAIT = 0.3


class PictureFeed:
    def __init__(self, cache: k8s.ObjectCache | None, stop: threading.Event) -> None:
        # Imported here: the watcher's Debouncer lives beside the watcher.
        from labs.watcher import Debouncer

        self.cache = cache
        self.stop = stop
        self.requests: queue.Queue[str] = queue.Queue()
        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self.debouncer = Debouncer(
            debounce=PICTURE_DEBOUNCE, fire=self._request, max_wait=PICTURE_MAX_WAIT
        )
        self.sent = 0

    def changed(self, namespace: str) -> None:
        self.debouncer.changed(namespace)

    def _request(self, namespace: str) -> None:
        # A namespace already waiting is not queued twice: its picture is read when it is built.
        with self._lock:
            if namespace in self._pending:
                return
            self._pending.add(namespace)
        self.requests.put(namespace)

    def loop(self) -> None:
        # One event loop for the thread's whole life: async_to_sync per picture built a loop
        # each time, which cost the watcher about 2 ms of CPU per send against 0.3 ms
        # (bench/picture_latency).
        events = asyncio.new_event_loop()
        layer = get_channel_layer()

        def send(group: str, event: dict[str, Any]) -> None:
            if layer is not None:
                events.run_until_complete(
                    layer.group_send(group, {"type": "group.event", "event": event})
                )

        try:
            self._serve(send)
        finally:
            events.close()

    def _serve(self, send: Callable[[str, dict[str, Any]], None]) -> None:
        while not self.stop.is_set():
            try:
                namespace = self.requests.get(timeout=1.0)
            except queue.Empty:
                continue
            with self._lock:
                self._pending.discard(namespace)
            try:
                close_old_connections()
                if picture_publish(namespace=namespace, cache=self.cache, send=send):
                    self.sent += 1
            except Exception:  # the cluster or Redis may be away; the next change tries again
                logger.exception("could not send the picture of %s", namespace)

    def threads(self) -> list[threading.Thread]:
        return [
            threading.Thread(target=self.loop, name="labs-pictures", daemon=True),
            threading.Thread(
                target=self.debouncer.loop, args=(self.stop,), name="labs-pictures-debounce",
                daemon=True,
            ),
        ]  # fmt: skip
