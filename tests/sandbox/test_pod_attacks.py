"""The pod-layer attack suite: what a learner can try with a pod spec and `kubectl exec`, `cp`,
`logs` and `port-forward`, each case named for what it tries, each contained.

Every case runs through the real API server, the learner's RBAC, the kubelet shim and the pod
builder. "Contained" is checked on the host: a root-owned sentinel directory and file that must
keep their owner and mode, host paths that must never appear, other learners' pods that must
keep answering.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.cluster import REPO, Cluster, wait_until
from tests.sandbox.pod_attacks import (
    ModuleLearner,
    Sentinel,
    background_exec,
    host_sentinel,
    module_learner_create,
    stop,
)
from tests.sandbox.pods_live import (
    http_get,
    leased_pod_uid,
    pod_running,
    port_forward,
)

pytestmark = [pytest.mark.cluster]

KUARD_IMAGE = "gcr.io/kuar-demo/kuard-amd64:blue"
SETTINGS = """
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {greeting: hello, size: "3"}
"""
BOX = f"""
apiVersion: v1
kind: Pod
metadata: {{name: box}}
spec:
  containers:
  - name: box
    image: {KUARD_IMAGE}
    ports: [{{containerPort: 8080}}]
    env: [{{name: SUB, value: "nested/dir"}}]
    volumeMounts:
    - {{name: v, mountPath: /data}}
    - {{name: v, mountPath: /sub, subPath: sub/dir}}
    - {{name: v, mountPath: /expr, subPathExpr: "$(SUB)"}}
    - {{name: settings, mountPath: /etc/settings}}
  volumes:
  - {{name: v, emptyDir: {{}}}}
  - {{name: settings, configMap: {{name: settings}}}}
"""


def pod(name: str, *, env: str = "", mounts: str = "", volumes: str = "", extra: str = "") -> str:
    return f"""
apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  containers:
  - name: c
    image: {KUARD_IMAGE}
    ports: [{{containerPort: 8080}}]
{extra}    env: [{env}]
    volumeMounts: [{mounts}]
  volumes: [{volumes}]
"""


@pytest.fixture(scope="module")
def sentinel() -> Iterator[Sentinel]:
    with host_sentinel() as made:
        yield made


@pytest.fixture(scope="module")
def attacker(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleLearner]:
    if not cluster.embedded:
        pytest.skip("the pod helper runs only behind the embedded cluster's kubelet shim")
    learner = module_learner_create(cluster, tmp_path_factory.mktemp("attacker"), "a")
    apply(learner, SETTINGS)
    apply(learner, BOX)
    pod_running(learner, "box")
    yield learner
    cluster.kubectl("delete", "namespace", learner.namespace, "--wait=false", check=False)


@pytest.fixture(scope="module")
def victim(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleLearner]:
    if not cluster.embedded:
        pytest.skip("the pod helper runs only behind the embedded cluster's kubelet shim")
    learner = module_learner_create(cluster, tmp_path_factory.mktemp("victim"), "v")
    apply(learner, pod("work"))
    pod_running(learner, "work")
    yield learner
    cluster.kubectl("delete", "namespace", learner.namespace, "--wait=false", check=False)


def apply(learner: ModuleLearner, manifest: str) -> None:
    done = learner.kubectl("apply", "-f", "-", input=manifest)
    assert done.returncode == 0, done.stderr


def sh(
    learner: ModuleLearner, script: str, pod_name: str = "box", timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return learner.kubectl("exec", pod_name, "--", "sh", "-c", script, timeout=timeout)


def fresh_pod(learner: ModuleLearner, manifest: str, name: str) -> None:
    learner.kubectl("delete", "pod", name, "--ignore-not-found", "--wait=true", "--timeout=60s")
    # create, not apply: apply's last-applied annotation may hold no more than 256 KiB.
    done = learner.kubectl("create", "-f", "-", input=manifest)
    assert done.returncode == 0, done.stderr[:500]
    pod_running(learner, name)


@pytest.fixture(autouse=True)
def host_unchanged(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every case: the host sentinel keeps its owner and mode, and no host path appears."""
    if "sentinel" not in request.fixturenames:
        yield
        return
    sentinel: Sentinel = request.getfixturevalue("sentinel")
    before = sentinel.state()
    yield
    assert sentinel.state() == before, "a host path changed owner or mode"


