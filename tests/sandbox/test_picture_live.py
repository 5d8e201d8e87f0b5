"""The namespace picture on the real API server, through the real ASGI stack and Redis: the
watcher's shared watch draws a scale-up and a relabel on the learner's socket, an instructor
of the learner's class sees the same picture, and nobody else can open it or its objects."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from accounts.roles import Role
from classes.models import Classroom
from classes.services import classroom_create, classroom_join, student_remove
from kubelab.asgi import application
from labs import watcher as watcher_module
from tests.fixtures.classes import client_for, person, session_cookie
from tests.fixtures.learners import Learner

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("worker_thread_connections_closed"),
]
ORIGIN = (b"origin", b"http://127.0.0.1:8000")

REPLICASET = """
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: kuard}
spec:
  replicas: 1
  selector: {matchLabels: {app: kuard}}
  template:
    metadata: {labels: {app: kuard}}
    spec:
      containers:
      - name: kuard
        image: gcr.io/kuar-demo/kuard-amd64:blue
        resources: {requests: {cpu: 10m, memory: 16Mi}, limits: {cpu: 100m, memory: 64Mi}}
"""


@pytest.fixture
def picture_watcher(monkeypatch: pytest.MonkeyPatch) -> Iterator[watcher_module.Watcher]:
    """The watcher's shared watches feeding its cache and its picture feed, and nothing that
    grades (graders would touch the test database from threads of their own)."""
    monkeypatch.setattr(watcher_module, "WATCH_SECONDS", 3)
    watcher = watcher_module.Watcher(debounce=0.1, graders=1)
    kinds = (
        *watcher_module.WATCHED_KINDS,
        *watcher_module.CACHED_ONLY_KINDS,
        *watcher_module.PICTURED_ONLY_KINDS,
    )
    threads = [
        threading.Thread(
            target=watcher.watch_kind, args=(kind, None, watcher.pictures.changed), daemon=True
        )
        for kind in kinds
    ]
    threads += watcher.pictures.threads()
    for thread in threads:
        thread.start()
    yield watcher
    watcher.stop.set()
    for thread in threads:
        thread.join(timeout=10)


async def socket(path: str, user: Any | None) -> WebsocketCommunicator:
    headers = [(b"host", b"127.0.0.1"), ORIGIN]
    if user is not None:
        headers.append((b"cookie", await sync_to_async(session_cookie)(user)))
    return WebsocketCommunicator(application, path, headers=headers)


async def picture_until(
    comm: WebsocketCommunicator, wanted: Callable[[dict[str, Any]], bool], *, within: float = 20
) -> dict[str, Any]:
    deadline = time.monotonic() + within
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            event = await comm.receive_json_from(timeout=max(0.1, deadline - time.monotonic()))
        except TimeoutError:
            break
        if event.get("type") == "picture":
            last = event
            if wanted(event):
                return event
    raise AssertionError(f"no such picture came; the last was {last}")


def pods(picture: dict[str, Any]) -> list[dict[str, Any]]:
    return [o for o in picture["objects"] if o["kind"] == "Pod" and o["state"] != "deleting"]


def owned(picture: dict[str, Any], owner: str) -> set[str]:
    return {e["to"] for e in picture["edges"] if e["kind"] == "owns" and e["from"] == owner}


def on_nodes(picture: dict[str, Any]) -> set[str]:
    return {e["from"] for e in picture["edges"] if e["kind"] == "runs-on"}


async def test_a_scale_and_a_relabel_are_drawn_from_the_shared_watch(
    make_learner: Callable[..., Learner], picture_watcher: watcher_module.Watcher
) -> None:
    learner = await sync_to_async(make_learner)()
    comm = await socket("/ws/picture/", learner.user)
    connected, _ = await comm.connect()
    assert connected
    first = await picture_until(comm, lambda p: True)
    assert first["namespace"] == learner.namespace and pods(first) == []

    def kubectl(*args: str, input: str | None = None) -> None:
        done = learner.kubectl(*args, input=input)
        assert done.returncode == 0, done.stderr

    await sync_to_async(kubectl)("apply", "-f", "-", input=REPLICASET)
    one = await picture_until(comm, lambda p: len(owned(p, "ReplicaSet/kuard")) == 1)
    assert one["revision"] >= first["revision"]

    await sync_to_async(kubectl)("scale", "replicaset", "kuard", "--replicas=3")
    three = await picture_until(
        comm,
        lambda p: (
            len(owned(p, "ReplicaSet/kuard")) == 3 and owned(p, "ReplicaSet/kuard") <= on_nodes(p)
        ),
    )
    by_id = {o["id"]: o for o in three["objects"]}
    assert all(by_id[pod]["node"] for pod in owned(three, "ReplicaSet/kuard"))
    assert by_id["ReplicaSet/kuard"]["selector"] == "app=kuard"
    assert by_id["ReplicaSet/kuard"]["summary"].endswith("ready")  # worded for this socket

    quarantined = sorted(owned(three, "ReplicaSet/kuard"))[0].split("/", 1)[1]
    await sync_to_async(kubectl)("label", "pod", quarantined, "app=debug", "--overwrite")
    relabelled = await picture_until(
        comm,
        lambda p: (
            f"Pod/{quarantined}" not in owned(p, "ReplicaSet/kuard")
            and len(owned(p, "ReplicaSet/kuard")) == 3
            and len(pods(p)) == 4
        ),
    )
    loose = {o["id"]: o for o in relabelled["objects"]}[f"Pod/{quarantined}"]
    assert loose["labels"]["app"] == "debug"
    assert picture_watcher.pictures.sent > 0  # the shared watch drew them, not a poll
    await comm.disconnect()


def _leave(class_id: int, student_id: int) -> None:
    student_remove(classroom=Classroom.objects.get(pk=class_id), user_id=student_id)


def _code(class_id: int) -> str:
    return str(Classroom.objects.get(pk=class_id).join_code)


def _class_of(student: Any) -> tuple[Any, Any, int]:
    teacher = person("teacher", role=Role.INSTRUCTOR)
    stranger = person("other-teacher", role=Role.INSTRUCTOR)
    classroom = classroom_create(owner=teacher, name="Watching", labs=["pods"])
    classroom_join(user=student, code=classroom.join_code)
    return teacher, stranger, classroom.pk


async def test_only_the_learner_and_their_instructors_see_the_picture_and_its_objects(
    make_learner: Callable[..., Learner],
) -> None:
    learner = await sync_to_async(make_learner)()
    other = await sync_to_async(make_learner)()
    teacher, stranger, class_id = await sync_to_async(_class_of)(learner.user)
    await sync_to_async(learner.kubectl)("create", "configmap", "settings", "--from-literal=a=1")
    path = f"/ws/classes/{class_id}/students/{learner.user.pk}/picture/"

    comm = await socket(path, teacher)
    assert (await comm.connect())[0]
    shown = await picture_until(comm, lambda p: True)
    assert shown["namespace"] == learner.namespace
    assert "ConfigMap/settings" in {o["id"] for o in shown["objects"]}
    # The learner's own picture stays open when their class changes; the instructor's closes.
    own = await socket("/ws/picture/", learner.user)
    assert (await own.connect())[0]
    await picture_until(own, lambda p: True)
    await sync_to_async(_leave)(class_id, learner.user.pk)
    closed = await comm.receive_output(timeout=10)
    while closed["type"] != "websocket.close":
        closed = await comm.receive_output(timeout=10)
    assert closed["code"] == 4404
    assert await own.receive_nothing(timeout=1)
    await own.disconnect()
    await sync_to_async(classroom_join)(
        user=learner.user, code=await sync_to_async(_code)(class_id)
    )

    # Another instructor, another learner, the learner's own page, anonymous: refused.
    for user, code in ((stranger, 4404), (other.user, 4404), (learner.user, 4404), (None, 4401)):
        connected, closed = await (await socket(path, user)).connect()
        assert not connected and closed == code, (user, closed)
    # A student id that is not in the class, for the class's own instructor.
    elsewhere = await socket(f"/ws/classes/{class_id}/students/{other.user.pk}/picture/", teacher)
    connected, closed = await elsewhere.connect()
    assert not connected and closed == 4404

    def pages() -> None:
        url = f"/classes/{class_id}/students/{learner.user.pk}/watch/"
        detail = f"{url}object/?kind=ConfigMap&name=settings"
        assert client_for(teacher).get(url).status_code == 200
        answer = client_for(teacher).get(detail)
        assert answer.status_code == 200, answer.content[:300]
        assert "a: '1'" in answer.json()["yaml"]
        for user in (stranger, other.user, learner.user):
            assert client_for(user).get(url).status_code == 404
            assert client_for(user).get(detail).status_code == 404
        # The learner's own view reads only their own namespace, whatever they ask for.
        own = client_for(learner.user).get("/sandbox/picture/object?kind=ConfigMap&name=settings")
        assert own.status_code == 200 and own.json()["name"] == "settings"
        theirs = client_for(other.user).get("/sandbox/picture/object?kind=ConfigMap&name=settings")
        assert theirs.status_code == 404
        for query in ("kind=Secret&name=x", "kind=ConfigMap&name=a,involvedObject.name=b",
                      "kind=Namespace&name=kube-system"):  # fmt: skip
            assert (
                client_for(learner.user).get(f"/sandbox/picture/object?{query}").status_code == 404
            )

    await sync_to_async(pages)()


async def test_opening_the_picture_over_and_over_is_rate_limited(
    make_learner: Callable[..., Learner], settings: Any
) -> None:
    learner = await sync_to_async(make_learner)()
    settings.KUBELAB_RATE_LIMITS = {**settings.KUBELAB_RATE_LIMITS, "picture": "2/m"}
    for _ in range(2):
        comm = await socket("/ws/picture/", learner.user)
        assert (await comm.connect())[0]
        assert (await picture_until(comm, lambda p: True))["namespace"] == learner.namespace
        await comm.disconnect()
    limited = await socket("/ws/picture/", learner.user)
    assert (await limited.connect())[0]
    said = await limited.receive_json_from(timeout=10)
    assert said["type"] == "picture.unavailable" and "very often" in said["reason"]
    assert (await limited.receive_output(timeout=5))["code"] == 1013  # the page tries later
