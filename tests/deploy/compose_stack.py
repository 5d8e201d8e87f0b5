"""kubelab's compose.yaml brought up for real with Debian's podman and podman-compose: the images
built from this tree, a project of its own, its logs kept, and torn down to nothing.

podman here needs runc and lowered default ulimits (deploy/compose/containers.conf, passed with
CONTAINERS_CONF so the machine's own configuration is left alone) and base images made on this
machine (tests/deploy/stand_in_images): no registry can be reached.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("KUBELAB_CACHE", Path.home() / ".cache" / "kubelab"))
PODMAN_COMPOSE = CACHE / "tools" / "compose" / "bin" / "podman-compose"
IMAGES = {
    "cluster": "localhost/kubelab-cluster:latest",
    "app": "localhost/kubelab:latest",
    "redis": "localhost/kubelab-redis:latest",
    "postgres": "localhost/kubelab-postgres:latest",
}
SERVICES = ("net", "redis", "postgres", "cluster", "web", "terminals", "worker", "beat", "watcher")
# This machine's build caches, lent to the image builds so the control plane links instead of
# compiling for tens of minutes (the Containerfile builds the same without them).
BUILD_CACHES = {
    Path.home() / ".cache" / "go-build": "/root/.cache/go-build",
    Path.home() / "go" / "pkg" / "mod": "/go/pkg/mod",
    Path.home() / ".cache" / "pip": "/root/.cache/pip",
    Path.home() / ".npm": "/root/.npm",
    CACHE: "/opt/kubelab-prebuilt:ro",  # cluster/build.sh copies what it already built
}


def engine_env() -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": str(ROOT / "deploy" / "compose" / "containers.conf")}


def engine_missing() -> str | None:
    """Why the compose stack cannot run here, or None."""
    if shutil.which("podman") is None or shutil.which("mmdebstrap") is None:
        return "podman and mmdebstrap are missing: scripts/setup --with-containers installs them"
    if not PODMAN_COMPOSE.exists():
        return f"{PODMAN_COMPOSE} is missing: scripts/setup --with-containers installs it"
    return None


def podman(
    *args: str, timeout: float = 120, check: bool = True
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["podman", *args], capture_output=True, text=True, timeout=timeout, env=engine_env()
    )
    if check and done.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done


def images_build(log: Path) -> None:
    subprocess.run(
        [str(ROOT / "tests" / "deploy" / "stand_in_images")],
        check=True, timeout=900, env=engine_env(),
    )  # fmt: skip
    volumes: list[str] = []
    for host, inside in BUILD_CACHES.items():
        host.mkdir(parents=True, exist_ok=True)
        volumes += ["-v", f"{host}:{inside}"]
    with log.open("w") as out:
        for target, name in IMAGES.items():
            built = subprocess.run(
                ["podman", "build", "--target", target, "-t", name, *volumes,
                 "-f", str(ROOT / "Containerfile"), str(ROOT)],
                stdout=out, stderr=subprocess.STDOUT, timeout=3600, env=engine_env(),
            )  # fmt: skip
            if built.returncode != 0:
                raise AssertionError(f"building the {target} image failed; see {log}")
    # The images these replaced, untagged now, would pile up run after run.
    podman("image", "prune", "--force", timeout=300, check=False)


@dataclass
class ComposeStack:
    env_file: Path
    port: int
    artifacts: Path
    project: str = field(default_factory=lambda: f"kubelab-test-{secrets.token_hex(3)}")
    admin_password: str = ""
    health_token: str = ""
    down_done: bool = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def compose(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(PODMAN_COMPOSE), "--env-file", str(self.env_file), "-p", self.project,
             "-f", str(ROOT / "compose.yaml"), *args],
            capture_output=True, text=True, timeout=timeout, env=engine_env(), cwd=ROOT,
        )  # fmt: skip

    def container(self, service: str) -> str:
        return f"{self.project}_{service}_1"

    def up(self) -> None:
        done = self.compose("up", "-d", "--no-build")
        (self.artifacts / "compose-up.log").write_text(done.stdout + done.stderr)
        if done.returncode != 0:
            raise AssertionError(f"compose up failed:\n{done.stdout}\n{done.stderr}")
        values = dict(
            line.split("=", 1) for line in self.env_file.read_text().splitlines() if "=" in line
        )
        self.admin_password = values["KUBELAB_ADMIN_PASSWORD"]
        self.health_token = values["KUBELAB_HEALTH_TOKEN"]

    def healthy(self, service: str) -> bool:
        # No systemd here to run podman's health timers: the check is run on demand.
        return podman("healthcheck", "run", self.container(service), check=False).returncode == 0

    def wait_healthy(self, services: tuple[str, ...], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        waiting = list(services)
        while waiting:
            waiting = [s for s in waiting if not self.healthy(s)]
            if waiting and time.monotonic() > deadline:
                self.logs_keep()
                raise AssertionError(f"not healthy after {timeout:.0f}s: {waiting}")
            if waiting:
                time.sleep(2)

    def inspect(self, service: str) -> dict[str, Any]:
        data = json.loads(podman("inspect", self.container(service)).stdout)
        return dict(data[0])

    def logs_keep(self) -> None:
        for service in SERVICES:
            done = podman("logs", self.container(service), check=False)
            (self.artifacts / f"compose-{service}.log").write_text(done.stdout + done.stderr)

    def leftovers(self) -> list[str]:
        """Containers, volumes and networks of this project the engine still has, and pods
        (named after the project: podman-compose does not label them)."""
        label = f"label=io.podman.compose.project={self.project}"
        found = []
        for kind in ("ps -a", "volume ls", "network ls"):
            listed = podman(*kind.split(), "--filter", label, "--format", "{{.Name}}", check=False)
            found += [f"{kind.split()[0]}: {name}" for name in listed.stdout.split()]
        pods = podman("pod", "ps", "--format", "{{.Name}}", check=False).stdout.split()
        return found + [f"pod: {name}" for name in pods if self.project in name]

    def down(self) -> subprocess.CompletedProcess[str]:
        self.logs_keep()
        done = self.compose("down", "-v", "--timeout", "60", timeout=900)
        self.down_done = True
        return done
