"""Run a command "in" a simulated pod: a bubblewrap jail shaped like the pod's container.

The embedded cluster's kubelet shim (cluster/kubelet-shim) calls this, as root, for every
`kubectl exec` and `kubectl cp`, for the demo app behind `kubectl port-forward`, and for the
container's first log lines. It reads the pod's state directory (pod.json, services.json,
refs.json, written by the shim), lays out the container's files there, and starts the command in
the same kind of jail as a learner's shell (sandbox.terminal.jail): its own user, pid, mount,
ipc, uts and network namespaces with no interface but loopback, read-only system directories, an
unprivileged host uid, rlimits and a cgroup. Inside it looks like the container: hostname = pod
name, the pod's environment (Service variables included), /etc/resolv.conf and /etc/hosts as the
kubelet writes them, and the volumes at their mount paths. What the container writes (its own
root, and emptyDir volumes) lives in a size-limited tmpfs for as long as the pod, so `kubectl cp`
followed by `kubectl exec ls` sees it.

Usage: python -m sandbox.pods.podjail exec --pod-dir D --container C [--tty] -- CMD...
       python -m sandbox.pods.podjail serve-demo --pod-dir D --container C --port N [--listen-fd 3]
       python -m sandbox.pods.podjail startup-log --pod-dir D --container C
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from sandbox.pods import container as shape
from sandbox.terminal import jail
from sandbox.terminal.cgroups import SessionCgroup, cgroup_create
from sandbox.terminal.jail import JailLimits, wrap_launch

REPO = Path(__file__).resolve().parent.parent.parent
UID_BASE = 190000  # below the terminal's pool (200000+); one host uid per learner namespace
UID_COUNT = 10000
DEFAULT_MEMORY = 256 * 1024**2
POD_FS_BYTES = 128 * 1024**2  # everything one pod writes: container roots and emptyDir volumes
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Mount paths the jail cannot take: system directories are the host's, read-only.
RESERVED = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/proc", "/dev")
DEMO_ROOT = "/opt/kubelab"
# The book's images are Alpine (busybox ash); a simulated container has this machine's tools.
SHELL_STAND_INS = {"ash": "bash"}


@dataclass(frozen=True)
class Pod:
    dir: Path
    obj: dict[str, Any]
    services: list[dict[str, Any]]
    refs: dict[str, Any]

    @property
    def namespace(self) -> str:
        return str(self.obj["metadata"]["namespace"])

    def container(self, name: str) -> dict[str, Any]:
        for c in self.obj["spec"].get("containers", []):
            if c.get("name") == name:
                return dict(c)
        raise SystemExit(f"container {name!r} not found in pod {self.obj['metadata']['name']!r}")


def pod_load(pod_dir: Path) -> Pod:
    def read(name: str, default: Any) -> Any:
        try:
            return json.loads((pod_dir / name).read_text())
        except FileNotFoundError:
            return default

    return Pod(pod_dir, read("pod.json", None), read("services.json", []), read("refs.json", {}))


def pod_host_uid(namespace: str) -> int:
    """The host uid a namespace's pod processes run as: stable, and not any learner shell's."""
    return UID_BASE + zlib.crc32(namespace.encode()) % UID_COUNT


def memory_limit(container: dict[str, Any]) -> int:
    limit = (container.get("resources") or {}).get("limits", {}).get("memory")
    if not limit:
        return DEFAULT_MEMORY
    try:
        parsed = int(shape.parse_quantity(str(limit)))
    except ValueError:
        return DEFAULT_MEMORY
    return max(16 * 1024**2, min(parsed, 1024**3))


def _writable(path: Path, uid: int) -> Path:
    """A directory the pod's uid owns. Its parent must be root's: the pod may plant symlinks in
    its own directories, and root must never follow one (see _subdir)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o755)
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode):
        raise SystemExit(f"{path.name} is not a directory")
    if info.st_uid != uid:
        os.chown(path, uid, uid, follow_symlinks=False)
    return path


def _subdir(base: Path, relative: str, uid: int) -> Path:
    """base/relative inside a pod-owned tree, refusing '..' and symlinks on the way."""
    for part in PurePosixPath(relative).parts:
        if part in ("/", "..", "."):
            raise SystemExit(f"subPath {relative!r} must be a relative path without '..'")
        base = _writable(base / part, uid)
    return base


def _safe_relative(relative: str) -> str:
    parts = PurePosixPath(relative).parts
    if relative.startswith("/") or ".." in parts:
        raise SystemExit(f"volume file path {relative!r} must be relative, without '..'")
    return relative


