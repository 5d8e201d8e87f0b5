"""In a real browser (issue 19's acceptance): a page of the test LMS frames kubelab; the learner
launches from it, types kubectl in the terminal inside the frame, passes the exercise, and the
LMS's gradebook shows the score kubelab sent. kubelab is served as http://localhost and the LMS
as http://127.0.0.1: two sites, so the frame, its cookies and its CSP are those of a real
cross-site embed."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from lti_tool.models import LtiUser

from lms.models import Passback, PassbackState
from tests.fixtures.browser import screenshot, wait_js
from tests.fixtures.grading import Process, kuard_pod
from tests.fixtures.learners import Learner
from tests.fixtures.processes import LearnerSite, WorkerProcess
from tests.lms.conftest import register
from tests.lms.platform import LEARNER, TestPlatform

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.cluster,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
]

KUARD = '[data-labs-exercise="pods/kuard-pod"]'


def _tool_frame(page: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        for frame in page.frames:
            if frame.url.startswith("http://localhost:") and "/learn/" in frame.url:
                return frame
        if time.monotonic() > deadline:
            shown = [(f.url, f.locator("body").inner_text()[:300]) for f in page.frames]
            raise AssertionError(f"kubelab's chapter never loaded in the frame: {shown}")
        time.sleep(0.2)


def test_a_learner_launched_from_the_lms_passes_in_its_frame_and_the_lms_gets_the_score(
    learner_site: Callable[..., LearnerSite],
    make_learner: Callable[..., Learner],
    celery_worker_process: WorkerProcess,
    labs_watcher: Process,
    page: Any,
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    learner = make_learner()
    site = learner_site("lms-e2e", KUBELAB_TERMINAL_KUBECONFIG_PROVIDER=None)
    tool = site.url.replace("127.0.0.1", "localhost")
    with TestPlatform(tool) as platform:
        registration = register(platform)
        platform.add_member("student-1", "Sam Student", [LEARNER])
        platform.add_link(
            "link-kuard",
            "kubelab: Run kuard",
            custom={"kubelab_target": "exercise:pods/kuard-pod"},
            line_item={"scoreMaximum": 1, "label": "kubelab: Run kuard",
                       "resourceId": "exercise:pods/kuard-pod", "tag": "kubelab"},
        )  # fmt: skip
        # The LMS user is this learner (an account with an environment already, so the test
        # waits for no namespace); the first-launch account is tests/lms/test_launch.py's.
        LtiUser.objects.create(registration=registration, sub="student-1", auth_user=learner.user)

        page.goto(platform.page_url("student-1", "link-kuard"))
        frame = _tool_frame(page)
        assert re.search(r"/learn/pods/", frame.url)
        # wait_js, not wait_for_function: its evaluate goes over the devtools protocol, and the
        # site's CSP forbids the eval wait_for_function needs (a frame has both methods).
        wait_js(
            frame,
            "document.querySelector('[data-terminal-status]')?.dataset.state === 'ready'",
            timeout=60_000,
        )
        screenshot(page, "lms-framed-lesson")
        manifest = kuard_pod("blue").replace("'", "'\\''")
        frame.evaluate(
            "text => window.kubelabTerminal.type(text)",
            f"printf '%s' '{manifest}' > kuard-pod.yaml\nkubectl apply -f kuard-pod.yaml\n",
        )
        frame.wait_for_selector(f'{KUARD}[data-completed="true"]', state="attached", timeout=60_000)
        terminal = frame.locator(".terminal-panel .xterm-rows").inner_text()
        assert "pod/kuard created" in terminal.replace("\xa0", " ")
        screenshot(page, "lms-framed-exercise-passed")

        deadline = time.monotonic() + 60
        while not platform.scores:
            if time.monotonic() > deadline:
                rows = list(Passback.objects.values("state", "last_error"))
                raise AssertionError(f"the LMS never got the score: {rows}")
            time.sleep(0.3)
        page.goto(platform.gradebook_url())
        row = page.locator("#grades tr", has_text="student-1")
        assert re.search(r"student-1\s+kubelab: Run kuard\s+1(\.0)?\s+1(\.0)?", row.inner_text())
        screenshot(page, "lms-gradebook-with-the-score")
    assert Passback.objects.get().state == PassbackState.SENT
    assert errors == []
