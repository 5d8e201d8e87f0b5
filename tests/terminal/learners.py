"""Learner kubeconfigs for terminal tests, made with kubectl until the sandbox app provides them.

`learner_kubeconfig_create` gives a namespace a ServiceAccount bound to a namespaced Role and
returns a kubeconfig with a short-lived token for it. `kubeconfig_from_dir` is a kubeconfig
provider (KUBELAB_TERMINAL_KUBECONFIG_PROVIDER) that serves those files by username, so a web server
subprocess started by a test sees the same learners.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

ROLE = """
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: learner, namespace: NS}
rules:
- apiGroups: ["", "apps", "batch", "networking.k8s.io", "autoscaling", "policy"]
  resources: ["*"]
  verbs: ["*"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: learner, namespace: NS}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: learner}
subjects: [{kind: ServiceAccount, name: learner, namespace: NS}]
"""

PROVIDER = "tests.terminal.learners.kubeconfig_from_dir"
DIR_ENV = "KUBELAB_TEST_KUBECONFIG_DIR"


def learner_kubeconfig_create(cluster: Any, namespace: str) -> str:
    cluster.kubectl("create", "serviceaccount", "learner", "-n", namespace)
    cluster.kubectl("apply", "-f", "-", input=ROLE.replace("NS", namespace))
    token = cluster.kubectl(
        "create", "token", "learner", "-n", namespace, "--duration=1h"
    ).stdout.strip()
    admin = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    context = next(c for c in admin["contexts"] if c["name"] == admin["current-context"])
    cluster_entry = next(c for c in admin["clusters"] if c["name"] == context["context"]["cluster"])
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "kubelab", "cluster": dict(cluster_entry["cluster"])}],
        "users": [{"name": "learner", "user": {"token": token}}],
        "contexts": [
            {
                "name": "learner",
                "context": {"cluster": "kubelab", "user": "learner", "namespace": namespace},
            }
        ],
        "current-context": "learner",
    }
    return yaml.safe_dump(doc)


def kubeconfig_from_dir(*, user: Any) -> str:
    """A kubeconfig provider: $KUBELAB_TEST_KUBECONFIG_DIR/<username>.kubeconfig."""
    return (Path(os.environ[DIR_ENV]) / f"{user.username}.kubeconfig").read_text()
