"""The seccomp filter of every kubelab jail (learner shells, `script` checks, pod execs, the demo
app), compiled by libseccomp (Debian's python3-seccomp) and handed to bwrap as ``--seccomp FD``.

Default allow, with a deny list of what a learner never needs and what kernel exploits reach
for: mounts and namespaces (the jail already made its own; more would only serve an escape),
keyrings, BPF, perf, userfaultfd, io_uring, ptrace, module and kexec loading, clocks, swap,
TIOCSTI/TIOCLINUX injection. Calls for another architecture (an x86_64 process making i386 calls
through ``int 0x80``) kill the process: libseccomp's default for a foreign architecture.
bwrap loads the program after its own set-up, just before it runs the jail's first command, so
bwrap itself can still mount.

python3-seccomp is a C extension of the system Python; the virtualenv (another build of 3.11)
asks the system Python for the compiled program once per process (``seccomp_program``).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import subprocess
import sys
from pathlib import Path

SYSTEM_PYTHON = "/usr/bin/python3"
REPO = Path(__file__).resolve().parents[1]

# Refused with EPERM.
DENIED = (
    # mounts, namespaces, roots
    "mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "fsopen",
    "fsconfig", "fsmount", "fspick", "mount_setattr", "unshare", "setns",
    # kernel attack surface no lesson needs
    "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd",
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "reboot", "swapon", "swapoff", "syslog", "acct", "quotactl", "quotactl_fd",
    "open_by_handle_at", "name_to_handle_at", "lookup_dcookie", "fanotify_init",
    "iopl", "ioperm", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
    "uselib", "ustat", "sysfs", "_sysctl", "nfsservctl", "vhangup",
)  # fmt: skip
# Refused with ENOSYS, so that programs fall back to the older call we can filter (glibc tries
# clone3 and then clone, whose flags a filter can read) or go without (io_uring).
MISSING = ("clone3", "io_uring_setup", "io_uring_enter", "io_uring_register")

CLONE_NAMESPACE_FLAGS = {
    "CLONE_NEWNS": 0x00020000,
    "CLONE_NEWCGROUP": 0x02000000,
    "CLONE_NEWUTS": 0x04000000,
    "CLONE_NEWIPC": 0x08000000,
    "CLONE_NEWUSER": 0x10000000,
    "CLONE_NEWPID": 0x20000000,
    "CLONE_NEWNET": 0x40000000,
}
# The kernel reads an ioctl request as 32 bits: compare only those, or 0x1_0000_5412 slips by.
TTY_INJECTION_IOCTLS = {"TIOCSTI": 0x5412, "TIOCLINUX": 0x541C}


def build_program() -> bytes:
    """The BPF program (what bwrap's --seccomp reads). Needs python3-seccomp."""
    import tempfile

    import seccomp  # Debian's python3-seccomp (a system package, no stubs)

    rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    for name in DENIED:
        _add(rules, seccomp.ERRNO(errno.EPERM), name)
    for name in MISSING:
        _add(rules, seccomp.ERRNO(errno.ENOSYS), name)
    for flag in CLONE_NAMESPACE_FLAGS.values():
        rules.add_rule(
            seccomp.ERRNO(errno.EPERM), "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag)
        )
    for request in TTY_INJECTION_IOCTLS.values():
        rules.add_rule(
            seccomp.ERRNO(errno.EPERM),
            "ioctl",
            seccomp.Arg(1, seccomp.MASKED_EQ, 0xFFFFFFFF, request),
        )
    with tempfile.TemporaryFile() as out:
        rules.export_bpf(out)
        out.seek(0)
        return out.read()


def _add(rules: object, action: object, name: str) -> None:
    # A call this libseccomp does not know on this architecture: nothing to refuse.
    with contextlib.suppress(RuntimeError, ValueError):
        rules.add_rule(action, name)  # type: ignore[attr-defined]


@functools.cache
def seccomp_program() -> bytes:
    """The compiled filter, built here when python3-seccomp is importable, else by the system
    Python. Raises SeccompUnavailable (with the fix) when neither can."""
    try:
        return build_program()
    except ImportError:
        pass
    code = (
        "import sys; sys.path.append(sys.argv[1]); "
        "from jails.seccomp import build_program; "
        "sys.stdout.buffer.write(build_program())"
    )
    try:
        done = subprocess.run(
            [SYSTEM_PYTHON, "-I", "-B", "-c", code, str(REPO)],
            capture_output=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise SeccompUnavailable(f"{SYSTEM_PYTHON}: {error}") from None
    if done.returncode != 0 or not done.stdout:
        last = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise SeccompUnavailable(last[0])
    return done.stdout


class SeccompUnavailable(RuntimeError):
    """The filter cannot be built: jails must not start without it."""

    def __init__(self, why: str) -> None:
        super().__init__(
            f"kubelab's seccomp filter cannot be built ({why}): install Debian's python3-seccomp "
            "(scripts/setup does)"
        )


def seccomp_fd(program: bytes | None = None) -> int:
    """A fresh memfd holding the program, positioned at its start, for one bwrap --seccomp."""
    fd = os.memfd_create("kubelab-seccomp", os.MFD_CLOEXEC)
    data = seccomp_program() if program is None else program
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def with_seccomp(argv: list[str], fd: int) -> list[str]:
    """The launch line with ``--seccomp FD`` right after bwrap (whatever wraps it)."""
    at = argv.index("bwrap") + 1
    return [*argv[:at], "--seccomp", str(fd), *argv[at:]]


if __name__ == "__main__":
    sys.stdout.buffer.write(build_program())
