"""Start a command "in" a simulated pod: lay out the pod's files, then become its bubblewrap jail.

Runs as the pod's own host uid, never as root. The kubelet shim (cluster/kubelet-shim,
privileged.go) does the few root steps first: it mounts the pod's tmpfs owned by that uid, makes
the cgroups, opens the pod's inputs, drops to the uid and only then starts this program, handing
it descriptors: ``--pod-fd``, ``--services-fd``, ``--refs-fd`` (pod.json, services.json,
refs.json, which root wrote in a directory only root can write) and ``--fs-fd`` (the pod's tmpfs).
Everything inside the tmpfs is laid out here through podtree's descriptor-relative steps, and
every bind reaches bwrap as a descriptor (``--bind-fd``) or as data (``--ro-bind-data``), never
as a path that could be resolved again. Then this process execs bwrap in place, with the seccomp
filter the shim passes (``--seccomp-fd``).

The pod's tmpfs (`fs` for short):
    containers/<c>/g<restarts>/rootfs   the container's writable root; a new one per restart
    volumes/<volume>                    emptyDir (and stand-ins for other kinds), kept for the pod
    api/<c>/<sha256>                    ConfigMap, Secret, downward API files, one copy per content
    demo/<c>                            the demo app's state (probes), read by the shim's prober

Usage (the shim runs it through cluster/pod-helper):
    exec        --container C INPUTS [--tty] -- CMD...
    serve-demo  --container C INPUTS --port N --listen-fd 3
    startup-log --container C INPUTS
    memq-worker --container C INPUTS --conn-fd 3
    seccomp     (prints the compiled seccomp filter; the shim reads it once at start)
INPUTS: --pod-fd N --services-fd N --refs-fd N --fs-fd N --seccomp-fd N
Exit status: the command's; 126 when kubelab refuses (the reason on stderr), 127 when the
command is not found, 2 when the shim's inputs are unusable.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import shutil
import stat
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jails.bwrap import bwrap_base, system_binds, system_links
from podsim import podtree
from podsim.container import pod_container
from podsim.envvars import container_env
from podsim.etcfiles import etc_hosts, hostname, resolv_conf
from podsim.poddir import PodDir, PodDirError, pod_dir_parse
from podsim.podtree import TreeError
from podsim.volumes import VolumeMount, absolute_path, volume_mounts

PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Mount paths a volume cannot take: the system directories are the host's, read-only, and so
# are /etc's system files (a volume may go below /etc, as ConfigMaps often do, not on it).
RESERVED = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/dev")
RESERVED_EXACT = ("/", "/etc")
DEMO_ROOT = "/opt/kubelab"
POD_INPUTS = "/run/kubelab/pod"
DEMO_STATE = "/run/kubelab/state"
# The book's images are Alpine (busybox ash); a simulated container has this machine's tools.
SHELL_STAND_INS = {"ash": "bash"}
MAX_MOUNTS = 100  # volumeMounts per container; a real kubelet takes more, nobody needs them
# Linux refuses to start a program with a longer argument or environment string (MAX_ARG_STRLEN)
# or more of them in all (about a quarter of the 8 MiB stack); say so instead of failing E2BIG.
MAX_STRING_BYTES = 128 * 1024 - 1
MAX_EXEC_BYTES = 1536 * 1024
STALE_API_SECONDS = 60.0
CODE_DIR = Path(__file__).resolve().parent


class Refused(Exception):
    """kubelab will not start this command; the message tells the learner why."""


@dataclass
class Jail:
    """A bwrap command line and the descriptors it needs to inherit."""

    argv: list[str] = field(default_factory=list)
    fds: list[int] = field(default_factory=list)

    def add(self, *args: str) -> None:
        self.argv += args

    def bind_fd(self, fd: int, target: str, *, read_only: bool) -> None:
        self.fds.append(fd)
        self.add("--ro-bind-fd" if read_only else "--bind-fd", str(fd), target)

    def data(self, content: bytes, target: str, mode: int = 0o444) -> None:
        fd = _memfd(content, target)
        self.fds.append(fd)
        self.add("--perms", f"{mode & 0o7777:04o}", "--ro-bind-data", str(fd), target)


def _memfd(content: bytes, name: str) -> int:
    fd = os.memfd_create(f"kubelab{name.replace('/', '-')}"[:200], os.MFD_CLOEXEC)
    view = memoryview(content)
    while view:
        view = view[os.write(fd, view) :]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def read_fd(fd: int, limit: int = 32 * 1024 * 1024) -> bytes:
    """All of a descriptor the shim passed (bounded: a pod object is at most 1.5 MiB)."""
    chunks = []
    size = 0
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            raise PodDirError(f"input on descriptor {fd} is larger than {limit} bytes")
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


def restart_count(pod: dict[str, Any], container: str) -> int:
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        if status.get("name") == container:
            count = status.get("restartCount", 0)
            return count if isinstance(count, int) and 0 <= count < 10**6 else 0
    return 0


# --- the pod's tree -------------------------------------------------------------------------


def container_root(tree: int, container: str, generation: int) -> int:
    """The container's writable root (its "image layer"); a restart starts a new one, as a new
    container starts from its image again. Earlier generations are removed."""
    podtree.check_name(container, "container")
    with podtree.opened(podtree.open_path(tree, ["containers", container], create=True)) as top:
        current = f"g{generation}"
        for name in podtree.entries(top):
            if name != current:
                podtree.remove(top, name)
        with podtree.opened(podtree.open_dir(top, current, create=True)) as instance:
            root = podtree.open_dir(instance, "rootfs", create=True)
    try:
        _shape_root(root)
    except BaseException:
        os.close(root)
        raise
    return root


def _shape_root(root: int) -> None:
    """What every container root needs where the system is bound: the /bin-style links into
    /usr, real directories for the mount points, /tmp (1777) and /root (0700)."""
    for name, target in system_links().items():
        podtree.ensure_link(root, name, target)
    for name, mode in (("usr", 0o755), ("etc", 0o755), ("proc", 0o555), ("dev", 0o755)):
        _ensure_dir(root, name, mode)
    for name, mode in (("tmp", 0o1777), ("root", 0o700)):
        with podtree.opened(_ensure_dir(root, name, mode, keep_open=True)) as fd:
            podtree.set_mode(fd, mode)


def _ensure_dir(parent: int, name: str, mode: int, *, keep_open: bool = False) -> int:
    try:
        info = os.stat(name, dir_fd=parent, follow_symlinks=False)
        if not stat.S_ISDIR(info.st_mode):
            podtree.remove(parent, name)
    except FileNotFoundError:
        pass
    fd = podtree.open_dir(parent, name, create=True, mode=mode)
    if keep_open:
        return fd
    os.close(fd)
    return -1


def _mount_target(path: str, volume: str) -> str | None:
    """Where the volume goes; None (and a warning on stderr) where the simulated node keeps the
    system: the command still runs, without that volume, as before the mount was declared."""
    if not path.startswith("/"):
        raise Refused(f"mountPath {path!r} of volume {volume!r} must be an absolute path")
    target = absolute_path(path)  # "/x/../usr" is /usr
    if target in RESERVED_EXACT or any(target == r or target.startswith(r + "/") for r in RESERVED):
        print(
            f"kubelab: volume {volume!r} is not mounted at {path}: it would cover {target}, "
            "which the simulated node keeps read-only",
            file=sys.stderr,
        )
        return None
    return target


def _api_dir(tree: int, container: str, mount: VolumeMount, used: set[str]) -> int:
    """The mount's files in a directory named by their content, written once for any number of
    mounts with the same content (H2: one copy, in the tmpfs, never on the host's disk)."""
    digest = hashlib.sha256()
    for relative in sorted(mount.files):
        digest.update(relative.encode() + b"\0" + str(mount.modes.get(relative, 0o644)).encode())
        digest.update(b"\0" + hashlib.sha256(mount.files[relative]).digest())
    name = digest.hexdigest()[:32]
    used.add(name)
    with podtree.opened(podtree.open_path(tree, ["api", container], create=True)) as api:
        try:
            return podtree.open_dir(api, name)
        except FileNotFoundError:
            pass
        partial = f".{name}.{os.getpid()}"
        podtree.remove(api, partial)
        with podtree.opened(podtree.open_dir(api, partial, create=True)) as fd:
            podtree.write_files(fd, mount.files, mount.modes)
        try:
            os.rename(partial, name, src_dir_fd=api, dst_dir_fd=api)
        except OSError:  # another exec of this pod made it first
            podtree.remove(api, partial)
        return podtree.open_dir(api, name)


def _prune_api(tree: int, container: str, used: set[str]) -> None:
    """Copies no mount of this container uses any more (a changed downward API, say)."""
    with podtree.opened(podtree.open_path(tree, ["api", container], create=True)) as api:
        cutoff = time.time() - STALE_API_SECONDS
        for name in podtree.entries(api):
            if name in used:
                continue
            try:
                if os.stat(name, dir_fd=api, follow_symlinks=False).st_mtime < cutoff:
                    podtree.remove(api, name)
            except FileNotFoundError:
                continue


def volume_binds(jail: Jail, tree: int, pod: PodDir, container: str) -> None:
    """Every volumeMount of the container, bound by descriptor (or as data, for one file)."""
    mounts = volume_mounts(pod.pod, container, pod.refs)
    if len(mounts) > MAX_MOUNTS:
        raise Refused(
            f"container {container!r} has {len(mounts)} volumeMounts; kubelab's simulated "
            f"containers take at most {MAX_MOUNTS}"
        )
    used: set[str] = set()
    for mount in mounts:
        target = _mount_target(mount.mount_path, mount.name)
        if target is None:
            continue
        if not mount.persistent:  # ConfigMap, Secret, downward API: read-only files
            if "" in mount.files:  # a subPath naming one file
                jail.data(mount.files[""], target, mount.modes.get("", 0o644))
            else:
                jail.bind_fd(_api_dir(tree, container, mount, used), target, read_only=True)
            continue
        podtree.check_name(mount.name, "volume")
        parts = podtree.relative_parts(mount.sub_path, f"subPath of volume {mount.name!r}")
        try:
            fd = podtree.open_path(tree, ["volumes", mount.name, *parts], create=True)
        except TreeError as error:
            raise Refused(
                f"subPath {mount.sub_path!r} of volume {mount.name!r}: {error}; kubelab "
                "follows no links in a subPath"
            ) from None
        jail.bind_fd(fd, target, read_only=mount.read_only)
    _prune_api(tree, container, used)


def etc_files(pod: PodDir) -> dict[str, str]:
    return {
        "hosts": etc_hosts(pod.pod),
        "resolv.conf": resolv_conf(pod.namespace),
        "hostname": hostname(pod.pod) + "\n",
        "passwd": (
            "root:x:0:0:root:/root:/bin/sh\n"
            "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
        ),
        "group": "root:x:0:\nnogroup:x:65534:\n",
    }


# --- the command line -----------------------------------------------------------------------


def container_environment(pod: PodDir, container: str, *, tty: bool) -> dict[str, str]:
    """What a process started in the container sees: the pod's environment as the kubelet makes
    it, plus what a container runtime and a terminal add."""
    environment = dict(container_env(pod.pod, container, pod.services, pod.refs))
    environment.setdefault("PATH", PATH)
    environment.setdefault("HOME", "/root")
    if tty:
        environment.setdefault("TERM", "xterm")
        # Parameter expansion only: dash (sh) and bash both show "kuard:/ # ".
        environment.setdefault("PS1", "${HOSTNAME}:${PWD} # ")
    return environment


def _check_sizes(argv: list[str], environment: dict[str, str]) -> None:
    total = 0
    for key, value in environment.items():
        if "\0" in key or "=" in key or "\0" in value:
            raise Refused(f"environment variable {key!r} contains a NUL byte or '='")
        if len(key) + len(value) + 1 > MAX_STRING_BYTES:
            raise Refused(
                f"environment variable {key} is {len(value)} bytes; Linux starts no program "
                f"whose environment strings exceed {MAX_STRING_BYTES + 1} bytes each"
            )
        total += len(key) + len(value) + 2
    for word in argv:
        if "\0" in word:
            raise Refused("the command contains a NUL byte")
        if len(word) > MAX_STRING_BYTES:
            raise Refused(
                f"an argument of the command is {len(word)} bytes (Linux's limit: 128 KiB)"
            )
        total += len(word) + 1
    if total > MAX_EXEC_BYTES:
        raise Refused(
            f"the command and the container's environment are {total} bytes together; Linux "
            f"starts programs with at most about {MAX_EXEC_BYTES // 1024} KiB of them"
        )


def _environment_args(environment: dict[str, str]) -> list[str]:
    args = ["--clearenv"]
    for key, value in environment.items():
        args += ["--setenv", key, value]
    return args


def _found(name: str, environment_path: str) -> bool:
    if "/" in name:
        return True  # bwrap reports a missing path itself
    return any(shutil.which(name, path=d) for d in environment_path.split(":") if d)


def exec_jail(
    pod: PodDir,
    tree: int,
    container: str,
    argv: list[str],
    *,
    tty: bool,
    environment: dict[str, str],
) -> Jail:
    """The container, shaped from the pod: its root, system, /etc files, volumes."""
    spec = pod_container(pod.pod, container)
    jail = Jail()
    jail.add(*bwrap_base(uid=0, hostname=hostname(pod.pod)))
    jail.bind_fd(
        container_root(tree, container, restart_count(pod.pod, container)), "/", read_only=False
    )
    jail.add(*system_binds(make_symlinks=False))
    jail.add("--proc", "/proc", "--dev", "/dev", "--size", str(8 * 1024**2), "--tmpfs", "/dev/shm")  # noqa: S108
    for name, text in etc_files(pod).items():
        jail.data(text.encode(), f"/etc/{name}", 0o644)
    volume_binds(jail, tree, pod, container)
    jail.add("--chdir", str(spec.get("workingDir") or "/"))
    jail.add(*_environment_args(environment))
    command = ["setsid", "--ctty", "--wait", *argv] if tty else argv
    _check_sizes(command, environment)
    jail.add("--", *command)
    return jail


def demo_jail(pod: PodDir, raw: dict[str, bytes], container: str, command: list[str]) -> Jail:
    """The demo app's jail: a fresh, read-only root of its own (nothing the learner wrote in the
    container can shadow its code), the code and the pod's inputs as data, the system."""
    jail = Jail()
    jail.add(*bwrap_base(uid=0, hostname=hostname(pod.pod)))
    jail.add(*system_binds())
    jail.add("--proc", "/proc", "--dev", "/dev")
    for name, text in etc_files(pod).items():
        jail.data(text.encode(), f"/etc/{name}", 0o644)
    for source in sorted(CODE_DIR.glob("*.py")):
        jail.data(source.read_bytes(), f"{DEMO_ROOT}/podsim/{source.name}")
        # Hash-checked bytecode (cluster/ctl compiles it) is valid for the copy too, so the
        # demo app does not compile its modules at every start; a stale one is just ignored.
        compiled = Path(importlib.util.cache_from_source(str(source)))
        if compiled.is_file():
            jail.data(compiled.read_bytes(), f"{DEMO_ROOT}/podsim/__pycache__/{compiled.name}")
    for name, content in raw.items():
        jail.data(content, f"{POD_INPUTS}/{name}", 0o400)
    return jail


def _python(module: str, args: list[str]) -> list[str]:
    # -I: neither the environment, the user's site nor the working directory reaches sys.path.
    code = (
        f"import sys; sys.path.insert(0, {DEMO_ROOT!r}); "
        f"from podsim.{module} import main; sys.exit(main())"
    )
    return ["/usr/bin/python3", "-I", "-B", "-c", code, *args]


def _finish_demo(jail: Jail, environment: dict[str, str], command: list[str]) -> None:
    jail.add("--remount-ro", "/", "--chdir", DEMO_ROOT, *_environment_args(environment))
    _check_sizes(command, environment)
    jail.add("--", *command)


# --- the verbs ------------------------------------------------------------------------------


def cmd_exec(pod: PodDir, tree: int, container: str, argv: list[str], tty: bool) -> Jail | int:
    if not argv:
        print("no command given", file=sys.stderr)
        return 126
    environment = container_environment(pod, container, tty=tty)
    stand_in = SHELL_STAND_INS.get(argv[0])
    if stand_in and not _found(argv[0], environment["PATH"]):
        argv = [stand_in, *argv[1:]]
    if not _found(argv[0], environment["PATH"]):
        # What a container runtime says, so learners meet the real message.
        print(f'exec: "{argv[0]}": executable file not found in $PATH: unknown', file=sys.stderr)
        return 127
    if argv[0] == "tar":
        # `kubectl cp` extracts with tar as root, which keeps the sender's uid; only uid 0 exists
        # in the pod's user namespace, so a learner's files (uid 1000) could not be owned.
        environment["TAR_OPTIONS"] = "--no-same-owner"
    return exec_jail(pod, tree, container, argv, tty=tty, environment=environment)


def cmd_serve_demo(
    pod: PodDir, raw: dict[str, bytes], tree: int, container: str, port: int, listen_fd: int
) -> Jail:
    """The demo app for one pod port, accepting on the socket the shim passes as listen_fd."""
    podtree.check_name(container, "container")
    generation = restart_count(pod.pod, container)
    command = _python(
        "demoserver",
        [
            "--fd", str(listen_fd), "--pod-dir", POD_INPUTS, "--state-dir", DEMO_STATE,
            "--port", str(port), "--container", container, "--generation", str(generation),
        ],
    )  # fmt: skip
    jail = demo_jail(pod, raw, container, command)
    state = podtree.open_path(tree, ["demo", container], create=True, mode=0o700)
    jail.bind_fd(state, DEMO_STATE, read_only=False)
    jail.fds.append(listen_fd)
    _finish_demo(jail, container_environment(pod, container, tty=False), command)
    return jail


def cmd_startup_log(pod: PodDir, raw: dict[str, bytes], container: str) -> Jail:
    """The container's first log lines, computed in a jail like the demo app's (the pod spec is
    learner input; the shim bounds the output and the time)."""
    pod_container(pod.pod, container)
    command = _python("demoapp", ["startup-log", "--pod-dir", POD_INPUTS, "--container", container])
    jail = demo_jail(pod, raw, container, command)
    _finish_demo(jail, {"PATH": PATH, "LANG": "C.UTF-8"}, command)
    return jail


def cmd_memq_worker(pod: PodDir, raw: dict[str, bytes], container: str, conn_fd: int) -> Jail:
    """A kuard MemQ worker for the container, talking to its queue over the connection the
    shim opened (conn_fd); a jail like the demo app's: the pod spec is learner input."""
    podtree.check_name(container, "container")
    args = ["--pod-dir", POD_INPUTS, "--container", container, "--conn-fd", str(conn_fd)]
    command = _python("memqworker", args)
    jail = demo_jail(pod, raw, container, command)
    jail.fds.append(conn_fd)
    _finish_demo(jail, {"PATH": PATH, "LANG": "C.UTF-8"}, command)
    return jail


def _become(jail: Jail, seccomp_fd: int) -> int:
    """exec bwrap in place of this process, with exactly the descriptors the jail needs."""
    jail.argv[1:1] = ["--seccomp", str(seccomp_fd)]
    for fd in (*jail.fds, seccomp_fd):
        os.set_inheritable(fd, True)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvp("bwrap", jail.argv)  # noqa: S606 (the argv is ours; no shell parses it)
    return 127  # not reached


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pod-helper", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="verb", required=True)
    sub.add_parser("seccomp")
    for verb in ("exec", "serve-demo", "startup-log", "memq-worker"):
        p = sub.add_parser(verb)
        p.add_argument("--container", required=True)
        for name in ("pod", "services", "refs", "fs", "seccomp"):
            p.add_argument(f"--{name}-fd", type=int, required=True)
        if verb == "exec":
            p.add_argument("--tty", action="store_true")
            p.add_argument("command", nargs=argparse.REMAINDER)
        if verb == "serve-demo":
            p.add_argument("--port", type=int, required=True)
            p.add_argument("--listen-fd", type=int, default=3)
        if verb == "memq-worker":
            p.add_argument("--conn-fd", type=int, default=3)
    args = parser.parse_args(argv)
    if args.verb == "seccomp":
        from jails.seccomp import build_program

        sys.stdout.buffer.write(build_program())
        return 0
    if os.geteuid() == 0:
        print(
            "pod-helper: refusing to run as root (the shim drops to the pod's uid)", file=sys.stderr
        )
        return 2
    try:
        raw = {
            "pod.json": read_fd(args.pod_fd),
            "services.json": read_fd(args.services_fd),
            "refs.json": read_fd(args.refs_fd),
        }
        pod = pod_dir_parse(raw["pod.json"], raw["services.json"], raw["refs.json"])
        pod_container(pod.pod, args.container)
    except (PodDirError, KeyError, OSError) as error:
        print(f"pod-helper: {error.args[0] if error.args else error}", file=sys.stderr)
        return 2
    tree = args.fs_fd
    try:
        if args.verb == "exec":
            command = args.command[1:] if args.command[:1] == ["--"] else args.command
            built = cmd_exec(pod, tree, args.container, command, args.tty)
        elif args.verb == "serve-demo":
            built = cmd_serve_demo(pod, raw, tree, args.container, args.port, args.listen_fd)
        elif args.verb == "memq-worker":
            built = cmd_memq_worker(pod, raw, args.container, args.conn_fd)
        else:
            built = cmd_startup_log(pod, raw, args.container)
    except (Refused, TreeError) as error:
        print(f"kubelab: {error}", file=sys.stderr)
        return 126
    if isinstance(built, int):
        return built
    os.close(tree)
    return _become(built, args.seccomp_fd)


if __name__ == "__main__":
    sys.exit(main())
