"""kubelab's own rights on a cluster it runs on (sandbox/platform_rights.py, deploy/kubernetes):
the committed RBAC is the generated one; on the real API server, kubelab provisions, grades,
resets, puts to sleep, wakes and tears down learner environments with nothing but its
ServiceAccount's token; and that token reads no Secret, impersonates nobody and cannot grant
itself more. The deploy manifests pass the API server's own server-side dry run."""

from __future__ import annotations

import secrets
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.contrib.auth import get_user_model
from django.utils import timezone

import k8s
from labs.batch import attempts_request
from labs.models import Trigger
from labs.services import attempt_grade
from labs.watcher import CACHED_ONLY_KINDS, DENIAL_EVENTS, WATCHED_KINDS
from sandbox import manifests as m
from sandbox.management.commands.platform_rbac import platform_rbac_yaml
from sandbox.platform_rights import PLATFORM_ROLE, platform_manifests, platform_rules
from sandbox.services import (
    sandbox_cull_idle,
    sandbox_kubeconfig,
    sandbox_provision,
    sandbox_reset,
    sandbox_teardown,
)

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "kubernetes"


def test_the_committed_rbac_is_the_generated_one() -> None:
    assert (DEPLOY / "rbac.yaml").read_text() == platform_rbac_yaml(), (
        "deploy/kubernetes/rbac.yaml is stale: "
        "manage.py platform_rbac > deploy/kubernetes/rbac.yaml"
    )


def test_the_platform_holds_every_right_it_grants_and_none_it_should_not() -> None:
    held = {
        (rule["apiGroups"][0], rule["resources"][0]): set(rule["verbs"])
        for rule in platform_rules()
    }
    granted = m.LEARNER_RULES + m.CLUSTER_READ_RULES + m.KUBE_SYSTEM_READ_RULES
    for rule in granted:  # RBAC refuses to let an account grant what it does not hold
        for resource in rule.resources:
            assert set(rule.verbs) <= held[(rule.api_group, resource)], (rule, resource)
    resources = {resource for _, resource in held}
    assert "secrets" not in resources and "*" not in resources
    assert not any({"impersonate", "escalate", "bind", "*"} & verbs for verbs in held.values())
    assert ("", "nodes") in held and held[("", "nodes")] == {"get", "list", "watch"}


def _token_kubeconfig(cluster: Any, path: Path, namespace: str, name: str) -> Path:
    token = k8s.service_account_token_create(
        namespace=namespace, name=name, expiration_seconds=3600
    )
    document = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    for entry in document["users"]:
        entry["user"] = {"token": token.token}
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.fixture
def platform_account(cluster: Any, settings: Any, tmp_path: Path) -> Any:
    """kubelab's ServiceAccount and ClusterRole applied by the admin, and the settings switched
    to a kubeconfig holding nothing but that account's token."""
    settings.KUBELAB_KUBECONFIG = str(cluster.kubeconfig)
    namespace = f"kubelab-platform-{secrets.token_hex(3)}"
    k8s.object_create(manifest={"apiVersion": "v1", "kind": "Namespace",
                                "metadata": {"name": namespace}})  # fmt: skip
    for manifest in platform_manifests(namespace=namespace):
        k8s.object_apply(manifest=manifest)
    kubeconfig = _token_kubeconfig(cluster, tmp_path / "platform.kubeconfig", namespace, "kubelab")
    settings.KUBELAB_KUBECONFIG = str(kubeconfig)
    yield namespace, kubeconfig
    settings.KUBELAB_KUBECONFIG = str(cluster.kubeconfig)
    k8s.object_delete(api_version="v1", kind="Namespace", name=namespace)
    k8s.object_delete(
        api_version="rbac.authorization.k8s.io/v1",
        kind="ClusterRoleBinding",
        name=f"{PLATFORM_ROLE}:{namespace}",
    )


