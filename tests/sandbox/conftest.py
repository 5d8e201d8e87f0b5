"""Learner-environment fixtures: real learners provisioned by sandbox.services on a cluster."""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model

# One salt per test session: namespace names never collide with a dev server's, another test
# run's leftovers, or a parallel session's (see sandbox.slugs). Child processes inherit it.
os.environ.setdefault("KUBELAB_SANDBOX_SALT", f"test-{secrets.token_hex(4)}")


@dataclass
class Learner:
    user: Any
    namespace: str
    kubeconfig: Path
    kubectl_path: Path

    def kubectl(
        self, *args: str, input: str | None = None, timeout: float = 30.0
    ) -> subprocess.CompletedProcess[str]:
        """kubectl as this learner: their token, their default namespace."""
        cmd = [str(self.kubectl_path), "--kubeconfig", str(self.kubeconfig), *args]
        return subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def make_learner(
    cluster: Any, db: None, tmp_path: Path, settings: Any
) -> Iterator[Callable[..., Learner]]:
    """Makes learners with ready environments; tears their namespaces down afterwards."""
    import k8s
    from sandbox.services import pool_drain, sandbox_kubeconfig, sandbox_provision, sandbox_teardown

    settings.KUBELAB_KUBECONFIG = str(cluster.kubeconfig)
    users: list[Any] = []

    def make(name: str | None = None) -> Learner:
        username = name or f"learner-{secrets.token_hex(3)}"
        user = get_user_model().objects.create_user(username=username, password="x" * 12)
        users.append(user)
        env = sandbox_provision(user=user)
        assert env.status == "ready", env.detail
        assert env.namespace
        path = tmp_path / f"{username}.kubeconfig"
        path.write_text(sandbox_kubeconfig(user=user))
        return Learner(user, env.namespace, path, cluster.kubectl_path)

    yield make
    for user in users:
        with contextlib.suppress(k8s.ClusterError):
            sandbox_teardown(user=user)
    with contextlib.suppress(k8s.ClusterError):
        pool_drain()
