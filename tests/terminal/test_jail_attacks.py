# ruff: noqa: E501  (the attacks are shell one-liners, kept whole so they read as typed)
"""A learner trying to break out of the jail: every attempt is contained.

Each case runs in a fresh jailed session (real bubblewrap, real cgroups where the host has them,
the real API server) and states what must and must not appear in what the shell printed.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async

from kubelab.env import repo_path
from terminal.manager import terminal_manager
from terminal.session import TerminalSession
from tests.fixtures.shells import ShellLearner
from tests.terminal.helpers import RecordingScreen, attach, run

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]
PROMPT = r"learner@kubelab:~\$ $"
SECRETS_FILE = repo_path("var", "secrets.env")


def host_secret_values() -> list[str]:
    values = [v for k, v in os.environ.items() if "SECRET" in k or "PASSWORD" in k]
    if SECRETS_FILE.is_file():
        values += [
            line.split("=", 1)[1] for line in SECRETS_FILE.read_text().splitlines() if "=" in line
        ]
    return [v for v in values if len(v) >= 8]


def host_listening_ports() -> set[int]:
    ports: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":  # LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


@dataclass(frozen=True)
class Attack:
    name: str
    command: str
    must_not_show: list[str] = field(default_factory=list)
    must_show: list[str] = field(default_factory=list)
    no_secrets: bool = True
    timeout: float = 40.0


ATTACKS = [
    Attack(
        "read kubelab settings and secrets file",
        f"cat {SECRETS_FILE}; ls {repo_path()} /work /root; cat {repo_path('kubelab', 'settings.py')}",
        must_not_show=["KUBELAB_SECRET_KEY=", "DEBUG = "],
        must_show=["No such file or directory"],
    ),
    Attack(
        "read the database file",
        f"cat {repo_path('var', 'kubelab.sqlite3')} {repo_path('var', 'test.sqlite3')}; "
        "find / -xdev \\( -name '*.sqlite3' -o -name 'PG_VERSION' \\) 2>/dev/null | head; echo found-end",
        must_not_show=["SQLite format", ".sqlite3\n", "PG_VERSION\n"],
        must_show=["found-end"],
    ),
    Attack(
        "read the server's environment through /proc",
        "cat /proc/1/environ /proc/*/environ 2>/dev/null | tr '\\0' '\\n'; env",
        must_not_show=["KUBELAB_", "REDIS", "DJANGO_SETTINGS", "DATABASE_URL"],
    ),
    Attack(
        "connect to Redis on the host",
        "timeout 3 bash -c 'exec 3<>/dev/tcp/127.0.0.1/6390 && echo CONNECTED'; "
        "curl -sS -m 3 telnet://127.0.0.1:6390 </dev/null; echo rc=$?",
        must_not_show=["CONNECTED", "+PONG", "NOAUTH"],
        must_show=["Connection refused"],
    ),
    Attack(
        "connect to PostgreSQL on the host",
        "timeout 3 bash -c 'exec 3<>/dev/tcp/127.0.0.1/5439 && echo CONNECTED'; echo rc=$?",
        must_not_show=["CONNECTED"],
        must_show=["Connection refused"],
    ),
    Attack(
        "scan every port the host listens on",
        'for p in PORTS; do timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$p" 2>/dev/null '
        "&& echo OPEN-$p; done; echo scan-done",
        must_not_show=["OPEN-"],
        must_show=["scan-done"],
    ),
    Attack(
        "find a network other than the jail's own loopback",
        "ip -o link; ip -o addr; ip route; ip -6 route; cat /proc/net/route; echo net-done",
        must_not_show=["eth", "ens", "veth", "default via", "docker", "192.", "10."],
        must_show=["lo", "net-done"],
    ),
    Attack(
        "see host processes",
        "ps -eo pid,user,comm; ls /proc | grep -c '^[0-9]'; ls /proc/HOSTPID/ 2>&1 | head -1",
        must_not_show=[
            "kubelab.serve",
            "uvicorn",
            "daphne",
            "pytest",
            "redis",
            "postgres",
            "kube-apiserver",
            "etcd",
        ],
        must_show=["No such file or directory"],
    ),
    Attack(
        "ptrace a host process",
        "python3 -c 'import ctypes,os; libc=ctypes.CDLL(None, use_errno=True); "
        'r=libc.ptrace(16, HOSTPID, 0, 0); print("ptrace", r, os.strerror(ctypes.get_errno()))\'',
        # The seccomp filter refuses ptrace before the kernel would even look for the pid.
        must_show=["ptrace -1 Operation not permitted"],
    ),
    Attack(
        "become root with setuid binaries, sudo or a user namespace",
        "su -c id root </dev/null; sudo id; mount -t tmpfs x /mnt; unshare -r id; unshare -U id; "
        "grep -E 'NoNewPrivs|CapEff' /proc/self/status; grep ' /usr ' /proc/self/mounts; id",
        must_not_show=["uid=0", "euid=0"],
        must_show=["NoNewPrivs:\t1", "CapEff:\t0000000000000000", "nosuid", "uid=1000(learner)"],
    ),
    Attack(
        "write outside home and /tmp",
        "for f in /x /usr/x /etc/x /etc/passwd /bin/x /opt/kubelab/bin/kubectl /run/kubelab/kubeconfig "
        "/run/kubelab/x /dev/x /proc/x /sys/x; do echo pwned > $f 2>/dev/null && echo WROTE-$f; done; "
        "echo ok > ~/mine && echo ok > /tmp/mine && echo home-and-tmp-ok",
        must_not_show=["WROTE-"],
        must_show=["home-and-tmp-ok"],
    ),
    Attack(
        "fill the disk",
        "dd if=/dev/zero of=~/fill bs=1M count=400 2>&1 | tail -1; dd if=/dev/zero of=/tmp/fill bs=1M "
        "count=400 2>&1 | tail -1; dd if=/dev/zero of=/dev/shm/fill bs=1M count=400 2>&1 | tail -1; "
        "du -sm ~/fill /tmp/fill /dev/shm/fill; df -m ~ /tmp",
        # Either the tmpfs is full or RLIMIT_FSIZE stops the writer; nothing grows past 64 MiB.
        must_show=["64\t/home/learner/fill", "64\t/tmp/fill", "8\t/dev/shm/fill"],
        must_not_show=["400+0 records out"],
    ),
    Attack(
        "exhaust memory",
        'python3 -c \'x = b"x" * (3 * 1024**3); print("ALLOCATED")\'; echo rc=$?; '
        'python3 -c \'import mmap; m = mmap.mmap(-1, 2 * 1024**3); m.write(b"x" * (2 * 1024**3)); print("ALLOCATED")\'; '
        "echo rc=$?; echo shell-alive",
        must_not_show=["ALLOCATED"],
        must_show=["shell-alive"],
    ),
    Attack(
        "talk to the API server directly, not through the relay",
        "curl -sS -m 3 https://192.0.2.2:6443/ 2>&1 | head -1; "
        "curl -sS -m 3 --cacert /dev/null https://localhost:6443/version 2>&1 | head -1; echo done",
        must_show=["done"],
        must_not_show=['"gitVersion"'],
    ),
    Attack(
        "use the learner token beyond the namespace",
        "kubectl get secrets -n kube-system; kubectl get nodes; kubectl create namespace evil; "
        "kubectl auth can-i '*' '*' --all-namespaces; kubectl config view --raw | grep -c server",
        must_show=["Forbidden", "no"],
        must_not_show=["namespace/evil created"],
    ),
    Attack(
        "send raw bytes to the API forwarder socket",
        "printf 'GET / HTTP/1.1\\r\\nHost: redis\\r\\n\\r\\n' | timeout 5 socat - UNIX-CONNECT:/run/kubelab/api.sock",
        # Only the API server's TLS listener answers, whatever the bytes say.
        must_show=["Client sent an HTTP request to an HTTPS server"],
    ),
    Attack(
        "read other sessions' files and the host's /sys and /home",
        "ls -a /run/kubelab; ls /sys; ls /home; ls /var 2>&1; ls -d /work 2>&1",
        must_show=["api.sock", "kubeconfig", "learner", "No such file or directory"],
        must_not_show=["secrets.env", "cgroup"],
    ),
    Attack(
        "fork bomb",
        # The wait is a builtin: the bomb's children outlive `timeout` and hold the uid's process
        # limit, so a fork of `sleep` here may fail and abort the line (a race, seen in CI); the
        # shell itself must stay usable without forking, and the count below is checked while
        # the bomb still runs.
        "ulimit -u; (timeout 5 bash -c 'f(){ f|f& }; f' 2>/dev/null); read -rt 6 || :; "
        "echo survived",
        timeout=60,
    ),
    Attack(
        "reach the kernel: keyrings, bpf, perf, userfaultfd, io_uring, mounts, namespaces",
        "python3 -c 'import ctypes,os; l=ctypes.CDLL(None, use_errno=True)\n"
        'for n,nr in (("keyctl",250),("bpf",321),("perf",298),("uffd",323),("uring",425),("mount",165),("unshare",272)):\n'
        " ctypes.set_errno(0); r=l.syscall(nr,0,0,0,0,0,0); print(n, r, os.strerror(ctypes.get_errno()))'; "
        "grep Seccomp: /proc/self/status",
        must_show=[
            "keyctl -1 Operation not permitted",
            "bpf -1 Operation not permitted",
            "perf -1 Operation not permitted",
            "uffd -1 Operation not permitted",
            "uring -1 Function not implemented",
            "mount -1 Operation not permitted",
            "unshare -1 Operation not permitted",
            "Seccomp:\t2",
        ],
    ),
    Attack(
        "a 32-bit system call through int 0x80",
        "python3 -c 'import ctypes,mmap; m=mmap.mmap(-1,4096,prot=7); m.write(bytes([0xb8,0x14,0,0,0,0xcd,0x80,0xc3])); "
        'print("survived", ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(m)))())\'; echo status=$?',
        must_show=["status=159"],
        must_not_show=["survived"],
    ),
    Attack(
        "type into the terminal with TIOCSTI",
        'python3 -c \'import fcntl,termios; fcntl.ioctl(0, termios.TIOCSTI, b"x"); print("injected")\'',
        must_show=["Operation not permitted"],
        must_not_show=["injected"],
    ),
]


@pytest.fixture
async def jailed(
    make_shell_learner: Callable[[str], ShellLearner],
) -> AsyncIterator[Callable[[], object]]:
    learner = await sync_to_async(make_shell_learner)("attacker")
    manager = terminal_manager()
    opened: list[TerminalSession] = []

    async def source() -> str:
        return learner.kubeconfig

    async def open_one() -> tuple[TerminalSession, RecordingScreen]:
        session = await manager.open(
            owner_id=learner.user.pk + 1_000_000 * len(opened),
            kubeconfig_source=source,
            rows=50,
            cols=200,
        )
        opened.append(session)
        screen = await attach(session)
        await session.start()
        await screen.wait_for(PROMPT)
        return session, screen

    yield open_one


def uid_processes(uid: int) -> list[str]:
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    found.append(Path(entry.path, "comm").read_text().strip())
            except OSError:
                continue
    return found


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
async def test_attack_is_contained(attack: Attack, jailed: Callable[[], object]) -> None:
    session, screen = await jailed()  # type: ignore[misc]
    command = attack.command.replace("HOSTPID", str(os.getpid()))
    ports = sorted(host_listening_ports() - {6443})
    command = command.replace("PORTS", " ".join(map(str, ports)))
    output = await run(session, screen, command, within=attack.timeout)
    for needle in attack.must_show:
        assert needle in output, f"{attack.name}: expected {needle!r} in:\n{output}"
    for needle in attack.must_not_show:
        assert needle not in output, f"{attack.name}: found {needle!r} in:\n{output}"
    if attack.no_secrets:
        for secret in host_secret_values():
            assert secret not in output, f"{attack.name}: a host secret leaked"
    assert session.state == "running"  # the attempt did not kill the learner's own shell
    if attack.name == "fork bomb" and session.host_uid is not None:
        assert len(uid_processes(session.host_uid)) <= session.config.jail.limits.pids


async def test_the_session_directory_is_roots_and_unchangeable(
    jailed: Callable[[], object],
) -> None:
    session, screen = await jailed()  # type: ignore[misc]
    directory = session._dir
    assert directory is not None and session.host_uid is not None
    info = directory.stat()
    assert (info.st_uid, info.st_mode & 0o777) == (0, 0o755)
    kubeconfig = (directory / "kubeconfig").stat()
    assert (kubeconfig.st_uid, kubeconfig.st_mode & 0o777) == (session.host_uid, 0o400)
    socket = (directory / "api.sock").stat()
    assert (socket.st_uid, socket.st_mode & 0o777) == (session.host_uid, 0o600)
    output = await run(
        session,
        screen,
        "mv /run/kubelab/kubeconfig /run/kubelab/x; touch /run/kubelab/y; echo done",
    )
    assert output.count("Read-only file system") == 2, output
    await session.refresh_kubeconfig()
    refreshed = (directory / "kubeconfig").stat()
    assert (refreshed.st_uid, refreshed.st_mode & 0o777) == (session.host_uid, 0o400)


async def test_processes_do_not_survive_the_session(jailed: Callable[[], object]) -> None:
    session, screen = await jailed()  # type: ignore[misc]
    await run(
        session,
        screen,
        "nohup sleep 1001 >/dev/null 2>&1 & setsid sleep 1002 & disown -a; "
        "(sleep 1003 &) ; (trap '' HUP TERM; exec sleep 1004) & disown; "
        "bash -c 'f(){ f|f& }; f' 2>/dev/null & sleep 1",
    )
    uid = session.host_uid
    assert uid is not None, "tests run as root in CI: sessions get their own host uid"
    assert uid_processes(uid)
    await terminal_manager().close(session, "test")
    for _ in range(50):
        if not uid_processes(uid):
            break
        await asyncio.sleep(0.1)
    assert uid_processes(uid) == []
    with open("/proc/loadavg") as f:  # noqa: ASYNC230 (procfs: never blocks)
        assert f.read()
    assert _sleepers() == []


def _sleepers() -> list[Path]:
    return [
        p
        for p in Path("/proc").iterdir()
        if p.name.isdigit() and re.search(rb"sleep\x00100[1-4]", _cmdline(p))
    ]


def _cmdline(path: Path) -> bytes:
    try:
        return (path / "cmdline").read_bytes()
    except OSError:
        return b""


async def test_a_fork_bomb_does_not_starve_another_learner(jailed: Callable[[], object]) -> None:
    bomber, _ = await jailed()  # type: ignore[misc]
    other, other_screen = await jailed()  # type: ignore[misc]
    bomber.write("f(){ f|f& }; f\r")
    await asyncio.sleep(3)
    out = await run(other, other_screen, "echo unaffected; kubectl get pods", within=30)
    assert "unaffected" in out and "No resources found" in out
    assert bomber.host_uid is not None
    assert len(uid_processes(bomber.host_uid)) <= bomber.config.jail.limits.pids + 2
