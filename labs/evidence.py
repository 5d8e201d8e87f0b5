"""Regrading from what a grading kept (pure): the stored evidence of a run (labs.snapshot.
snapshot_evidence) becomes the snapshot the engine grades again, so a fixed spec can be applied
to a class's past work without their namespaces (asleep, deleted, or changed since).

Evidence holds only what the old spec read. When the fixed spec needs more (a kind, the nodes,
a script that never ran), the regrade says so and is inconclusive: it never guesses from an
absent kind that there are no such objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from labs.checks import EVIDENCE_SHORT, ScriptRun, Snapshot, exercise_needs
from labs.spec import Exercise


def _nodes(kept: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    # Evidence trims nodes to what checks read (name, labels, taints).
    return [
        {
            "metadata": {"name": n.get("name"), "labels": dict(n.get("labels") or {})},
            "spec": {"taints": list(n.get("taints") or [])},
        }
        for n in kept
    ]


def _script(kept: Mapping[str, Any]) -> ScriptRun:
    exit_code, error = kept.get("exit_code"), str(kept.get("error") or "")
    timed_out = bool(kept.get("timed_out"))
    # Evidence from before "skipped" was kept: no exit code, no error, no timeout was a skip.
    skipped = bool(kept.get("skipped", exit_code is None and not error and not timed_out))
    return ScriptRun(
        exit_code=exit_code, output=str(kept.get("output") or ""), timed_out=timed_out,
        error=error, skipped=skipped,
    )  # fmt: skip


def evidence_missing(exercise: Exercise, evidence: Mapping[str, Any]) -> str:
    """What the exercise reads that the evidence does not hold, in words; "" when nothing."""
    if evidence.get("unavailable"):
        return "the grading it comes from could not read the namespace either"
    needs = exercise_needs(exercise)
    kept = evidence.get("objects") or {}
    missing = sorted(needs.kinds - set(kept))
    if missing:
        return "the kept evidence holds no " + ", ".join(missing) + " (the spec reads it now)"
    if needs.nodes and evidence.get("nodes") is None:
        return "the kept evidence holds no nodes (the spec reads them now)"
    scripts = evidence.get("scripts") or {}
    never = sorted(c.id for c in needs.scripts if c.id not in scripts)
    if never:
        return "the script check " + ", ".join(never) + " never ran in the kept grading"
    return ""


def snapshot_from_evidence(exercise: Exercise, evidence: Mapping[str, Any]) -> Snapshot:
    """The snapshot the evidence was taken from, as the exercise reads it now; an inconclusive
    one (saying what is missing) when the evidence is short of it."""
    namespace = str(evidence.get("namespace") or "")
    missing = evidence_missing(exercise, evidence)
    if missing:
        return Snapshot(
            namespace=namespace,
            unavailable=f"cannot regrade from evidence: {missing}",
            unavailable_reason=EVIDENCE_SHORT,
        )
    needs = exercise_needs(exercise)
    kept = evidence.get("objects") or {}
    scripts = evidence.get("scripts") or {}
    return Snapshot(
        namespace=namespace,
        objects={kind: list(kept[kind]) for kind in sorted(needs.kinds)},
        nodes=_nodes(evidence["nodes"]) if needs.nodes else None,
        scripts={c.id: _script(scripts[c.id]) for c in needs.scripts},
    )
