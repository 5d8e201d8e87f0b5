"""Every runnable command of every chapter succeeds, in order, in a fresh learner environment.

Each chapter gets its own learner (provisioned by sandbox.services, so the real RBAC, quota,
LimitRange and Pod Security settings apply) and runs in one bash session in an empty home, inside
the learner's own terminal jail (``jails.oneshot.oneshot_run``: their network namespace, so
`kubectl port-forward` and `curl localhost` stay private to the run), as if the learner pressed
"Run in terminal" on each block in turn. Illustrative commands are skipped; interactive ones get
a no-op editor (``KUBE_EDITOR=true``), empty input, and a timeout (``--watch``, ``attach``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from jails.oneshot import oneshot_run
from tests.fixtures.learners import Learner, make_learner  # noqa: F401  (fixture)
from tutorials.commands import Command, lesson_commands
from tutorials.content_loader import chapters_load

SLUGS = [chapter.slug for chapter in chapters_load()]
INTERACTIVE_SECONDS = 5
FAILED = "kubelab-command-failed"
COMPLETE = "kubelab-replay-complete"


def replay_script(commands: list[Command]) -> str:
    lines = ["set +e", "export KUBE_EDITOR=true EDITOR=true PAGER=cat"]
    for index, command in enumerate(commands):
        text = command.text
        if command.interactive:
            text = f"timeout {INTERACTIVE_SECONDS} {text} </dev/null"
        lines += [
            f"printf '\\n=== [{index}] line {command.line}\\n'",
            text,
            # 124: ended by its timeout, which is how a learner would stop a --watch too.
            f'rc=$?; [ $rc -eq 0 ] || [ $rc -eq 124 ] || printf "\\n{FAILED} {index} $rc\\n"',
        ]
    lines.append(f"printf '\\n{COMPLETE}\\n'")
    return "\n".join(lines) + "\n"


@pytest.mark.cluster
@pytest.mark.timeout(600)
@pytest.mark.parametrize("slug", SLUGS)
def test_chapter_commands_run_in_a_fresh_learner_environment(
    slug: str,
    make_learner: Callable[..., Learner],  # noqa: F811 (the fixture imported above)
    cluster: Any,
) -> None:
    learner = make_learner()
    commands = [command for command in lesson_commands(slug) if not command.illustrative]
    code, output, timed_out = oneshot_run(
        script="exec bash ./replay.sh",  # bash, as in the browser terminal (job control: %1)
        kubeconfig=learner.kubeconfig.read_text(),
        timeout=540,
        files={"replay.sh": replay_script(commands)},
    )
    finished = not timed_out and code == 0 and COMPLETE in output
    assert finished, f"the replay did not finish ({code}):\n{output[-4000:]}"
    failures = [line.split()[1:] for line in output.splitlines() if line.startswith(FAILED)]
    report = [
        f"{commands[int(index)].source}:{commands[int(index)].line} exited {rc}: "
        f"{commands[int(index)].first_line}"
        for index, rc in failures
    ]
    assert not report, "\n".join(report) + f"\n--- output ---\n{output[-6000:]}"
