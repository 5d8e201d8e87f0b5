"""Jail settings, read from KUBELAB_TERMINAL_* variables at call time, with safe defaults.

The variable names say "terminal" because the learner's shell was the first jail; `script`
checks and `labs test` runs read the same ones, so a jail is the same everywhere."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jails.kubectl import kubectl_find
from jails.learner import JailLimits
from kubelab.env import env_int, env_str, repo_path

MiB = 1024**2


@dataclass(frozen=True)
class JailConfig:
    runtime_dir: Path  # session directories and the shared kubectl live here
    kubectl: Path | None
    uid_base: int
    uid_count: int
    uid_lock_dir: Path
    limits: JailLimits


def jail_config() -> JailConfig:
    limits = JailLimits(
        memory_bytes=env_int("KUBELAB_TERMINAL_MEMORY_MB", 384, minimum=64) * MiB,
        pids=env_int("KUBELAB_TERMINAL_PIDS", 128, minimum=16, maximum=4096),
        home_bytes=env_int("KUBELAB_TERMINAL_HOME_MB", 64, minimum=1) * MiB,
        tmp_bytes=env_int("KUBELAB_TERMINAL_TMP_MB", 64, minimum=1) * MiB,
        cpu_quota_percent=env_int("KUBELAB_TERMINAL_CPU_PERCENT", 50, minimum=5, maximum=800),
    )
    return JailConfig(
        runtime_dir=Path(
            env_str("KUBELAB_TERMINAL_RUNTIME_DIR", str(repo_path("var", "run", "terminal")))
        ),
        kubectl=kubectl_find(),
        uid_base=env_int("KUBELAB_TERMINAL_UID_BASE", 200000, minimum=1000),
        uid_count=env_int("KUBELAB_TERMINAL_UID_COUNT", 10000, minimum=1),
        # Machine-wide, not under var/: every kubelab on this host (another install, a second
        # checkout, a bench) leases from the same uids, and a uid shared by two sessions would let
        # one session's end kill the other's shell.
        uid_lock_dir=Path(env_str("KUBELAB_TERMINAL_UID_LOCK_DIR", "/run/kubelab/terminal-uids")),
        limits=limits,
    )
