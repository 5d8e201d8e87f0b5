"""The watcher's object cache (k8s.cache): what it answers, and when it refuses to answer."""

from __future__ import annotations

from typing import Any

from k8s.cache import ObjectCache


def pod(name: str, namespace: str = "ns-a", version: str = "1", **extra: Any) -> dict[str, Any]:
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "resourceVersion": version,
            "managedFields": [{"manager": "kubectl"}],
        },
        **extra,
    }


def event(kind: str, obj: dict[str, Any], size: int = 100) -> dict[str, Any]:
    return {
        "type": kind,
        "object": obj,
        "size": size,
        "resourceVersion": obj["metadata"]["resourceVersion"],
    }


def names(found: dict[str, list[dict[str, Any]]] | None, kind: str = "Pod") -> list[str]:
    assert found is not None
    return [o["metadata"]["name"] for o in found[kind]]


def test_nothing_is_answered_before_the_first_list() -> None:
    cache = ObjectCache(["Pod", "Service"])
    assert cache.read("ns-a", ["Pod"]) is None
    cache.replace("Pod", [pod("b"), pod("a"), pod("c", namespace="ns-b")], "10")
    # Sorted by name, as the API server lists one namespace; another namespace's objects apart.
    assert names(cache.read("ns-a", ["Pod"])) == ["a", "b"]
    assert names(cache.read("ns-b", ["Pod"])) == ["c"]
    assert cache.read("empty", ["Pod"]) == {"Pod": []}
    # A kind not synced, or not cached at all, makes the whole read unanswerable.
    assert cache.read("ns-a", ["Pod", "Service"]) is None
    assert cache.read("ns-a", ["Pod", "ConfigMap"]) is None


def test_watch_events_add_change_and_delete_and_managed_fields_are_left_out() -> None:
    cache = ObjectCache(["Pod"])
    cache.replace("Pod", [], "1")
    cache.apply("Pod", event("ADDED", pod("kuard", version="2")))
    cache.apply("Pod", event("MODIFIED", pod("kuard", version="3", status={"phase": "Running"})))
    found = cache.read("ns-a", ["Pod"])
    assert found is not None
    (kuard,) = found["Pod"]
    assert kuard["status"] == {"phase": "Running"}
    assert kuard["metadata"]["resourceVersion"] == "3"
    assert "managedFields" not in kuard["metadata"]
    cache.apply("Pod", {"type": "BOOKMARK", "resourceVersion": "4", "object": {}})
    assert names(cache.read("ns-a", ["Pod"])) == ["kuard"]
    cache.apply("Pod", event("DELETED", pod("kuard", version="5")))
    assert names(cache.read("ns-a", ["Pod"])) == []
    assert cache.stats() == {"Pod": 0}


def test_a_broken_watch_answers_nothing_until_the_next_list() -> None:
    cache = ObjectCache(["Pod"])
    cache.replace("Pod", [pod("old")], "1")
    cache.unsync("Pod")
    assert cache.read("ns-a", ["Pod"]) is None
    assert not cache.synced("Pod")
    # The relist is the whole truth: what was deleted meanwhile is gone.
    cache.replace("Pod", [pod("new")], "9")
    assert names(cache.read("ns-a", ["Pod"])) == ["new"]


def test_an_object_too_big_to_keep_sends_its_namespace_to_the_cluster_until_it_is_gone() -> None:
    cache = ObjectCache(["Pod"], max_object_bytes=1000)
    cache.replace("Pod", [pod("small"), pod("huge", data="x" * 2000)], "1")
    assert cache.read("ns-a", ["Pod"]) is None  # the caller reads the namespace live
    cache.apply("Pod", event("ADDED", pod("other", namespace="ns-b")))
    assert names(cache.read("ns-b", ["Pod"])) == ["other"]  # only that namespace is affected
    cache.apply("Pod", event("MODIFIED", pod("huge", version="2"), size=200))  # shrunk
    assert names(cache.read("ns-a", ["Pod"])) == ["huge", "small"]
    cache.apply("Pod", event("MODIFIED", pod("huge", version="3"), size=5000))
    assert cache.read("ns-a", ["Pod"]) is None
    cache.apply("Pod", event("DELETED", pod("huge", version="4"), size=5000))
    assert names(cache.read("ns-a", ["Pod"])) == ["small"]
    assert cache.stats() == {"Pod": 2}
