"""The kubectl learners use, found once for every jail and for the scripts that run as them."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
from pathlib import Path

from kubelab.env import env_str, repo_path


def kubectl_find() -> Path | None:
    """KUBELAB_KUBECTL, else the embedded cluster's, else the one on PATH; None if none is."""
    configured = env_str("KUBELAB_KUBECTL", "")
    for candidate in (configured, str(repo_path("var", "cluster", "bin", "kubectl"))):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    found = shutil.which("kubectl")
    return Path(found) if found else None


def kubectl_shared(kubectl: Path, runtime_dir: Path) -> Path:
    """A world-readable link (or copy) of kubectl: the configured one may sit in a private dir."""
    info = kubectl.stat()
    target = runtime_dir / "bin" / f"kubectl-{info.st_size}-{info.st_mtime_ns}"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(target.parent, 0o755)  # noqa: S103 (a public binary)
    partial = target.with_name(f"{target.name}.{secrets.token_hex(4)}")
    try:
        os.link(kubectl, partial)
    except OSError:
        shutil.copy2(kubectl, partial)
    os.chmod(partial, 0o755)  # noqa: S103
    os.replace(partial, target)
    return target


_completion_cache: dict[str, str] = {}


async def kubectl_completion(kubectl: Path) -> str:
    """kubectl's bash completion script (asked once per binary); a no-op one if it fails."""
    key = str(kubectl)
    if key not in _completion_cache:
        try:
            done = await asyncio.to_thread(
                subprocess.run,
                [key, "completion", "bash"],
                capture_output=True,
                text=True,
                timeout=20,
                env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"},
            )
            _completion_cache[key] = done.stdout if done.returncode == 0 else ""
        except (OSError, subprocess.TimeoutExpired):
            _completion_cache[key] = ""
    return _completion_cache[key] or "__start_kubectl() { :; }\n"
