"""`manage.py labs test`: prove every exercise's checks against the real cluster.

For each exercise, in a fresh learner namespace: run its setup; the checks must fail; run the
reference solution; the checks must pass (and stay passing); then, each in its own fresh
namespace, every near miss must be rejected, with the checks it names failing. The whole run is
repeated to expose flaky checks. Grading uses exactly the production path: ``snapshot_take``
through the gateway, then the pure engine; commands run through ``learner_shell_run`` with the
namespace's own learner credentials.

Namespaces come from the sandbox app's ``sandbox_scratch_create``: the same RBAC, quota and
limits a learner gets, owned by nobody, deleted after each use.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import k8s
from labs.checks import ExerciseOutcome, exercise_evaluate
from labs.scripts import learner_shell_run
from labs.snapshot import KUBECTL_OUTAGE, snapshot_take
from labs.spec import Exercise, Lab, Steps

COMMAND_TIMEOUT = 60.0
PASS_TIMEOUT = 30.0
POLL_INTERVAL = 0.1
NEAR_MISS_POLL_INTERVAL = 0.3
NEAR_MISS_MIN_SETTLE = 1.5
NAMESPACE_PREFIX = "labtest-"


@dataclass(frozen=True)
class Environment:
    namespace: str
    kubeconfig: str


class EnvironmentError_(RuntimeError):
    pass


class SandboxScratchEnvironments:
    """Learner-identical throwaway namespaces from the sandbox app (RBAC, quota, limits)."""

    def create(self) -> Environment:
        from sandbox.services import sandbox_scratch_create

        scratch = sandbox_scratch_create()
        return Environment(scratch.namespace, scratch.kubeconfig)

    def delete(self, environment: Environment) -> None:
        from sandbox.services import sandbox_scratch_delete

        sandbox_scratch_delete(namespace=environment.namespace)


# ---------------------------------------------------------------------------------------------


@dataclass
class StepResult:
    name: str
    ok: bool
    detail: str = ""
    seconds: float = 0.0
    # A failure the cluster caused (it did not answer), not the lab: run it again, never publish.
    inconclusive: bool = False


@dataclass
class ExerciseReport:
    key: str
    repeat: int
    steps: list[StepResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(step.ok for step in self.steps) and bool(self.steps)

    @property
    def inconclusive(self) -> bool:
        """Failed only where the cluster did not answer: the lab itself is not to blame."""
        failed = [step for step in self.steps if not step.ok]
        return bool(failed) and all(step.inconclusive for step in failed)

    def verdicts(self) -> tuple[tuple[str, bool], ...]:
        return tuple((s.name, s.ok) for s in self.steps)


@dataclass(frozen=True)
class Ran:
    ok: bool
    detail: str = ""
    inconclusive: bool = False  # the jail could not start, or kubectl could not reach the API


def _run_steps(steps: Steps | None, environment: Environment, lab: Lab) -> Ran:
    if steps is None:
        return Ran(True)
    script = "set -e\n" + "\n".join(steps.commands)
    run = learner_shell_run(
        script=script,
        kubeconfig=environment.kubeconfig,
        timeout=COMMAND_TIMEOUT,
        files=lab.files,
        scenario=lab.scenario,
    )
    if run.exit_code == 0:
        return Ran(True)
    reason = "timed out" if run.timed_out else run.error or f"exit {run.exit_code}"
    cluster_away = bool(run.error) or bool(KUBECTL_OUTAGE.search(run.output))
    return Ran(False, f"{reason}: {run.output.strip()[-800:]}", cluster_away)


def _grade(lab: Lab, exercise: Exercise, environment: Environment) -> ExerciseOutcome:
    snapshot = snapshot_take(
        lab=lab,
        exercise=exercise,
        namespace=environment.namespace,
        kubeconfig=lambda: environment.kubeconfig,
    )
    return exercise_evaluate(exercise, snapshot)


def _summary(outcome: ExerciseOutcome) -> str:
    parts = []
    for check in outcome.checks:
        if check.status != "pass":
            parts.append(f"{check.check_id}={check.status}: {check.detail[:200]}")
    return "; ".join(parts) or "all checks pass"


def _with_environment(environments: Any, body: Callable[[Environment], StepResult]) -> StepResult:
    environment = environments.create()
    try:
        return body(environment)
    finally:
        environments.delete(environment)


def exercise_test(
    lab: Lab, exercise: Exercise, environments: Any, repeat: int = 0
) -> ExerciseReport:
    report = ExerciseReport(f"{lab.slug}/{exercise.id}", repeat)
    solution_seconds = [0.0]

    def solution(environment: Environment) -> StepResult:
        ran = _run_steps(exercise.setup, environment, lab)
        if not ran.ok:
            return StepResult("setup", False, ran.detail, inconclusive=ran.inconclusive)
        time.sleep(0.3)
        before = _grade(lab, exercise, environment)
        if before.status != "failed":
            return StepResult(
                "fails first",
                False,
                f"before the solution: {before.status}; {_summary(before)}",
                inconclusive=before.status == "inconclusive",
            )
        report.steps.append(StepResult("fails first", True, _summary(before)))
        started = time.monotonic()
        ran = _run_steps(exercise.solution, environment, lab)
        if not ran.ok:
            return StepResult("solution runs", False, ran.detail, inconclusive=ran.inconclusive)
        deadline = started + PASS_TIMEOUT
        while True:
            after = _grade(lab, exercise, environment)
            if after.status == "passed":
                break
            if time.monotonic() > deadline:
                return StepResult(
                    "solution passes",
                    False,
                    f"after {PASS_TIMEOUT:.0f}s: {_summary(after)}",
                    inconclusive=after.status == "inconclusive",
                )
            time.sleep(POLL_INTERVAL)
        seconds = time.monotonic() - started
        solution_seconds[0] = seconds
        for _ in range(2):
            time.sleep(0.2)
            again = _grade(lab, exercise, environment)
            if again.status != "passed":
                return StepResult("solution stays passing", False, _summary(again), seconds)
        return StepResult("solution passes", True, "", seconds)

    report.steps.append(_with_environment(environments, solution))
    if not report.ok:
        return report

    settle = max(NEAR_MISS_MIN_SETTLE, 1.5 * solution_seconds[0] + 0.5)

    def near_miss_body(miss_index: int) -> Callable[[Environment], StepResult]:
        miss = exercise.near_misses[miss_index]
        name = f"near miss {miss.id}"

        def body(environment: Environment) -> StepResult:
            ran = _run_steps(exercise.setup, environment, lab)
            if not ran.ok:
                return StepResult(
                    name, False, f"setup: {ran.detail}", inconclusive=ran.inconclusive
                )
            started = time.monotonic()
            ran = _run_steps(miss, environment, lab)
            if not ran.ok:
                return StepResult(
                    name, False, f"its commands failed: {ran.detail}", inconclusive=ran.inconclusive
                )
            last = None
            while True:
                last = _grade(lab, exercise, environment)
                if last.status == "passed":
                    return StepResult(name, False, "was accepted: every check passed")
                if time.monotonic() - started > settle:
                    break
                time.sleep(NEAR_MISS_POLL_INTERVAL)
            if last.status != "failed":
                return StepResult(
                    name,
                    False,
                    f"ended {last.status}: {_summary(last)}",
                    inconclusive=last.status == "inconclusive",
                )
            not_failing = [c for c in miss.fails if last.check(c).status != "fail"]
            if not_failing:
                return StepResult(
                    name,
                    False,
                    f"expected {', '.join(not_failing)} to fail; failing: "
                    f"{', '.join(last.failing())}",
                )
            return StepResult(name, True, ", ".join(last.failing()), time.monotonic() - started)

        return body

    with ThreadPoolExecutor(max_workers=max(1, len(exercise.near_misses))) as pool:
        futures = [
            pool.submit(_with_environment, environments, near_miss_body(i))
            for i in range(len(exercise.near_misses))
        ]
        report.steps.extend(f.result() for f in futures)
    return report


@dataclass
class CatalogReport:
    reports: list[ExerciseReport]
    seconds: float

    def flaky(self) -> list[str]:
        by_key: dict[str, set[tuple[tuple[str, bool], ...]]] = {}
        for report in self.reports:
            by_key.setdefault(report.key, set()).add(report.verdicts())
        return sorted(k for k, verdicts in by_key.items() if len(verdicts) > 1)

    def failed(self) -> list[ExerciseReport]:
        return [r for r in self.reports if not r.ok]

    @property
    def ok(self) -> bool:
        return not self.failed()


def catalog_test(
    labs: Sequence[Lab],
    *,
    repeat: int = 2,
    workers: int = 6,
    environments: Any = None,
    only: Iterable[str] = (),
    progress: Callable[[ExerciseReport], None] | None = None,
) -> CatalogReport:
    environments = environments or SandboxScratchEnvironments()
    wanted = set(only)
    jobs = [
        (lab, exercise, index)
        for index in range(repeat)
        for lab in labs
        for exercise in lab.exercises
        if not wanted or f"{lab.slug}/{exercise.id}" in wanted or lab.slug in wanted
    ]
    started = time.monotonic()
    reports: list[ExerciseReport] = []
    lock = threading.Lock()

    def run(job: tuple[Lab, Exercise, int]) -> ExerciseReport:
        lab, exercise, index = job
        try:
            report = exercise_test(lab, exercise, environments, index)
        except Exception as exc:  # report it as this exercise's failure, keep testing the rest
            report = ExerciseReport(f"{lab.slug}/{exercise.id}", index)
            report.steps.append(
                StepResult(
                    "error",
                    False,
                    f"{exc.__class__.__name__}: {exc}",
                    # A namespace the cluster could not make is the cluster's failure.
                    inconclusive=isinstance(exc, k8s.ClusterUnavailable),
                )
            )
        with lock:
            reports.append(report)
            if progress:
                progress(report)
        return report

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(run, jobs))
    return CatalogReport(reports, time.monotonic() - started)


def report_lines(report: CatalogReport) -> list[str]:
    lines = []
    for item in sorted(report.reports, key=lambda r: (r.key, r.repeat)):
        lines.append(exercise_line(item))
    return lines


def exercise_line(item: ExerciseReport) -> str:
    solution = next((s for s in item.steps if s.name == "solution passes"), None)
    misses = [s for s in item.steps if s.name.startswith("near miss")]
    mark = "ok  " if item.ok else "FAIL"
    line = f"{mark} {item.key:<45} run {item.repeat + 1}  "
    if solution is not None and solution.ok:
        line += f"solution {solution.seconds:.1f}s  "
    line += f"near misses {sum(1 for m in misses if m.ok)}/{len(misses)} rejected"
    for step in item.steps:
        if not step.ok:
            line += f"\n       {step.name}: {step.detail}"
    return line


def write_json(report: CatalogReport, path: Path) -> None:
    path.write_text(
        json.dumps(
            {
                "seconds": report.seconds,
                "flaky": report.flaky(),
                "reports": [
                    {
                        "exercise": r.key,
                        "repeat": r.repeat,
                        "ok": r.ok,
                        "steps": [s.__dict__ for s in r.steps],
                    }
                    for r in report.reports
                ],
            },
            indent=2,
        ),
        encoding="utf-8",
    )


__all__ = [
    "CatalogReport",
    "Environment",
    "SandboxScratchEnvironments",
    "catalog_test",
    "exercise_test",
    "report_lines",
]
