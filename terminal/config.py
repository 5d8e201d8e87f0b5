"""Terminal settings, read from KUBELAB_TERMINAL_* variables at call time, with safe defaults.

What every jail shares (where sessions live, uids, limits, kubectl) is `jail`, read by
jails.config; the rest is the interactive terminal's own."""

from __future__ import annotations

from dataclasses import dataclass

from jails.config import JailConfig, jail_config
from kubelab.env import env_int, env_str


@dataclass(frozen=True)
class TerminalConfig:
    jail: JailConfig
    ring_bytes: int
    window_bytes: int
    grace_seconds: int
    idle_seconds: int
    # How long before the idle end the learner is warned (in the terminal's status line).
    idle_warning_seconds: int
    max_sessions: int
    kubeconfig_provider: str
    token_refresh_seconds: int
    # Where learners' shells live: "" in this web process; `unix:/path` or `tcp:host:port` in
    # a terminal daemon (terminal.daemon) that every web process relays to.
    daemon: str = ""


def terminal_config() -> TerminalConfig:
    return TerminalConfig(
        jail=jail_config(),
        ring_bytes=env_int("KUBELAB_TERMINAL_SCROLLBACK_KB", 256, minimum=16, maximum=8192) * 1024,
        window_bytes=256 * 1024,
        grace_seconds=env_int("KUBELAB_TERMINAL_GRACE_SECONDS", 600, minimum=1),
        idle_seconds=env_int("KUBELAB_TERMINAL_IDLE_SECONDS", 3600, minimum=1),
        idle_warning_seconds=env_int("KUBELAB_TERMINAL_IDLE_WARNING_SECONDS", 300, minimum=0),
        max_sessions=env_int("KUBELAB_TERMINAL_MAX_SESSIONS", 200, minimum=1),
        kubeconfig_provider=env_str(
            "KUBELAB_TERMINAL_KUBECONFIG_PROVIDER", "sandbox.services.sandbox_kubeconfig"
        ),
        token_refresh_seconds=env_int("KUBELAB_TERMINAL_TOKEN_REFRESH_SECONDS", 900, minimum=1),
        daemon=env_str("KUBELAB_TERMINAL_DAEMON", ""),
    )
