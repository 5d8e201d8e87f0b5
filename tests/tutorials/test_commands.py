"""Every shell command in the lessons fits the learner's terminal or is marked illustrative.

Running them against a real cluster is a separate cluster test; this one checks their shape."""

import re
import shlex
from pathlib import Path

import pytest

from tutorials.commands import KUBECTL_VERBS, Command, kubectl_verb, lesson_commands
from tutorials.content_loader import chapters_load

SLUGS = [chapter.slug for chapter in chapters_load()]
ALL_COMMANDS = [command for slug in SLUGS for command in lesson_commands(slug)]

# What a runnable command may start with: kubectl itself, writing a manifest with a heredoc,
# editing that manifest with sed, a loop over kubectl output, or echoing a variable.
RUNNABLE_PROGRAMS = {"kubectl", "cat", "sed", "for", "echo", "curl", "kill"}
# Verbs the embedded cluster cannot answer: ephemeral containers (debug). exec, logs, cp, attach
# and port-forward work on its simulated Pods, `kubectl proxy &` serves the API on the loopback of
# the learner's own jail, and `kubectl top pods` reads metrics-server (not `top nodes`: a node's
# usage sums every learner's Pods, so learners may not read it).
NEEDS_CONTAINERS = {"debug"}
# Commands that keep running: in the background (&), one at a time, stopped by `kill %1`.
BACKGROUND = ("kubectl port-forward", "kubectl proxy")
# The book's forms that no longer work; they may appear in prose, never in a command.
OUTDATED = [
    (re.compile(r"--cascade=(false|true)\b"), "--cascade=false/true (use orphan/background)"),
    (re.compile(r"extensions/v1beta1"), "extensions/v1beta1"),
    (re.compile(r"\bget all\b.*\s-a\b"), "kubectl get all -a"),
    (re.compile(r"--cpu-percent"), "--cpu-percent (use --cpu=80%)"),
    (re.compile(r"\bheapster\b"), "heapster"),
]


def command_id(command: Command) -> str:
    return f"{command.chapter_slug}:{command.line}"


def kubectl_calls(command: Command) -> list[list[str]]:
    return command.kubectl_calls()


@pytest.mark.parametrize("command", ALL_COMMANDS, ids=command_id)
def test_kubectl_calls_use_known_verbs(command: Command) -> None:
    calls = kubectl_calls(command)
    if command.program == "kubectl":
        assert calls, f"{command.first_line!r} starts with kubectl but no call was parsed"
    for arguments in calls:
        verb = kubectl_verb(arguments)
        assert verb in KUBECTL_VERBS, (
            f"{command.source}:{command.line}: unknown kubectl verb {verb!r}"
        )


@pytest.mark.parametrize("command", ALL_COMMANDS, ids=command_id)
def test_no_outdated_forms_in_commands(command: Command) -> None:
    for pattern, name in OUTDATED:
        assert not pattern.search(command.text), f"{command.source}:{command.line} uses {name}"
    for arguments in kubectl_calls(command):
        verb = kubectl_verb(arguments)
        if verb == "run":
            assert "--replicas" not in " ".join(arguments), "kubectl run has no --replicas"
        if verb == "exec":
            assert "--" in arguments, (
                f"{command.source}:{command.line}: exec needs -- before the command"
            )


RUNNABLE = [command for command in ALL_COMMANDS if not command.illustrative]


@pytest.mark.parametrize("command", RUNNABLE, ids=command_id)
def test_runnable_commands_fit_the_learner_terminal(command: Command) -> None:
    where = f"{command.source}:{command.line}"
    assert command.program in RUNNABLE_PROGRAMS, (
        f"{where}: {command.program!r} is not for the terminal"
    )
    if command.program == "cat":
        assert re.match(r"^cat > [\w.-]+ <<'EOF'$", command.first_line), where
    if command.program == "sed":
        assert re.match(r"^sed -i '[^']+' [\w.-]+$", command.first_line), where
    if command.program == "curl":
        # Only what a port-forward or kubectl proxy opened in the learner's own terminal.
        assert re.search(r"http://localhost:\d+/", command.first_line), where
    if command.program == "kill":
        assert command.first_line == "kill %1", where
    for arguments in kubectl_calls(command):
        verb = kubectl_verb(arguments)
        assert verb not in NEEDS_CONTAINERS, f"{where}: kubectl {verb} needs a real container"
        if verb == "top":
            positional = [a for a in arguments if not a.startswith("-")]
            assert positional[1:2] in (["pods"], ["pod"], ["po"]), f"{where}: only top pods"
        namespace = _namespace_flag(arguments)
        if namespace is not None and verb != "config":
            assert namespace == "kube-system", f"{where}: learners work in their own namespace"
            assert verb in {"get", "describe"}, f"{where}: kube-system is read-only"
        if verb in {"label", "annotate", "taint", "cordon", "uncordon", "drain"}:
            positional = [a for a in arguments if not a.startswith("-")]
            target = positional[1] if len(positional) > 1 else ""
            assert not target.startswith(("node", "no/")), (
                f"{where}: changing nodes is cluster-wide; mark it illustrative"
            )


