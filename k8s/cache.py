"""A cache of objects fed by one shared list-and-watch per kind (what client-go calls an
informer's store), so a namespace can be read without asking the API server. Pure: the caller
runs the lists and watches (labs.watcher) and feeds them in; no thread, no client here.

A kind answers only while it is *synced*: listed, and its watch not broken since. Between a
broken watch and the next list, events may have been missed, so the cache says "ask the API
server" (None) rather than answer from an old picture. The memory is bounded per object: one
bigger than ``max_object_bytes`` (a learner's 1 MiB ConfigMap) is not kept, and its namespace
answers None for that kind until the object is gone, so the caller reads it live.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]
MAX_OBJECT_BYTES = 256 * 1024


def object_stripped(obj: Obj) -> Obj:
    """The object as `kubectl get -o json` shows it: without managedFields (kubectl hides them,
    and they are often half of an object's size). Shallow: the rest is shared, never changed."""
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict) or "managedFields" not in metadata:
        return obj
    return {**obj, "metadata": {k: v for k, v in metadata.items() if k != "managedFields"}}


def _meta(obj: Obj) -> tuple[str, str]:
    metadata = obj.get("metadata") or {}
    return str(metadata.get("namespace") or ""), str(metadata.get("name") or "")


@dataclass
class _KindStore:
    synced: bool = False
    resource_version: str = ""
    objects: dict[str, dict[str, Obj]] = field(default_factory=dict)  # namespace -> name -> obj
    too_big: dict[str, set[str]] = field(default_factory=dict)  # namespace -> names not kept


class ObjectCache:
    """namespace -> kind -> objects, for the kinds it was made for (cluster-scoped kinds, the
    nodes, live under the namespace "")."""

    def __init__(self, kinds: Iterable[str], *, max_object_bytes: int = MAX_OBJECT_BYTES) -> None:
        self._stores = {kind: _KindStore() for kind in kinds}
        self.max_object_bytes = max_object_bytes
        self._lock = threading.Lock()

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset(self._stores)

    def replace(self, kind: str, items: list[Obj], resource_version: str) -> None:
        """A fresh list: the whole kind, as of resource_version. Marks the kind synced."""
        store = _KindStore(synced=True, resource_version=resource_version)
        for item in items:
            # A list's items carry no size of their own; this runs only on (re)lists.
            self._put(store, item, len(json.dumps(item, separators=(",", ":"))))
        with self._lock:
            self._stores[kind] = store

    def apply(self, kind: str, change: dict[str, Any]) -> None:
        """One watch event: {"type", "object", "size", "resourceVersion"} from
        k8s.objects_watch(with_objects=True). Bookmarks only move the version."""
        with self._lock:
            store = self._stores[kind]
            if change.get("resourceVersion"):
                store.resource_version = str(change["resourceVersion"])
            obj = change.get("object")
            if change["type"] == "BOOKMARK" or not isinstance(obj, dict):
                return
            if change["type"] == "DELETED":
                namespace, name = _meta(obj)
                store.objects.get(namespace, {}).pop(name, None)
                store.too_big.get(namespace, set()).discard(name)
                return
            self._put(store, obj, int(change.get("size") or 0))

    def _put(self, store: _KindStore, obj: Obj, size: int) -> None:
        namespace, name = _meta(obj)
        if size > self.max_object_bytes:
            store.objects.get(namespace, {}).pop(name, None)
            store.too_big.setdefault(namespace, set()).add(name)
            return
        store.too_big.get(namespace, set()).discard(name)
        store.objects.setdefault(namespace, {})[name] = object_stripped(obj)

    def unsync(self, kind: str) -> None:
        """The kind's watch broke: answer nothing from it until the next replace()."""
        with self._lock:
            self._stores[kind].synced = False

    def synced(self, kind: str) -> bool:
        with self._lock:
            store = self._stores.get(kind)
            return store is not None and store.synced

    def read(self, namespace: str, kinds: Iterable[str]) -> dict[str, list[Obj]] | None:
        """Every object of each kind in the namespace, as objects_list returns them (sorted by
        name, as the API server lists), or None when any kind cannot be answered from here: not
        cached, not synced, or holding an object too big to keep."""
        found: dict[str, list[Obj]] = {}
        with self._lock:
            for kind in sorted(set(kinds)):
                store = self._stores.get(kind)
                if store is None or not store.synced or store.too_big.get(namespace):
                    return None
                objects = store.objects.get(namespace, {})
                found[kind] = [objects[name] for name in sorted(objects)]
        return found

    def versions(self, kinds: Iterable[str]) -> list[str]:
        """Each kind's resourceVersion: what a read() of those kinds is as of."""
        with self._lock:
            return [self._stores[kind].resource_version for kind in kinds if kind in self._stores]

    def stats(self) -> dict[str, int]:
        """Objects held per kind (for the watcher's log and the bench)."""
        with self._lock:
            return {
                kind: sum(len(names) for names in store.objects.values())
                for kind, store in self._stores.items()
            }
