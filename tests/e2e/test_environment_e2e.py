"""The learner's environment beside the terminal, in a real browser on the real cluster: the
Reset button empties the namespace and keeps progress; a Deployment scaled past the pod quota
and a Pod refused by the LimitRange are explained on the page, live."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.utils import timezone

from labs.models import Attempt
from labs.services import attempt_get_or_create
from tests.e2e.test_terminal_e2e import wait_screen
from tests.fixtures.browser import screenshot, wait_js
from tests.fixtures.cluster import Cluster
from tests.fixtures.grading import Process, kuard_pod, labs_watcher  # noqa: F401
from tests.fixtures.learners import Learner
from tests.fixtures.processes import LearnerSite

pytestmark = [pytest.mark.e2e, pytest.mark.cluster, pytest.mark.django_db(transaction=True)]

CHAPTER = "/learn/pods/"
NOTICES = "[data-environment-notices-list]"


@pytest.fixture
def real_site(
    learner_site: Callable[..., LearnerSite], cluster: Cluster
) -> Iterator[Callable[[str], LearnerSite]]:
    """A web server whose terminals take each learner's own kubeconfig from the sandbox app, so
    the shell meets the learner's real quota and limits."""

    def start(name: str) -> LearnerSite:
        return learner_site(
            name,
            KUBELAB_KUBECONFIG=str(cluster.kubeconfig),
            KUBELAB_TERMINAL_KUBECONFIG_PROVIDER=None,
        )

    yield start


def open_chapter(site: LearnerSite, page: Any, learner: Learner) -> None:
    site.login(page, learner.user.username, "x" * 12, path=CHAPTER)
    wait_js(
        page,
        "document.querySelector('[data-terminal-status]').dataset.state === 'ready'",
        timeout=45_000,
    )
    wait_screen(page, "learner@kubelab:~$")


def names(learner: Learner, kinds: str) -> list[str]:
    listed = learner.kubectl("get", kinds, "-o", "json")
    assert listed.returncode == 0, listed.stderr
    return sorted(
        f"{item['kind']}/{item['metadata']['name']}" for item in json.loads(listed.stdout)["items"]
    )


