"""Run shell commands as the learner: `script` checks, and the solutions and near misses of
`labs test`. One function, ``learner_shell_run``, decides where they run.

Where: in the terminal's bubblewrap jail (``sandbox.terminal.jail.jail_run``: no host files, no
host network, the API server only through the forwarder). Only a deployment without the sandbox
app's terminal falls back to a subprocess with a scrubbed environment, its own session, a private
temporary HOME and working directory, the learner's kubeconfig (never the admin one) and a hard
timeout that kills the whole process group. Either way the commands hold only the learner's
credentials, so they can do exactly what the learner could do in their terminal.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from labs.checks import ScriptRun

__all__ = ["kubectl_path", "learner_shell_run"]

REPO = Path(__file__).resolve().parent.parent
OUTPUT_LIMIT = 64 * 1024


def kubectl_path() -> str:
    """The kubectl learners use: KUBELAB_KUBECTL, the embedded cluster's, or the one on PATH."""
    for candidate in (
        os.environ.get("KUBELAB_KUBECTL"),
        str(REPO / "var" / "cluster" / "bin" / "kubectl"),
        shutil.which("kubectl"),
    ):
        if candidate and Path(candidate).is_file():
            return candidate
    return "kubectl"


def _jail_runner() -> Any:
    try:
        module = importlib.import_module("sandbox.terminal.jail")
    except ImportError:
        return None
    return getattr(module, "jail_run", None)


def learner_shell_run(
    *,
    script: str,
    kubeconfig: str,
    timeout: float,
    files: Mapping[str, str] | None = None,
) -> ScriptRun:
    """Run `script` with /bin/sh as the learner; `files` are written to its working directory."""
    jail_run = _jail_runner()
    if jail_run is not None:
        # Contract: jail_run(*, script, kubeconfig, timeout, files) -> (exit_code | None, output,
        # timed_out); exit_code None with timed_out False means the jail could not start.
        exit_code, output, timed_out = jail_run(
            script=script, kubeconfig=kubeconfig, timeout=timeout, files=dict(files or {})
        )
        if exit_code is None and not timed_out:
            return ScriptRun(exit_code=None, output=str(output), error="the jail did not start")
        return ScriptRun(exit_code=exit_code, output=str(output), timed_out=bool(timed_out))
    return _subprocess_run(script=script, kubeconfig=kubeconfig, timeout=timeout, files=files)


def _subprocess_run(
    *, script: str, kubeconfig: str, timeout: float, files: Mapping[str, str] | None
) -> ScriptRun:
    with tempfile.TemporaryDirectory(prefix="kubelab-run-") as tmp:
        home = Path(tmp)
        work = home / "work"
        work.mkdir()
        for name, text in (files or {}).items():
            (work / Path(name).name).write_text(text, encoding="utf-8")
        config = home / ".kube" / "config"
        config.parent.mkdir()
        config.write_text(kubeconfig, encoding="utf-8")
        config.chmod(0o600)
        kubectl_dir = str(Path(kubectl_path()).parent)
        env = {
            "PATH": f"{kubectl_dir}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(home),
            "KUBECONFIG": str(config),
            "LANG": "C.UTF-8",
            "KUBECTL_EXTERNAL_DIFF": "diff",
        }
        try:
            proc = subprocess.Popen(
                ["/bin/sh", "-c", script],
                cwd=work,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            return ScriptRun(exit_code=None, error=f"could not start /bin/sh: {exc}")
        try:
            output, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            output, _ = proc.communicate()
            return ScriptRun(exit_code=None, output=_decode(output), timed_out=True)
        finally:
            if proc.poll() is None:  # pragma: no cover - only when communicate raised otherwise
                _kill_group(proc)
        return ScriptRun(exit_code=proc.returncode, output=_decode(output))


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _decode(output: bytes | None) -> str:
    return (output or b"")[-OUTPUT_LIMIT:].decode("utf-8", "replace")
