"""A visitor in a real browser: "Try it now" on a chapter, a working terminal as a guest, then
claiming the account without losing the session."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from tests.e2e.test_terminal_e2e import wait_screen
from tests.fixtures.browser import screenshot, wait_js
from tests.fixtures.cluster import Cluster
from tests.fixtures.processes import LearnerSite, WorkerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.cluster, pytest.mark.django_db(transaction=True)]

CHAPTER = "/learn/pods/"


def test_a_visitor_tries_it_now_then_keeps_the_account(
    learner_site: Callable[..., LearnerSite],
    cluster: Cluster,
    celery_worker_process: WorkerProcess,
    settings: Any,
    page: Any,
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # Terminals take the guest's kubeconfig from the sandbox app, as in production.
    site = learner_site(
        "guests",
        KUBELAB_KUBECONFIG=str(cluster.kubeconfig),
        KUBELAB_TERMINAL_KUBECONFIG_PROVIDER=None,
    )
    # Every status an exercise shows, from the first paint on: a new guest's environment is
    # "starting", never the amber "could not check" (issue 24).
    page.add_init_script(
        """window.__statuses = [];
        new MutationObserver((changes) => changes.forEach((c) => {
          if (c.target.matches && c.target.matches("[data-labs-exercise]"))
            window.__statuses.push(c.target.dataset.status);
        })).observe(document, {subtree: true, attributes: true, attributeFilter: ["data-status"]});
        document.addEventListener("DOMContentLoaded", () => document
          .querySelectorAll("[data-labs-exercise]")
          .forEach((e) => window.__statuses.push(e.dataset.status)));"""
    )
    try:
        page.goto(f"{site.url}{CHAPTER}")
        assert page.locator("[data-terminal]").count() == 0  # nobody to give a shell to yet
        page.locator(".terminal-panel [data-guest-start]").click()

        page.wait_for_url(f"**{CHAPTER}")
        guest_name = page.locator(".user-name").inner_text()
        assert guest_name.startswith("guest-"), guest_name
        assert page.locator("[data-guest-banner]").is_visible()
        assert page.locator(".terminal-panel[data-terminal]").count() == 1
        wait_js(
            page,
            "document.querySelector('[data-terminal-status]').dataset.state === 'ready'",
            timeout=45_000,
        )
        wait_screen(page, "learner@kubelab:~$")
        namespace = page.locator("[data-terminal-namespace]").inner_text()
        assert namespace
        screenshot(page, "guest-terminal-on-a-chapter")
        statuses = page.evaluate("window.__statuses")
        assert statuses and "inconclusive" not in statuses, statuses

        page.locator("[data-guest-banner] a").click()
        page.wait_for_url("**/accounts/claim/**")
        username = f"e2e-{secrets.token_hex(3)}"
        page.fill("input[name=username]", username)
        page.fill("input[name=password1]", "kube-learner-42")
        page.fill("input[name=password2]", "kube-learner-42")
        page.locator("[data-claim-form] button[type=submit]").click()

        page.wait_for_url(f"**{CHAPTER}")
        assert page.locator(".user-name").inner_text() == username
        assert page.locator("[data-guest-banner]").count() == 0
        wait_js(
            page,
            "document.querySelector('[data-terminal-status]').dataset.state === 'ready'",
            timeout=45_000,
        )
        wait_screen(page, "learner@kubelab:~$")
        # The same account: the same environment, not a new one.
        assert page.locator("[data-terminal-namespace]").inner_text() == namespace
        screenshot(page, "guest-claimed-account")
        assert errors == []
    finally:
        from sandbox.services import sandbox_teardown

        settings.KUBELAB_KUBECONFIG = str(cluster.kubeconfig)
        for user in get_user_model().objects.all():
            with contextlib.suppress(Exception):
                sandbox_teardown(user=user)
