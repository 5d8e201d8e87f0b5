"""Provision, reset, cull, come back, lose the namespace, lose the cluster: the learner's view."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.test import Client
from django.utils import timezone

import k8s
from sandbox import manifests as m
from sandbox.conf import sandbox_config
from sandbox.models import LearnerEnvironment
from sandbox.services import (
    SandboxNotReady,
    sandbox_credentials,
    sandbox_cull_idle,
    sandbox_kubeconfig,
    sandbox_provision,
    sandbox_reset,
)
from tests.fixtures.cluster import wait_until
from tests.fixtures.learners import Learner
from tests.fixtures.processes import free_port

pytestmark = [pytest.mark.cluster, pytest.mark.django_db]


def _names(learner: Learner, kinds: str) -> list[str]:
    done = learner.kubectl("get", kinds, "-o", "json")
    assert done.returncode == 0, done.stderr
    items = json.loads(done.stdout)["items"]
    return sorted(f"{i['kind']}/{i['metadata']['name']}" for i in items)


def _namespace_gone_or_going(cluster: Any, namespace: str) -> bool:
    done = cluster.kubectl("get", "namespace", namespace, "-o", "json", check=False)
    return done.returncode != 0 or bool(
        json.loads(done.stdout)["metadata"].get("deletionTimestamp")
    )


def test_provisioning_is_idempotent_and_usable_at_once(
    make_learner: Callable[..., Learner], cluster: Any
) -> None:
    learner = make_learner("life-ann")
    # Pods are admitted immediately: quota status, default ServiceAccount and all are in place.
    assert learner.kubectl("run", "first", "--image=nginx").returncode == 0
    again = sandbox_provision(user=learner.user)
    assert again.status == "ready" and again.namespace == learner.namespace
    assert again.provisionings == 1
    labels = cluster.get_json("namespace", learner.namespace)["metadata"]["labels"]
    assert labels["kubelab.dev/learner"] == str(learner.user.pk)
    assert labels["app.kubernetes.io/managed-by"] == "kubelab"
    assert labels["pod-security.kubernetes.io/enforce"] == "baseline"
    # Its grants outside the namespace belong to the namespace (garbage-collected with it).
    binding = cluster.get_json("clusterrolebinding", m.binding_name(learner.namespace))
    (owner,) = binding["metadata"]["ownerReferences"]
    assert owner["kind"] == "Namespace" and owner["name"] == learner.namespace


def test_tokens_are_short_lived_and_refreshed(make_learner: Callable[..., Learner]) -> None:
    learner = make_learner("life-tok")
    first = sandbox_credentials(user=learner.user)
    second = sandbox_credentials(user=learner.user)
    assert first.token != second.token
    lifetime = second.expires_at - timezone.now()
    assert timedelta(minutes=50) < lifetime <= timedelta(minutes=61)
    env = LearnerEnvironment.objects.get(user=learner.user)
    assert env.token_expires_at == second.expires_at
    config = yaml.safe_load(second.kubeconfig)
    assert config["contexts"][0]["context"]["namespace"] == learner.namespace
    assert config["users"][0]["user"]["token"] == second.token
    assert config["clusters"][0]["cluster"]["certificate-authority-data"]
    # Both tokens work until they expire; neither is stored anywhere by kubelab.
    for token in (first.token, second.token):
        done = learner.kubectl("--token", token, "get", "pods")
        assert done.returncode == 0, done.stderr


def test_reset_empties_the_namespace_and_keeps_progress(
    make_learner: Callable[..., Learner], cluster: Any
) -> None:
    from labs.models import Attempt, AttemptStatus

    learner = make_learner("life-reset")
    attempt = Attempt.objects.create(
        user=learner.user,
        lab="pods",
        exercise="run-a-pod",
        status=AttemptStatus.PASSED,
        completed_at=timezone.now(),
    )
    for args in (
        ("create", "deployment", "web", "--image=nginx", "--replicas=3"),
        ("expose", "deployment", "web", "--port=80"),
        ("autoscale", "deployment", "web", "--min=2", "--max=4"),
        ("create", "configmap", "settings", "--from-literal=a=b"),
        ("create", "job", "once", "--image=busybox"),
        ("run", "loose", "--image=nginx"),
    ):
        done = learner.kubectl(*args)
        assert done.returncode == 0, done.stderr
    wait_until(lambda: len(_names(learner, "pods")) >= 4, what="the pods to exist")

    env = sandbox_reset(user=learner.user)

    assert env.status == "ready", env.detail
    assert env.namespace == learner.namespace  # same namespace: open terminals keep working
    assert env.resets == 1
    assert _names(learner, "all") == []
    assert _names(learner, "configmaps") == ["ConfigMap/kube-root-ca.crt"]
    # The setup is intact and the namespace is usable straight away, with the same kubeconfig.
    assert _names(learner, "resourcequotas") == [
        "ResourceQuota/kubelab-no-critical-priority",
        "ResourceQuota/kubelab-quota",
    ]
    assert learner.kubectl("run", "again", "--image=nginx").returncode == 0
    # Progress records are the platform's, not the namespace's.
    attempt.refresh_from_db()
    assert attempt.status == AttemptStatus.PASSED and attempt.completed_at is not None


def test_idle_environments_are_culled_and_come_back(
    make_learner: Callable[..., Learner], cluster: Any
) -> None:
    sleepy = make_learner("life-sleepy")
    busy = make_learner("life-busy")
    assert sleepy.kubectl("run", "work", "--image=nginx").returncode == 0
    old_namespace = sleepy.namespace
    LearnerEnvironment.objects.filter(user=sleepy.user).update(
        last_active_at=timezone.now() - timedelta(seconds=sandbox_config().idle_seconds + 60)
    )

    culled = sandbox_cull_idle()

    assert culled == [old_namespace]
    env = LearnerEnvironment.objects.get(user=sleepy.user)
    assert env.status == "suspended" and env.namespace is None
    assert "without activity" in env.detail and "pod work" in env.detail.lower()
    assert _namespace_gone_or_going(cluster, old_namespace)
    gone = cluster.kubectl("get", "clusterrolebinding", m.binding_name(old_namespace), check=False)
    assert gone.returncode != 0
    assert LearnerEnvironment.objects.get(user=busy.user).status == "ready"

    # Coming back: transparently a fresh, working environment with the learner's pod in it
    # (sleep and wake in detail: test_sleep_wake.py).
    back = sandbox_provision(user=sleepy.user)
    assert back.status == "ready", back.detail
    assert back.namespace and not _namespace_gone_or_going(cluster, back.namespace)
    assert back.detail.startswith("Welcome back.")
    path = Path(sleepy.kubeconfig)
    path.write_text(sandbox_kubeconfig(user=sleepy.user))
    assert _names(sleepy, "pods") == ["Pod/work"]
    assert sleepy.kubectl("run", "more", "--image=nginx").returncode == 0


def test_an_environment_built_before_the_rules_changed_gets_todays_rights(
    make_learner: Callable[..., Learner], cluster: Any
) -> None:
    """A rule added later (pods/resize, issue 20) reaches environments that were already ready:
    their next provisioning (any page visit) applies today's Role, once."""
    learner = make_learner("life-rights")
    resize = ("auth", "can-i", "patch", "pods", "--subresource=resize")
    old_role = m.learner_role(learner.namespace)
    old_role["rules"] = [r for r in old_role["rules"] if "pods/resize" not in r["resources"]]
    k8s.object_apply(manifest=old_role)
    cluster.kubectl(
        "annotate", "namespace", learner.namespace, f"{m.RIGHTS_ANNOTATION}-", check=True
    )
    assert learner.kubectl(*resize).stdout.strip() == "no"

    env = sandbox_provision(user=learner.user)

    assert env.status == "ready" and env.namespace == learner.namespace
    assert learner.kubectl(*resize).stdout.strip() == "yes"
    annotations = cluster.get_json("namespace", learner.namespace)["metadata"]["annotations"]
    assert annotations[m.RIGHTS_ANNOTATION] == m.learner_rights_version()
    # Up to date: the next provisioning leaves the Role alone.
    version = cluster.get_json("role", m.LEARNER_ROLE, "-n", learner.namespace)["metadata"][
        "resourceVersion"
    ]
    sandbox_provision(user=learner.user)
    assert (
        cluster.get_json("role", m.LEARNER_ROLE, "-n", learner.namespace)["metadata"][
            "resourceVersion"
        ]
        == version
    )


