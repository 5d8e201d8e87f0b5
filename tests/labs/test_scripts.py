"""`script` checks through the real path: ``snapshot_take`` runs them with the learner's own
credentials in the terminal's bubblewrap jail (``jails.learner.jail_run``), and the pure
engine judges their exit code. The jail sees the learner's namespace and nothing else: no host
files, no host network (Redis), no other namespace; a timeout kills everything it started."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from jails.cgroups import cgroup_create
from jails.config import jail_config
from jails.launch import STALE_AFTER, stale_jails_sweep
from kubelab.env import repo_path
from labs.checks import CheckOutcome, exercise_evaluate
from labs.scripts import learner_shell_run
from labs.snapshot import snapshot_take
from labs.spec import Exercise, Lab
from tests.fixtures.learners import Learner

pytestmark = [pytest.mark.cluster, pytest.mark.django_db]

SECRETS_FILE = repo_path("var", "secrets.env")


def lab_with_script(run: str, *, timeout: float = 20.0) -> Lab:
    return Lab.model_validate(
        {
            "slug": "scripted",
            "title": "Scripted",
            "chapter": "scripted",
            "order": 1,
            "exercises": [
                {
                    "id": "e",
                    "title": "t",
                    "instructions": "i",
                    "checks": [{"id": "s", "type": "script", "run": run, "timeout": timeout}],
                    "solution": {"commands": ["true"]},
                    "near_misses": [
                        {"id": "m", "description": "d", "commands": ["true"], "fails": ["s"]}
                    ],
                }
            ],
            "files": {"note.txt": "a file from the lab\n"},
        }
    )


def grade_script(learner: Learner, run: str, *, timeout: float = 20.0) -> tuple[CheckOutcome, str]:
    """Grade one script check for `learner` exactly as the grading task does."""
    lab = lab_with_script(run, timeout=timeout)
    exercise: Exercise = lab.exercises[0]
    snapshot = snapshot_take(
        lab=lab,
        exercise=exercise,
        namespace=learner.namespace,
        kubeconfig=lambda: learner.kubeconfig.read_text(),
    )
    outcome = exercise_evaluate(exercise, snapshot).check("s")
    return outcome, snapshot.scripts["s"].output


def test_scripts_wait_until_the_object_checks_pass(make_learner: Callable[..., Learner]) -> None:
    # The namespace watcher grades every auto-checked exercise on every change; a jail per
    # script check each time would delay every result, so scripts run only when they matter.
    learner = make_learner()
    raw = lab_with_script("true").model_dump(mode="json", by_alias=True, exclude_none=True)
    raw["exercises"][0]["checks"].insert(
        0, {"id": "flag", "type": "exists", "kind": "ConfigMap", "name": "flag"}
    )
    lab = Lab.model_validate(raw)
    exercise = lab.exercises[0]

    def take() -> Any:
        return snapshot_take(
            lab=lab,
            exercise=exercise,
            namespace=learner.namespace,
            kubeconfig=lambda: learner.kubeconfig.read_text(),
        )

    before = take()
    assert before.scripts["s"].skipped and before.scripts["s"].exit_code is None
    outcome = exercise_evaluate(exercise, before)
    assert outcome.status == "failed"
    assert outcome.check("s").status == "fail"
    assert str(outcome.check("s").problem).startswith("This is checked once the other checks")

    learner.kubectl("create", "configmap", "flag").check_returncode()
    after = take()
    assert not after.scripts["s"].skipped and after.scripts["s"].exit_code == 0
    assert exercise_evaluate(exercise, after).status == "passed"


def test_script_checks_run_in_the_jail(make_learner: Callable[..., Learner]) -> None:
    learner = make_learner()
    outcome, output = grade_script(
        learner, 'id -un; hostname; pwd; cat note.txt; ls /run/kubelab; echo "$KUBECONFIG"'
    )
    assert outcome.status == "pass", outcome.detail
    lines = output.splitlines()
    assert lines[:4] == ["learner", "kubelab", "/home/learner", "a file from the lab"], output
    assert "api.sock" in output, output
    assert lines[-1] == "/run/kubelab/kubeconfig", output


def test_script_check_follows_the_learners_namespace(
    make_learner: Callable[..., Learner], cluster: Any
) -> None:
    learner = make_learner()
    run = (
        "v=$(kubectl get configmap flag -o jsonpath='{.data.colour}') || exit 1\n"
        '[ "$v" = blue ] || { echo "flag is ${v:-unset}, not blue"; exit 1; }'
    )
    outcome, _ = grade_script(learner, run)
    assert outcome.status == "fail", outcome.detail
    assert 'configmaps "flag" not found' in outcome.message["en"], outcome.message

    learner.kubectl("create", "configmap", "flag", "--from-literal=colour=red").check_returncode()
    outcome, _ = grade_script(learner, run)
    assert outcome.status == "fail", outcome.detail
    assert outcome.message["en"] == "flag is red, not blue"

    patch = '{"data":{"colour":"blue"}}'
    learner.kubectl("patch", "configmap", "flag", "-p", patch).check_returncode()
    outcome, _ = grade_script(learner, run)
    assert outcome.status == "pass", outcome.detail


def host_secrets() -> list[str]:
    values = [v for k, v in os.environ.items() if "SECRET" in k or "PASSWORD" in k]
    if SECRETS_FILE.is_file():
        values += [line.split("=", 1)[1] for line in SECRETS_FILE.read_text().splitlines()]
    return [v for v in values if len(v) >= 8]


def test_script_cannot_read_host_files(make_learner: Callable[..., Learner]) -> None:
    assert SECRETS_FILE.is_file() and Path("/etc/shadow").is_file(), "the host has no secrets?"
    learner = make_learner()
    run = f"""
