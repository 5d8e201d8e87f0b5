"""Fixtures for tests that check the embedded cluster's own shape (nodes, kube-system, sockets)."""

from __future__ import annotations

import pytest

from tests.fixtures.cluster import Cluster


@pytest.fixture
def embedded(cluster: Cluster) -> Cluster:
    """The cluster, when it is the embedded one; these checks mean nothing on kind or a cloud."""
    if not cluster.embedded:
        pytest.skip("checks the embedded cluster; KUBELAB_KUBECONFIG points elsewhere")
    return cluster
