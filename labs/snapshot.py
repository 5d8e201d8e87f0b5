"""Take the snapshot the check engine grades: the learner namespace's objects (through the gateway,
with platform credentials, read only), the nodes when a check needs them, and the results of any
script checks (run with the learner's own credentials)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import k8s
from labs.checks import ScriptRun, Snapshot, declarative_fails, exercise_needs
from labs.scripts import learner_shell_run
from labs.spec import Exercise, Lab

logger = logging.getLogger(__name__)

# What kubectl prints when it cannot reach the API server (refused, reset, a restart's 503):
# a script that failed with one of these failed because of the cluster, not the learner.
KUBECTL_OUTAGE = re.compile(
    r"The connection to the server \S+ was refused"
    r"|Unable to connect to the server"
    r"|the server is currently unable to handle the request"
    r"|net/http: TLS handshake timeout"
    r"|http2: client connection lost"
    r"|connection reset by peer"
    r"|couldn't get current server API group list",
)


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


def snapshot_cached(
    *, cache: k8s.ObjectCache, exercise: Exercise, namespace: str
) -> Snapshot | None:
    """The snapshot snapshot_take would read, from the watcher's cache, or None when the cache
    cannot answer it (a kind not cached or not synced, an object too big to keep) or the
    exercise has script checks (they run in the learner's jail, on a grading worker)."""
    needs = exercise_needs(exercise)
    if needs.scripts:
        return None
    objects = cache.read(namespace, needs.kinds)
    if objects is None:
        return None
    nodes = None
    if needs.nodes:
        cluster_wide = cache.read("", ["Node"])
        if cluster_wide is None:
            return None
        nodes = cluster_wide["Node"]
    return Snapshot(namespace=namespace, objects=objects, nodes=nodes)


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
            scripts[check.id] = _outage_sorted(
                learner_shell_run(
                    script=check.run, kubeconfig=credentials, timeout=check.timeout,
                    files=lab.files, scenario=lab.scenario,
                )
            )  # fmt: skip
    return Snapshot(
        namespace=namespace,
        objects=objects,
        nodes=nodes,
        scripts=scripts,
        unavailable=unavailable,
    )


def _outage_sorted(run: ScriptRun) -> ScriptRun:
    """A script that failed while the API server was away (restarting, say) could not check:
    inconclusive and graded again, never a fail that counts against the learner. Told by
    kubectl's own words, or by the API server not answering right after."""
    if run.exit_code in (0, None) or run.timed_out or run.error:
        return run  # passed, or already inconclusive
    if KUBECTL_OUTAGE.search(run.output):
        return ScriptRun(
            exit_code=None, output=run.output,
            error="the cluster could not be reached while the check ran",
        )  # fmt: skip
    try:
        k8s.cluster_version()
    except k8s.ClusterError as exc:
        return ScriptRun(
            exit_code=None, output=run.output,
            error=f"the cluster could not be reached while the check ran: {exc}",
        )  # fmt: skip
    return run


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
                "skipped": run.skipped,
            }
            for check_id, run in snapshot.scripts.items()
        }
    if snapshot.unavailable:
        evidence["unavailable"] = snapshot.unavailable
    return evidence
