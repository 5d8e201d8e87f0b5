"""The container's first log lines, from its image and command: kuard's start-up for the demo
images (with its key generator), nginx's entrypoint, what an ``echo`` in the command prints, one
short line otherwise; and the image and argv readings they rest on, which podsim.poddir and the
demo app use too. Pure, stdlib only.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from podsim.container import pod_container, pod_meta, pod_spec
from podsim.envvars import container_env, expand

# Image names (last path component, without tag) that run the demo app.
DEMO_IMAGES = ("kuard", "kuard-amd64", "kuard-arm64", "kubelab-demoapp")
KUARD_DEFAULT_VERSION = "v0.10.0-blue"
KUARD_PORT = 8080
# A pod spec is learner input: --keygen-num-to-gen=10**11 must not make 10**11 log lines.
KEYGEN_MAX_KEYS = 1000
# Set by the container runtime (image config and hostname), unknown to the kubelet's expansion.
RUNTIME_VARIABLES = ("HOSTNAME", "PATH")


def image_parts(image: str) -> tuple[str, str]:
    """(repository, tag) of an image reference; tag '' when none (or only a digest)."""
    reference = image.split("@", 1)[0]
    repository, _, tag = reference.rpartition(":")
    if not repository or "/" in tag:
        return reference, ""
    return repository, tag


def is_demo_image(image: str) -> bool:
    """Whether the image is one the demo app plays (the book's kuard, or our own marker)."""
    repository, _ = image_parts(image)
    return repository.rsplit("/", 1)[-1] in DEMO_IMAGES


def kuard_version(image: str) -> str:
    _, tag = image_parts(image)
    if not tag or tag == "latest":
        return KUARD_DEFAULT_VERSION
    return tag if tag.startswith("v") else f"v0.10.0-{tag}"


def container_argv(container: Mapping[str, Any], env: Mapping[str, str]) -> list[str]:
    """``command`` + ``args`` with ``$(VAR)`` expanded as the kubelet does (the image's own
    entrypoint is unknown, so a container without ``command`` yields just its args).

    HOSTNAME and PATH come from the runtime, not the kubelet, so ``$(HOSTNAME)`` stays as
    written unless the container declares it in ``env``."""
    declared = {str(v.get("name")) for v in container.get("env") or []}
    env = {k: v for k, v in env.items() if k not in RUNTIME_VARIABLES or k in declared}
    words = [*(container.get("command") or []), *(container.get("args") or [])]
    return [expand(str(word), env) for word in words]


def container_startup_lines(
    pod: Mapping[str, Any], container_name: str, *, env: Sequence[tuple[str, str]] | None = None
) -> list[str]:
    """Plausible first log lines of the container, without timestamps (the shim adds them).

    kuard (and our demo image) print kuard's start-up; nginx its entrypoint's lines; a
    container running ``echo ...`` (directly or via ``sh -c``) those words; anything else one
    short line. ``env`` (from container_env) expands ``$(VAR)`` and shell ``$VAR``."""
    container = pod_container(pod, container_name)
    image = str(container.get("image", ""))
    variables = dict(env) if env is not None else dict(container_env(pod, container_name, [], {}))
    argv = container_argv(container, variables)
    repository, tag = image_parts(image)
    base = repository.rsplit("/", 1)[-1]
    echoed = _echo_lines(argv, variables)
    if echoed is not None:
        return echoed
    if is_demo_image(image):
        return _kuard_lines(pod, container)
    if base == "nginx" or base.startswith("nginx-"):
        return _nginx_lines(tag)
    what = f" {shlex.join(argv)}" if argv else ""
    return [f"Started container {container_name} (image {image}){what}"]


def _kuard_lines(pod: Mapping[str, Any], container: Mapping[str, Any]) -> list[str]:
    meta = pod_meta(pod)
    tls = any(
        m.get("mountPath", "").rstrip("/") == "/tls" for m in container.get("volumeMounts") or []
    )
    keygen = keygen_flags(container)
    keygen_config: dict[str, Any] = {
        "enable": False,
        "exit-code": 0,
        "exit-on-complete": False,
        "memq-queue": "",
        "memq-server": "",
        "num-to-gen": 0,
        "time-to-run": 0,
    }
    keygen_config.update(keygen or {})
    config = {
        "address": f":{KUARD_PORT}",
        "debug": False,
        "debug-sitedata-dir": "./sitedata",
        "keygen": keygen_config,
        "liveness": {"fail-next": 0},
        "readiness": {"fail-next": 0},
        "tls-address": ":8443",
        "tls-dir": "/tls",
    }
    lines = [
        f"Starting kuard version: {kuard_version(str(container.get('image', '')))}",
        "*" * 70,
        "* WARNING: This server may expose sensitive",
        "* and secret information. Be careful.",
        "*" * 70,
        "Config: ",
        *json.dumps(config, indent=2).splitlines(),
        f"Pod {meta.get('name', '')} in namespace {meta.get('namespace', '')}"
        f" on node {pod_spec(pod).get('nodeName', '')}",
    ]
    if tls:
        lines.append("Serving on HTTPS on :8443")
    else:
        lines.append("Could not find certificates to serve TLS")
    lines.append(f"Serving on HTTP on :{KUARD_PORT}")
    if keygen is not None:
        lines += _keygen_lines(str(meta.get("uid") or meta.get("name", "")), keygen)
    return lines


def keygen_flags(container: Mapping[str, Any]) -> dict[str, Any] | None:
    """kuard's --keygen-* flags from the container's command and args, or None without
    --keygen-enable."""
    flags: dict[str, Any] = {}
    for word in [*(container.get("command") or []), *(container.get("args") or [])]:
        name, _, value = str(word).removeprefix("--").partition("=")
        if not name.startswith("keygen-"):
            continue
        key = name.removeprefix("keygen-")
        if key in ("enable", "exit-on-complete"):
            flags[key] = value.lower() not in ("false", "0")
        elif key in ("num-to-gen", "exit-code", "time-to-run"):
            flags[key] = int(value) if value.lstrip("-").isdigit() else 0
        elif key in ("memq-server", "memq-queue"):
            flags[key] = value
    return flags if flags.get("enable") else None


def _keygen_lines(seed: str, flags: Mapping[str, Any]) -> list[str]:
    """What kuard's key generator prints: one line per generated key (a stand-in fingerprint,
    stable for the pod), framed by start and exit lines. A MemQ worker only starts here: the
    shim runs it against the queue (podsim.memqworker), which prints the rest."""
    lines = ["(ID 0) Workload starting"]
    if flags.get("memq-server"):
        return [*lines, "(ID 0) MemQ Worker starting"]
    asked = int(flags.get("num-to-gen") or 0)
    total = min(asked, KEYGEN_MAX_KEYS)
    for i in range(1, total + 1):
        digest = hashlib.sha256(f"{seed}/{i}".encode()).digest()
        fingerprint = base64.b64encode(digest).decode().rstrip("=")
        lines.append(f"(ID 0 {i}/{total}) Item done: SHA256:{fingerprint}")
    if asked > total:
        lines.append(
            f"(ID 0) kubelab's simulated key generator stops after {KEYGEN_MAX_KEYS} keys "
            f"(asked for {asked})"
        )
    if flags.get("exit-on-complete"):
        lines.append("(ID 0) Workload exiting")
    return lines


def _nginx_lines(tag: str) -> list[str]:
    version = tag.split("-", 1)[0] if re.match(r"^\d+\.\d+\.\d+", tag) else "1.27.3"
    entry = "/docker-entrypoint.sh"
    return [
        f"{entry}: /docker-entrypoint.d/ is not empty, will attempt to perform configuration",
        f"{entry}: Looking for shell scripts in /docker-entrypoint.d/",
        f"{entry}: Launching /docker-entrypoint.d/10-listen-on-ipv6-by-default.sh",
        "10-listen-on-ipv6-by-default.sh: info: Getting the checksum of "
        "/etc/nginx/conf.d/default.conf",
        "10-listen-on-ipv6-by-default.sh: info: Enabled listen on IPv6 in "
        "/etc/nginx/conf.d/default.conf",
        f"{entry}: Sourcing /docker-entrypoint.d/15-local-resolvers.envsh",
        f"{entry}: Launching /docker-entrypoint.d/20-envsubst-on-templates.sh",
        f"{entry}: Launching /docker-entrypoint.d/30-tune-worker-processes.sh",
        f"{entry}: Configuration complete; ready for start up",
        '[notice] 1#1: using the "epoll" event method',
        f"[notice] 1#1: nginx/{version}",
        "[notice] 1#1: built by gcc 12.2.0 (Debian 12.2.0-14)",
        "[notice] 1#1: OS: Linux",
        "[notice] 1#1: getrlimit(RLIMIT_NOFILE): 1048576:1048576",
        "[notice] 1#1: start worker processes",
        "[notice] 1#1: start worker process 29",
    ]


_SHELLS = ("sh", "bash", "ash", "dash", "busybox")
_SHELL_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


def _echo_lines(argv: Sequence[str], env: Mapping[str, str]) -> list[str] | None:
    """What ``echo`` in the container's command prints; None when it runs no echo."""
    if not argv:
        return None
    program = argv[0].rsplit("/", 1)[-1]
    if program == "echo":
        return [_echo_words(list(argv[1:]))]
    if program in _SHELLS and len(argv) >= 3 and argv[1].startswith("-") and "c" in argv[1]:
        lines: list[str] = []
        for command in _shell_commands(argv[2], env):
            if command and command[0].rsplit("/", 1)[-1] == "echo":
                lines.append(_echo_words(command[1:]))
        return lines or None
    return None


def _echo_words(words: list[str]) -> str:
    while words and words[0] in ("-n", "-e", "-E", "-ne", "-en"):
        words = words[1:]
    return " ".join(words)


def _shell_commands(script: str, env: Mapping[str, str]) -> list[list[str]]:
    """Simple commands of a ``sh -c`` script, split on ``;``, ``&&``, ``||``, ``|``, newlines
    and loop keywords, with ``$VAR`` outside single quotes expanded from ``env``."""
    commands: list[list[str]] = []
    for line in script.splitlines():
        try:
            lexer = shlex.shlex(_expand_shell_vars(line, env), posix=True, punctuation_chars=";&|")
            lexer.whitespace_split = True
            tokens = list(lexer)
        except ValueError:
            continue
        current: list[str] = []
        for token in tokens:
            if token in (";", "&&", "||", "|", "&", ";;"):
                commands.append(current)
                current = []
            elif not current and token in ("do", "then", "else", "{", "}", "done", "fi"):
                continue
            else:
                current.append(token)
        commands.append(current)
    return [command for command in commands if command]


def _expand_shell_vars(line: str, env: Mapping[str, str]) -> str:
    out: list[str] = []
    quoted = False
    index = 0
    while index < len(line):
        char = line[index]
        if char == "'":
            quoted = not quoted
        elif char == "$" and not quoted:
            match = _SHELL_VAR.match(line, index)
            if match:
                out.append(env.get(match.group(1) or match.group(2), ""))
                index = match.end()
                continue
        out.append(char)
        index += 1
    return "".join(out)
