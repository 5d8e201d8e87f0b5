"""A kubelab web server of the test's own and a real LTI 1.3 platform (tests/lms/platform.py) on
loopback, registered with each other as an LMS administrator and a kubelab administrator would."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from lti_tool.models import LtiDeployment, LtiRegistration

from tests.fixtures.grading import grading_queue, labs_watcher  # noqa: F401
from tests.fixtures.processes import LearnerSite
from tests.lms.platform import INSTRUCTOR, LEARNER, TestPlatform


@dataclass
class Lms:
    site: LearnerSite
    platform: TestPlatform
    registration: LtiRegistration

    def launch(
        self, user_id: str, link_id: str | None = None, *, deep_link: bool = False
    ) -> tuple[requests.Session, requests.Response]:
        session = requests.Session()
        response = self.platform.browser_launch(session, user_id, link_id, deep_link=deep_link)
        return session, response

    def get(self, session: requests.Session, path: str) -> requests.Response:
        return session.get(self.site.url + path, allow_redirects=False, timeout=30)


def register(platform: TestPlatform, *, active: bool = True) -> LtiRegistration:
    registration = LtiRegistration.objects.create(
        name="Test LMS",
        issuer=platform.issuer,
        client_id=platform.client_id,
        auth_url=platform.auth_url,
        token_url=platform.token_url,
        keyset_url=platform.jwks_url,
    )
    LtiDeployment.objects.create(
        registration=registration, deployment_id=platform.deployment_id, is_active=active
    )
    return registration


@pytest.fixture
def lms(
    learner_site: Callable[..., LearnerSite],
    grading_queue: str,  # noqa: F811 (the fixture, imported above)
) -> Iterator[Lms]:
    """Sends queued by a test go to a queue of its own (grading_queue): no worker of another
    test sends them behind its back; a test that wants the worker path starts one on it."""
    site = learner_site("lms", KUBELAB_LMS_RETRY_SECONDS="1")
    with TestPlatform(site.url) as platform:
        platform.add_member("teacher-1", "Tina Teacher", [INSTRUCTOR], "tina@example.test")
        platform.add_member("student-1", "Sam Student", [LEARNER], "sam@example.test")
        yield Lms(site, platform, register(platform))


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def cookie_header(response: requests.Response, name: str) -> str:
    """The Set-Cookie line of one cookie (requests folds them into one header)."""
    raw: Any = response.raw.headers
    lines = raw.get_all("Set-Cookie") if hasattr(raw, "get_all") else raw.getlist("Set-Cookie")
    return next((line for line in lines if line.startswith(f"{name}=")), "")