@pytest.mark.parametrize("command", [c for c in ALL_COMMANDS if c.interactive], ids=command_id)
def test_interactive_commands_need_a_human(command: Command) -> None:
    (arguments,) = kubectl_calls(command)
    verb = kubectl_verb(arguments)
    terminal = verb == "exec" and any(a in arguments for a in ("-it", "-ti"))
    assert verb in {"edit", "attach"} or terminal or "--watch" in arguments or "-w" in arguments


@pytest.mark.parametrize("slug", SLUGS)
def test_background_jobs_are_stopped(slug: str) -> None:
    open_jobs = 0
    for command in lesson_commands(slug):
        if command.illustrative:
            continue
        if command.first_line.startswith(BACKGROUND):
            assert command.first_line.endswith(" &"), (
                f"{command.source}:{command.line}: run it in the background (&)"
            )
            assert open_jobs == 0, f"{command.source}:{command.line}: one background job at a time"
            open_jobs += 1
        if command.first_line == "kill %1":
            assert open_jobs == 1, f"{command.source}:{command.line}: no background job to stop"
            open_jobs -= 1
    assert open_jobs == 0, f"{slug} leaves a background job running"


@pytest.mark.parametrize("slug", SLUGS)
def test_both_languages_give_the_same_commands(slug: str) -> None:
    english = [
        (c.text, c.illustrative, c.interactive) for c in lesson_commands(slug, language="en")
    ]
    chinese = [
        (c.text, c.illustrative, c.interactive) for c in lesson_commands(slug, language="zh-hant")
    ]
    assert english == chinese


@pytest.mark.parametrize("slug", SLUGS)
def test_files_are_written_before_they_are_used(slug: str) -> None:
    written: set[str] = set()
    for command in lesson_commands(slug):
        if command.illustrative:
            continue
        created = re.match(r"^cat > ([\w.-]+) <<", command.first_line)
        if created:
            written.add(created.group(1))
        for arguments in command.kubectl_calls():
            for used in _file_arguments(arguments):
                assert used == "-" or used in written, (
                    f"{command.source}:{command.line}: {used} is used before the lesson writes it"
                )
        if command.program == "sed":
            assert shlex.split(command.first_line)[-1] in written


@pytest.mark.parametrize("slug", SLUGS)
def test_every_chapter_has_runnable_commands_and_cleans_up(slug: str) -> None:
    commands = [c for c in lesson_commands(slug) if not c.illustrative and not c.interactive]
    assert len(commands) >= 5
    verbs = [kubectl_verb(arguments) for c in commands for arguments in c.kubectl_calls()]
    if "apply" in verbs or "create" in verbs or "run" in verbs:
        assert "delete" in verbs, f"{slug} creates objects but never deletes them"


def test_lesson_commands_api() -> None:
    commands = lesson_commands("pods")
    first = commands[0]
    assert first == Command(
        chapter_slug="pods",
        text="kubectl run kuard --image=gcr.io/kuar-demo/kuard-amd64:blue",
        source=first.source,
        line=first.line,
        illustrative=False,
        interactive=False,
    )
    source_lines = Path(first.source).read_text(encoding="utf-8").splitlines()
    assert source_lines[first.line - 1] == first.text
    heredoc = next(c for c in commands if c.first_line == "cat > kuard-pod.yaml <<'EOF'")
    assert heredoc.text.endswith("\nEOF")
    assert "kind: Pod" in heredoc.text
    assert heredoc.kubectl_calls() == []
    loop = next(c for c in lesson_commands("daemonsets") if c.program == "for")
    assert loop.text.splitlines()[-1] == "done"
    assert [kubectl_verb(a) for a in loop.kubectl_calls()] == ["get", "delete"]


def test_kubectl_calls_are_found_inside_substitutions_and_pipes() -> None:
    command = Command(
        chapter_slug="x",
        text="POD=$(kubectl get pods -l 'app in (a,b)' -o name) && kubectl describe $POD | grep x",
        source=Path("x.md"),
        line=1,
        illustrative=False,
        interactive=False,
    )
    assert command.program == "kubectl"
    assert command.kubectl_calls() == [
        ["get", "pods", "-l", "app in (a,b)", "-o", "name"],
        ["describe", "$POD"],
    ]


def _namespace_flag(arguments: list[str]) -> str | None:
    for index, argument in enumerate(arguments):
        if argument.startswith("--namespace="):
            return argument.split("=", 1)[1]
        if argument in {"-n", "--namespace"} and index + 1 < len(arguments):
            return arguments[index + 1]
    return None


def _file_arguments(arguments: list[str]) -> list[str]:
    files = []
    for index, argument in enumerate(arguments):
        if argument in {"-f", "--filename"} and index + 1 < len(arguments):
            files.append(arguments[index + 1])
        elif argument.startswith(("--filename=", "--patch-file=")):
            files.append(argument.split("=", 1)[1])
    return files
