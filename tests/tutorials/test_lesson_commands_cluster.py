"""Every runnable command of every chapter succeeds, in order, in a fresh learner environment.

Each chapter gets its own learner (provisioned by sandbox.services, so the real RBAC, quota,
LimitRange and Pod Security settings apply) and runs in one bash session in an empty directory,
as if the learner pressed "Run in terminal" on each block in turn. Illustrative commands are
skipped; interactive ones get a no-op editor (``KUBE_EDITOR=true``) or a timeout for ``--watch``.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.sandbox.conftest import Learner, make_learner  # noqa: F401  (fixture)
from tutorials.commands import Command, lesson_commands
from tutorials.content_loader import chapters_load

SLUGS = [chapter.slug for chapter in chapters_load()]
WATCH_SECONDS = 3
FAILED = "kubelab-command-failed"


def replay_script(commands: list[Command], kubectl_dir: Path) -> str:
    lines = [
        "set +e",
        f"export PATH={shlex.quote(str(kubectl_dir))}:$PATH",
        "export KUBE_EDITOR=true",
    ]
    for index, command in enumerate(commands):
        text = command.text
        if command.interactive and ("--watch" in text or " -w" in text):
            text = f"timeout {WATCH_SECONDS} {text}"
        lines += [
            f"echo '=== [{index}] line {command.line}'",
            text,
            # 124: a --watch ended by its timeout, which is how a learner would stop it too.
            f'rc=$?; [ $rc -eq 0 ] || [ $rc -eq 124 ] || echo "{FAILED} {index} $rc"',
        ]
    return "\n".join(lines) + "\n"


@pytest.mark.cluster
@pytest.mark.timeout(600)
@pytest.mark.parametrize("slug", SLUGS)
def test_chapter_commands_run_in_a_fresh_learner_environment(
    slug: str,
    make_learner: Callable[..., Learner],  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
    cluster: Any,
) -> None:
    learner = make_learner()
    commands = [command for command in lesson_commands(slug) if not command.illustrative]
    workdir = tmp_path / "work"
    workdir.mkdir()
    done = subprocess.run(
        ["bash", "-c", replay_script(commands, learner.kubectl_path.parent)],
        cwd=workdir,
        env={"HOME": str(workdir), "KUBECONFIG": str(learner.kubeconfig), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=540,
    )
    failures = [line.split()[1:] for line in done.stdout.splitlines() if line.startswith(FAILED)]
    report = [
        f"{commands[int(index)].source}:{commands[int(index)].line} exited {rc}: "
        f"{commands[int(index)].first_line}"
        for index, rc in failures
    ]
    assert not report, (
        "\n".join(report) + f"\n--- stdout ---\n{done.stdout}\n--- stderr ---\n{done.stderr}"
    )
