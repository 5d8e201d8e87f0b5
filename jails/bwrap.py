"""The start of every kubelab bubblewrap command line: namespaces and the read-only system."""

from __future__ import annotations

import os
from pathlib import Path

# The part of /etc programs inside need (dynamic linker, editor alternatives, terminfo, locale
# and time zone); nothing with secrets or host identity. passwd/group/hosts are our own.
ETC_SUBSET = (
    "alternatives",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "nsswitch.conf",
    "localtime",
    "inputrc",
    "terminfo",
    "vim",
    "nanorc",
    "bash_completion",
    "bash_completion.d",
    "profile.d",
    "mime.types",
    "protocols",
    "services",
    "ssl/certs",
    "ca-certificates.conf",
)

# Signals a server started in the background ignores, which exec would hand to the learner's
# commands: the jail's launcher restores their default (see jails.learner.wrap_launch).
DEFAULT_SIGNALS = "INT,QUIT,TSTP,TTIN,TTOU,TERM,HUP,PIPE"

SYSTEM_TOPS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")


def bwrap_base(*, uid: int, hostname: str) -> list[str]:
    """bwrap with every namespace of its own (user, pid, ipc, uts, cgroup, network), no nested
    user namespaces, dying with its parent, in a new session: the start of every kubelab jail,
    the learner's shell and a pod's exec alike."""
    return [
        "bwrap",
        "--unshare-all",
        "--unshare-user",
        "--disable-userns",
        "--die-with-parent",
        "--new-session",
        "--uid", str(uid),
        "--gid", str(uid),
        "--hostname", hostname,
    ]  # fmt: skip


def system_links() -> dict[str, str]:
    """The host's top-level links into /usr (``bin -> usr/bin``...), by name."""
    links = {}
    for top in SYSTEM_TOPS:
        host = Path("/") / top
        if host.is_symlink():
            links[top] = os.readlink(host)
    return links


def system_binds(*, make_symlinks: bool = True) -> list[str]:
    """The host's system directories read-only, and the harmless part of /etc.

    Where the host's /bin, /lib... are symlinks into /usr, bwrap makes the same links; a caller
    whose root persists between runs passes make_symlinks=False and keeps them itself, because
    bwrap refuses to make a link that exists."""
    args = ["--ro-bind", "/usr", "/usr"]
    links = system_links()
    for top in SYSTEM_TOPS:
        if top in links:
            if make_symlinks:
                args += ["--symlink", links[top], f"/{top}"]
        elif (Path("/") / top).is_dir():
            args += ["--ro-bind", f"/{top}", f"/{top}"]
    for name in ETC_SUBSET:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    return args