# --- symlink and hard-link games in volumes and the container root --------------------------


def test_symlink_to_the_host_root_in_a_volume_shows_only_the_pod(
    attacker: ModuleLearner, sentinel: Sentinel
) -> None:
    done = sh(attacker, f"ln -sfn / /data/hostroot; cat /data/hostroot{sentinel.file} 2>&1; ls /")
    assert "host secret" not in done.stdout
    assert "No such file" in done.stdout


def test_subpath_component_swapped_for_a_link_to_the_host_is_refused(
    attacker: ModuleLearner, sentinel: Sentinel
) -> None:
    setup = (
        f"mkdir -p /data/sub/dir && mv /data/sub /data/sub.real && ln -s {sentinel.root} /data/sub"
    )
    assert sh(attacker, setup).returncode == 0
    try:
        done = sh(attacker, "ls /sub")
        assert done.returncode != 0
        assert "kubelab: subPath 'sub/dir' of volume 'v': 'sub' is a symbolic link" in done.stderr
        assert "SENTINEL" not in done.stdout
    finally:
        fresh_pod(attacker, BOX, "box")  # box cannot start an exec to repair its own volume


def test_subpath_component_replaced_by_a_fifo_is_refused_at_once(
    attacker: ModuleLearner,
) -> None:
    assert sh(attacker, "rm -rf /data/sub && mkfifo /data/sub").returncode == 0
    try:
        started = time.monotonic()
        done = sh(attacker, "true", timeout=30)
        assert time.monotonic() - started < 20, "the builder blocked on the FIFO"
        assert "'sub' is not a directory" in done.stderr, done.stderr
    finally:
        fresh_pod(attacker, BOX, "box")


def test_subpath_expr_that_leaves_the_volume_is_refused(attacker: ModuleLearner) -> None:
    # The API server validates subPath, but not what subPathExpr expands to.
    manifest = pod(
        "escape",
        env='{name: UP, value: "../../../../etc"}',
        mounts='{name: v, mountPath: /x, subPathExpr: "$(UP)"}',
        volumes="{name: v, emptyDir: {}}",
    )
    fresh_pod(attacker, manifest, "escape")
    done = attacker.kubectl("exec", "escape", "--", "true")
    assert done.returncode != 0
    assert "leaves the volume ('..' is not allowed)" in done.stderr, done.stderr


def test_subpath_expr_with_an_absolute_path_is_refused(attacker: ModuleLearner) -> None:
    manifest = pod(
        "absolute",
        env='{name: AT, value: "/etc"}',
        mounts='{name: v, mountPath: /x, subPathExpr: "$(AT)"}',
        volumes="{name: v, emptyDir: {}}",
    )
    fresh_pod(attacker, manifest, "absolute")
    done = attacker.kubectl("exec", "absolute", "--", "true")
    assert "must be a relative path" in done.stderr, done.stderr


def test_mount_path_climbing_onto_a_system_directory_is_refused(attacker: ModuleLearner) -> None:
    manifest = pod(
        "covers",
        mounts="{name: v, mountPath: /x/../usr}, {name: v, mountPath: /etc}",
        volumes="{name: v, emptyDir: {}}",
    )
    fresh_pod(attacker, manifest, "covers")
    done = attacker.kubectl("exec", "covers", "--", "sh", "-c", "ls /usr/bin/python3 /etc/hosts")
    assert "it would cover /usr, which the simulated node keeps read-only" in done.stderr
    assert "is not mounted at /etc" in done.stderr
    assert done.returncode == 0, done.stderr  # the command ran, on the node's own /usr


def test_hard_link_to_a_host_file_is_impossible(attacker: ModuleLearner) -> None:
    done = sh(attacker, "ln /usr/bin/passwd /data/passwd 2>&1; ln /etc/hosts /data/h 2>&1; true")
    assert "Invalid cross-device link" in done.stdout or "Operation not permitted" in done.stdout
    assert sh(attacker, "test -e /data/passwd").returncode != 0


def test_container_root_tmp_swapped_for_a_link_to_a_host_file(
    attacker: ModuleLearner, sentinel: Sentinel
) -> None:
    assert sh(attacker, f"rm -rf /tmp && ln -s {sentinel.file} /tmp").returncode == 0
    done = sh(attacker, "ls -ld /tmp; stat -c %a /tmp")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-1] == "1777"  # a directory again, the pod's own


