"""Take the snapshot the check engine grades: the learner namespace's objects (through the gateway,
with platform credentials, read only), the nodes when a check needs them, and the results of any
script checks (run with the learner's own credentials)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import k8s
from labs.checks import ScriptRun, Snapshot, declarative_fails, exercise_needs
from labs.scripts import learner_shell_run
from labs.spec import Exercise, Lab

logger = logging.getLogger(__name__)


def read_failure(exc: k8s.ClusterError, *, where: str) -> str:
    """Why the objects could not be read, as a grading records it (never the learner's fault)."""
    if isinstance(exc, k8s.ClusterRejected):
        # Our own credentials were refused: a platform fault, never the learner's.
        logger.error("grading read refused in %s: %s", where, exc)
        return f"the cluster refused to show your namespace: {exc}"
    return f"the cluster could not be reached: {exc}"


def snapshot_take(
    *, lab: Lab, exercise: Exercise, namespace: str, kubeconfig: Callable[[], str | None]
) -> Snapshot:
    """``kubeconfig`` is asked for the learner's credentials only if a script check runs."""
    needs = exercise_needs(exercise)
    objects: dict[str, list[dict[str, Any]]] = {}
    nodes: list[dict[str, Any]] | None = None
    unavailable: str | None = None
    try:
        objects = k8s.objects_list(namespace=namespace, kinds=needs.kinds)
        if needs.nodes:
            nodes = k8s.nodes_list()
    except k8s.ClusterError as exc:
        unavailable = read_failure(exc, where=namespace)
    base = Snapshot(namespace=namespace, objects=objects, nodes=nodes, unavailable=unavailable)
    return snapshot_scripts_run(lab=lab, exercise=exercise, snapshot=base, kubeconfig=kubeconfig)


def snapshot_scripts_run(
    *, lab: Lab, exercise: Exercise, snapshot: Snapshot, kubeconfig: Callable[[], str | None]
) -> Snapshot:
    """A snapshot of objects, completed with how each script check's script ended: skipped
    where an object check already fails, else run in its jail with the learner's credentials
    (class grading reads the objects of many learners at once, then calls this per learner)."""
    needs = exercise_needs(exercise)
    if not needs.scripts:
        return snapshot
    namespace, objects, nodes = snapshot.namespace, snapshot.objects, snapshot.nodes
    unavailable = snapshot.unavailable
    scripts: dict[str, ScriptRun] = {}
    if unavailable is None and declarative_fails(exercise, Snapshot(namespace, objects, nodes)):
        scripts = {check.id: ScriptRun(exit_code=None, skipped=True) for check in needs.scripts}
        return Snapshot(namespace=namespace, objects=objects, nodes=nodes, scripts=scripts)
    credentials: str | None = None
    if unavailable is None:
        try:
            credentials = kubeconfig()
        except k8s.ClusterError as exc:
            unavailable_scripts = f"your credentials could not be prepared: {exc}"
        else:
            unavailable_scripts = "" if credentials else "no learner credentials yet"
    for check in needs.scripts:
        if unavailable is not None:
            scripts[check.id] = ScriptRun(exit_code=None, error=unavailable)
        elif credentials is None:
            scripts[check.id] = ScriptRun(exit_code=None, error=unavailable_scripts)
        else:
            scripts[check.id] = learner_shell_run(
                script=check.run, kubeconfig=credentials, timeout=check.timeout, files=lab.files
            )
    return Snapshot(
        namespace=namespace,
        objects=objects,
        nodes=nodes,
        scripts=scripts,
        unavailable=unavailable,
    )


def _trim(obj: dict[str, Any]) -> dict[str, Any]:
    # Shallow: only metadata changes, and the stored copy is serialized before anyone else
    # could touch the shared parts (a class grading shares one read among many runs).
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict) or "managedFields" not in metadata:
        return obj
    return {**obj, "metadata": {k: v for k, v in metadata.items() if k != "managedFields"}}


def snapshot_evidence(snapshot: Snapshot) -> dict[str, Any]:
    """What to store with a run so it can be explained or regraded later."""
    evidence: dict[str, Any] = {
        "namespace": snapshot.namespace,
        "objects": {
            kind: [_trim(dict(o)) for o in objects] for kind, objects in snapshot.objects.items()
        },
    }
    if snapshot.nodes is not None:
        evidence["nodes"] = [
            {
                "name": (n.get("metadata") or {}).get("name"),
                "labels": (n.get("metadata") or {}).get("labels") or {},
                "taints": (n.get("spec") or {}).get("taints") or [],
            }
            for n in snapshot.nodes
        ]
    if snapshot.scripts:
        evidence["scripts"] = {
            check_id: {
                "exit_code": run.exit_code,
                "output": run.output[-4000:],
                "timed_out": run.timed_out,
                "error": run.error,
            }
            for check_id, run in snapshot.scripts.items()
        }
    if snapshot.unavailable:
        evidence["unavailable"] = snapshot.unavailable
    return evidence
