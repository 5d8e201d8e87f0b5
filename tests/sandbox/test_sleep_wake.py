"""Sleep and wake on a real cluster: what a learner made survives an idle cull, restored as them."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

import k8s
from sandbox.models import EnvironmentSnapshot, LearnerEnvironment
from sandbox.services import (
    sandbox_cull_idle,
    sandbox_kubeconfig,
    sandbox_notice_take,
    sandbox_provision,
    sandbox_reset,
    sandbox_teardown,
)
from tests.fixtures.cluster import wait_until
from tests.fixtures.learners import Learner
from tests.sandbox.test_lifecycle import _dead_kubeconfig, _namespace_gone_or_going

pytestmark = [pytest.mark.cluster, pytest.mark.django_db]

WORK = """
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {greeting: hello, mode: lab}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx
        envFrom: [{configMapRef: {name: settings}}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 80}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: pi}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: pi, image: perl, command: [perl, -e, "print 3.14"]}]
"""

FAR_FUTURE = timedelta(days=3)


def _get(learner: Learner, *args: str) -> Any:
    done = learner.kubectl("get", *args, "-o", "json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _items(learner: Learner, kind: str, *selector: str) -> list[dict[str, Any]]:
    return list(_get(learner, kind, *selector)["items"])


def _names(learner: Learner, kind: str, *selector: str) -> list[str]:
    return sorted(i["metadata"]["name"] for i in _items(learner, kind, *selector))


def _cull(learner: Learner) -> list[str]:
    """Cull as if the idle limit had long passed for everyone."""
    return sandbox_cull_idle(now=timezone.now() + FAR_FUTURE)


def _wake(learner: Learner) -> LearnerEnvironment:
    started = time.perf_counter()
    env = sandbox_provision(user=learner.user)
    print(f"\nwake (provision + restore) took {time.perf_counter() - started:.3f} s")
    assert env.status == "ready", env.detail
    assert env.namespace
    learner.namespace = env.namespace
    Path(learner.kubeconfig).write_text(sandbox_kubeconfig(user=learner.user))
    return env


def test_a_culled_environment_comes_back_with_the_learners_objects(
    make_learner: Callable[..., Learner], cluster: Any
) -> None:
    learner = make_learner("sleep-wake")
    applied = learner.kubectl("apply", "-f", "-", input=WORK)
    assert applied.returncode == 0, applied.stderr
    assert learner.kubectl("run", "kuard", "--image=kuard", "--labels=app=kuard").returncode == 0
    wait_until(lambda: len(_names(learner, "pods", "-l", "app=web")) == 2, what="2 web pods")
    wait_until(lambda: _names(learner, "pods", "-l", "job-name=pi"), what="the job's pod")
    assert len(_names(learner, "replicasets")) == 1
    old_namespace = learner.namespace

    culled = _cull(learner)

    assert old_namespace in culled
    assert _namespace_gone_or_going(cluster, old_namespace)
    env = LearnerEnvironment.objects.get(user=learner.user)
    assert env.status == "suspended" and env.namespace is None
    snapshot = EnvironmentSnapshot.objects.get(environment=env)
    saved = [f"{o['kind']} {o['metadata']['name']}" for o in snapshot.manifests]
    # In restore order; the Deployment's ReplicaSet and pods and the Job's pod are not saved:
    # their owners make them again.
    assert saved == ["ConfigMap settings", "Service web", "Pod kuard", "Deployment web", "Job pi"]
    assert snapshot.count == 5 and 0 < snapshot.size_bytes < 64 * 1024
    print("sleep sentence:", env.detail)
    assert "What you made in it (5 objects: ConfigMap settings, Service web" in env.detail

    env = _wake(learner)

    assert env.namespace != old_namespace
    print("wake sentence:", env.detail)
    assert env.detail.startswith(
        "Welcome back. Your environment slept after 2 h without activity; 5 objects were "
        "restored (ConfigMap settings, Service web, Pod kuard, Deployment web, Job pi)"
    )
    assert "could not be" not in env.detail
    # The learner's next terminal prints the sentence above its first prompt, once.
    assert sandbox_notice_take(user=learner.user) == env.detail
    assert sandbox_notice_take(user=learner.user) is None
    assert not EnvironmentSnapshot.objects.filter(environment=env).exists()
    assert _get(learner, "configmap", "settings")["data"] == {"greeting": "hello", "mode": "lab"}
    service = _get(learner, "service", "web")
    assert service["spec"]["selector"] == {"app": "web"}
    assert service["spec"]["clusterIP"]  # a fresh one from the cluster
    assert _names(learner, "pod", "-l", "app=kuard") == ["kuard"]
    wait_until(lambda: len(_names(learner, "pods", "-l", "app=web")) == 2, what="web pods again")
    wait_until(lambda: _names(learner, "pods", "-l", "job-name=pi"), what="the job's pod again")
    job = _get(learner, "job", "pi")
    assert job["metadata"]["uid"] in json.dumps(job["spec"]["selector"])  # the new Job's own
    # The Deployment made exactly one new ReplicaSet; none came from the snapshot.
    replica_sets = _items(learner, "replicasets")
    assert len(replica_sets) == 1
    assert replica_sets[0]["metadata"]["ownerReferences"][0]["name"] == "web"
    # `kubectl apply` keeps working: the last-applied annotation came back with the objects.
    again = learner.kubectl("apply", "-f", "-", input=WORK)
    assert again.returncode == 0, again.stderr
    assert "unchanged" in again.stdout, again.stdout

    # Restored at most once: later visits do not create anything again.
    provisionings = env.provisionings
    env = sandbox_provision(user=learner.user)
    assert env.provisionings == provisionings
    assert learner.kubectl("delete", "pod", "kuard", "--wait=false").returncode == 0
    env = sandbox_provision(user=learner.user)
    wait_until(lambda: not _names(learner, "pod", "-l", "app=kuard"), what="kuard gone")
    assert not _names(learner, "pod", "-l", "app=kuard")


def test_a_restored_object_the_quota_refuses_is_reported_the_rest_restored(
    make_learner: Callable[..., Learner],
) -> None:
    learner = make_learner("sleep-quota")
    assert learner.kubectl("create", "configmap", "notes", "--from-literal=a=1").returncode == 0
    assert _cull(learner)
    env = LearnerEnvironment.objects.get(user=learner.user)
    snapshot = EnvironmentSnapshot.objects.get(environment=env)
    # Three pods asking 900m CPU each: the quota's 2 CPUs admit two, whichever comes first.
    big = {
        "apiVersion": "v1",
        "kind": "Pod",
        "spec": {
            "containers": [
                {"name": "c", "image": "nginx", "resources": {"requests": {"cpu": "900m"}}}
            ]
        },
    }
    snapshot.manifests = [
        *snapshot.manifests,
        *({**big, "metadata": {"name": f"big-{i}"}} for i in range(3)),
    ]
    snapshot.save()

    env = _wake(learner)

    print("wake sentence:", env.detail)
    assert "3 objects were restored (ConfigMap notes, Pod big-" in env.detail
    assert "; 1 could not be: Pod big-" in env.detail
    assert "CPU" in env.detail  # the quota refusal, explained
    assert len(_names(learner, "pods")) == 2
    assert _get(learner, "configmap", "notes")["data"] == {"a": "1"}
    assert not EnvironmentSnapshot.objects.filter(environment=env).exists()


def test_an_explicit_teardown_or_reset_saves_nothing(
    make_learner: Callable[..., Learner],
) -> None:
    learner = make_learner("sleep-fresh")
    assert learner.kubectl("create", "configmap", "notes", "--from-literal=a=1").returncode == 0

    sandbox_teardown(user=learner.user)

    env = LearnerEnvironment.objects.get(user=learner.user)
    assert not EnvironmentSnapshot.objects.filter(environment=env).exists()
    assert "fresh, empty one" in env.detail
    env = _wake(learner)
    assert env.detail == ""
    assert _names(learner, "configmaps", "--field-selector=metadata.name!=kube-root-ca.crt") == []

    # A reset after a sleep means "start fresh" too: nothing saved survives it.
    assert learner.kubectl("create", "configmap", "notes", "--from-literal=a=1").returncode == 0
    assert _cull(learner)
    assert EnvironmentSnapshot.objects.filter(environment=env).exists()
    env = sandbox_reset(user=learner.user)
    assert env.status == "ready" and env.detail == ""
    learner.namespace = str(env.namespace)
    Path(learner.kubeconfig).write_text(sandbox_kubeconfig(user=learner.user))
    assert _names(learner, "configmaps", "--field-selector=metadata.name!=kube-root-ca.crt") == []
    assert not EnvironmentSnapshot.objects.filter(environment=env).exists()


def test_a_namespace_whose_objects_cannot_be_read_is_not_culled(
    make_learner: Callable[..., Learner],
    cluster: Any,
    settings: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    learner = make_learner("sleep-unsaved")
    assert learner.kubectl("create", "configmap", "notes", "--from-literal=a=1").returncode == 0

    # The cluster does not answer: nothing is culled, culling stops for this round.
    settings.KUBELAB_KUBECONFIG = str(_dead_kubeconfig(cluster, tmp_path))
    assert _cull(learner) == []
    settings.KUBELAB_KUBECONFIG = str(cluster.kubeconfig)

    # The cluster refuses to list: this environment is skipped, its namespace kept.
    def refuse(**_: Any) -> None:
        raise k8s.ClusterRejected("list secrets: 403 forbidden", status=403, reason="Forbidden")

    monkeypatch.setattr(k8s, "objects_list", refuse)
    assert _cull(learner) == []
    monkeypatch.undo()

    env = LearnerEnvironment.objects.get(user=learner.user)
    assert env.status == "ready" and env.namespace == learner.namespace
    assert not _namespace_gone_or_going(cluster, learner.namespace)
    assert not EnvironmentSnapshot.objects.filter(environment=env).exists()
    assert _get(learner, "configmap", "notes")["data"] == {"a": "1"}


def _grade(attempt: Any) -> str:
    from labs.models import Trigger
    from labs.services import attempt_check_request, attempt_grade

    attempt_check_request(attempt=attempt, trigger=Trigger.BUTTON)
    return str(attempt_grade(attempt_id=attempt.pk))


def test_a_solved_exercise_still_passes_after_sleep_and_wake(
    make_learner: Callable[..., Learner],
) -> None:
    from labs.services import attempt_get_or_create

    learner = make_learner("sleep-lab")
    solution = Path("labs/catalog/replicasets/files/kuard-rs.yaml").read_text()
    assert learner.kubectl("apply", "-f", "-", input=solution).returncode == 0
    attempt = attempt_get_or_create(
        user=learner.user, lab_slug="replicasets", exercise_id="kuard-rs"
    )
    wait_until(lambda: _grade(attempt) == "passed", timeout=60, what="the exercise passes")

    assert _cull(learner)
    _wake(learner)

    wait_until(lambda: _grade(attempt) == "passed", timeout=60, what="it passes again")
    assert [o["metadata"]["name"] for o in _items(learner, "replicasets")] == ["kuard"]


def _ten_objects() -> str:
    """3 ConfigMaps, 2 Services, 2 Pods, 2 Deployments and a Job, as one multi-document YAML."""
    container = {"name": "c", "image": "nginx"}
    objects: list[dict[str, Any]] = [
        *({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"c{i}"},
           "data": {"k": "v"}} for i in range(3)),
        *({"apiVersion": "v1", "kind": "Service", "metadata": {"name": f"s{i}"},
           "spec": {"selector": {"app": f"d{i}"}, "ports": [{"port": 80}]}} for i in range(2)),
        *({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"p{i}"},
           "spec": {"containers": [container]}} for i in range(2)),
        *({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": f"d{i}"},
           "spec": {"replicas": 1, "selector": {"matchLabels": {"app": f"d{i}"}},
                    "template": {"metadata": {"labels": {"app": f"d{i}"}},
                                 "spec": {"containers": [container]}}}} for i in range(2)),
        {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
         "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [container]}}}},
    ]  # fmt: skip
    return "\n---\n".join(json.dumps(obj) for obj in objects)


def test_a_restore_of_ten_objects_takes_well_under_a_second(
    make_learner: Callable[..., Learner], monkeypatch: pytest.MonkeyPatch
) -> None:
    from sandbox.services import lifecycle

    learner = make_learner("sleep-ten")
    applied = learner.kubectl("apply", "-f", "-", input=_ten_objects())
    assert applied.returncode == 0, applied.stderr
    assert _cull(learner)
    timings: list[float] = []
    restore = lifecycle.snapshot_restore

    def timed(*args: Any, **kwargs: Any) -> str:
        started = time.perf_counter()
        try:
            return restore(*args, **kwargs)
        finally:
            timings.append(time.perf_counter() - started)

    monkeypatch.setattr(lifecycle, "snapshot_restore", timed)

    env = _wake(learner)

    (took,) = timings
    print(f"restore of 10 objects (a token, then 4 tiers of creates) took {took * 1000:.0f} ms")
    assert "10 objects were restored" in env.detail, env.detail
    assert took < 3.0  # generous: the 2-core CI machine is shared with other work


def test_a_restore_cut_short_by_the_cluster_is_finished_by_the_retry(
    make_learner: Callable[..., Learner], monkeypatch: pytest.MonkeyPatch
) -> None:
    learner = make_learner("sleep-retry")
    applied = learner.kubectl("apply", "-f", "-", input=WORK)
    assert applied.returncode == 0, applied.stderr
    assert _cull(learner)
    create_as = k8s.object_create_as

    def flaky(*, token: str, manifest: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        if manifest["kind"] == "Deployment":
            raise k8s.ClusterUnavailable("create Deployment web: cluster unreachable")
        return create_as(token=token, manifest=manifest)

    monkeypatch.setattr(k8s, "object_create_as", flaky)
    env = sandbox_provision(user=learner.user)
    assert env.status == "unavailable" and "retrying" in env.detail
    assert EnvironmentSnapshot.objects.filter(environment=env).exists()  # nothing is lost
    monkeypatch.setattr(k8s, "object_create_as", create_as)
    LearnerEnvironment.objects.filter(pk=env.pk).update(retry_at=None)

    env = _wake(learner)

    # The ConfigMap and Service made by the first try count as restored (409), not as failures.
    assert "4 objects were restored" in env.detail and "could not" not in env.detail, env.detail
    assert not EnvironmentSnapshot.objects.filter(environment=env).exists()
    wait_until(lambda: len(_names(learner, "pods", "-l", "app=web")) == 2, what="web pods")
    assert _get(learner, "configmap", "settings")["data"]["greeting"] == "hello"