def test_container_root_bin_link_retargeted_is_mended(attacker: ModuleLearner) -> None:
    assert sh(attacker, "rm /bin && ln -s /data /bin").returncode == 0
    done = sh(attacker, "readlink /bin; ls /bin/sh")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "usr/bin"


def test_etc_files_of_the_kubelet_are_not_writable(attacker: ModuleLearner) -> None:
    done = sh(attacker, "echo evil >> /etc/hosts; echo evil > /etc/settings/greeting; true")
    assert "Read-only file system" in done.stderr
    assert "evil" not in sh(attacker, "cat /etc/hosts /etc/settings/greeting").stdout


# --- kubectl cp's tar, hostile ------------------------------------------------------------


# (name, symlink target or None for a regular file, content)
TarMember = tuple[str, str | None, bytes]


def _tar(*members: TarMember) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, link, data in members:
            info = tarfile.TarInfo(name)
            if link is not None:
                info.type = tarfile.SYMTYPE
                info.linkname = link
                archive.addfile(info)
            else:
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.mark.parametrize(
    "what",
    ["dot-dot entries", "absolute entries", "a symlink, then a file through it"],
)
def test_hostile_tar_stays_in_the_pod(
    attacker: ModuleLearner, sentinel: Sentinel, what: str, tmp_path: Path
) -> None:
    marker = f"kubelab-escape-{secrets.token_hex(4)}"
    attacks: dict[str, list[TarMember]] = {
        "dot-dot entries": [(f"../../../../../../tmp/{marker}", None, b"x")],
        "absolute entries": [
            (f"/tmp/{marker}", None, b"x"),
            (f"{sentinel.root}/planted", None, b"x"),
        ],
        "a symlink, then a file through it": [
            ("l", str(sentinel.root), b""),
            ("l/planted", None, b"x"),
        ],
    }
    members = attacks[what]
    archive = tmp_path / "evil.tar"
    archive.write_bytes(_tar(*members))
    cmd = [
        str(attacker.kubectl_path), "--kubeconfig", str(attacker.kubeconfig),
        "exec", "-i", "box", "--", "tar", "-xPf", "-", "-C", "/data",
    ]  # fmt: skip
    subprocess.run(cmd, input=archive.read_bytes(), capture_output=True, timeout=60)
    assert not Path("/tmp", marker).exists()
    assert not (sentinel.root / "planted").exists()


# --- huge and hostile pod specs ------------------------------------------------------------


def test_thousands_of_volume_mounts_are_refused_before_any_file_is_written(
    attacker: ModuleLearner,
) -> None:
    mounts = ", ".join(f"{{name: cfg, mountPath: /m/{i:05d}}}" for i in range(3000))
    apply(attacker, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata: {k: v}\n")
    manifest = pod("mounts", mounts=mounts, volumes="{name: cfg, configMap: {name: big}}")
    fresh_pod(attacker, manifest, "mounts")
    started = time.monotonic()
    done = attacker.kubectl("exec", "mounts", "--", "true")
    assert time.monotonic() - started < 15
    assert "has 3000 volumeMounts; kubelab's simulated containers take at most 100" in done.stderr


def test_many_mounts_of_one_config_map_make_one_copy(attacker: ModuleLearner) -> None:
    mounts = ", ".join(f"{{name: cfg, mountPath: /m/{i}}}" for i in range(50))
    apply(attacker, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata: {k: v}\n")
    fresh_pod(
        attacker,
        pod("copies", mounts=mounts, volumes="{name: cfg, configMap: {name: big}}"),
        "copies",
    )
    assert attacker.kubectl("exec", "copies", "--", "cat", "/m/49/k").stdout == "v"
    uid = _pod_uid(attacker, "copies")
    tree = REPO / "var" / "cluster" / "pods" / uid / "fs" / "api" / "c"
    # One copy for the 50 mounts (and none for the token: automount is off for learners).
    assert len(os.listdir(tree)) == 1


def test_megabyte_environment_value_is_refused_with_the_reason(attacker: ModuleLearner) -> None:
    value = "x" * 1_000_000
    manifest = pod("bigenv", env=f"{{name: HUGE, value: {json.dumps(value)}}}")
    fresh_pod(attacker, manifest, "bigenv")
    done = attacker.kubectl("exec", "bigenv", "--", "true")
    assert "environment variable HUGE is 1000000 bytes" in done.stderr, done.stderr[:300]


def test_a_pod_naming_more_than_8_mib_of_config_maps_is_refused(
    cluster: Cluster, attacker: ModuleLearner
) -> None:
    # Each ConfigMap may hold 1 MiB; what a pod names is kept on the node's disk, so it is capped.
    names = [f"blob{i}" for i in range(9)]
    for name in names:
        manifest = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name},
            "data": {"k": "x" * 1_000_000},
        }
        done = attacker.kubectl("create", "-f", "-", input=json.dumps(manifest))
        assert done.returncode == 0 or "AlreadyExists" in done.stderr, done.stderr
    env = ", ".join(
        f"{{name: V{i}, valueFrom: {{configMapKeyRef: {{name: {n}, key: k}}}}}}"
        for i, n in enumerate(names)
    )
    fresh_pod(attacker, pod("hoarder", env=env), "hoarder")
    done = attacker.kubectl("exec", "hoarder", "--", "true")
    assert done.returncode != 0
    assert "hold more than 8 MiB" in done.stderr, done.stderr[:300]
    attacker.kubectl("delete", "configmap", *names, "--wait=false")


