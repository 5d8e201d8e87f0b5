"""Rate limits on sign-up, log-in, guests, Check, hints and auto-check: counted in Redis, so
shared by every web process; a 429 with a sentence in the learner's language; a dead cache lets
people in rather than out."""

from __future__ import annotations

import re
import secrets
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.cache.backends.redis import RedisCache
from django.test import Client

from kubelab import ratelimit
from kubelab.env import SettingError, env_rates
from kubelab.ratelimit import RateLimited, rate_limit_take
from kubelab.rates import DEFAULT_LIMITS, client_network, parse_rate
from tests.fixtures.processes import ARTIFACTS, child_env, stop_process, web_start

pytestmark = pytest.mark.django_db(transaction=True)


def _limits(settings: Any, **rates: str) -> None:
    settings.KUBELAB_RATE_LIMITS = {**settings.KUBELAB_RATE_LIMITS, **rates}


def _address() -> str:
    """A client network of this test's own: counts never leak between tests."""
    return f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"


def test_rates_parse_and_settings_name_what_is_wrong(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_rate("30/m") == (30, 60)
    assert parse_rate("10/10m") == (10, 600)
    assert parse_rate("5/h") == (5, 3600)
    for bad in ("30", "x/m", "3/0m", "3/w", "/m"):
        with pytest.raises(ValueError, match=r"30/m|window"):
            parse_rate(bad)
    monkeypatch.setenv("KUBELAB_RATE_LIMITS", "check=5/m, signup=2/h")
    assert env_rates("KUBELAB_RATE_LIMITS", DEFAULT_LIMITS) == {"check": "5/m", "signup": "2/h"}
    monkeypatch.setenv("KUBELAB_RATE_LIMITS", "chekc=5/m")
    with pytest.raises(SettingError, match="KUBELAB_RATE_LIMITS: 'chekc=5/m' must be SCOPE="):
        env_rates("KUBELAB_RATE_LIMITS", DEFAULT_LIMITS)
    monkeypatch.setenv("KUBELAB_RATE_LIMITS", "check=5/fortnight")
    with pytest.raises(SettingError, match="check: '5/fortnight'"):
        env_rates("KUBELAB_RATE_LIMITS", DEFAULT_LIMITS)


def test_ipv6_clients_count_by_their_64() -> None:
    assert client_network("2001:db8:1:2::1") == client_network("2001:db8:1:2:ffff::9")
    assert client_network("2001:db8:1:3::1") != client_network("2001:db8:1:2::1")
    assert client_network("garbage") == "unknown"


def test_a_window_allows_its_count_then_says_when_to_come_back(settings: Any) -> None:
    _limits(settings, check="3/m")
    key = f"user:{secrets.token_hex(4)}"
    for _ in range(3):
        rate_limit_take(scope="check", key=key, now=1_000_040.0)
    with pytest.raises(
        RateLimited, match=re.escape("You pressed Check very often. Please try again in 40 seconds")
    ):
        rate_limit_take(scope="check", key=key, now=1_000_040.0)
    rate_limit_take(scope="check", key=key, now=1_000_081.0)  # the next window
    rate_limit_take(scope="check", key=f"{key}-other", now=1_000_040.0)  # someone else


def test_a_signup_burst_is_refused_with_a_sentence_in_both_languages(settings: Any) -> None:
    _limits(settings, signup="2/h")
    address = _address()
    users = get_user_model().objects
    for i in range(2):
        form = {"username": f"burst{i}{secrets.token_hex(2)}", "password1": "kube-lear-42x",
                "password2": "kube-lear-42x"}  # fmt: skip
        assert Client(REMOTE_ADDR=address).post("/accounts/signup/", form).status_code == 302
    before = users.count()
    form = {"username": "burst-3", "password1": "kube-lear-42x", "password2": "kube-lear-42x"}
    refused = Client(REMOTE_ADDR=address).post("/accounts/signup/", form)
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert "Too many accounts were signed up from your network." in refused.content.decode()
    assert users.count() == before
    chinese = Client(REMOTE_ADDR=address).post(
        "/accounts/signup/", form, HTTP_ACCEPT_LANGUAGE="zh-hant"
    )
    assert chinese.status_code == 429
    assert "從你的網路註冊的帳號太多了。" in chinese.content.decode()
    # Another network is not affected.
    assert Client(REMOTE_ADDR=_address()).get("/accounts/signup/").status_code == 200


def test_login_attempts_are_limited_per_network_and_per_username(settings: Any) -> None:
    _limits(settings, login="3/10m", **{"login-user": "2/10m"})
    name = f"target{secrets.token_hex(3)}"
    get_user_model().objects.create_user(username=name, password="right-password-1")
    # Guessing one username from many networks: the username's own limit stops it.
    for _ in range(2):
        wrong = Client(REMOTE_ADDR=_address()).post(
            "/accounts/login/", {"username": name, "password": "guess"}
        )
        assert wrong.status_code == 200  # the form again, with its error
    third = Client(REMOTE_ADDR=_address()).post(
        "/accounts/login/", {"username": name.upper(), "password": "right-password-1"}
    )
    assert third.status_code == 429
    assert "Too many login attempts for this username." in third.content.decode()
    # Many usernames from one network: the network's limit stops it.
    address = _address()
    for i in range(3):
        Client(REMOTE_ADDR=address).post("/accounts/login/", {"username": f"u{i}", "password": "x"})
    blocked = Client(REMOTE_ADDR=address).post(
        "/accounts/login/", {"username": "u9", "password": "x"}
    )
    assert blocked.status_code == 429
    assert "Too many login attempts from your network." in blocked.content.decode()


def test_check_and_hint_bursts_get_429_json_the_page_shows(settings: Any) -> None:
    _limits(settings, check="2/m", hint="1/m")
    user = get_user_model().objects.create_user(username=f"presser{secrets.token_hex(3)}")
    client = Client()
    client.force_login(user)
    url = "/labs/pods/kuard-pod/check/"
    for _ in range(2):
        assert client.post(url, HTTP_ACCEPT="application/json").status_code == 202
    refused = client.post(url, HTTP_ACCEPT="application/json")
    assert refused.status_code == 429
    body = refused.json()
    assert body["error"].startswith("You pressed Check very often. Please try again in")
    assert body["retry_after"] == int(refused["Retry-After"])
    hint = "/labs/pods/kuard-pod/hint/"
    assert client.post(hint, HTTP_ACCEPT="application/json").status_code == 200
    again = client.post(hint, HTTP_ACCEPT="application/json", HTTP_ACCEPT_LANGUAGE="zh-hant")
    assert again.status_code == 429
    assert again.json()["error"].startswith("你要求提示的次數太頻繁了。")


def test_an_unreachable_cache_lets_people_in(
    monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    _limits(settings, login="1/10m")
    dead = RedisCache("redis://127.0.0.1:1/0", {"OPTIONS": {"socket_connect_timeout": 0.5}})
    monkeypatch.setattr(ratelimit, "cache", dead)
    address = _address()
    for _ in range(3):  # over the limit, but nothing could count it: not refused
        response = Client(REMOTE_ADDR=address).post(
            "/accounts/login/", {"username": "nobody", "password": "x"}
        )
        assert response.status_code == 200


def _post(url: str, data: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(
        url, data=urllib.parse.urlencode(data).encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _csrf(url: str) -> tuple[str, str]:
    with urllib.request.urlopen(url, timeout=15) as response:
        cookie = response.headers.get("Set-Cookie", "")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.read().decode())
    assert token, "no CSRF token on the page"
    return cookie.split(";")[0], token.group(1)


def test_two_web_processes_share_one_count(redis_available: str) -> None:
    # Two real servers on the same Redis: attempts on either count against the same limit.
    # A cache prefix of their own: this run's other logins from 127.0.0.1 do not count here.
    env = child_env(
        KUBELAB_RATE_LIMITS="login=3/10m", KUBELAB_TEST_CACHE_PREFIX=f"p{secrets.token_hex(4)}"
    )
    servers = [web_start(ARTIFACTS / f"web-limits-{i}.log", env) for i in range(2)]
    try:
        statuses = []
        for attempt in range(4):
            server = servers[attempt % 2]
            cookie, token = _csrf(server.url + "/accounts/login/")
            status, _ = _post(
                server.url + "/accounts/login/",
                {"username": "shared", "password": "x", "csrfmiddlewaretoken": token},
                {"Cookie": cookie, "Referer": server.url + "/accounts/login/"},
            )
            statuses.append(status)
        assert statuses == [200, 200, 200, 429], statuses
    finally:
        for server in servers:
            stop_process(server.proc)


def _signups_from(env: dict[str, str], log: str, *clients: str) -> list[int]:
    """Statuses of one sign-up attempt per X-Forwarded-For value, on a server of its own."""
    server = web_start(ARTIFACTS / log, env)
    try:
        statuses = []
        for forged in clients:
            cookie, token = _csrf(server.url + "/accounts/signup/")
            status, _ = _post(
                server.url + "/accounts/signup/",
                {"username": "", "csrfmiddlewaretoken": token},
                {"Cookie": cookie, "X-Forwarded-For": forged},
            )
            statuses.append(status)
        return statuses
    finally:
        stop_process(server.proc)


def test_a_forwarded_for_header_counts_only_from_a_trusted_proxy(redis_available: str) -> None:
    env = child_env(
        KUBELAB_RATE_LIMITS="signup=1/h", KUBELAB_TEST_CACHE_PREFIX=f"p{secrets.token_hex(4)}"
    )
    # Untrusted (the default): a forged X-Forwarded-For changes nothing, the peer is counted.
    forged = _signups_from(env, "web-proxy.log", "198.51.100.1", "198.51.100.2")
    assert forged == [200, 429], forged
    # From a trusted proxy, the header names the client: two clients behind it.
    trusted = {**env, "KUBELAB_TRUSTED_PROXIES": "127.0.0.1"}
    behind = _signups_from(trusted, "web-proxy-trusted.log", "198.51.100.3", "198.51.100.4")
    assert behind == [200, 200], behind
