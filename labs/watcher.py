"""The namespace watcher behind auto-checking (`manage.py labs watch`, one process per site).

One thread per kind lists and then watches that kind in every namespace through the gateway,
and keeps what it saw in one shared cache (``k8s.ObjectCache``; the nodes are watched for it
too). Events in a learner's namespace are debounced per namespace, leading and trailing edge: the
first change is graded at once (fast feedback), and one more grading follows ``debounce`` seconds
after the last change of a burst, so the final state of a multi-object `kubectl apply` is always
graded. ``namespace_changed`` bumps the open attempts' generations; an exercise the cache can
answer (no script check) is graded right here from the cache, on one of the grader threads (a
namespace always on the same one, so its gradings stay in order); the rest go to the Celery
task as before.

A last thread watches FailedCreate warnings (a Deployment scaled past the pod quota) and tells
the learner's pages why, live (``sandbox.services.denials_announce``); while such a notice is up,
every change in that namespace re-reads it, so it clears when the learner scales down.

Failures are sorted like everywhere else: an unreachable API server makes the threads back off
and relist (then every learner namespace seen in the list is graded once, so changes made during
the outage are not missed); a 410 Gone relists at once.
"""

from __future__ import annotations

import heapq
import logging
import queue
import signal
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import close_old_connections

import k8s
from labs.picture_feed import PictureFeed
from labs.services import learner_namespaces_get, namespace_changed
from sandbox.services import denials_announce

logger = logging.getLogger(__name__)

WATCHED_KINDS = k8s.kinds.WATCHED
# Kept in the cache beside the watched kinds, never a cue to grade: pods_on_nodes reads them.
CACHED_ONLY_KINDS = ("Node",)
# Kept in the cache and a cue to redraw a namespace's picture, never to grade: which Pods stand
# ready behind a Service.
PICTURED_ONLY_KINDS = ("EndpointSlice",)
GRADERS = 2
# The quiet that ends a burst. A grading from the cache costs a few milliseconds, so a burst's
# final state (kwok marking a new Pod Running a moment after it was made) is graded soon after;
# a grading queued to a worker costs a LIST and a hop, so there it waited longer.
CACHED_DEBOUNCE = 0.02
QUEUED_DEBOUNCE = 0.15
WATCH_SECONDS = 240
DENIAL_EVENTS = "type=Warning,reason=FailedCreate"
# A burst of refusals (a ReplicaSet's retries) is read once; a notice shows within about this.
DENIAL_COALESCE_SECONDS = 0.3
NAMESPACE_CACHE_SECONDS = 2.0