def _write_ro(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.chmod(0o644)
    tmp.replace(path)


def layout(pod: Pod, container: str, uid: int) -> list[str]:
    """Write the container's files into the pod dir and return the bwrap arguments binding them."""
    # The shim writes refs.json (Secrets included) for root only; the pod's own uid may read it.
    refs = pod.dir / "refs.json"
    if refs.exists():
        os.chown(refs, uid, uid)
        refs.chmod(0o400)
    etc = pod.dir / "etc"
    files = {
        "hosts": shape.etc_hosts(pod.obj),
        "resolv.conf": shape.resolv_conf(pod.namespace),
        "hostname": shape.hostname(pod.obj) + "\n",
        "passwd": (
            "root:x:0:0:root:/root:/bin/sh\n"
            "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
        ),
        "group": "root:x:0:\nnogroup:x:65534:\n",
    }
    args: list[str] = []
    for name, text in files.items():
        _write_ro(etc / name, text.encode())
        args += ["--ro-bind", str(etc / name), f"/etc/{name}"]
    fs = pod_fs(pod.dir)
    for mount in shape.volume_mounts(pod.obj, container, pod.refs):
        target = mount.mount_path
        if not target.startswith("/") or any(
            target == r or target.startswith(r + "/") for r in RESERVED
        ):
            continue
        if not mount.persistent:  # ConfigMap, Secret, downward API: read-only files
            source = pod.dir / "volumes" / container / mount.mount_path.strip("/").replace("/", "_")
            for rel, data in mount.files.items():
                _write_ro(source / _safe_relative(rel) if rel else source, data)
            args += ["--ro-bind", str(source), target]
        else:
            source = _writable(fs / "volumes" / mount.name, uid)
            if mount.sub_path:
                source = _subdir(source, mount.sub_path, uid)
            args += ["--ro-bind" if mount.read_only else "--bind", str(source), target]
    return args


def pod_fs(pod_dir: Path) -> Path:
    """The pod's writable storage: a size-limited tmpfs mounted on first use, so nothing a pod
    writes can fill the host's disk. It lives until the shim unmounts it with the pod."""
    fs = pod_dir / "fs"
    fs.mkdir(mode=0o711, exist_ok=True)
    with (pod_dir / ".fs.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.ismount(fs):
            options = f"size={POD_FS_BYTES},mode=0711,nosuid,nodev"
            done = subprocess.run(
                ["mount", "-t", "tmpfs", "-o", options, "kubelab-pod", str(fs)],
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                # Without mount rights (an unprivileged dev box) the files stay on disk.
                print(f"podjail: no tmpfs for the pod: {done.stderr.strip()}", file=sys.stderr)
    return fs


def system_binds(root: Path) -> list[str]:
    """The learner shell's system binds (sandbox.terminal.jail.system_binds) for a container root
    that persists between execs: the /bin-style symlinks are made, or mended, here."""
    for top in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        host = Path("/") / top
        if not host.is_symlink():
            continue
        target = os.readlink(host)
        link = root / top
        if link.is_symlink() and os.readlink(link) == target:
            continue
        if link.is_dir() and not link.is_symlink():
            shutil.rmtree(link)
        else:
            link.unlink(missing_ok=True)
        os.symlink(target, link)
    return jail.system_binds(make_symlinks=False)


def container_root(pod_dir: Path, container: str, uid: int) -> Path:
    """The container's writable root (its "image layer"): / for whatever it writes outside
    volumes. A restart removes it, as a new container starts from its image again."""
    root = _writable(pod_fs(pod_dir) / container / "rootfs", uid)
    for name, mode in (("tmp", 0o1777), ("root", 0o700)):
        _writable(root / name, uid).chmod(mode)
    return root


def container_environment(pod: Pod, container: str, *, tty: bool) -> dict[str, str]:
    """What a process started in the container sees: the pod's environment as the kubelet makes
    it, plus what a container runtime and a terminal add."""
    environment = dict(shape.container_env(pod.obj, container, pod.services, pod.refs))
    environment.setdefault("PATH", PATH)
    environment.setdefault("HOME", "/root")
    if tty:
        environment.setdefault("TERM", "xterm")
        # Parameter expansion only: dash (sh) and bash both show "kuard:/ # ".
        environment.setdefault("PS1", "${HOSTNAME}:${PWD} # ")
    return environment


def jail_command(
    pod: Pod,
    container: str,
    argv: list[str],
    *,
    tty: bool,
    extra: list[str],
    environment: dict[str, str],
    workdir: str | None = None,
) -> list[str]:
    uid = pod_host_uid(pod.namespace)
    spec = pod.container(container)
    setenv: list[str] = []
    for key, value in environment.items():
        setenv += ["--setenv", key, value]
    cwd = workdir or spec.get("workingDir") or "/"
    root = container_root(pod.dir, container, uid)
    command = ["setsid", "--ctty", "--wait", *argv] if tty else argv
    return [
        *jail.bwrap_base(uid=0, hostname=shape.hostname(pod.obj)),
        "--bind", str(root), "/",
        *system_binds(root),
        "--proc", "/proc",
        "--dev", "/dev",
        "--size", str(8 * 1024**2), "--tmpfs", "/dev/shm",  # noqa: S108
        *layout(pod, container, uid),
        *extra,
        "--chdir", cwd,
        "--clearenv",
        *setenv,
        "--",
        *command,
    ]  # fmt: skip


def _found(name: str, environment_path: str) -> bool:
    if "/" in name:
        return True  # bwrap reports a missing path itself
    return any(shutil.which(name, path=d) for d in environment_path.split(":") if d)


def run_jailed(pod: Pod, container: str, bwrap: list[str], pass_fds: tuple[int, ...] = ()) -> int:
    """Run the jail as our child in its own cgroup; SIGTERM (pod gone, client left) ends it all."""
    spec = pod.container(container)
    uid = pod_host_uid(pod.namespace)
    limits = JailLimits(memory_bytes=memory_limit(spec), pids=256)
    name = f"pod-{pod.obj['metadata']['uid']}-{os.getpid()}"
    group = cgroup_create(name, memory_bytes=limits.memory_bytes, pids=limits.pids, cpu_percent=50)
    argv = wrap_launch(bwrap, limits=limits, host_uid=uid, cgroup_procs=group.procs_files)
    child = subprocess.Popen(argv, pass_fds=pass_fds)

    def stop(_signum: int, _frame: object) -> None:
        _kill(child, group)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)
    try:
        code = child.wait()
    finally:
        _kill(child, group)
        group.remove()
    return 128 - code if code < 0 else code


def _kill(child: subprocess.Popen[bytes], group: SessionCgroup) -> None:
    group.kill_all()
    if child.poll() is None:
        child.kill()


def cmd_exec(pod: Pod, container: str, argv: list[str], tty: bool) -> int:
    if not argv:
        print("no command given", file=sys.stderr)
        return 126
    environment = container_environment(pod, container, tty=tty)
    stand_in = SHELL_STAND_INS.get(argv[0])
    if stand_in and not _found(argv[0], environment["PATH"]):
        argv = [stand_in, *argv[1:]]
    if not _found(argv[0], environment["PATH"]):
        # What a container runtime says, so learners meet the real message.
        print(
            f'exec: "{argv[0]}": executable file not found in $PATH: unknown',
            file=sys.stderr,
        )
        return 127
    if argv[0] == "tar":
        # `kubectl cp` extracts with tar as root, which keeps the sender's uid; only uid 0 exists
        # in the pod's user namespace, so a learner's files (uid 1000) could not be owned.
        environment["TAR_OPTIONS"] = "--no-same-owner"
    bwrap = jail_command(pod, container, argv, tty=tty, extra=[], environment=environment)
    return run_jailed(pod, container, bwrap)


def cmd_serve_demo(pod: Pod, container: str, port: int, listen_fd: int) -> int:
    """The demo app for one pod port, accepting on the socket the shim passes as listen_fd."""
    uid = pod_host_uid(pod.namespace)
    state = _writable(pod.dir / "demo-state", uid)
    extra = [
        "--ro-bind", str(REPO / "sandbox" / "__init__.py"), f"{DEMO_ROOT}/sandbox/__init__.py",
        "--ro-bind", str(REPO / "sandbox" / "pods"), f"{DEMO_ROOT}/sandbox/pods",
        "--ro-bind", str(pod.dir / "pod.json"), "/run/kubelab/pod/pod.json",
        "--ro-bind", str(pod.dir / "services.json"), "/run/kubelab/pod/services.json",
        "--ro-bind", str(pod.dir / "refs.json"), "/run/kubelab/pod/refs.json",
        "--bind", str(state), "/run/kubelab/state",
    ]  # fmt: skip
    argv = [
        "/usr/bin/python3", "-E", "-s", "-B", "-m", "sandbox.pods.demoserver",
        "--fd", str(listen_fd), "--pod-dir", "/run/kubelab/pod",
        "--state-dir", "/run/kubelab/state", "--port", str(port), "--container", container,
    ]  # fmt: skip
    environment = container_environment(pod, container, tty=False)
    bwrap = jail_command(
        pod, container, argv, tty=False, extra=extra, environment=environment, workdir=DEMO_ROOT
    )
    return run_jailed(pod, container, bwrap, pass_fds=(listen_fd,))


def cmd_startup_log(pod: Pod, container: str) -> int:
    pod.container(container)
    for line in shape.container_startup_lines(pod.obj, container):
        print(line)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="podjail", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="verb", required=True)
    for verb in ("exec", "serve-demo", "startup-log"):
        p = sub.add_parser(verb)
        p.add_argument("--pod-dir", type=Path, required=True)
        p.add_argument("--container", required=True)
        if verb == "exec":
            p.add_argument("--tty", action="store_true")
            p.add_argument("command", nargs=argparse.REMAINDER)
        if verb == "serve-demo":
            p.add_argument("--port", type=int, required=True)
            p.add_argument("--listen-fd", type=int, default=3)
    args = parser.parse_args(argv)
    pod = pod_load(args.pod_dir)
    if pod.obj is None:
        print(f"no pod.json in {args.pod_dir}", file=sys.stderr)
        return 2
    if args.verb == "exec":
        command = args.command[1:] if args.command[:1] == ["--"] else args.command
        return cmd_exec(pod, args.container, command, args.tty)
    if args.verb == "serve-demo":
        return cmd_serve_demo(pod, args.container, args.port, args.listen_fd)
    return cmd_startup_log(pod, args.container)


if __name__ == "__main__":
    sys.exit(main())
