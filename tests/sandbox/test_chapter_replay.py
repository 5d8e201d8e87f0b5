"""Replay a chapter's commands, in order, as a fresh learner in their own terminal jail.

What `tutorials.commands` promises a runner: every command that is not illustrative runs, in one
shell, in an empty home directory, with the learner's credentials and nothing else (the same
bubblewrap jail as the browser terminal, via ``sandbox.terminal.jail.jail_run``). Interactive
commands get no terminal: stdin is empty, editors are `true`, and a timeout ends `--watch`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from sandbox.terminal.jail import jail_run
from tests.fixtures.cluster import Cluster
from tests.sandbox.conftest import Learner
from tutorials.commands import Command, lesson_commands

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]

# Chapters whose every runnable command works on the embedded cluster, kubectl logs, exec, cp
# and port-forward included (the kubelet shim answers them for simulated pods).
REPLAYED = ["everyday-kubectl", "pods", "service-discovery", "jobs"]
INTERACTIVE_TIMEOUT = 20


def replay_script(commands: list[Command]) -> str:
    """One shell script; each command is fenced by markers so a failure names its command."""
    lines = ["export KUBE_EDITOR=true EDITOR=true PAGER=cat"]
    for index, command in enumerate(commands):
        text = command.text
        if command.interactive:
            text = f"timeout {INTERACTIVE_TIMEOUT} {text} </dev/null"
        lines += [f"printf '\\n::begin {index}\\n'", text, "rc=$?"]
        lines.append(f"printf '\\n::end {index} %s\\n' \"$rc\"")
        lines.append('[ "$rc" -eq 0 ] || [ "$rc" -eq 124 ] || exit 90')
    return "\n".join(lines) + "\n"


def failure_report(output: str, commands: list[Command]) -> str:
    begun = [int(i) for i in re.findall(r"^::begin (\d+)$", output, re.M)]
    if not begun:
        return output[-3000:]
    last = commands[begun[-1]]
    tail = output[output.rfind(f"::begin {begun[-1]}") :]
    return f"{last.source.name}:{last.line}: {last.first_line}\n{tail[-3000:]}"


@pytest.mark.parametrize("slug", REPLAYED)
def test_chapter_commands_all_succeed_for_a_fresh_learner(
    slug: str, cluster: Cluster, make_learner: Callable[..., Learner]
) -> None:
    if not cluster.embedded:
        pytest.skip("replays rely on the embedded cluster's simulated pods")
    learner = make_learner()
    commands = [c for c in lesson_commands(slug) if not c.illustrative]
    script = replay_script(commands)
    code, output, timed_out = jail_run(
        script="exec bash ./replay.sh",  # bash, as in the browser terminal (job control: %1)
        kubeconfig=learner.kubeconfig.read_text(),
        timeout=600,
        files={"replay.sh": script},
    )
    assert not timed_out, failure_report(output, commands)
    assert code == 0, failure_report(output, commands)
    ended = {int(i) for i, _ in re.findall(r"^::end (\d+) (\d+)$", output, re.M)}
    missing = [f"{c.line}: {c.first_line}" for i, c in enumerate(commands) if i not in ended]
    assert not missing, f"no end marker (output {len(output)} chars): {missing}\n{output[-2000:]}"
