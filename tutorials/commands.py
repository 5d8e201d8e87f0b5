"""Extract the shell commands a lesson asks the learner to type, in order, for tests and runners.

``lesson_commands(chapter_slug)`` returns every command of a chapter's ``shell`` blocks (they are
identical in every language; the loader enforces that). A command is one logical shell command as
the learner would type it: backslash continuations are joined, a heredoc keeps its body, and a
``for``/``while``/``if`` compound keeps all its lines. Each command carries the flags of its block
(see ``tutorials.content_loader`` for the ``illustrative`` and ``interactive`` conventions).

A runner that replays a chapter against a fresh learner namespace should run the commands with
``not command.illustrative`` in order, in one ``bash`` session (later commands use shell
variables and files the earlier ones created) inside an empty working directory; interactive
commands need ``KUBE_EDITOR`` set to something non-interactive or a timeout (``--watch``).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from tutorials.content_loader import DEFAULT_LANGUAGE, CodeBlock, chapter_load

KUBECTL_VERBS: frozenset[str] = frozenset(
    {
        "alpha", "annotate", "api-resources", "api-versions", "apply", "attach", "auth",
        "autoscale", "certificate", "cluster-info", "completion", "config", "cordon", "cp",
        "create", "debug", "delete", "describe", "diff", "drain", "edit", "events", "exec",
        "explain", "expose", "get", "kustomize", "label", "logs", "options", "patch", "plugin",
        "port-forward", "proxy", "replace", "rollout", "run", "scale", "set", "taint", "top",
        "uncordon", "version", "wait",
    }
)  # fmt: skip

_HEREDOC_RE = re.compile(r"<<-?\s*(['\"]?)([A-Za-z_]+)\1")
_PUNCTUATION = "();<>|&"
_KEYWORDS_BEFORE_COMMAND = frozenset({"do", "then", "else", "time", "!"})
_COMPOUND_OPEN = {"for": "done", "while": "done", "until": "done", "if": "fi", "case": "esac"}


@dataclass(frozen=True)
class Command:
    """One command from a lesson, exactly as the learner would type it."""

    chapter_slug: str
    text: str
    source: Path
    line: int
    illustrative: bool
    interactive: bool

    @property
    def first_line(self) -> str:
        """The command without heredoc bodies or the rest of a compound (continuations joined)."""
        return self.text.split("\n", 1)[0]

    @property
    def program(self) -> str:
        """The first word, after any ``NAME=`` prefix that assigns a command substitution."""
        words = self.first_line.split()
        if not words:
            return ""
        first = words[0]
        assignment = re.match(r"^[A-Za-z_][A-Za-z0-9_]*=\$\((\S+)", first)
        if assignment:
            return assignment.group(1)
        return first

    def kubectl_calls(self) -> list[list[str]]:
        """Arguments of every ``kubectl`` invocation in the command (also inside ``$(...)`` and
        loops), heredoc bodies excluded; quoting is resolved with ``shlex``."""
        calls: list[list[str]] = []
        for line in _without_heredoc_bodies(self.text):
            words = _shell_words(line)
            for position, word in enumerate(words):
                before = words[position - 1] if position else None
                if word == "kubectl" and (before is None or _starts_command(before)):
                    arguments: list[str] = []
                    for argument in words[position + 1 :]:
                        if _is_punctuation(argument):
                            break
                        arguments.append(argument)
                    calls.append(arguments)
        return calls


def kubectl_verb(arguments: list[str]) -> str | None:
    """The subcommand of a kubectl call: its first argument that is not a flag."""
    return next((argument for argument in arguments if not argument.startswith("-")), None)


def lesson_commands(
    chapter_slug: str, *, content_dir: Path | None = None, language: str = DEFAULT_LANGUAGE
) -> list[Command]:
    """Every command of the chapter, in page order, with its block's flags."""
    lesson = chapter_load(chapter_slug, content_dir).lesson(language)
    commands: list[Command] = []
    for block in lesson.code_blocks:
        if block.kind == "shell":
            commands.extend(_block_commands(chapter_slug, lesson.source, block))
    return commands


def _block_commands(chapter_slug: str, source: Path, block: CodeBlock) -> list[Command]:
    lines = block.code.split("\n")
    commands: list[Command] = []
    index = 0
    while index < len(lines):
        if not lines[index].strip():
            index += 1
            continue
        start = index
        collected: list[str] = []
        index = _logical_command_end(lines, index, collected)
        commands.append(
            Command(
                chapter_slug=chapter_slug,
                text="\n".join(collected),
                source=source,
                line=block.line + 1 + start,
                illustrative=block.illustrative,
                interactive=block.interactive,
            )
        )
    return commands


def _logical_command_end(lines: list[str], index: int, collected: list[str]) -> int:
    """Append one logical command's lines to ``collected``; return the index after it."""
    closers: list[str] = []
    while index < len(lines):
        line = lines[index]
        index += 1
        while line.endswith("\\") and index < len(lines):
            line = f"{line[:-1].rstrip()} {lines[index].strip()}"
            index += 1
        collected.append(line)
        heredoc = _HEREDOC_RE.search(line)
        if heredoc:
            delimiter = heredoc.group(2)
            while index < len(lines):
                collected.append(lines[index])
                index += 1
                if lines[index - 1].strip() == delimiter:
                    break
        first_word = line.split(maxsplit=1)[0] if line.strip() else ""
        if first_word in _COMPOUND_OPEN:
            closers.append(_COMPOUND_OPEN[first_word])
        words = re.split(r"[\s;]+", line.strip())
        while closers and closers[-1] in words:
            closers.pop()
        if not closers:
            return index
    return index


def _is_punctuation(word: str) -> bool:
    return bool(word) and set(word) <= set(_PUNCTUATION)


def _starts_command(previous: str) -> bool:
    return (
        _is_punctuation(previous) or previous in _KEYWORDS_BEFORE_COMMAND or previous.endswith("$")
    )


def _shell_words(line: str) -> list[str]:
    lexer = shlex.shlex(line, posix=True, punctuation_chars=_PUNCTUATION)
    lexer.whitespace_split = True
    lexer.commenters = ""
    return list(lexer)


def _without_heredoc_bodies(text: str) -> list[str]:
    kept: list[str] = []
    delimiter: str | None = None
    for line in text.split("\n"):
        if delimiter is not None:
            if line.strip() == delimiter:
                delimiter = None
            continue
        kept.append(line)
        heredoc = _HEREDOC_RE.search(line)
        if heredoc:
            delimiter = heredoc.group(2)
    return kept
