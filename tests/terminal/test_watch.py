"""Over the shoulder (issue 21): an instructor of the learner's class watches the learner's live
shell through the real ASGI stack and a real jail. They see what the learner sees, nothing they
send reaches the shell or its size, the learner is told while they watch, and nobody else can
watch at all."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import websocket
from asgiref.sync import sync_to_async

from accounts.roles import Role
from classes.models import Classroom
from classes.services import classroom_create, classroom_join, student_remove
from tests.fixtures.classes import client_for, person, session_cookie
from tests.fixtures.shells import ShellLearner
from tests.terminal.helpers import WsTerminal, plain
from tests.terminal.test_daemon import Screen, daemon_and_two_webs  # noqa: F401 (a fixture)

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("worker_thread_connections_closed"),
]
PROMPT = r"learner@kubelab:~\$ $"


def _class(student: Any) -> tuple[Any, Any, Classroom]:
    teacher = person("teacher", role=Role.INSTRUCTOR)
    stranger = person("stranger", role=Role.INSTRUCTOR)
    classroom = classroom_create(owner=teacher, name="Over the shoulder", labs=["pods"])
    classroom_join(user=student, code=classroom.join_code)
    return teacher, stranger, classroom


def _watched_notice(student: Any) -> dict[str, Any]:
    return dict(json.loads(client_for(student).get("/classes/watched/").content))


async def test_an_instructor_sees_the_shell_and_cannot_type_into_it(
    make_shell_learner: Callable[[str], ShellLearner],
) -> None:
    learner = await sync_to_async(make_shell_learner)("watched")
    teacher, _, classroom = await sync_to_async(_class)(learner.user)
    tab = WsTerminal(learner.cookie)
    assert (await tab.connect())[0]
    await tab.wait_for(PROMPT)
    await tab.send("resize", 30, 100)

    path = f"/ws/classes/{classroom.pk}/students/{learner.user.pk}/terminal/"
    watcher = WsTerminal(await sync_to_async(session_cookie)(teacher), path=path)
    assert (await watcher.connect())[0]
    watching = await watcher.wait_message("status")
    assert watching[1] == "watching" and watching[2] == "30x100"
    # The scrollback comes first: the watcher sees the prompt the learner sees.
    await watcher.wait_for(PROMPT)

    notice = await sync_to_async(_watched_notice)(learner.user)
    assert notice["watchers"] == [teacher.get_username()]
    assert teacher.get_username() in notice["notice"]

    start, seen = len(tab.output), len(watcher.output)
    await tab.type("echo shoulder-$((6*7))\r")
    await tab.wait_for("shoulder-42", start=start)
    await watcher.wait_for("shoulder-42", start=seen)

    # Keystrokes, a resize and a raw frame from the watcher reach nothing.
    await watcher.send("stdin", "touch ~/typed-by-watcher\r")
    await watcher.send("resize", 5, 20)
    await watcher.send_raw(text='["stdin", "touch ~/raw-frame\\r"]')
    ignored = await watcher.wait_message("status")
    assert ignored[1:3] == ["ignored", "read-only"]
    start = len(tab.output)
    await tab.type("ls ~; stty size\r")
    text = await tab.wait_for(r"30 100", start=start)
    assert "typed-by-watcher" not in text and "raw-frame" not in text
    assert "typed-by-watcher" not in plain(tab.output)

    await watcher.comm.disconnect()
    assert await sync_to_async(_watched_notice)(learner.user) == {"watchers": [], "notice": ""}
    await tab.comm.disconnect()


async def test_nobody_else_may_watch_and_a_class_left_ends_the_watch(
    make_shell_learner: Callable[[str], ShellLearner],
) -> None:
    learner = await sync_to_async(make_shell_learner)("watched2")
    classmate = await sync_to_async(make_shell_learner)("classmate")
    teacher, stranger, classroom = await sync_to_async(_class)(learner.user)
    await sync_to_async(classroom_join)(user=classmate.user, code=classroom.join_code)
    path = f"/ws/classes/{classroom.pk}/students/{learner.user.pk}/terminal/"

    # Before the learner opens a terminal there is nothing to watch, and none is started.
    early = WsTerminal(await sync_to_async(session_cookie)(teacher), path=path)
    assert (await early.connect())[0]
    assert (await early.wait_message("status"))[1] == "absent"
    assert (await early.comm.receive_output(timeout=5))["code"] == 4410

    tab = WsTerminal(learner.cookie)
    assert (await tab.connect())[0]
    await tab.wait_for(PROMPT)
    for user in (stranger, classmate.user, learner.user):
        refused = WsTerminal(await sync_to_async(session_cookie)(user), path=path)
        assert await refused.connect() == (False, 4404)
    assert await WsTerminal(None, path=path).connect() == (False, 4401)

    watcher = WsTerminal(await sync_to_async(session_cookie)(teacher), path=path)
    assert (await watcher.connect())[0]
    await watcher.wait_for(PROMPT)
    # The learner leaves the class: the watching socket checks again and closes.
    await sync_to_async(student_remove)(classroom=classroom, user_id=learner.user.pk)
    closed = await watcher.comm.receive_output(timeout=10)
    while closed["type"] != "websocket.close":
        closed = await watcher.comm.receive_output(timeout=10)
    assert closed["code"] == 4404
    await tab.comm.disconnect()


def test_a_shell_in_the_terminal_daemon_is_watched_through_another_web_process(
    make_shell_learner: Callable[[str], ShellLearner],
    daemon_and_two_webs: tuple[str, list[Any]],  # noqa: F811 (the fixture imported above)
) -> None:
    _, started = daemon_and_two_webs
    web_a, web_b = started[1], started[2]
    learner = make_shell_learner("daemon-watched")
    teacher, _, classroom = _class(learner.user)
    tab = Screen.open(web_a, learner)
    tab.wait_for(r"learner@kubelab:~\$")

    ws = websocket.WebSocket()
    ws.connect(
        web_b.url.replace("http", "ws")
        + f"/ws/classes/{classroom.pk}/students/{learner.user.pk}/terminal/",
        cookie=session_cookie(teacher).decode(), origin=web_b.origin, timeout=30,
    )  # fmt: skip
    watcher = Screen(ws)
    assert watcher.wait_status("watching")[2] == "30x120"
    tab.type("echo daemon-$((6*7))\n")
    watcher.wait_for(r"daemon-42")
    watcher.type("touch ~/from-the-watcher\n")
    assert watcher.wait_status("ignored")[2] == "read-only"
    tab.type("ls ~ && echo listed\n")
    tab.wait_for(r"listed")
    assert "from-the-watcher" not in tab.text