@pytest.mark.cluster
@pytest.mark.django_db
def test_kubelab_runs_learner_environments_with_only_its_own_rights(
    cluster: Any, platform_account: Any, tmp_path: Path
) -> None:
    user = get_user_model().objects.create_user(username=f"p-{secrets.token_hex(3)}")
    env = sandbox_provision(user=user)
    assert env.status == "ready", env.detail
    assert env.namespace
    learner_config = tmp_path / "learner.kubeconfig"
    learner_config.write_text(sandbox_kubeconfig(user=user))

    def learner(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(cluster.kubectl_path), "--kubeconfig", str(learner_config), *args],
            input=stdin, capture_output=True, text=True, timeout=60,
        )  # fmt: skip

    made = learner("run", "kuard", "--image=gcr.io/kuar-demo/kuard-amd64:blue", "--port=8080")
    assert made.returncode == 0, made.stderr
    # Grading reads as the platform: one learner, a class at once, and the watcher's lists.
    (attempt_id,) = attempts_request(
        users=[user], exercises=[("pods", "kuard-pod")], trigger=Trigger.INSTRUCTOR
    )
    assert attempt_grade(attempt_id=attempt_id) in ("passed", "failed")
    assert env.namespace in k8s.objects_list_by_namespace(kinds={"Pod", "Service"})
    for kind in (*WATCHED_KINDS, *CACHED_ONLY_KINDS):
        k8s.objects_list_all_namespaces(kind=kind)
    k8s.objects_list_all_namespaces(kind="Event", field_selector=DENIAL_EVENTS)

    sandbox_reset(user=user)
    assert learner("get", "pods", "-o", "name").stdout.strip() == ""
    assert learner("create", "configmap", "kept", "--from-literal=a=b").returncode == 0
    # Asleep and back: the learner's objects saved, the namespace deleted, both restored.
    assert env.namespace in sandbox_cull_idle(now=timezone.now() + timedelta(days=3))
    woken = sandbox_provision(user=user)
    assert woken.status == "ready", woken.detail
    learner_config.write_text(sandbox_kubeconfig(user=user))
    assert learner("get", "configmap", "kept", "-o", "name").stdout.strip() == "configmap/kept"
    sandbox_teardown(user=user)


@pytest.mark.cluster
def test_kubelabs_token_reads_no_secret_and_cannot_grant_itself_more(
    cluster: Any, platform_account: Any
) -> None:
    namespace, kubeconfig = platform_account

    def can_i(*args: str) -> str:
        done = subprocess.run(
            [str(cluster.kubectl_path), "--kubeconfig", str(kubeconfig), "auth", "can-i", *args],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        return done.stdout.strip()

    assert can_i("create", "namespaces") == "yes"
    assert can_i("create", "serviceaccounts/token", "-n", "any-learner") == "yes"
    for refused in (
        ("get", "secrets", "-n", "kube-system"),
        ("list", "secrets", "--all-namespaces"),
        ("get", "secrets", "-n", namespace),
        ("impersonate", "users"),
        ("impersonate", "serviceaccounts", "-n", "kube-system"),
        ("delete", "nodes"),
        ("patch", "nodes"),
        ("create", "certificatesigningrequests"),
        ("escalate", "clusterroles"),
        ("bind", "clusterroles"),
        ("create", "mutatingwebhookconfigurations"),
    ):
        assert can_i(*refused) == "no", refused
    # And trying is refused by RBAC's escalation check: binding itself to cluster-admin.
    grab = subprocess.run(
        [str(cluster.kubectl_path), "--kubeconfig", str(kubeconfig), "create",
         "clusterrolebinding", f"grab-{namespace}", "--clusterrole=cluster-admin",
         f"--serviceaccount={namespace}:kubelab"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert grab.returncode != 0 and "forbidden" in grab.stderr.lower(), grab.stderr


@pytest.mark.cluster
def test_the_deploy_manifests_pass_the_api_servers_dry_run(cluster: Any, tmp_path: Path) -> None:
    kubectl = [str(cluster.kubectl_path), "--kubeconfig", str(cluster.kubeconfig)]
    rendered = subprocess.run(
        [*kubectl, "kustomize", str(DEPLOY)], capture_output=True, text=True, timeout=60
    )
    assert rendered.returncode == 0, rendered.stderr
    documents = [d for d in yaml.safe_load_all(rendered.stdout) if d]
    kinds = sorted({d["kind"] for d in documents})
    assert kinds == ["ClusterRole", "ClusterRoleBinding", "ConfigMap", "Deployment", "Namespace",
                     "NetworkPolicy", "PodDisruptionBudget", "Service", "ServiceAccount",
                     "StatefulSet"]  # fmt: skip
    # Namespaced objects need their namespace to exist for a dry run: a throwaway one.
    namespace = f"kubelab-dry-{secrets.token_hex(3)}"
    text = rendered.stdout.replace("namespace: kubelab\n", f"namespace: {namespace}\n")
    (tmp_path / "rendered.yaml").write_text(text)
    made = subprocess.run([*kubectl, "create", "namespace", namespace], capture_output=True,
                          text=True, timeout=30)  # fmt: skip
    assert made.returncode == 0, made.stderr
    try:
        dry = subprocess.run(
            [*kubectl, "apply", "--dry-run=server", "-f", str(tmp_path / "rendered.yaml")],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert dry.returncode == 0, dry.stderr
        assert "deployment.apps/web created (server dry run)" in dry.stdout
        assert "statefulset.apps/terminals created (server dry run)" in dry.stdout
        assert "service/terminals-peers created (server dry run)" in dry.stdout
        assert "clusterrole.rbac.authorization.k8s.io/kubelab:platform" in dry.stdout
    finally:
        subprocess.run([*kubectl, "delete", "namespace", namespace, "--wait=false"],
                       capture_output=True, timeout=30)  # fmt: skip