def test_namespace_deleted_behind_our_back_is_replaced(
    make_learner: Callable[..., Learner], cluster: Any, client: Client
) -> None:
    learner = make_learner("life-vanish")
    cluster.kubectl("delete", "namespace", learner.namespace, "--wait=false")
    client.force_login(learner.user)

    answer = client.get("/sandbox/status")

    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "ready", body
    assert body["namespace"] != learner.namespace  # the old name is still terminating
    Path(learner.kubeconfig).write_text(sandbox_kubeconfig(user=learner.user))
    assert learner.kubectl("run", "hello", "--image=nginx").returncode == 0
    env = LearnerEnvironment.objects.get(user=learner.user)
    assert env.generation == 1 and env.provisionings == 2


def _dead_kubeconfig(cluster: Any, tmp_path: Path) -> Path:
    """The admin kubeconfig, pointed at a loopback port where nothing listens."""
    config = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    for entry in config["clusters"]:
        entry["cluster"]["server"] = f"https://127.0.0.1:{free_port()}"
    path = tmp_path / "dead.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path


def test_unreachable_cluster_means_unavailable_not_an_error_page(
    make_learner: Callable[..., Learner],
    cluster: Any,
    client: Client,
    settings: Any,
    tmp_path: Path,
) -> None:
    from django.contrib.auth import get_user_model

    from sandbox.tasks import sandbox_provision_retry

    ready = make_learner("life-before-outage")
    newcomer = get_user_model().objects.create_user(username="life-newcomer", password="x" * 12)
    settings.KUBELAB_KUBECONFIG = str(_dead_kubeconfig(cluster, tmp_path))

    for user in (newcomer, ready.user):
        client.force_login(user)
        answer = client.get("/sandbox/status")
        assert answer.status_code == 200
        body = answer.json()
        assert body["status"] == "unavailable", body
        assert "unavailable right now" in body["message"] and "retrying" in body["message"]
        assert body["namespace"] is None
        # Polling again does not hammer the cluster: the retry time has not come yet.
        assert client.get("/sandbox/status").json()["status"] == "unavailable"
        assert client.post("/sandbox/reset").status_code == 200
        with pytest.raises(SandboxNotReady):
            sandbox_kubeconfig(user=user)

    # The cluster is back: the queued retry finds it.
    settings.KUBELAB_KUBECONFIG = str(cluster.kubeconfig)
    assert sandbox_provision_retry(newcomer.pk) == "ready"
    assert sandbox_provision_retry(ready.user.pk) == "ready"
    env = LearnerEnvironment.objects.get(user=ready.user)
    assert env.namespace == ready.namespace  # the environment survived the outage intact
    assert ready.kubectl("get", "pods").returncode == 0
    newcomer_env = LearnerEnvironment.objects.get(user=newcomer)
    assert newcomer_env.status == "ready"
    from sandbox.services import sandbox_teardown

    sandbox_teardown(user=newcomer)


