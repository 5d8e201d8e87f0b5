"""Fixtures for terminal tests: learners with a namespace, a kubeconfig and a logged-in session."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client

from terminal.manager import terminal_manager
from tests.fixtures.cluster import Cluster, wait_until
from tests.terminal.learners import DIR_ENV, PROVIDER, learner_kubeconfig_create


@dataclass
class Learner:
    user: Any
    cookie: bytes
    namespace: str
    kubeconfig: str


@pytest.fixture(scope="session")
def kubeconfig_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Learner kubeconfigs by username, served by the test provider (also to web servers)."""
    found = tmp_path_factory.mktemp("learner-kubeconfigs")
    os.environ[DIR_ENV] = str(found)
    os.environ["KUBELAB_TERMINAL_KUBECONFIG_PROVIDER"] = PROVIDER
    return found


@pytest.fixture
def make_learner(cluster: Cluster, kubeconfig_dir: Path) -> Iterator[Callable[[str], Learner]]:
    namespaces: list[str] = []

    def make(username: str) -> Learner:
        namespace = f"t-{secrets.token_hex(4)}"
        cluster.kubectl("create", "namespace", namespace)
        cluster.kubectl("label", "namespace", namespace, "kubelab.dev/test=true")
        namespaces.append(namespace)
        wait_until(
            lambda: (
                cluster.kubectl(
                    "get", "serviceaccount", "default", "-n", namespace, check=False
                ).returncode
                == 0
            ),
            what=f"serviceaccount default in {namespace}",
        )
        kubeconfig = learner_kubeconfig_create(cluster, namespace)
        username = f"{username}-{secrets.token_hex(3)}"
        (kubeconfig_dir / f"{username}.kubeconfig").write_text(kubeconfig)
        user = get_user_model().objects.create_user(username=username, password="pw-123456789")
        client = Client()
        client.force_login(user)
        cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
        connection.close()  # this runs in a worker thread; leave no connection behind
        return Learner(user=user, cookie=cookie, namespace=namespace, kubeconfig=kubeconfig)

    yield make
    for namespace in namespaces:
        cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


@pytest.fixture(autouse=True)
async def terminals_closed_after_test() -> AsyncIterator[None]:
    """Every session a test started is ended (and its processes killed) when the test ends."""
    yield
    await terminal_manager().shutdown()