@dataclass
class Debouncer:
    """Per-namespace leading+trailing debounce; ``fire`` runs on the dispatcher thread."""

    debounce: float
    fire: Callable[[str], None]
    max_wait: float = 1.0
    _pending_since: dict[str, float] = field(default_factory=dict)
    _last_fire: dict[str, float] = field(default_factory=dict)
    _trailing: dict[str, float] = field(default_factory=dict)
    _heap: list[tuple[float, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _wake: threading.Event = field(default_factory=threading.Event)

    def changed(self, namespace: str, now: float | None = None) -> bool:
        """Record a change; returns True when it fires at once (leading edge)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            last = self._last_fire.get(namespace, -1e9)
            if now - last >= self.debounce and namespace not in self._trailing:
                self._last_fire[namespace] = now
                leading = True
            else:
                # The trailing edge moves with each change, but a busy namespace (a Job's ten
                # Pods) is still graded at least every max_wait seconds.
                since = self._pending_since.setdefault(namespace, now)
                due = min(now + self.debounce, since + self.max_wait)
                if self._trailing.get(namespace) != due:
                    self._trailing[namespace] = due
                    heapq.heappush(self._heap, (due, namespace))
                leading = False
        if leading:
            self.fire(namespace)
        else:
            self._wake.set()
        return leading

    def run_due(self, now: float | None = None) -> float:
        """Fire every trailing edge that is due; returns seconds until the next one."""
        now = time.monotonic() if now is None else now
        due_now: list[str] = []
        with self._lock:
            while self._heap and self._heap[0][0] <= now:
                due, namespace = heapq.heappop(self._heap)
                if self._trailing.get(namespace) == due:
                    del self._trailing[namespace]
                    self._pending_since.pop(namespace, None)
                    self._last_fire[namespace] = now
                    due_now.append(namespace)
            wait = self._heap[0][0] - now if self._heap else 1.0
        for namespace in due_now:
            self.fire(namespace)
        return max(0.0, wait)

    def loop(self, stop: threading.Event) -> None:
        while not stop.is_set():
            wait = self.run_due()
            self._wake.wait(timeout=min(wait, 1.0))
            self._wake.clear()


class NamespaceOwners:
    """namespace -> learner user id, from the sandbox app, refreshed at most every 2 s."""

    def __init__(self) -> None:
        self._owners: dict[str, int] = {}
        self._loaded = 0.0
        self._lock = threading.Lock()

    def owner(self, namespace: str) -> int | None:
        with self._lock:
            stale = time.monotonic() - self._loaded > NAMESPACE_CACHE_SECONDS
            if namespace in self._owners and not stale:
                return self._owners[namespace]
            if stale or namespace not in self._owners:
                close_old_connections()
                try:
                    self._owners = learner_namespaces_get()
                except Exception:  # the database may be restarting; keep the old map
                    logger.exception("could not read learner namespaces")
                self._loaded = time.monotonic()
            return self._owners.get(namespace)


class ChangedKinds:
    """Which kinds changed in each namespace since its last grading request, so a change
    regrades only the exercises that read what changed."""

    def __init__(self) -> None:
        self._pending: dict[str, set[str]] = {}
        self._last: dict[str, frozenset[str]] = {}
        self._lock = threading.Lock()

    def add(self, namespace: str, kind: str) -> None:
        with self._lock:
            self._pending.setdefault(namespace, set()).add(kind)

    def take(self, namespace: str) -> frozenset[str]:
        """The kinds changed since the last take. A trailing debounce can find none (the
        leading request was dispatched after the whole burst): then the last request's kinds,
        so the burst's final state is graded for what it changed."""
        with self._lock:
            kinds = frozenset(self._pending.pop(namespace, ()))
            if kinds:
                self._last[namespace] = kinds
            return kinds or self._last.get(namespace, frozenset())


class DenialNotices:
    """Which learner namespaces have a refusal to explain, and what their pages were last sent
    (a signature), so a notice is sent when it changes and not on every retry."""

    def __init__(self, owners: NamespaceOwners, stop: threading.Event) -> None:
        self.owners = owners
        self.stop = stop
        self.sent: dict[str, str] = {}  # namespace -> signature of the notice on its pages
        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()

    def refused(self, namespace: str) -> None:
        with self._lock:
            self._pending.add(namespace)
        self._wake.set()

    def changed(self, namespace: str) -> None:
        if namespace in self.sent:
            self.refused(namespace)

    def loop(self) -> None:
        while not self.stop.is_set():
            if not self._wake.wait(timeout=1.0):
                continue
            self.stop.wait(DENIAL_COALESCE_SECONDS)
            self._wake.clear()
            with self._lock:
                due, self._pending = self._pending, set()
            for namespace in sorted(due):
                self.announce(namespace)

    def announce(self, namespace: str) -> None:
        user_id = self.owners.owner(namespace)
        if user_id is None:
            self.sent.pop(namespace, None)
            return
        try:
            close_old_connections()
            signature, count = denials_announce(user_id=user_id, previous=self.sent.get(namespace))
        except Exception:  # the cluster or Redis may be away; the next change tries again
            logger.exception("could not announce denials in %s", namespace)
            return
        if count:
            self.sent[namespace] = signature
        else:
            self.sent.pop(namespace, None)


class Watcher:
    def __init__(
        self,
        *,
        debounce: float,
        log: Callable[[str], Any] = logger.info,
        cache: bool = True,
        graders: int = GRADERS,
    ) -> None:
        self.stop = threading.Event()
        self.owners = NamespaceOwners()
        self.log = log
        self.graders = graders
        self.requests: list[queue.Queue[str]] = [queue.Queue() for _ in range(graders)]
        self._pending: set[str] = set()
        self._pending_lock = threading.Lock()
        self.debouncer = Debouncer(debounce=debounce, fire=self.request)
        self.denials = DenialNotices(self.owners, self.stop)
        self.kinds = ChangedKinds()
        self.cache = (
            k8s.ObjectCache((*WATCHED_KINDS, *CACHED_ONLY_KINDS, *PICTURED_ONLY_KINDS))
            if cache
            else None
        )
        self.pictures = PictureFeed(self.cache, self.stop)
        self.fired = 0

    def request(self, namespace: str) -> None:
        # One namespace, one grader thread: its gradings run in the order of its changes. A
        # namespace already waiting for its grader is not queued twice: that grading will read
        # the cache as it is then, this change included.
        with self._pending_lock:
            if namespace in self._pending:
                return
            self._pending.add(namespace)
        self.requests[zlib.crc32(namespace.encode()) % self.graders].put(namespace)

    def next_request(self, requests: queue.Queue[str], *, timeout: float) -> str | None:
        try:
            namespace = requests.get(timeout=timeout)
        except queue.Empty:
            return None
        # From here on a change queues the namespace again: this grading may miss it.
        with self._pending_lock:
            self._pending.discard(namespace)
        return namespace

    # Runs on threads of their own so watch streams are never held up by the database.
    def dispatch(self, requests: queue.Queue[str]) -> None:
        while not self.stop.is_set():
            namespace = self.next_request(requests, timeout=1.0)
            if namespace is None:
                continue
            user_id = self.owners.owner(namespace)
            if user_id is None:
                continue
            try:
                close_old_connections()
                count = namespace_changed(
                    namespace=namespace,
                    user_id=user_id,
                    kinds=self.kinds.take(namespace) or None,
                    cache=self.cache,
                )
            except Exception:
                logger.exception("could not grade the changes in %s", namespace)
                continue
            self.fired += 1
            if count:
                logger.debug("%s changed: %d exercise(s) graded or queued", namespace, count)

    def event(self, namespace: str, kind: str | None = None) -> None:
        if namespace and self.owners.owner(namespace) is not None:
            if kind is not None:
                self.kinds.add(namespace, kind)
            self.debouncer.changed(namespace)
            self.denials.changed(namespace)
            self.pictures.changed(namespace)

    def pictured(self, namespace: str) -> None:
        """A change only the namespace's picture shows (an endpoint turned ready)."""
        if namespace and self.owners.owner(namespace) is not None:
            self.pictures.changed(namespace)

    def refusal(self, namespace: str) -> None:
        if namespace and self.owners.owner(namespace) is not None:
            self.denials.refused(namespace)

    def watch_kind(
        self,
        kind: str,
        field_selector: str | None = None,
        on_change: Callable[[str], None] | None = None,
    ) -> None:
        def seen(namespace: str) -> None:
            if on_change is not None:
                on_change(namespace)
            else:
                self.event(namespace, kind)

        cache = self.cache if self.cache is not None and kind in self.cache.kinds else None
        backoff = 0.5
        resource_version = ""
        relist = True
        while not self.stop.is_set():
            try:
                if relist:
                    items, resource_version = k8s.objects_list_all_namespaces(
                        kind=kind, field_selector=field_selector
                    )
                    if cache is not None:
                        cache.replace(kind, items, resource_version)
                    # Whatever changed while we were not watching gets graded once.
                    for namespace in {
                        str((item.get("metadata") or {}).get("namespace") or "") for item in items
                    }:
                        seen(namespace)
                    relist = False
                for change in k8s.objects_watch(
                    kind=kind,
                    resource_version=resource_version,
                    timeout_seconds=WATCH_SECONDS,
                    field_selector=field_selector,
                    with_objects=cache is not None,
                ):
                    if self.stop.is_set():
                        return
                    if change["resourceVersion"]:
                        resource_version = change["resourceVersion"]
                    # The cache first: the grading this change cues must find it there.
                    if cache is not None:
                        cache.apply(kind, change)
                    # A deleted object is a change to grade; a deleted Event is no refusal.
                    if change["type"] == "BOOKMARK" or (
                        change["type"] == "DELETED" and on_change is not None
                    ):
                        continue
                    seen(change["namespace"])
                backoff = 0.5
            except k8s.WatchExpired:
                relist = True
                if cache is not None:
                    cache.unsync(kind)
            except k8s.ClusterError as exc:
                logger.warning("watching %s: %s; retrying in %.1fs", kind, exc, backoff)
                relist = True
                if cache is not None:
                    cache.unsync(kind)
                self.stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)

    def start(self) -> None:
        """Start every watch and the dispatcher (daemon threads); watch_forever waits."""
        threads = [
            threading.Thread(
                target=self.dispatch, args=(requests,), name=f"labs-grader-{n}", daemon=True
            )
            for n, requests in enumerate(self.requests)
        ]
        threads.append(
            threading.Thread(
                target=self.debouncer.loop, args=(self.stop,), name="labs-debounce", daemon=True
            )
        )
        threads += [
            threading.Thread(
                target=self.watch_kind, args=(kind,), name=f"watch-{kind}", daemon=True
            )
            for kind in WATCHED_KINDS
        ]
        if self.cache is not None:
            threads += [
                threading.Thread(
                    target=self.watch_kind,
                    args=(kind, None, lambda namespace: None),
                    name=f"watch-{kind}",
                    daemon=True,
                )
                for kind in CACHED_ONLY_KINDS
            ]
        threads += [
            threading.Thread(
                target=self.watch_kind,
                args=(kind, None, self.pictured),
                name=f"watch-{kind}",
                daemon=True,
            )
            for kind in PICTURED_ONLY_KINDS
        ]
        threads += self.pictures.threads()
        threads += [
            threading.Thread(target=self.denials.loop, name="labs-denials", daemon=True),
            threading.Thread(
                target=self.watch_kind,
                args=("Event", DENIAL_EVENTS, self.refusal),
                name="watch-denials",
                daemon=True,
            ),
        ]
        for thread in threads:
            thread.start()
        self.log(
            f"labs watch: watching {len(WATCHED_KINDS)} kinds in learner namespaces "
            f"(debounce {self.debouncer.debounce:.2f}s, "
            f"{'grading from a shared cache' if self.cache is not None else 'no cache'}, "
            f"{self.graders} grader threads)"
        )


def watch_forever(
    *, debounce: float, log: Callable[[str], Any] = logger.info, cache: bool = True
) -> None:
    watcher = Watcher(debounce=debounce, log=log, cache=cache)
    signalled: list[int] = []

    # The handler only records the signal. It once called watcher.stop.set(), which takes the
    # Event's lock; a signal arriving while the main thread held that same lock (inside
    # Event.wait) deadlocked the process for good, and `scripts/stop` left it running.
    def stop(signum: int, frame: Any) -> None:
        signalled.append(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    watcher.start()
    while not signalled and not watcher.stop.is_set():
        time.sleep(0.2)
    watcher.stop.set()
    log("labs watch: stopped")