def test_views(make_learner: Callable[..., Learner], client: Client) -> None:
    assert client.get("/sandbox/status").status_code == 401
    assert client.post("/sandbox/reset").status_code == 401
    assert client.get("/sandbox/denials").status_code == 401
    learner = make_learner("life-views")
    client.force_login(learner.user)
    body = client.get("/sandbox/status").json()
    assert body["status"] == "ready" and body["namespace"] == learner.namespace
    assert body["denials"] == []
    assert client.post("/sandbox/status").status_code == 405
    assert client.post("/sandbox/reset").json()["resets"] == 1
    assert client.get("/sandbox/denials").json() == {"denials": []}
    assert client.post("/sandbox/denials").status_code == 405


def test_resets_are_rate_limited_with_a_sentence(
    make_learner: Callable[..., Learner], client: Client, settings: Any
) -> None:
    """Each reset empties a namespace on the cluster: a script may not loop on it."""
    settings.KUBELAB_RATE_LIMITS = {**settings.KUBELAB_RATE_LIMITS, "reset": "2/10m"}
    learner = make_learner("life-reset-limit")
    client.force_login(learner.user)
    for expected in (1, 2):
        assert client.post("/sandbox/reset").json()["resets"] == expected
    refused = client.post("/sandbox/reset", HTTP_ACCEPT="application/json")
    assert refused.status_code == 429
    assert refused.json()["error"].startswith("You reset your environment very often.")
    assert LearnerEnvironment.objects.get(user=learner.user).resets == 2


def test_gateway_errors_are_temporary_or_permanent(
    cluster: Any, settings: Any, tmp_path: Path
) -> None:
    settings.KUBELAB_KUBECONFIG = str(_dead_kubeconfig(cluster, tmp_path))
    with pytest.raises(k8s.ClusterUnavailable):
        k8s.object_get(api_version="v1", kind="Namespace", name="default")
    settings.KUBELAB_KUBECONFIG = str(cluster.kubeconfig)
    with pytest.raises(k8s.ClusterRejected) as rejected:
        k8s.object_create(
            manifest={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "-bad-"}}
        )
    assert rejected.value.status == 422
    assert "-bad-" in rejected.value.api_message
    assert k8s.object_get(api_version="v1", kind="Namespace", name="kl-nope-404") is None
    assert k8s.object_delete(api_version="v1", kind="Namespace", name="kl-nope-404") is False


def test_namespaces_of_deleted_users_are_swept(
    make_learner: Callable[..., Learner], cluster: Any
) -> None:
    from sandbox.services import sandbox_orphans_delete

    kept = make_learner("life-kept")
    leaving = make_learner("life-leaving")
    leaving.user.delete()  # their environment row goes with them; the namespace does not

    assert leaving.namespace not in sandbox_orphans_delete(min_age_seconds=3600)  # too young
    swept = sandbox_orphans_delete(min_age_seconds=0)

    # (Other tests' leftovers in this session may be swept too; only these two matter here.)
    assert leaving.namespace in swept and kept.namespace not in swept
    assert _namespace_gone_or_going(cluster, leaving.namespace)
    assert not _namespace_gone_or_going(cluster, kept.namespace)
