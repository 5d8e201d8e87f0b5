"""Run shell commands as the learner: `script` checks, and the solutions and near misses of
`labs test`, in the same bubblewrap jail as the learner's terminal (jails.oneshot: no host
files, no host network, the API server only through the forwarder). The commands hold only the
learner's credentials, so they can do exactly what the learner could do in their terminal.
"""

from __future__ import annotations

from collections.abc import Mapping

from jails.oneshot import oneshot_run
from labs.checks import ScriptRun
from labs.namespacing import scenario_script

__all__ = ["learner_shell_run"]


def learner_shell_run(
    *,
    script: str,
    kubeconfig: str,
    timeout: float,
    files: Mapping[str, str] | None = None,
    scenario: bool = False,
) -> ScriptRun:
    """Run `script` with /bin/sh as the learner; `files` are written to its working directory.
    ``scenario``: an imported scenario's step, which sees every namespace as the learner's own
    (labs.namespacing)."""
    files = dict(files or {})
    if scenario:
        script, files = scenario_script(script, files)
    # exit code None with timed_out False means the jail could not start (output says why).
    exit_code, output, timed_out = oneshot_run(
        script=script, kubeconfig=kubeconfig, timeout=timeout, files=files
    )
    if exit_code is None and not timed_out:
        return ScriptRun(exit_code=None, output=str(output), error="the jail did not start")
    return ScriptRun(exit_code=exit_code, output=str(output), timed_out=bool(timed_out))