def test_logs_of_a_key_generator_asked_for_10_to_the_11_keys_stay_bounded(
    attacker: ModuleLearner,
) -> None:
    extra = '    args: ["--keygen-enable", "--keygen-num-to-gen=100000000000"]\n'
    fresh_pod(attacker, pod("keygen", extra=extra), "keygen")
    started = time.monotonic()
    done = attacker.kubectl("logs", "keygen", timeout=60)
    assert time.monotonic() - started < 15
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) < 1100
    assert "stops after 1000 keys (asked for 100000000000)" in done.stdout


def test_quadratic_variable_expansion_is_linear(attacker: ModuleLearner) -> None:
    value = "$(" * 200_000
    manifest = pod("dollars", env=f"{{name: D, value: {json.dumps(value)}}}")
    fresh_pod(attacker, manifest, "dollars")
    started = time.monotonic()
    attacker.kubectl("logs", "dollars", timeout=60)
    attacker.kubectl("exec", "dollars", "--", "true", timeout=60)
    assert time.monotonic() - started < 10


# --- FIFOs where the shim or the demo app read ---------------------------------------------


def test_a_fifo_as_demo_state_stalls_no_other_learners_probes(
    attacker: ModuleLearner, victim: ModuleLearner
) -> None:
    # The attacker's demo app is hijacked in this story (it is not: see the next case), so its
    # state file is a FIFO; root's prober must neither block on it nor stop probing the victim.
    with port_forward(attacker, "box") as port:
        assert http_get(port, "/healthy")[0] == 200
    state = REPO / "var" / "cluster" / "pods" / _pod_uid(attacker, "box") / "fs" / "demo" / "box"
    (state / "state.json").unlink(missing_ok=True)
    os.mkfifo(state / "state.json")
    probes = (
        "    livenessProbe: {httpGet: {path: /healthy, port: 8080}, "
        "periodSeconds: 1, failureThreshold: 1}\n"
    )
    fresh_pod(victim, pod("probed", extra=probes), "probed")
    with port_forward(victim, "probed") as port:
        assert http_get(port, "/healthy/fail")[0] == 200
    wait_until(lambda: _restarts(victim, "probed") >= 1, timeout=30, what="the victim's restart")
    # The attacker's own demo app still serves, ignoring the unreadable state.
    with port_forward(attacker, "box") as port:
        assert http_get(port, "/healthy")[0] == 200


def _top(learner: ModuleLearner) -> dict[str, int]:
    done = learner.kubectl("top", "pods", "--no-headers")
    lines = done.stdout.splitlines() if done.returncode == 0 else []
    return {line.split()[0]: int(line.split()[1].rstrip("m")) for line in lines}


