"""kuard's page in a real browser, through /sandbox/pods/<pod>/ports/<port>/ (the book's
"open http://localhost:8080" for a learner whose terminal lives in a sandbox)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.fixtures.browser import screenshot
from tests.fixtures.cluster import Cluster
from tests.fixtures.learners import Learner, make_learner  # noqa: F401
from tests.fixtures.processes import LearnerSite
from tests.sandbox.pods_live import kuard_learner

pytestmark = [pytest.mark.e2e, pytest.mark.cluster, pytest.mark.django_db(transaction=True)]


def test_kuards_page_opens_and_its_links_and_forms_stay_inside(
    cluster: Cluster,
    learner_site: Callable[..., LearnerSite],
    make_learner: Callable[..., Learner],  # noqa: F811
    page: Any,
) -> None:
    learner = kuard_learner(cluster, make_learner)
    site = learner_site("pod-ports", KUBELAB_KUBECONFIG=str(cluster.kubeconfig))
    site.login(page, learner.user.username, "x" * 12)

    base = f"{site.url}/sandbox/pods/kuard/ports/8080"
    page.goto(f"{base}/")
    body = page.locator("body").inner_text()
    assert "kuard" in body and learner.namespace in body
    screenshot(page, "pod-port-kuard")

    page.locator("a[href$='/env']").first.click()
    page.wait_for_url(f"{base}/env")
    environment = page.locator("body").inner_text()
    assert "HOSTNAME\tkuard" in environment and "GREETING\thello" in environment

    # kuard's own button flips liveness; it submits back through the same prefix.
    page.goto(f"{base}/healthy/fail")
    assert page.goto(f"{base}/healthy").status == 500
    screenshot(page, "pod-port-kuard-unhealthy")
