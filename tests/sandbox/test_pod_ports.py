"""A learner's Pod port in the browser (/sandbox/pods/<pod>/ports/<port>/), for real."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from tests.fixtures.cluster import Cluster
from tests.fixtures.learners import Learner
from tests.sandbox.pods_live import kuard_learner

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]
BASE = "/sandbox/pods/kuard/ports/8080"


@pytest.fixture
def learner(cluster: Cluster, make_learner: Callable[..., Learner]) -> Learner:
    return kuard_learner(cluster, make_learner)


def browser(learner: Learner) -> Client:
    client = Client()
    client.force_login(learner.user)
    return client


def test_the_pods_page_opens_in_the_browser_with_its_links_kept_inside(learner: Learner) -> None:
    client = browser(learner)
    page = client.get(f"{BASE}/", HTTP_ACCEPT="text/html")
    assert page.status_code == 200
    html = page.content.decode()
    assert "kuard" in html and learner.namespace in html
    assert f'href="{BASE}/env"' in html
    assert 'method="post"' not in html.lower()
    policy = page["Content-Security-Policy"]
    assert policy.startswith("sandbox allow-forms") and "script-src" not in policy
    assert "default-src 'none'" in policy


def test_health_switches_pass_through_with_their_status_codes(learner: Learner) -> None:
    client = browser(learner)
    healthy = client.get(f"{BASE}/healthy")
    assert (healthy.status_code, healthy.content) == (200, b"ok\n")
    assert client.get(f"{BASE}/healthy/fail").status_code == 200
    assert client.get(f"{BASE}/healthy").status_code == 500
    dns = client.get(f"{BASE}/dns", {"name": "kubernetes.default"})
    assert dns.status_code == 200 and b"10.96.0.1" in dns.content


def test_only_the_learners_own_pods_and_only_reads(
    learner: Learner, make_learner: Callable[..., Learner]
) -> None:
    client = browser(learner)
    assert client.post(f"{BASE}/healthy/fail").status_code == 405
    assert client.get("/sandbox/pods/..%2Fetc/ports/8080/").status_code == 404
    assert client.get("/sandbox/pods/kuard/ports/0/").status_code == 404
    undeclared = client.get("/sandbox/pods/kuard/ports/9999/")
    assert undeclared.status_code == 502, undeclared.content
    assert b"declares no TCP containerPort 9999" in undeclared.content

    # Another learner names the same Pod: their own namespace has none, so nothing is found.
    intruder = browser(make_learner())
    missing = intruder.get(f"{BASE}/")
    assert missing.status_code == 404
    assert b"kuard" in missing.content and learner.namespace.encode() not in missing.content
    assert Client().get(f"{BASE}/").status_code == 401


def test_a_page_reuses_the_learners_token_and_replaces_a_stale_one(
    learner: Learner, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataclasses import replace

    from sandbox import pod_ports

    asked: list[int] = []
    real = pod_ports.sandbox_credentials

    def counting(*, user: object) -> pod_ports.Credentials:
        asked.append(1)
        return real(user=user)

    monkeypatch.setattr(pod_ports, "sandbox_credentials", counting)
    client = browser(learner)
    for _ in range(3):
        assert client.get(f"{BASE}/healthy").status_code == 200
    assert len(asked) <= 1  # one TokenRequest for three requests (none if an earlier test made it)

    # A token the API server no longer accepts (revoked, environment rebuilt) is replaced.
    key = next(k for k in pod_ports._tokens if k[0] == learner.user.pk)
    pod_ports._tokens[key] = replace(pod_ports._tokens[key], token="not-a-valid-token")
    asked.clear()
    assert client.get(f"{BASE}/healthy").status_code == 200
    assert len(asked) == 1
    assert pod_ports._tokens[key].token != "not-a-valid-token"


def test_an_expiring_token_of_one_learner_never_serves_another(
    cluster: Cluster, make_learner: Callable[..., Learner]
) -> None:
    import dataclasses
    from datetime import timedelta

    from django.utils import timezone

    from sandbox import pod_ports

    first, second = kuard_learner(cluster, make_learner), kuard_learner(cluster, make_learner)
    assert b"kuard" in browser(first).get(f"{BASE}/", HTTP_ACCEPT="text/html").content
    # The first learner's cached token is about to expire: the next fetch of anyone prunes it.
    with pod_ports._tokens_lock:
        for key, credentials in list(pod_ports._tokens.items()):
            if key[0] == first.user.pk:
                soon = timezone.now() + timedelta(seconds=5)
                pod_ports._tokens[key] = dataclasses.replace(credentials, expires_at=soon)
    for learner, other in ((second, first), (first, second)):
        page = browser(learner).get(f"{BASE}/", HTTP_ACCEPT="text/html").content.decode()
        assert learner.namespace in page and other.namespace not in page
    with pod_ports._tokens_lock:
        by_user = {key[0]: c.namespace for key, c in pod_ports._tokens.items()}
    assert by_user[first.user.pk] == first.namespace
    assert by_user[second.user.pk] == second.namespace


def test_a_link_from_another_site_cannot_drive_the_pod(learner: Learner) -> None:
    client = browser(learner)
    # A cross-site link to /healthy/fail would flip the learner's probe: refused, nothing sent.
    refused = client.get(f"{BASE}/healthy/fail", HTTP_SEC_FETCH_SITE="cross-site")
    assert refused.status_code == 403
    assert "a link from another site may not reach it" in refused.content.decode()
    assert client.get(f"{BASE}/healthy", HTTP_SEC_FETCH_SITE="same-site").status_code == 403
    assert client.get(f"{BASE}/healthy", HTTP_SEC_FETCH_SITE="same-origin").status_code == 200
    # Typed into the address bar (or a bookmark): the browser says "none".
    assert client.get(f"{BASE}/healthy", HTTP_SEC_FETCH_SITE="none").status_code == 200