def test_a_hijacked_demo_state_skews_only_its_own_pods_metrics(
    attacker: ModuleLearner, victim: ModuleLearner
) -> None:
    """Root's metrics code reads each pod's demo state (cluster/kubelet-shim/metrics.go): a
    FIFO, a link to a host file or a forged claim there must block nothing, read nothing of the
    host and inflate no one's usage but the hijacked pod's own, and that by no more than a core."""
    with port_forward(attacker, "box") as port:
        assert http_get(port, "/healthy")[0] == 200
    state = REPO / "var" / "cluster" / "pods" / _pod_uid(attacker, "box") / "fs" / "demo" / "box"
    target = state / "state.json"
    for plant in (lambda: os.mkfifo(target), lambda: os.symlink("/etc/shadow", target)):
        target.unlink(missing_ok=True)
        plant()
        before = time.monotonic()
        wait_until(lambda: "work" in _top(victim) and "box" in _top(attacker), timeout=60,
                   what="metrics of both learners")  # fmt: skip
        assert time.monotonic() - before < 30
        assert _top(attacker)["box"] <= 5  # nothing read through the link: the pod at rest
    target.unlink()
    forged = {
        "version": 1,
        "generation": _restarts(attacker, "box"),
        "keygen": {"enable": True, "since": 0, "banked": 1e15},
    }
    target.write_text(json.dumps(forged))
    # A claim of 10^15 busy seconds shows as what kuard could really do: one core, no more.
    wait_until(lambda: _top(attacker).get("box", 0) >= 900, timeout=60, what="the forged load")
    assert _top(attacker)["box"] <= 1010
    assert _top(victim)["work"] <= 5


def test_a_module_planted_where_the_demo_app_starts_is_never_imported(
    attacker: ModuleLearner,
) -> None:
    plant = (
        "mkdir -p /opt/kubelab/podsim && for m in argparse json socket; do "
        "echo 'raise SystemExit(\"hijacked\")' > /opt/kubelab/$m.py; done; "
        "echo 'raise SystemExit(\"hijacked\")' > /opt/kubelab/podsim/demoserver.py"
    )
    assert sh(attacker, plant).returncode == 0
    fresh_demo = pod("planted")
    fresh_pod(attacker, fresh_demo, "planted")
    assert attacker.kubectl("exec", "planted", "--", "sh", "-c", plant).returncode == 0
    with port_forward(attacker, "planted") as port:
        status, body = http_get(port, "/healthy")
    assert (status, body) == (200, "ok\n")


# --- floods, per learner -------------------------------------------------------------------


def test_fork_bomb_is_contained_and_the_victim_keeps_working(
    attacker: ModuleLearner, victim: ModuleLearner
) -> None:
    bomb = background_exec(attacker, "box", "bash", "-c", "b() { b | b & }; b; sleep 30")
    try:
        time.sleep(4)
        uid = leased_pod_uid(attacker.namespace)
        assert uid is not None
        count = sum(1 for p in Path("/proc").iterdir() if p.name.isdigit() and _owner(p) == uid)
        assert count <= 600, f"{count} processes of the attacker's pods"
        started = time.monotonic()
        done = victim.kubectl("exec", "work", "--", "echo", "fine")
        assert done.stdout.strip() == "fine", done.stderr
        assert time.monotonic() - started < 15
    finally:
        stop(bomb)


def test_memory_of_all_a_learners_execs_together_is_capped(attacker: ModuleLearner) -> None:
    # Each exec may use the container's 1 GiB; together they get the namespace's 1 GiB.
    hold = (
        "import time; b = bytearray(400 << 20); b[::4096] = b'x' * len(b[::4096]); "
        "print('held', flush=True); time.sleep(60)"
    )
    holders = [background_exec(attacker, "box", "python3", "-c", hold) for _ in range(4)]
    try:
        time.sleep(12)
        alive = [h for h in holders if h.poll() is None]
        assert len(alive) <= 2, f"{len(alive)} execs hold 400 MiB each"
    finally:
        for h in holders:
            stop(h)


def test_the_pods_files_fill_their_own_tmpfs_not_the_hosts_disk(attacker: ModuleLearner) -> None:
    done = sh(
        attacker,
        "i=0; while [ $i -lt 20000 ]; do printf '' > /data/f$i || break; i=$((i+1)); done; "
        "echo made $i; "
        "rm -f /data/f*",
        timeout=120,
    )
    made = int(done.stdout.split()[-1])
    assert 1000 < made < 20000, done.stdout  # the tmpfs's inode limit, not the host's


