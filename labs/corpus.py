"""Running other people's scenarios on kubelab: for every Killercoda scenario under some folders,
whether it imports, whether the lab validates, and whether its own ``{{exec}}`` commands make its
``verify.sh`` pass on the cluster after failing first (the content test of ``labs test``, once,
in fresh learner-identical namespaces). Totals, and the reasons grouped, for
``manage.py labs corpus-report`` and ``bench/killercoda_corpus``."""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from labs.killercoda.convert import Imported, ImportRefused, scenario_convert
from labs.killercoda.importing import imported_lab
from labs.killercoda.scenario import ScenarioError, scenario_read
from labs.killercoda.source import SourceError, tree_from_folder
from labs.spec import Lab, SpecError


@dataclass
class ScenarioResult:
    source: str
    folder: str
    imported: bool = False
    valid: bool = False
    exercises: int = 0
    readings: int = 0
    passed: int = 0  # exercises whose solution passed after failing first
    reasons: list[str] = field(default_factory=list)  # why it was not read, or did not validate
    step_reasons: list[str] = field(default_factory=list)  # each reason of each step to read
    failures: list[str] = field(default_factory=list)  # why an exercise did not pass
    # Exercise ids in order, and those whose step gave no commands to run.
    order: list[str] = field(default_factory=list)
    unsolved: set[str] = field(default_factory=set)

    @property
    def no_solution(self) -> int:
        return len(self.unsolved)

    @property
    def end_to_end(self) -> bool:
        return self.valid and self.exercises > 0 and self.passed == self.exercises


@dataclass
class CorpusReport:
    results: list[ScenarioResult]
    seconds: float

    def totals(self) -> dict[str, int]:
        r = self.results
        return {
            "scenarios": len(r),
            "imported": sum(x.imported for x in r),
            "valid": sum(x.valid for x in r),
            "steps": sum(x.exercises + x.readings for x in r),
            "exercises": sum(x.exercises for x in r),
            "exercises without solution commands": sum(x.no_solution for x in r),
            "steps read only": sum(x.readings for x in r),
            "exercises passing end to end": sum(x.passed for x in r),
            "scenarios passing end to end": sum(x.end_to_end for x in r),
        }

    def reasons(self) -> list[tuple[str, int]]:
        """Why scenarios were not read or did not validate, counted, most first."""
        return Counter(_grouped(why) for x in self.results for why in x.reasons).most_common()

    def step_reasons(self) -> list[tuple[str, int]]:
        """Why steps are text to read: each reason, with how many steps it holds back."""
        return Counter(why for x in self.results for why in x.step_reasons).most_common()

    def failures(self) -> list[tuple[str, int]]:
        """Why imported exercises did not pass on the cluster, counted."""
        return Counter(_grouped(why) for x in self.results for why in x.failures).most_common()


def _grouped(why: str) -> str:
    """A reason without its particulars (names, numbers), so alike ones count together."""
    why = re.sub(r"step \d+ \([^)]*\): ", "", why)
    why = re.sub(r"'[^']*'|\"[^\"]*\"|`[^`]*`", "…", why)
    return re.sub(r"\d+(\.\d+)?", "N", why)[:200]


def corpus_import_one(
    base: Path, folder: str, tree_source: str
) -> tuple[ScenarioResult, Lab | None]:
    result = ScenarioResult(tree_source, folder)
    try:
        tree = tree_from_folder(base / folder if folder else base)
        scenario = scenario_read(tree)
        imported: Imported = scenario_convert(tree, scenario, slug=_slug(tree_source, folder))
    except (SourceError, ScenarioError, OSError) as exc:
        result.reasons.append(f"not read: {exc}")
        return result, None
    except ImportRefused as exc:
        result.readings = len(exc.steps)
        result.step_reasons = [why for step in exc.steps for why in step.why]
        if not exc.steps:
            result.reasons.append("it has no steps")
        return result, None
    result.imported = True
    result.exercises = imported.exercises
    result.readings = len(imported.steps) - imported.exercises
    result.step_reasons = [why for step in imported.steps for why in step.why]
    result.order = [s.exercise_id for s in imported.steps if s.exercise_id]
    result.unsolved = {
        s.exercise_id for s in imported.steps if s.exercise_id and not s.has_solution
    }
    try:
        lab = imported_lab(imported)
    except SpecError as exc:
        result.reasons += [f"does not validate: {p.render()}" for p in exc.problems]
        return result, None
    result.valid = True
    return result, lab


def _slug(source: str, folder: str) -> str:
    from labs.killercoda.convert import slugify

    return slugify(f"kc-{Path(source).name}-{folder or 'top'}", 60)


def corpus_run(
    roots: Sequence[Path],
    *,
    run: bool = True,
    workers: int = 4,
    progress: Callable[[str], None] = lambda line: None,
) -> CorpusReport:
    """Import every scenario under ``roots``; with ``run``, content-test each valid lab once."""
    started = time.monotonic()
    results: list[ScenarioResult] = []
    labs: list[tuple[ScenarioResult, Lab]] = []
    for root in roots:
        folders = sorted(
            "" if rel == "." else rel
            for p in root.rglob("index.json")
            if ".git" not in p.parts and (rel := p.parent.relative_to(root).as_posix())
        )
        for folder in folders:
            result, lab = corpus_import_one(root, folder, str(root))
            results.append(result)
            if lab is not None:
                labs.append((result, lab))
            progress(
                f"{root.name}/{folder}: "
                + ("imported" if lab else "; ".join(result.reasons) or "nothing to check here")
            )
    if run and labs:
        from labs.contenttest import catalog_test

        by_slug = {lab.slug: result for result, lab in labs}
        report = catalog_test(
            [lab for _, lab in labs], repeat=1, workers=workers, progress=lambda r: None
        )
        for item in report.reports:
            result = by_slug[item.key.split("/", 1)[0]]
            # The near miss "left undone" proves nothing the first grading did not; what counts
            # is that the verify failed first and passed after the scenario's own commands.
            solution = [s for s in item.steps if not s.name.startswith("near miss")]
            if solution and all(s.ok for s in solution):
                result.passed += 1
                progress(f"{item.key}: passed")
            else:
                failed = next(s for s in solution if not s.ok)
                detail = failed.detail.strip().splitlines()
                exercise_id = item.key.split("/", 1)[1]
                earlier = result.order[: result.order.index(exercise_id)]
                if exercise_id not in result.unsolved and result.unsolved & set(earlier):
                    # Its setup replays the earlier steps' commands, and one gave none.
                    why = "an earlier step gives no commands, so this step's starting state is "
                    why += "not made"
                else:
                    why = f"{failed.name}: {detail[-1] if detail else ''}"
                result.failures.append(
                    why + (" (the cluster did not answer)" if failed.inconclusive else "")
                )
                progress(f"{item.key}: {result.failures[-1]}")
    return CorpusReport(results, time.monotonic() - started)


def report_text(report: CorpusReport) -> str:
    lines = [f"{k}: {v}" for k, v in report.totals().items()]
    lines.append(f"seconds: {report.seconds:.0f}")
    for title, counted in (
        ("why steps are text to read (steps, reason; a step may have several)",
         report.step_reasons()),
        ("why scenarios were not imported (scenarios, reason)", report.reasons()),
        ("why imported exercises did not pass on the cluster (exercises, reason)",
         report.failures()),
    ):  # fmt: skip
        lines += ["", title + ":"]
        lines += [f"{count:5d}  {why}" for why, count in counted] or ["    -  none"]
    return "\n".join(lines)
