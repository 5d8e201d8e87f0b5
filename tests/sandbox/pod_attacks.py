"""Helpers for the pod-layer attack tests: host sentinels and in-pod racers."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# renameat2(RENAME_EXCHANGE) in a tight loop: what the review's attacker runs inside the pod.
EXCHANGE_LOOP = r"""
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
a, b = (os.fsencode(p) for p in sys.argv[1:3])
end = time.monotonic() + float(sys.argv[3])
while time.monotonic() < end:
    libc.renameat2(-100, a, -100, b, 2)
"""


@dataclass(frozen=True)
class Sentinel:
    """A root-owned host directory (with a file in it) the pod must never reach."""

    root: Path
    directory: Path
    file: Path

    def state(self) -> list[tuple[str, int, int, int]]:
        """(path, uid, gid, mode) of everything in the sentinel, to compare before and after."""
        found = []
        for path in sorted([self.root, *self.root.rglob("*")]):
            info = path.lstat()
            found.append((str(path), info.st_uid, info.st_gid, info.st_mode))
        return found


@contextlib.contextmanager
def host_sentinel() -> Iterator[Sentinel]:
    root = Path(tempfile.mkdtemp(prefix="kubelab-sentinel-"))
    os.chmod(root, 0o755)  # noqa: S103 (the pod's uid must be able to reach it)
    directory = root / "pods"
    directory.mkdir(mode=0o755)
    file = root / "secret.txt"
    file.write_text("host secret\n")
    os.chmod(file, 0o600)
    (directory / "SENTINEL").write_text("host file\n")
    try:
        yield Sentinel(root, directory, file)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def background_exec(learner: Any, pod: str, *command: str) -> subprocess.Popen[str]:
    cmd = [
        str(learner.kubectl_path), "--kubeconfig", str(learner.kubeconfig),
        "exec", pod, "--", *command,
    ]  # fmt: skip
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stop(process: subprocess.Popen[str]) -> None:
    process.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


def host_mount_sources() -> set[str]:
    """Directories of this machine a pod must never show: the repository and its var/."""
    repo = Path(__file__).resolve().parents[2]
    return {str(repo), str(repo / "var"), str(repo / "sandbox")}


@dataclass
class ModuleLearner:
    """A learner environment made from sandbox.manifests with the admin's kubectl (the same
    Role, quota and limits as a provisioned one) for a whole test module, without the database:
    the attack suite runs dozens of cases in one namespace."""

    namespace: str
    kubeconfig: Path
    kubectl_path: Path

    def kubectl(
        self, *args: str, input: str | None = None, timeout: float = 60.0
    ) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.kubectl_path), "--kubeconfig", str(self.kubeconfig), *args]
        return subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)


def module_learner_create(cluster: Any, directory: Path, name: str) -> ModuleLearner:
    import json
    import secrets

    import yaml

    from sandbox import manifests

    namespace = f"attack-{name}-{secrets.token_hex(3)}"
    env = manifests.Environment(namespace=namespace, install="tests", environment_id=namespace)
    objects = [manifests.namespace(env), *manifests.namespaced_objects(env)]
    # Server-side: the namespace controller may make the default ServiceAccount meanwhile.
    documents = "\n---\n".join(json.dumps(o) for o in objects)
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=documents)
    quotas = json.loads(
        cluster.kubectl("get", "resourcequota", "-n", namespace, "-o", "json").stdout
    )
    for quota in quotas["items"]:
        status = manifests.quota_status(quota)
        cluster.kubectl(
            "replace", "--subresource=status", "-f", "-", input=json.dumps(status), check=False
        )
    token = cluster.kubectl(
        "create", "token", manifests.LEARNER_SERVICE_ACCOUNT, "-n", namespace, "--duration=2h"
    ).stdout.strip()
    admin = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    entry = admin["clusters"][0]["cluster"]
    doc = manifests.learner_kubeconfig(
        server=entry["server"],
        namespace=namespace,
        token=token,
        certificate_authority_data=entry.get("certificate-authority-data"),
    )
    path = directory / f"{namespace}.kubeconfig"
    path.write_text(yaml.safe_dump(doc))
    return ModuleLearner(namespace, path, cluster.kubectl_path)
