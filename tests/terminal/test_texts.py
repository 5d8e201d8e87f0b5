"""The terminal's own lines in the page's language, chosen from the socket's headers; the
welcome printed by the bashrc as text, never as code. No jail, no cluster."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from jails.learner import JAIL_RUN, jail_files, welcome_line
from terminal.session import ShellTexts
from terminal.texts import language_from_headers, scope_language, shell_lost_notice, shell_texts


@pytest.mark.parametrize(
    ("cookie", "accept", "expected"),
    [
        ("", "", "en"),
        ("django_language=zh-hant", "", "zh-hant"),
        ("sessionid=abc; django_language=zh-hant", "en-US,en;q=0.9", "zh-hant"),
        ("django_language=en", "zh-TW,zh;q=0.9", "en"),
        ("", "zh-TW,zh;q=0.9,en;q=0.8", "zh-hant"),
        ("", "zh-Hant-TW", "zh-hant"),
        ("", "fr-FR,fr;q=0.9", "en"),
        ("", "*", "en"),
        ("django_language=klingon", "zh-TW", "zh-hant"),  # an unknown cookie falls through
        ('django_language="zh-hant', "zh-TW", "zh-hant"),  # so does one that does not parse
        ("", "x" * 1000, "en"),
    ],
)
def test_the_language_comes_from_the_cookie_then_accept_language(
    cookie: str, accept: str, expected: str
) -> None:
    assert language_from_headers(cookie=cookie, accept_language=accept) == expected


def test_a_sockets_headers_are_read_case_blind_and_repeated_ones_joined() -> None:
    headers = [
        (b"Host", b"127.0.0.1"),
        (b"Cookie", b"sessionid=abc"),
        (b"cookie", b"django_language=zh-hant"),
    ]
    assert scope_language(headers) == "zh-hant"
    assert scope_language([(b"accept-language", b"zh-TW")]) == "zh-hant"
    assert scope_language([]) == "en"


def test_english_texts_are_the_defaults_and_the_welcome_line_is_unchanged() -> None:
    assert shell_texts(language="en") == ShellTexts()
    line = welcome_line(namespace="learner-a1b2")
    assert re.sub(r"\x1b\[[0-9;]*m", "", line) == (
        "Welcome to kubelab. Your namespace is learner-a1b2. Try: kubectl get pods"
    )
    assert "\x1b[1;36mlearner-a1b2\x1b[0m" in line


def test_traditional_chinese_texts() -> None:
    texts = shell_texts(language="zh-hant")
    plain = re.sub(r"\x1b\[[0-9;]*m", "", welcome_line(namespace="ns1", template=texts.welcome))
    assert plain == "歡迎使用 kubelab。你的命名空間是 ns1。試試：kubectl get pods"  # noqa: RUF001
    assert texts.ended == "工作階段已結束，按 Enter 重新開始"  # noqa: RUF001
    assert "閒置 5 分鐘" in texts.idle_ended % {"minutes": 5}
    assert "命名空間" in shell_lost_notice(language="zh-hant")
    assert shell_lost_notice(language="en").startswith("your previous shell is gone")


def test_the_bashrc_prints_the_welcome_as_text(tmp_path: Path) -> None:
    files = jail_files(namespace="ns1", kubeconfig="", completion="")
    assert files["welcome"][0] == welcome_line(namespace="ns1")
    (line,) = [ln for ln in files["bashrc"][0].splitlines() if "welcome" in ln]
    assert line.strip() == f"printf '%s\\n' \"$(< {JAIL_RUN}/welcome)\""
    # Whatever the welcome says (a translation is trusted, still never code), it comes out as is.
    hostile = "$(echo pwned) `id` %s %d \\e[1m ${HOME} '\" ;exit 3"
    (tmp_path / "welcome").write_text(hostile)
    shown = subprocess.run(
        ["bash", "-c", line.replace(JAIL_RUN, str(tmp_path))],
        capture_output=True,
        text=True,
        check=True,
    )
    assert shown.stdout == hostile + "\n"
