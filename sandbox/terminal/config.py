"""Terminal settings, read from KUBELAB_TERMINAL_* variables at call time, with safe defaults."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from kubelab.env import env_int, env_str, repo_path
from sandbox.terminal.jail import JailLimits

MiB = 1024**2


@dataclass(frozen=True)
class TerminalConfig:
    runtime_dir: Path
    kubectl: Path | None
    ring_bytes: int
    window_bytes: int
    grace_seconds: int
    idle_seconds: int
    # How long before the idle end the learner is warned (in the terminal's status line).
    idle_warning_seconds: int
    max_sessions: int
    uid_base: int
    uid_count: int
    uid_lock_dir: Path
    kubeconfig_provider: str
    token_refresh_seconds: int
    limits: JailLimits


def _kubectl() -> Path | None:
    configured = os.environ.get("KUBELAB_KUBECTL")
    for candidate in (configured, str(repo_path("var", "cluster", "bin", "kubectl"))):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    found = shutil.which("kubectl")
    return Path(found) if found else None


def terminal_config() -> TerminalConfig:
    limits = JailLimits(
        memory_bytes=env_int("KUBELAB_TERMINAL_MEMORY_MB", 384, minimum=64) * MiB,
        pids=env_int("KUBELAB_TERMINAL_PIDS", 128, minimum=16, maximum=4096),
        home_bytes=env_int("KUBELAB_TERMINAL_HOME_MB", 64, minimum=1) * MiB,
        tmp_bytes=env_int("KUBELAB_TERMINAL_TMP_MB", 64, minimum=1) * MiB,
        cpu_quota_percent=env_int("KUBELAB_TERMINAL_CPU_PERCENT", 50, minimum=5, maximum=800),
    )
    return TerminalConfig(
        runtime_dir=Path(
            env_str("KUBELAB_TERMINAL_RUNTIME_DIR", str(repo_path("var", "run", "terminal")))
        ),
        kubectl=_kubectl(),
        ring_bytes=env_int("KUBELAB_TERMINAL_SCROLLBACK_KB", 256, minimum=16, maximum=8192) * 1024,
        window_bytes=256 * 1024,
        grace_seconds=env_int("KUBELAB_TERMINAL_GRACE_SECONDS", 600, minimum=1),
        idle_seconds=env_int("KUBELAB_TERMINAL_IDLE_SECONDS", 3600, minimum=1),
        idle_warning_seconds=env_int("KUBELAB_TERMINAL_IDLE_WARNING_SECONDS", 300, minimum=0),
        max_sessions=env_int("KUBELAB_TERMINAL_MAX_SESSIONS", 200, minimum=1),
        uid_base=env_int("KUBELAB_TERMINAL_UID_BASE", 200000, minimum=1000),
        uid_count=env_int("KUBELAB_TERMINAL_UID_COUNT", 10000, minimum=1),
        # Machine-wide, not under var/: every kubelab on this host (another install, a second
        # checkout, a bench) leases from the same uids, and a uid shared by two sessions would let
        # one session's end kill the other's shell.
        uid_lock_dir=Path(env_str("KUBELAB_TERMINAL_UID_LOCK_DIR", "/run/kubelab/terminal-uids")),
        kubeconfig_provider=env_str(
            "KUBELAB_TERMINAL_KUBECONFIG_PROVIDER", "sandbox.services.sandbox_kubeconfig"
        ),
        token_refresh_seconds=env_int("KUBELAB_TERMINAL_TOKEN_REFRESH_SECONDS", 900, minimum=1),
        limits=limits,
    )
