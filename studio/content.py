"""What an authored lab's content may be, checked before anything parses or runs it (pure).

An author's spec and files are untrusted input: bounded in size and count, file names that are
plain names (no folders, no dot files), UTF-8 text; and commands and scripts that say they reach
beyond the learner's namespace (another namespace, every namespace, other credentials or
servers) are refused with the line they are on. The jail and RBAC stop such a command anyway;
refusing it here tells the author at once, instead of a test run failing with Forbidden.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass

import yaml

from labs.messages import Msg
from labs.messages import gettext_noop as _
from labs.spec import Lab, Problem, ScriptCheck
from labs.spec.problems import _dotted
from tutorials.yamlpos import path_line

MAX_SPEC_BYTES = 256 * 1024
MAX_FILES = 50
MAX_FILE_BYTES = 64 * 1024
MAX_TOTAL_BYTES = 1024 * 1024
FILE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")
SLUG = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
SLUG_MAX = 50

# kubectl flags that leave the learner's namespace or credentials.
REACHING_FLAGS = frozenset(
    {"--namespace", "-n", "--all-namespaces", "-A", "--kubeconfig", "--context", "--cluster",
     "--server", "-s", "--token", "--as", "--as-group", "--as-uid", "--user",
     "--certificate-authority", "--client-key", "--client-certificate",
     "--insecure-skip-tls-verify"}
)  # fmt: skip
NETWORK_TOOLS = frozenset({"curl", "wget", "nc", "ncat", "socat", "ssh", "telnet"})
LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")
_SEPARATORS = frozenset({";", "&&", "||", "|", "&", "(", ")", "{", "}", "then", "do"})


@dataclass(frozen=True)
class Content:
    spec: str
    files: dict[str, str]


def content_problems(spec: str, files: Mapping[str, str], *, slug: str) -> list[Problem]:
    """Size, count, name and encoding problems of a draft (empty when it may be parsed)."""
    spec_file = f"{slug}/lab.yaml"
    problems: list[Problem] = []
    size = len(spec.encode("utf-8", "replace"))
    if size > MAX_SPEC_BYTES:
        problems.append(
            Problem(
                spec_file,
                None,
                "",
                Msg.of(
                    _("the spec is {size} KiB; at most {limit} KiB"),
                    size=size // 1024,
                    limit=MAX_SPEC_BYTES // 1024,
                ),
                Msg.of(_("move long manifests into files and split the lab")),
            )
        )
    if len(files) > MAX_FILES:
        problems.append(
            Problem(
                f"{slug}/files",
                None,
                "",
                Msg.of(_("{count} files; at most {limit}"), count=len(files), limit=MAX_FILES),
                Msg.of(_("remove the files no step uses")),
            )
        )
    total = size
    for name, text in files.items():
        where = f"{slug}/files/{name}"
        if not FILE_NAME.match(name) or name in {".", ".."}:
            problems.append(
                Problem(
                    where,
                    None,
                    "",
                    Msg.of(_("{name} is not a file name kubelab keeps"), name=repr(name)),
                    Msg.of(
                        _("use letters, digits, '.', '_' and '-', like kuard-pod.yaml (no folders)")
                    ),
                )
            )
            continue
        if "\x00" in text:
            problems.append(
                Problem(where, None, "", Msg.of(_("not text")), Msg.of(_("save it as UTF-8 text")))
            )
            continue
        length = len(text.encode("utf-8", "replace"))
        total += length
        if length > MAX_FILE_BYTES:
            problems.append(
                Problem(
                    where,
                    None,
                    "",
                    Msg.of(
                        _("{size} KiB; a file has at most {limit} KiB"),
                        size=length // 1024,
                        limit=MAX_FILE_BYTES // 1024,
                    ),
                    Msg.of(_("split it")),
                )
            )
    if total > MAX_TOTAL_BYTES:
        problems.append(
            Problem(
                f"{slug}/",
                None,
                "",
                Msg.of(
                    _("the lab is {size} KiB in all; at most {limit} KiB"),
                    size=total // 1024,
                    limit=MAX_TOTAL_BYTES // 1024,
                ),
                Msg.of(_("split the lab")),
            )
        )
    return problems


def slug_problem(slug: str) -> Msg | None:
    """Why a slug cannot name a new lab (None when it can, as far as its form goes)."""
    if not slug:
        return Msg.of(_("give the lab a short name (its slug), like probes-practice"))
    if len(slug) > SLUG_MAX:
        return Msg.of(_("a slug has at most {n} characters"), n=SLUG_MAX)
    if not SLUG.match(slug):
        return Msg.of(_("use lowercase letters, digits and single dashes, starting with a letter"))
    return None


def _names_a_host(word: str) -> bool:
    """A URL or host:port (``http://x``, ``10.0.0.1:80``, ``example.com``), not a file name
    or an option's value such as ``10`` or ``output.txt``."""
    if "://" in word:
        return True
    return bool(_HOST.fullmatch(word.split("/", 1)[0]))


_HOST = re.compile(
    r"[A-Za-z0-9.-]+:\d+"  # host:port
    r"|(\d{1,3}\.){3}\d{1,3}"  # an IPv4 address
    r"|[a-z0-9-]+(\.[a-z0-9-]+)*\.(com|net|org|io|dev|local|internal|svc|cluster)"  # a name
)


NAMESPACE_FLAGS = frozenset({"--namespace", "-n", "--all-namespaces", "-A"})


def command_reaches_out(command: str, *, namespaces_mapped: bool = False) -> str | None:
    """What in a shell command leaves the learner's namespace, credentials or machine: a kubectl
    flag such as ``-n other`` or ``--all-namespaces``, or a network tool aimed at anything but
    this machine (curl to localhost after a port-forward is fine). None when nothing does."""
    try:
        lexer = shlex.shlex(command, posix=True, punctuation_chars=";&|()")
        lexer.whitespace_split = True
        words = list(lexer)
    except ValueError:  # an unclosed quote: the shell would refuse it too, let the test say so
        return None
    tool = ""
    previous = ""
    for word in words:
        after, previous = previous, word
        if word in _SEPARATORS or set(word) <= set(";&|()"):
            tool = ""
            continue
        name = word.rsplit("/", 1)[-1]
        if not tool and name in ("kubectl", "k", *NETWORK_TOOLS):
            tool = name
            continue
        if word == "--":  # what follows is the command kubectl runs in a container
            tool = "-"
            continue
        if tool in ("kubectl", "k") and word == "config" and after.rsplit("/", 1)[-1] == tool:
            # `kubectl config ...` only edits a kubeconfig file (the lesson's practice.yaml); it
            # never talks to a server, so --kubeconfig, --cluster and --user reach nothing.
            tool = "-"
            continue
        if tool in ("kubectl", "k"):
            flag = word.split("=", 1)[0]
            if namespaces_mapped and (flag in NAMESPACE_FLAGS or flag.startswith("-n")):
                # An imported scenario's `-n ios`: every namespace is the learner's own there
                # (labs.namespacing), so the flag reaches nowhere else.
                continue
            if flag in REACHING_FLAGS:
                return f"`kubectl {flag}`"
        elif tool in NETWORK_TOOLS and not word.startswith("-") and _names_a_host(word):
            host = word.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]
            if host not in LOCAL_HOSTS:
                return f"`{tool} {word}`"
    return None


