"""The bubblewrap jail a learner's shell runs in: its files and its command line (pure builders).

The jail has its own user, pid, ipc, uts, cgroup and network namespaces (so no host network: its
loopback is not the host's), read-only /usr and a small /etc, private size-limited /tmp and home,
and one way out: /run/kubelab/api.sock, a Unix socket served by kubelab's API forwarder. An
in-jail socat relays 127.0.0.1:6443 (the jail's own loopback) to that socket, so kubectl speaks
TLS end to end with the real API server and verifies its certificate via `tls-server-name`.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from jails.bwrap import DEFAULT_SIGNALS, bwrap_base, system_binds
from jails.kubeconfig import JAIL_API_PORT

JAIL_UID = 1000
JAIL_USER = "learner"
JAIL_HOSTNAME = "kubelab"
JAIL_HOME = f"/home/{JAIL_USER}"
JAIL_RUN = "/run/kubelab"
JAIL_TOOLS = "/opt/kubelab/bin"


@dataclass(frozen=True)
class JailLimits:
    memory_bytes: int = 384 * 1024**2  # cgroup memory (shell, kubectl, editors, tmpfs pages)
    pids: int = 128  # cgroup pids and RLIMIT_NPROC for the session's own uid
    address_space_bytes: int = 4 * 1024**3  # per process; kubectl (Go) reserves ~1 GiB up front
    file_size_bytes: int = 64 * 1024**2  # largest file a process may write
    cpu_seconds: int = 3600  # CPU time per process
    open_files: int = 1024
    home_bytes: int = 64 * 1024**2
    tmp_bytes: int = 64 * 1024**2
    shm_bytes: int = 8 * 1024**2
    cpu_quota_percent: int = 50  # share of one core (cgroup cpu controller, where available)


@dataclass(frozen=True)
class JailPaths:
    session_dir: Path  # host dir bound read-only at /run/kubelab (api.sock, kubeconfig, scripts)
    kubectl: Path  # a copy or hard link the jail uid can reach (see manager._shared_kubectl)


def jail_argv(paths: JailPaths, limits: JailLimits) -> list[str]:
    """The bwrap command line (without the uid drop and rlimits, which wrap it, and the seccomp
    filter, which the spawner adds: jails.seccomp.with_seccomp)."""
    run = paths.session_dir
    return [
        *bwrap_base(uid=JAIL_UID, hostname=JAIL_HOSTNAME),
        *system_binds(),
        "--ro-bind", str(run / "passwd"), "/etc/passwd",
        "--ro-bind", str(run / "group"), "/etc/group",
        "--ro-bind", str(run / "hosts"), "/etc/hosts",
        "--ro-bind", str(run / "hostname"), "/etc/hostname",
        "--proc", "/proc",
        "--dev", "/dev",
        "--size", str(limits.shm_bytes), "--tmpfs", "/dev/shm",  # noqa: S108
        "--size", str(limits.home_bytes), "--perms", "0700", "--tmpfs", JAIL_HOME,
        "--size", str(limits.tmp_bytes), "--perms", "1777", "--tmpfs", "/tmp",  # noqa: S108
        "--ro-bind", str(run), JAIL_RUN,
        "--ro-bind", str(paths.kubectl), f"{JAIL_TOOLS}/kubectl",
        "--remount-ro", "/dev",
        "--remount-ro", "/",
        "--chdir", JAIL_HOME,
        "--clearenv",
        *_env_args(),
        "--",
        "/bin/sh", f"{JAIL_RUN}/init.sh",
    ]  # fmt: skip


def jail_env() -> dict[str, str]:
    return {
        "HOME": JAIL_HOME,
        "USER": JAIL_USER,
        "LOGNAME": JAIL_USER,
        "SHELL": "/bin/bash",
        "TERM": "xterm-256color",
        "COLORTERM": "truecolor",
        "LANG": "C.UTF-8",
        "PATH": f"{JAIL_TOOLS}:/usr/local/bin:/usr/bin:/bin",
        "KUBECONFIG": f"{JAIL_RUN}/kubeconfig",
        "KUBECACHEDIR": f"{JAIL_HOME}/.kube/cache",
        "KUBE_EDITOR": "nano",
        "EDITOR": "nano",
        "PAGER": "less",
        "LESS": "-R",
    }


def _env_args() -> list[str]:
    args: list[str] = []
    for key, value in jail_env().items():
        args += ["--setenv", key, value]
    return args


def wrap_launch(
    argv: list[str], *, limits: JailLimits, host_uid: int | None, cgroup_procs: list[Path]
) -> list[str]:
    """Join the session's cgroups, set rlimits, drop to the session's host uid, then run `argv`.

    The shell joins the cgroups itself, before anything it starts can fork, so no process of the
    session ever runs outside them. Signals a server ignores are inherited through exec (one
    started in the background by a script ignores SIGINT and SIGQUIT), so `env` restores their
    default first: Ctrl-C must stop a learner's command. `env` rather than a preexec_fn, which is
    unsafe in a process with threads, as the web server is.
    """
    join = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 111; shift; done; shift; exec "$@"'
    prlimit = [
        "prlimit",
        f"--nproc={limits.pids}",
        f"--as={limits.address_space_bytes}",
        f"--fsize={limits.file_size_bytes}",
        f"--cpu={limits.cpu_seconds}",
        f"--nofile={limits.open_files}",
        "--core=0",
        "--",
    ]
    drop: list[str] = []
    if host_uid is not None:
        drop = [
            "setpriv",
            f"--reuid={host_uid}",
            f"--regid={host_uid}",
            "--clear-groups",
            "--no-new-privs",
            "--",
        ]
    return [
        "env", f"--default-signal={DEFAULT_SIGNALS}",
        "/bin/sh", "-c", join, "kubelab-jail", *map(str, cgroup_procs), "--",
        *prlimit, *drop, *argv,
    ]  # fmt: skip


# Relay the jail's own 127.0.0.1:6443 to kubelab's API forwarder (the first lines of every init).
_RELAY_START = f"""socat TCP-LISTEN:{JAIL_API_PORT},bind=127.0.0.1,reuseaddr,fork \\
  UNIX-CONNECT:{JAIL_RUN}/api.sock </dev/null >/dev/null 2>&1 &
