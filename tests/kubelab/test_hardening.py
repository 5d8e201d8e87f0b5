"""The web side's limits and headers, through the real server where it matters: descriptors,
websocket frame size, the Content Security Policy, HTTPS settings, hashed installs, translations."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import websockets
from asgiref.sync import sync_to_async
from django.test import Client
from websockets.typing import Origin

from jails import forwarder
from jails.forwarder import ApiForwarder
from kubelab.security import SITE_POLICY
from tests.fixtures.processes import WebServer

ROOT = Path(__file__).resolve().parents[2]


def _limits(pid: int) -> tuple[int, int]:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            soft, hard = line.split()[3:5]
            return int(soft), int(hard)
    raise AssertionError("no open-files line")


@pytest.mark.django_db(transaction=True)
def test_the_web_server_raises_its_descriptor_limit(web_server: WebServer) -> None:
    soft, hard = _limits(web_server.proc.pid)
    assert soft == hard


@pytest.mark.django_db(transaction=True)
async def test_websocket_frames_over_128_kib_are_refused_before_they_are_decoded(
    web_server: WebServer,
) -> None:
    cookie = await sync_to_async(_session_cookie)()
    url = web_server.url.replace("http://", "ws://") + "/ws/events/"
    async with websockets.connect(
        url, origin=Origin(web_server.origin), max_size=None, additional_headers={"Cookie": cookie}
    ) as socket:
        await socket.send(json.dumps({"type": "ping"}))
        assert json.loads(await asyncio.wait_for(socket.recv(), 10)) == {"type": "pong"}
        await socket.send("x" * (200 * 1024))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(socket.recv(), 10)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009  # "message too big", from the server


def _session_cookie() -> str:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user(username="framer", password="x" * 12)
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


@pytest.mark.django_db
def test_every_page_carries_the_site_policy() -> None:
    response = Client().get("/")
    policy = response["Content-Security-Policy"]
    assert policy == SITE_POLICY
    assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy.split("style-src")[0]
    assert "frame-ancestors 'none'" in policy
    # No page of ours has an inline script the policy would block.
    for template in (ROOT / "templates").rglob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), template
        assert not re.search(r"\son[a-z]+=\"", text), template


def _settings_for(**env: str) -> str:
    code = (
        "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'kubelab.settings'); "
        "from django.conf import settings as s; "
        "print(s.KUBELAB_HTTPS, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
        "getattr(s, 'SECURE_HSTS_SECONDS', 0), "
        "'https://learn.example.org' in s.CSRF_TRUSTED_ORIGINS)"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KUBELAB_")}
    clean.update(KUBELAB_SECRET_KEY="x" * 40, **env)
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_public_host_name_turns_https_on() -> None:
    assert _settings_for() == "False False False 0 False"
    served = _settings_for(KUBELAB_ALLOWED_HOSTS="learn.example.org")
    assert served == "True True True 31536000 True"
    assert _settings_for(KUBELAB_ALLOWED_HOSTS="learn.example.org", KUBELAB_HTTPS="false") == (
        "False False False 0 False"
    )


async def test_forwarded_connections_are_bounded_in_all_sessions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def upstream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # hold the connection open until the client goes
        writer.close()

    server = await asyncio.start_server(upstream, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    monkeypatch.setattr(forwarder, "total_limit", lambda: 24)
    sessions = [ApiForwarder(tmp_path / f"s{i}.sock", "127.0.0.1", port) for i in range(3)]
    opened: list[asyncio.StreamWriter] = []
    try:
        for session in sessions:
            await session.start(owner_uid=None)
        results = []
        for session in sessions:  # 3 sessions x 16 tries: 16 + 8 fit under the total of 24
            for _ in range(16):
                reader, writer = await asyncio.open_unix_connection(str(session.socket_path))
                opened.append(writer)
                writer.write(b"ping")
                await writer.drain()
                try:
                    results.append(await asyncio.wait_for(reader.read(1), 0.3) != b"")
                except TimeoutError:
                    results.append(True)  # held open: forwarded
                except ConnectionResetError:
                    results.append(False)  # refused
        assert forwarder._open == 24
        assert results.count(True) == 24 and results.count(False) == 24
        before = len(os.listdir("/proc/self/fd"))
        assert before < 24 * 2 + 200
    finally:
        for writer in opened:
            writer.close()
        for session in sessions:
            await session.close()
        server.close()
    for _ in range(50):
        if forwarder._open == 0:
            break
        await asyncio.sleep(0.05)
    assert forwarder._open == 0


def test_every_locked_package_has_hashes() -> None:
    lock = (ROOT / "requirements.lock").read_text()
    pins = re.findall(
        # An environment marker may follow the pin (`pkg==1.0 ; python_full_version < "3.11.3"`).
        r"^([A-Za-z0-9_.-]+)==\S+(?: ;[^\\\n]*)? \\\n((?:\s+--hash=sha256:[0-9a-f]{64}.*\n)+)",
        lock,
        re.M,
    )
    names = re.findall(r"^([A-Za-z0-9_.-]+)==", lock, re.M)
    assert len(pins) == len(names) > 50
    assert "--require-hashes" in (ROOT / "scripts" / "setup").read_text()


def untranslated_entries(po: str) -> tuple[list[str], list[str]]:
    """(entries with no translation, entries marked fuzzy) of a .po file's text."""
    entries = po.split("\n\n")[1:]  # the first is the header
    missing = [e for e in entries if re.search(r'^msgstr(\[0\])? ""\n(?!")', e + "\n", re.M)]
    fuzzy = [e for e in entries if "#, fuzzy" in e]
    return missing, fuzzy


def test_every_chinese_message_is_translated_and_none_is_fuzzy() -> None:
    po = (ROOT / "locale" / "zh_Hant" / "LC_MESSAGES" / "django.po").read_text()
    missing, fuzzy = untranslated_entries(po)
    assert not missing, missing[:3]
    assert not fuzzy, fuzzy[:3]


SOURCE_FOLDERS = ("accounts", "classes", "kubelab", "labs", "lms", "sandbox", "studio", "terminal",
                  "tutorials", "templates", "static", "locale")  # fmt: skip


def test_every_message_in_the_code_is_in_the_chinese_catalog(tmp_path: Path) -> None:
    """makemessages over a copy of the code: a new or changed message that nobody translated
    shows up as an empty or fuzzy entry (the catalog in the repository is left alone)."""
    copy = tmp_path / "code"
    for folder in SOURCE_FOLDERS:
        shutil.copytree(ROOT / folder, copy / folder, ignore=shutil.ignore_patterns("vendor"))
    shutil.copy(ROOT / "manage.py", copy / "manage.py")
    made = subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "zh_Hant", "--no-obsolete",
         "--ignore=static/vendor/*", "--ignore=static/dist/*"],
        cwd=copy, capture_output=True, text=True, timeout=300,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "kubelab.settings", "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    missing, fuzzy = untranslated_entries(
        (copy / "locale" / "zh_Hant" / "LC_MESSAGES" / "django.po").read_text()
    )
    assert not missing, "messages with no zh-Hant translation:\n" + "\n\n".join(missing[:5])
    assert not fuzzy, "messages changed since they were translated:\n" + "\n\n".join(fuzzy[:5])