def reaching_problems(lab: Lab, spec: str, *, slug: str) -> list[Problem]:
    """Script checks, setups, solutions and near misses that reach outside the learner's
    namespace, each with the line the command is on (the spec has validated)."""
    root = yaml.compose(spec, Loader=yaml.SafeLoader)
    problems: list[Problem] = []

    def refuse(command: str, path: tuple[str | int, ...]) -> None:
        what = command_reaches_out(command, namespaces_mapped=lab.scenario)
        if what is None or root is None:
            return
        problems.append(
            Problem(
                f"{slug}/lab.yaml",
                path_line(root, path, default=1),
                _dotted(path),
                Msg.of(_("{what} reaches outside the learner's namespace"), what=what),
                Msg.of(
                    _(
                        "leave it out: every step and check runs as the learner, in their own "
                        "namespace, with their own token and no network but this machine"
                    )
                ),
            )
        )

    for e, exercise in enumerate(lab.exercises):
        for c, check in enumerate(exercise.checks):
            if isinstance(check, ScriptCheck):
                refuse(check.run, ("exercises", e, "checks", c, "run"))
        steps = [("setup", exercise.setup), ("solution", exercise.solution)]
        for key, step in steps:
            for n, command in enumerate(step.commands if step is not None else ()):
                refuse(command, ("exercises", e, key, "commands", n))
        for m, miss in enumerate(exercise.near_misses):
            for n, command in enumerate(miss.commands):
                refuse(command, ("exercises", e, "near_misses", m, "commands", n))
    return problems