i=0
while [ $i -lt 200 ] && ! grep -q ':{JAIL_API_PORT:04X} 00000000:0000 0A' /proc/net/tcp; do
  sleep 0.01; i=$((i + 1))
done
mkdir -p {JAIL_HOME}/.kube
"""


# The shell's first line, in English; the terminal gives the learner's language (terminal.texts).
WELCOME = "%(bold)sWelcome to kubelab.%(plain)s Your namespace is %(namespace)s. Try: %(command)s"


def welcome_line(*, namespace: str, template: str = WELCOME) -> str:
    """The shell's first line: `template` with bold from %(bold)s to %(plain)s, the namespace in
    bold cyan and the first command to try. It is written to a file the bashrc prints with
    printf '%s', so no part of it is ever read by the shell as code."""
    return template % {
        "bold": "\x1b[1m",
        "plain": "\x1b[0m",
        "namespace": f"\x1b[1;36m{namespace}\x1b[0m",
        "command": "kubectl get pods",
    }


def jail_files(*, namespace: str, kubeconfig: str, completion: str) -> dict[str, tuple[str, int]]:
    """Files of /run/kubelab and the synthetic /etc entries: name -> (content, mode). The welcome
    is the English one; a caller in another language overrides the file `welcome`."""
    ns = shlex.quote(namespace)
    init = f"""#!/bin/sh
{_RELAY_START}exec setsid --ctty --wait bash --rcfile {JAIL_RUN}/bashrc -i
"""
    bashrc = f"""# kubelab learner shell
shopt -s checkwinsize histappend
HISTSIZE=5000
HISTFILE=~/.bash_history
KUBELAB_NAMESPACE={ns}
PS1='\\[\\e[2m\\]($KUBELAB_NAMESPACE)\\[\\e[0m\\] '
PS1+='\\[\\e[1;32m\\]\\u@\\h\\[\\e[0m\\]:\\[\\e[1;34m\\]\\w\\[\\e[0m\\]\\$ '
alias ls='ls --color=auto'
alias grep='grep --color=auto'
alias k=kubectl
# kubectl's completion script is large; load it on the first <Tab> so an idle shell stays small.
_kubelab_complete() {{
  complete -r kubectl k 2>/dev/null
  . {JAIL_RUN}/kubectl-completion.bash
  complete -o default -F __start_kubectl kubectl k
  __start_kubectl "$@"
}}
complete -o default -F _kubelab_complete kubectl k
if [ "$SHLVL" = 1 ]; then
  printf '%s\\n' "$(< {JAIL_RUN}/welcome)"
fi
"""
    passwd = (
        f"root:x:0:0:root:/root:/usr/sbin/nologin\n"
        f"{JAIL_USER}:x:{JAIL_UID}:{JAIL_UID}:kubelab learner:{JAIL_HOME}:/bin/bash\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    )
    group = f"root:x:0:\n{JAIL_USER}:x:{JAIL_UID}:\nnogroup:x:65534:\n"
    hosts = f"127.0.0.1\tlocalhost {JAIL_HOSTNAME}\n::1\tlocalhost ip6-localhost\n"
    return {
        "init.sh": (init, 0o444),
        "bashrc": (bashrc, 0o444),
        "welcome": (welcome_line(namespace=namespace), 0o444),
        "passwd": (passwd, 0o444),
        "group": (group, 0o444),
        "hosts": (hosts, 0o444),
        "hostname": (f"{JAIL_HOSTNAME}\n", 0o444),
        "kubeconfig": (kubeconfig, 0o400),
        "kubectl-completion.bash": (completion, 0o444),
    }


def jail_run_files(*, script: str, files: Mapping[str, str]) -> dict[str, tuple[str, int]]:
    """The files that turn the jail into a one-shot runner of `script` (see jails.oneshot): an init
    that starts the relay, copies `files` into the learner's home and runs the script there."""
    init = f"""#!/bin/sh
{_RELAY_START}if [ -d {JAIL_RUN}/work ]; then cp -R {JAIL_RUN}/work/. {JAIL_HOME}/; fi
cd {JAIL_HOME} || exit 125
exec /bin/sh {JAIL_RUN}/script.sh </dev/null
"""
    built = {"init.sh": (init, 0o444), "script.sh": (script, 0o444)}
    for name, text in files.items():
        built[f"work/{Path(name).name}"] = (text, 0o444)
    return built