def test_reset_asks_first_then_empties_the_namespace_and_keeps_progress(
    real_site: Callable[[str], LearnerSite],
    make_learner: Callable[..., Learner],
    page: Any,
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    learner = make_learner()
    applied = learner.kubectl("apply", "-f", "-", input=kuard_pod())
    assert applied.returncode == 0, applied.stderr
    made = learner.kubectl("create", "configmap", "notes", "--from-literal=a=b")
    assert made.returncode == 0, made.stderr
    attempt = attempt_get_or_create(user=learner.user, lab_slug="pods", exercise_id="kuard-pod")
    done_at = timezone.now()
    Attempt.objects.filter(pk=attempt.pk).update(completed_at=done_at, status="passed")

    site = real_site("reset")
    open_chapter(site, page, learner)
    exercise = '[data-labs-exercise="pods/kuard-pod"]'
    assert page.get_attribute(exercise, "data-completed") == "true"

    # The confirmation says what goes and what stays; Cancel (the default) deletes nothing.
    page.locator("[data-environment-reset]").click()
    dialog = page.locator("[data-environment-reset-dialog]")
    assert dialog.is_visible()
    text = dialog.inner_text()
    assert "Deployments" in text and "Pods" in text and "ConfigMaps" in text
    assert "Kept: your completed exercises" in text
    screenshot(page, "environment-reset-confirmation")
    page.keyboard.press("Escape")
    assert dialog.is_hidden()
    assert "Pod/kuard" in names(learner, "pods")

    page.locator("[data-environment-reset]").click()
    started = time.monotonic()
    page.locator("[data-environment-reset-confirm]").click()
    page.wait_for_selector(
        f'{NOTICES} [data-kind="reset"]:has-text("namespace is empty again")', timeout=60_000
    )
    print(f"\nreset confirmed to 'namespace is empty again': {time.monotonic() - started:.2f} s")
    assert names(learner, "pods") == []
    assert "ConfigMap/notes" not in names(learner, "configmaps")
    # Progress kept: in the database and on the page, after a reload too.
    attempt.refresh_from_db()
    assert attempt.completed_at == done_at
    assert page.get_attribute(exercise, "data-completed") == "true"
    page.reload()
    page.wait_for_selector(f'{exercise}[data-completed="true"]', state="attached")
    # The same namespace, and the shell still works in it. The terminal names its namespace once
    # it has connected again, so the reloaded page's terminal is waited for first.
    wait_js(
        page,
        "document.querySelector('[data-terminal-status]').dataset.state === 'ready'",
        timeout=45_000,
    )
    assert page.locator("[data-terminal-namespace]").inner_text() == learner.namespace
    page.locator(".terminal-panel .xterm").click()
    page.keyboard.type("kubectl get pods\n")
    wait_screen(page, f"No resources found in {learner.namespace} namespace.")
    screenshot(page, "environment-reset-done")
    assert errors == []


def test_a_deployment_past_the_pod_quota_is_explained_live_and_the_notice_clears(
    real_site: Callable[[str], LearnerSite],
    make_learner: Callable[..., Learner],
    labs_watcher: Process,  # noqa: F811
    page: Any,
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    learner = make_learner()
    site = real_site("quota")
    open_chapter(site, page, learner)
    page.wait_for_selector('[data-labs-live][data-state="live"]', state="attached")

    page.locator(".terminal-panel .xterm").click()
    page.keyboard.type("kubectl create deployment web --image=nginx --replicas=30\n")
    wait_screen(page, "deployment.apps/web created")  # kubectl says nothing is wrong
    created = time.monotonic()
    notice = page.locator(f'{NOTICES} [data-notice-key="denial:deployment/web"]')
    notice.wait_for(timeout=30_000)
    print(f"\nquota notice on the page {time.monotonic() - created:.2f} s after kubectl returned")
    text = notice.inner_text()
    assert "deployment/web" in text
    assert "Your environment allows 20 pods; you asked for 30." in text, text
    assert "kubectl scale" in text
    screenshot(page, "environment-quota-explained")

    page.keyboard.type("kubectl scale deployment web --replicas=2\n")
    wait_screen(page, "deployment.apps/web scaled")
    scaled = time.monotonic()
    notice.wait_for(state="detached", timeout=30_000)
    print(f"quota notice gone {time.monotonic() - scaled:.2f} s after the scale-down")
    assert errors == []


def test_a_pod_the_limits_refuse_is_explained_beside_the_terminal_in_the_pages_language(
    real_site: Callable[[str], LearnerSite],
    make_learner: Callable[..., Learner],
    page: Any,
) -> None:
    learner = make_learner()
    site = real_site("limits")
    page.context.add_cookies([{"name": "django_language", "value": "zh-hant", "url": site.url}])
    open_chapter(site, page, learner)
    overrides = json.dumps(
        {
            "spec": {
                "containers": [
                    {"name": "big", "image": "nginx", "resources": {"limits": {"cpu": "100"}}}
                ]
            }
        }
    )
    page.locator(".terminal-panel .xterm").click()
    page.keyboard.type(f"kubectl run big --image=nginx --overrides='{overrides}'\n")
    wait_screen(page, "maximum cpu usage per Container is 1")  # kubectl's raw refusal
    refused = time.monotonic()
    notice = page.locator(f'{NOTICES} [data-notice-key="refusal"]')
    notice.wait_for(timeout=15_000)
    print(f"\nrefusal notice {time.monotonic() - refused:.2f} s after kubectl's line was on screen")
    text = notice.inner_text()
    assert "每個容器最多可使用 1 cpu" in text and "100" in text, text
    screenshot(page, "environment-limit-explained-zh-hant")
    # Dismissed, it goes.
    notice.locator("button").click()
    assert notice.count() == 0