for f in {SECRETS_FILE} /etc/shadow /root /work /var/cluster; do
  if [ -e "$f" ] && cat "$f" 2>/dev/null; then echo "LEAK $f"; fi
done
env
cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n'
ls / /etc
"""
    outcome, output = grade_script(learner, run)
    assert "LEAK" not in output, output
    for value in host_secrets():
        assert value not in output, "a host secret reached the jail"
    assert "\nshadow\n" not in output, "the jail's /etc has the host's shadow file"
    assert outcome.status == "pass", outcome.detail


def test_script_cannot_reach_redis_or_the_host_network(
    make_learner: Callable[..., Learner], redis_available: str
) -> None:
    learner = make_learner()
    port = int(redis_available.rsplit(":", 1)[1].split("/", 1)[0])
    run = f"""
if timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/{port}; printf "PING\\r\\n" >&3; head -c 64 <&3'
then echo "REACHED redis"; exit 1; fi
ip -o addr 2>/dev/null || cat /proc/net/dev
echo isolated
"""
    outcome, output = grade_script(learner, run)
    assert "REACHED" not in output and "NOAUTH" not in output and "PONG" not in output, output
    assert "eth" not in output, f"the jail sees a host interface: {output}"
    assert outcome.status == "pass", outcome.detail


def test_script_cannot_see_other_namespaces(make_learner: Callable[..., Learner]) -> None:
    learner, neighbour = make_learner(), make_learner()
    neighbour.kubectl("create", "configmap", "private", "--from-literal=k=v").check_returncode()
    run = f"""
kubectl get configmap private -n {neighbour.namespace} && exit 1
kubectl get pods -n {neighbour.namespace} && exit 1
kubectl get namespaces && exit 1
kubectl get configmaps -A && exit 1
exit 0
"""
    outcome, output = grade_script(learner, run)
    assert outcome.status == "pass", output
    assert output.count("Forbidden") >= 4, output
    assert "private" not in output.replace('"private" is forbidden', ""), output


def processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_a_timeout_kills_the_whole_jail(make_learner: Callable[..., Learner]) -> None:
    learner = make_learner()
    marker = f"{secrets.randbelow(10**6) + 10**6}.25"
    run = f"(sleep {marker} &); nohup sleep {marker} >/dev/null 2>&1 & echo started; sleep {marker}"
    outcome, output = grade_script(learner, run, timeout=2)
    assert outcome.status == "inconclusive", outcome.detail
    assert "timed out" in outcome.detail
    assert output.strip() == "started"
    assert processes_with(marker) == [], "processes of a timed-out script survived"


def test_output_is_capped(make_learner: Callable[..., Learner]) -> None:
    learner = make_learner()
    run = learner_shell_run(
        script="head -c 5000000 /dev/zero | tr '\\0' x; echo; echo the end",
        kubeconfig=learner.kubeconfig.read_text(),
        timeout=20,
    )
    assert run.exit_code == 0, run
    assert len(run.output) <= 64 * 1024
    assert run.output.endswith("the end\n")


def test_leftovers_of_a_killed_worker_are_swept() -> None:
    """A worker killed mid-check (SIGKILL) leaves its jail's directory and empty cgroups; the next
    runs remove them once they are older than any jail may live, and never a live one."""
    config = jail_config()
    config.runtime_dir.mkdir(parents=True, exist_ok=True)
    limits = config.limits
    made = {}
    for age in ("old", "new"):
        name = f"run-test{age}{secrets.token_hex(4)}"
        (config.runtime_dir / name).mkdir()
        cgroup = cgroup_create(name, memory_bytes=limits.memory_bytes, pids=64, cpu_percent=50)
        made[age] = (config.runtime_dir / name, cgroup)
    stale = time.time() - STALE_AFTER - 60
    os.utime(made["old"][0], (stale, stale))

    assert stale_jails_sweep(config, "run-test") == 1
    assert not made["old"][0].exists()
    assert all(not d.exists() for d in made["old"][1].dirs)
    assert made["new"][0].is_dir()
    assert all(d.is_dir() for d in made["new"][1].dirs)
    made["new"][1].remove()
    made["new"][0].rmdir()