def test_more_concurrent_execs_than_the_cap_are_refused_with_a_message(
    attacker: ModuleLearner,
) -> None:
    sleepers = [background_exec(attacker, "box", "sleep", "60") for _ in range(16)]
    try:
        uid = leased_pod_uid(attacker.namespace)

        def running() -> bool:
            count = sum(
                1
                for p in Path("/proc").iterdir()
                if p.name.isdigit() and _owner(p) == uid and _comm(p) == "sleep"
            )
            return count >= 16

        wait_until(running, timeout=60, what="16 execs running")
        done = attacker.kubectl("exec", "box", "--", "true")
        assert done.returncode != 0
        assert "already runs 16 kubectl exec sessions" in done.stderr, done.stderr
    finally:
        for s in sleepers:
            stop(s)
    wait_until(
        lambda: attacker.kubectl("exec", "box", "--", "true").returncode == 0,
        timeout=30,
        what="execs allowed again",
    )


def test_an_exec_whose_kubectl_went_away_ends_and_frees_its_slot(attacker: ModuleLearner) -> None:
    uid = leased_pod_uid(attacker.namespace)
    orphan = background_exec(attacker, "box", "sleep", "1234")

    def sleeping() -> bool:
        return any(
            b"sleep\x001234" in _cmdline(p) and _owner(p) == uid
            for p in Path("/proc").iterdir()
            if p.name.isdigit()
        )

    wait_until(sleeping, timeout=30, what="the exec running")
    stop(orphan)  # the learner's kubectl dies; nobody is left to see the command
    wait_until(lambda: not sleeping(), timeout=15, what="the orphaned exec ended")


def test_two_learners_pods_never_share_a_host_uid(
    attacker: ModuleLearner, victim: ModuleLearner
) -> None:
    attacker.kubectl("exec", "box", "--", "true")
    victim.kubectl("exec", "work", "--", "true")
    mine, theirs = leased_pod_uid(attacker.namespace), leased_pod_uid(victim.namespace)
    assert mine is not None and theirs is not None
    assert mine != theirs


# --- the kernel surface (seccomp) -----------------------------------------------------------

SYSCALLS = {  # x86_64 numbers
    "keyctl": 250,
    "bpf": 321,
    "perf_event_open": 298,
    "userfaultfd": 323,
    "io_uring_setup": 425,
    "ptrace": 101,
    "unshare": 272,
    "mount": 165,
}


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="syscall numbers are x86_64's")
def test_kernel_attack_surface_is_refused(attacker: ModuleLearner) -> None:
    probe = (
        "import ctypes, os, json\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        f"calls = {SYSCALLS!r}\n"
        "out = {}\n"
        "for name, nr in calls.items():\n"
        "    ctypes.set_errno(0)\n"
        "    r = libc.syscall(nr, 0, 0, 0, 0, 0, 0)\n"
        "    out[name] = os.strerror(ctypes.get_errno()) if r == -1 else 'ALLOWED'\n"
        "print(json.dumps(out))\n"
    )
    done = attacker.kubectl("exec", "box", "--", "python3", "-c", probe)
    result = json.loads(done.stdout)
    for name in ("keyctl", "bpf", "perf_event_open", "userfaultfd", "ptrace", "unshare", "mount"):
        assert result[name] == "Operation not permitted", (name, result)
    assert result["io_uring_setup"] == "Function not implemented"
    status = attacker.kubectl("exec", "box", "--", "grep", "Seccomp", "/proc/self/status").stdout
    assert "Seccomp:\t2" in status


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="int 0x80 is x86's")
def test_32_bit_system_calls_kill_the_process(attacker: ModuleLearner) -> None:
    # mov eax, 20 (i386 getpid); int 0x80; ret: a foreign architecture for the filter.
    code = (
        "import ctypes, mmap\n"
        "m = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)\n"
        "m.write(bytes([0xb8, 0x14, 0, 0, 0, 0xcd, 0x80, 0xc3]))\n"
        "f = ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(m)))\n"
        "print('survived', f())\n"
    )
    done = attacker.kubectl("exec", "box", "--", "python3", "-c", code)
    assert "survived" not in done.stdout
    assert "exit code 159" in done.stderr, done.stderr  # 128 + SIGSYS


