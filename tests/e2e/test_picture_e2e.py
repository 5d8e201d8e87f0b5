"""Issue 21's acceptance in a real browser: a learner scales a ReplicaSet in the lesson's
terminal and the namespace picture shows three Pods under it on their nodes; a relabelled Pod
detaches from it and a new one appears. An instructor of the learner's class watches: the same
terminal output and picture, the learner is told, and the instructor's keys reach nothing."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from accounts.roles import Role
from classes.services import classroom_create, classroom_join
from tests.fixtures.browser import ARTIFACTS, screenshot, wait_js
from tests.fixtures.classes import person
from tests.fixtures.grading import Process, labs_watcher  # noqa: F401 (a fixture)
from tests.fixtures.learners import Learner
from tests.fixtures.processes import LearnerSite

pytestmark = [pytest.mark.e2e, pytest.mark.cluster, pytest.mark.django_db(transaction=True)]

REPLICASET = (
    "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: kuard}\nspec:\n  replicas: 1\n"
    "  selector: {matchLabels: {app: kuard}}\n  template:\n    metadata: {labels: {app: kuard}}\n"
    "    spec:\n      containers:\n      - name: kuard\n"
    "        image: gcr.io/kuar-demo/kuard-amd64:blue\n"
)
OWNED = '[data-picture-object^="Pod/"][data-owner="ReplicaSet/kuard"]'
# Pods under the ReplicaSet, each drawn on a node (what the learner must see).
OWNED_ON_NODES = (
    "n => { const pods = [...document.querySelectorAll('" + OWNED + "')];"
    " return pods.length === n && pods.every(p => p.dataset.node) }"
)


def type_in_terminal(page: Any, text: str) -> None:
    page.evaluate("text => window.kubelabTerminal.type(text)", text)


def marker_time(page: Any, selector: str, marker: str) -> float:
    """The epoch seconds the shell printed after `marker-` (date +%s.%N right after kubectl)."""
    text = wait_js(
        page,
        "([sel, m]) => { const t = document.querySelector(sel)?.innerText || '';"
        " const found = t.match(new RegExp(m + '-(\\\\d+\\\\.\\\\d+)'));"
        " return found && found[1]; }",
        arg=[selector, marker],
        timeout=30_000,
    )
    return float(text)


def test_the_picture_follows_the_terminal_and_an_instructor_watches_read_only(
    learner_site: Callable[..., LearnerSite],
    make_learner: Callable[..., Learner],
    labs_watcher: Process,  # noqa: F811 (the fixture imported above)
    browser: Any,
    page: Any,
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    learner = make_learner()
    teacher = person("teacher", role=Role.INSTRUCTOR, first_name="Ada", last_name="Teacher")
    classroom = classroom_create(owner=teacher, name="Watching in class", labs=["replicasets"])
    classroom_join(user=learner.user, code=classroom.join_code)

    site = learner_site("picture", KUBELAB_TERMINAL_KUBECONFIG_PROVIDER=None)
    site.login(page, learner.user.username, "x" * 12, path="/learn/replicasets/")
    wait_js(page, "document.querySelector('[data-terminal-status]').dataset.state === 'ready'",
            timeout=30_000)  # fmt: skip
    # Screen-reader mode is the account's setting: it survives a reload, wherever it was set.
    page.check("[data-terminal-screen-reader]")
    wait_js(page, "document.querySelector('[data-terminal-screen-reader]').dataset.saved === 'on'")
    page.evaluate("localStorage.clear()")
    page.reload()
    assert page.is_checked("[data-terminal-screen-reader]")
    page.uncheck("[data-terminal-screen-reader]")
    wait_js(page, "document.querySelector('[data-terminal-screen-reader]').dataset.saved === 'off'")
    wait_js(page, "document.querySelector('[data-terminal-status]').dataset.state === 'ready'",
            timeout=30_000)  # fmt: skip
    page.click("#picture-tab")
    wait_js(page, "document.querySelector('[data-picture]').dataset.pictureRevision !== ''")

    manifest = REPLICASET.replace("'", "'\\''")
    type_in_terminal(page, f"printf '%s' '{manifest}' > rs.yaml\nkubectl apply -f rs.yaml\n")
    wait_js(page, OWNED_ON_NODES, arg=1, timeout=30_000)

    # Scale to three: the shell prints the time kubectl returned; the page, when it drew.
    type_in_terminal(
        page, "kubectl scale replicaset kuard --replicas=3 && echo scaled-$(date +%s.%N)\n"
    )
    returned = marker_time(page, "#terminal", "scaled")
    wait_js(page, OWNED_ON_NODES, arg=3, timeout=30_000)
    seen = time.time()
    drawn = page.evaluate("window.kubelabPicture.drawn")
    screenshot(page, "picture-three-pods-on-nodes")

    # Quarantine one: it loses its owner, and the ReplicaSet makes a new Pod.
    quarantined = page.locator(OWNED).first.get_attribute("data-picture-object").split("/", 1)[1]
    type_in_terminal(page, f"kubectl label pod {quarantined} app=debug --overwrite\n")
    wait_js(
        page,
        "([n, sel, id]) => { const pods = document.querySelectorAll(sel);"
        ' const loose = document.querySelector(`[data-picture-object="${id}"]`);'
        " return pods.length === n && loose && loose.dataset.owner === '' }",
        arg=[3, OWNED, f"Pod/{quarantined}"],
        timeout=30_000,
    )
    assert page.locator(f'[data-picture-object="Pod/{quarantined}"]').get_attribute("data-node")
    screenshot(page, "picture-relabelled-pod-detached")

    # Clicking an object shows its YAML and its events; Esc gives focus back.
    details = '[data-picture-object="ReplicaSet/kuard"] button[data-picture-details]'
    page.click(details)
    wait_js(
        page,
        "(document.querySelector('[data-picture-dialog-yaml]')?.innerText || '')"
        ".includes('kind: ReplicaSet')",
    )
    events = page.locator("[data-picture-dialog-events]").inner_text()
    assert "SuccessfulCreate" in events, events
    screenshot(page, "picture-object-details")
    page.keyboard.press("Escape")
    wait_js(page, "document.activeElement?.matches('button[data-picture-details]')")

    # The instructor opens the student's shadow view from the gradebook.
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    watcher = context.new_page()
    watcher.set_default_timeout(15_000)
    site.login(watcher, teacher.username, "x" * 12, path=f"/classes/{classroom.pk}/")
    watcher.click(f'a[href="/classes/{classroom.pk}/students/{learner.user.pk}/watch/"]')
    watcher.wait_for_url(f"**/classes/{classroom.pk}/students/{learner.user.pk}/watch/")
    wait_js(
        watcher,
        "document.querySelector('[data-terminal-watch-status]').dataset.state === 'watching'",
    )
    wait_js(watcher, OWNED_ON_NODES, arg=3, timeout=30_000)

    type_in_terminal(page, "echo over-the-shoulder-$((6*7))\n")
    wait_js(
        watcher,
        "t => document.querySelector('[data-terminal-watch-screen]').innerText.includes(t)",
        arg="over-the-shoulder-42",
        timeout=20_000,
    )
    # The learner is told, by name.
    page.wait_for_selector("[data-watched-notice]:not([hidden])", timeout=20_000)
    assert "Ada Teacher" in page.locator("[data-watched-notice]").inner_text()
    screenshot(page, "watch-learner-sees-the-notice")

    # The instructor types: nothing reaches the learner's shell, and the page says why.
    watcher.click("[data-terminal-watch-screen]")
    watcher.keyboard.type("touch typed-by-instructor\n")
    wait_js(
        watcher,
        "document.querySelector('[data-terminal-watch-status]').dataset.state === 'readonly'",
    )
    type_in_terminal(page, "ls; echo listed-$((1+1))\n")
    wait_js(page, "(document.querySelector('#terminal')?.innerText || '').includes('listed-2')")
    assert "typed-by-instructor" not in page.locator("#terminal").inner_text()
    assert "typed-by-instructor" not in watcher.locator("[data-terminal-watch-screen]").inner_text()
    screenshot(watcher, "watch-instructor-shadow-view")

    context.close()
    page.wait_for_selector("[data-watched-notice][hidden]", state="attached", timeout=20_000)
    (ARTIFACTS / "picture-e2e-latency.json").write_text(
        json.dumps(
            {
                "kubectl_returned_to_three_pods_seen_s": round(seen - returned, 3),
                "kubectl_returned_to_last_draw_s": round(drawn["at"] / 1000 - returned, 3),
            }
        )
    )
    assert errors == []
