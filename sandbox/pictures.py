"""The namespace picture's service side: which pictures are open, reading one, and sending it.

A picture socket marks its namespace *wanted* (a key in the shared cache, renewed by the page's
pings, gone a minute after the last); the watcher (labs.watcher), which already follows every
learner namespace for grading, builds the picture from its shared cache after a change and
sends it to the namespace's group only when it is wanted. So an open picture costs no request
to the API server per change, and a closed one costs a cache lookup per burst of changes.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import yaml
from django.core.cache import cache as shared_cache

import k8s
from kubelab.events import group_event_send_now
from sandbox.picture import DRAWN_KINDS, PICTURE_KINDS, picture_build, revision_of
from sandbox.selectors import event_time

logger = logging.getLogger(__name__)

WANTED_SECONDS = 60


def picture_group(namespace: str) -> str:
    """The channel-layer group of one namespace's open pictures (the learner's, instructors')."""
    return f"picture.{namespace}"


def _wanted_key(namespace: str) -> str:
    return f"picture:wanted:{namespace}"


def picture_wanted_mark(namespace: str) -> None:
    shared_cache.set(_wanted_key(namespace), 1, timeout=WANTED_SECONDS)


def picture_unwant(namespace: str) -> None:
    """Forget that the namespace's picture is open (the bench, between its cases)."""
    shared_cache.delete(_wanted_key(namespace))


def picture_wanted(namespace: str) -> bool:
    try:
        return shared_cache.get(_wanted_key(namespace)) is not None
    except Exception:  # the cache is away: better a picture nobody sees than one missed
        logger.warning("could not read whether %s's picture is open", namespace)
        return True


def picture_read(*, namespace: str, cache: k8s.ObjectCache | None = None) -> dict[str, Any]:
    """The namespace's picture: from the watcher's cache when it can answer (synced), else read
    from the API server (the page's first picture, or a watcher without a cache). Raises
    k8s.ClusterError when the cluster cannot be read."""
    objects: dict[str, list[Any]] | None = None
    nodes: list[Any] | None = None
    versions: list[str] = []
    if cache is not None:
        objects = cache.read(namespace, PICTURE_KINDS)
        cached_nodes = cache.read("", ("Node",))
        if objects is not None and cached_nodes is not None:
            nodes = cached_nodes["Node"]
            versions = cache.versions(PICTURE_KINDS)
        else:
            objects = None
    if objects is None or nodes is None:
        objects, versions = k8s.objects_list_versioned(namespace=namespace, kinds=PICTURE_KINDS)
        nodes = k8s.nodes_list()
    return picture_build(
        namespace=namespace, objects=objects, nodes=nodes, revision=revision_of(versions)
    )


Send = Callable[[str, dict[str, Any]], None]


def picture_publish(
    *, namespace: str, cache: k8s.ObjectCache | None = None, send: Send | None = None
) -> bool:
    """Send the namespace's picture to its open pages, if any is open; True when sent.
    `send(group, event)`: how (the watcher keeps one event loop for it), by default
    kubelab.events.group_event_send_now."""
    if not picture_wanted(namespace):
        return False
    picture = picture_read(namespace=namespace, cache=cache)
    if send is None:
        group_event_send_now(group=picture_group(namespace), event=picture)
    else:
        send(picture_group(namespace), picture)
    return True


# What a picture's object may be opened as: its drawn kinds and the nodes.
_OPENABLE = {kind: k8s.kind_get(kind) for kind in (*DRAWN_KINDS, "Node")}
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
MAX_EVENTS = 20


def picture_object_details(*, namespace: str, kind: str, name: str) -> dict[str, Any] | None:
    """One object of the namespace's picture: its YAML (without managedFields, as kubectl
    shows it) and its newest events. None when the kind is not one the picture draws, the name
    is not a Kubernetes name, or the object is gone. The namespace is the caller's to check:
    this reads with kubelab's own credentials."""
    info = _OPENABLE.get(kind)
    if info is None or not _NAME.match(name):
        return None
    obj = k8s.object_get(
        api_version=info.api_version,
        kind=kind,
        name=name,
        namespace=namespace if info.namespaced else None,
    )
    if obj is None:
        return None
    events: list[dict[str, Any]] = []
    if info.namespaced:
        found = k8s.objects_query(
            api_version="v1",
            kind="Event",
            namespace=namespace,
            field_selector=f"involvedObject.kind={kind},involvedObject.name={name}",
        )
        found.sort(key=event_time, reverse=True)
        events = [
            {
                "type": str(e.get("type") or ""),
                "reason": str(e.get("reason") or ""),
                "message": str(e.get("message") or ""),
                "count": int(e.get("count") or 1),
                "last_seen": event_time(e),
            }
            for e in found[:MAX_EVENTS]
        ]
    stripped = k8s.object_stripped(obj)
    return {
        "kind": kind,
        "name": name,
        "yaml": yaml.safe_dump(stripped, sort_keys=False, allow_unicode=True),
        "events": events,
    }