def test_namespaces_and_devices_cannot_be_made_inside_a_pod(attacker: ModuleLearner) -> None:
    done = sh(
        attacker,
        "unshare -U true; unshare -m true; unshare -n true; mknod /data/mem c 1 1; "
        "mknod /tmp/sda b 8 0; true",
    )
    assert done.stderr.count("Operation not permitted") >= 5, done.stderr
    assert sh(attacker, "test -e /data/mem || test -e /tmp/sda").returncode != 0


def test_terminal_injection_through_tiocsti_is_refused(attacker: ModuleLearner) -> None:
    code = "import fcntl, termios; fcntl.ioctl(0, termios.TIOCSTI, b'x'); print('injected')"
    done = attacker.kubectl("exec", "-t", "box", "--", "python3", "-c", code)
    assert "injected" not in done.stdout
    assert "Operation not permitted" in done.stdout + done.stderr


# --- what a pod can learn about the host ---------------------------------------------------


def test_mountinfo_shows_no_host_path(attacker: ModuleLearner) -> None:
    mounts = sh(attacker, "cat /proc/self/mountinfo").stdout
    assert str(REPO) not in mounts
    assert "/var/cluster" not in mounts
    with port_forward(attacker, "box") as port:
        assert http_get(port, "/healthy")[0] == 200
        uid = leased_pod_uid(attacker.namespace)
        demo = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _owner(p) == uid]
        # The jail's python, not bwrap's outer process (which stays in the host's namespaces).
        demo = [p for p in demo if _cmdline(p).startswith(b"/usr/bin/python3\0-I")]
        assert demo, "no demo server found"
        text = (demo[0] / "mountinfo").read_text()
        assert str(REPO) not in text and "/var/cluster" not in text


def test_a_pod_inherits_no_descriptor(attacker: ModuleLearner) -> None:
    done = sh(attacker, "ls /proc/self/fd")
    assert sorted(done.stdout.split()) == ["0", "1", "2", "3"]  # 3: ls's own directory


def test_a_secret_the_learner_may_not_read_reaches_no_pod(
    cluster: Cluster, attacker: ModuleLearner
) -> None:
    made = cluster.kubectl(
        "create", "secret", "generic", "placed", "-n", attacker.namespace,
        "--from-literal=password=hunter2", check=False,
    )  # fmt: skip
    assert made.returncode == 0 or "AlreadyExists" in made.stderr
    env = "{name: P, valueFrom: {secretKeyRef: {name: placed, key: password, optional: true}}}"
    manifest = pod(
        "thief",
        env=env,
        mounts="{name: s, mountPath: /secret}",
        volumes="{name: s, secret: {secretName: placed, optional: true}}",
    )
    fresh_pod(attacker, manifest, "thief")
    done = attacker.kubectl("exec", "thief", "--", "sh", "-c", "env; ls -R /secret; cat /secret/*")
    assert "hunter2" not in done.stdout


def test_the_pod_builder_refuses_to_run_as_root() -> None:
    done = subprocess.run(
        [str(REPO / "cluster" / "pod-helper"), "exec", "--container", "c",
         "--pod-fd", "0", "--services-fd", "0", "--refs-fd", "0", "--fs-fd", "0",
         "--seccomp-fd", "0", "--", "true"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    if os.geteuid() != 0:
        pytest.skip("needs root to show the refusal")
    assert done.returncode == 2
    assert "refusing to run as root" in done.stderr


# --- helpers -------------------------------------------------------------------------------


def _pod_uid(learner: ModuleLearner, name: str) -> str:
    return learner.kubectl("get", "pod", name, "-o", "jsonpath={.metadata.uid}").stdout


def _restarts(learner: ModuleLearner, name: str) -> int:
    path = "jsonpath={.status.containerStatuses[0].restartCount}"
    return int(learner.kubectl("get", "pod", name, "-o", path).stdout or 0)


def _owner(proc: Path) -> int | None:
    try:
        return proc.stat().st_uid
    except OSError:
        return None


def _comm(proc: Path) -> str:
    try:
        return (proc / "comm").read_text().strip()
    except OSError:
        return ""


def _cmdline(proc: Path) -> bytes:
    try:
        return (proc / "cmdline").read_bytes()
    except OSError:
        return b""
