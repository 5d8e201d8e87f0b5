"""Killercoda's Markdown in the course's dialect.

Killercoda marks code to run with ``{{exec}}`` (``{{exec interrupt}}``: press Ctrl-C first) and
code to copy with ``{{copy}}``, after an inline code span or a fenced block's closing fence;
``{{}}`` turns copying off. Here a block to run becomes a ``shell`` fence, which the lesson
renderer gives a "Run in terminal" button; an inline one becomes such a block of its own line;
everything else stays code to read or copy. The commands to run are collected in order: they are
the step's reference solution.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_FENCE_OPEN = re.compile(r"^(?P<indent>\s{0,3})(?P<fence>```+|~~~+)\s*(?P<info>[^`]*)$")
_MARK = r"\{\{(?P<mark>[a-z ]*)\}\}"
_INLINE = re.compile(r"`(?P<code>[^`\n]+)`" + _MARK)
_YAMLISH = re.compile(r"^\s*(apiVersion|kind|metadata):", re.MULTILINE)


@dataclass(frozen=True)
class Converted:
    markdown: str
    commands: list[str]
    # Code in a "Solution" <details> section without {{exec}} (many authors' convention):
    # (kind, code), in order; convert.solution_from_section turns them into commands.
    solution_blocks: list[tuple[str, str]] = field(default_factory=list)


_INTERACTIVE = re.compile(
    r"\b(k|kubectl)\b[^\n|;&]*\sedit\b|^\s*(vi|vim|nano|less|more|watch)\b|\s(-w|--watch)\b"
)


def solution_from_section(blocks: list[tuple[str, str]]) -> list[str]:
    """Commands from a Solution section's code: a manifest is applied, shell lines run (comments,
    editors and watches left out: nobody is at the keyboard), ``k`` read as kubectl."""
    commands = []
    for kind, code in blocks:
        if kind == "yaml" and _YAMLISH.search(code):
            commands.append(f"kubectl apply -f - <<'KUBELAB_EOF'\n{code.strip()}\nKUBELAB_EOF")
        elif kind == "text":
            lines = [
                re.sub(r"^(\s*)k(?=\s)", r"\1kubectl", line)
                for line in code.split("\n")
                if line.strip()
                and not line.lstrip().startswith("#")
                and not _INTERACTIVE.search(line)
            ]
            if lines:
                commands.append("\n".join(lines))
    return commands


def _fence(code: str, kind: str) -> list[str]:
    return [f"```{kind}", *code.rstrip("\n").split("\n"), "```"]


def _kind(info: str, code: str, mark: str) -> str:
    if mark.startswith("exec"):
        return "shell"
    word = info.split()[0].lower() if info.split() else ""
    if word in ("yaml", "yml") or (word in ("", "plain", "text") and _YAMLISH.search(code)):
        return "yaml"
    if word in ("json", "bash", "sh", "shell", "console"):
        # Killercoda authors mark shell as `bash`; without {{exec}} it is there to read or copy,
        # and a shell fence here would get a run button.
        return "text" if word != "json" else "json"
    return "text"


def killercoda_markdown(text: str) -> Converted:
    """The text in the course's dialect, and the commands its ``{{exec}}`` marks run, in order."""
    lines = text.replace("\r\n", "\n").split("\n")
    out: list[str] = []
    commands: list[str] = []
    solution_blocks: list[tuple[str, str]] = []
    in_solution = False
    # "## Solution" above a <details> whose summary says something else ("Click to view YAML"):
    # the first such section that holds code is the solution.
    solution_ahead = False
    found_before = 0
    i = 0
    while i < len(lines):
        line = lines[i]
        lowered = line.lower()
        if ("<details" in lowered and (solution_ahead or "solution" in lowered)) or (
            "<summary" in lowered and "solution" in lowered
        ):
            in_solution, found_before = True, len(solution_blocks)
        elif "</details>" in lowered:
            if in_solution and len(solution_blocks) > found_before:
                solution_ahead = False
            in_solution = False
        elif "solution" in lowered and not line.lstrip().startswith(("```", "~~~")):
            solution_ahead = True
        opened = _FENCE_OPEN.match(line)
        if opened:
            fence = opened.group("fence")
            body: list[str] = []
            j = i + 1
            mark = ""
            closed = False
            while j < len(lines):
                close = re.match(
                    rf"^\s{{0,3}}{re.escape(fence[0])}{{{len(fence)},}}\s*(?:{_MARK})?\s*$",
                    lines[j],
                )
                if close:
                    mark = (close.group("mark") or "").strip()
                    closed = True
                    break
                body.append(lines[j])
                j += 1
            code = "\n".join(body)
            kind = _kind(opened.group("info"), code, mark)
            if mark.startswith("exec") and code.strip():
                commands.append(code.strip("\n"))
            elif in_solution and code.strip():
                solution_blocks.append((kind, code.strip("\n")))
            out += _fence(code, kind)
            i = j + 1 if closed else j
            continue

        def inline(match: re.Match[str]) -> str:
            return f"`{match.group('code')}`"

        runs = [m for m in _INLINE.finditer(line) if m.group("mark").strip().startswith("exec")]
        for m in runs:
            commands.append(m.group("code").strip())
        stripped = _INLINE.sub(inline, line)
        if runs and len(runs) == 1 and _INLINE.fullmatch(line.strip()):
            # A line that is only a command to run: a block with the run button.
            out += ["", *_fence(runs[0].group("code").strip(), "shell"), ""]
        else:
            out.append(stripped)
        if runs and not _INLINE.fullmatch(line.strip()):
            out += ["", *_fence("\n".join(m.group("code").strip() for m in runs), "shell"), ""]
        i += 1
    return Converted("\n".join(out).strip("\n") + "\n", commands, solution_blocks)
