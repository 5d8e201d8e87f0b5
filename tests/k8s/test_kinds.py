"""The one table of kinds (k8s.kinds) and every list that derives from it or is held to it."""

from __future__ import annotations

from typing import get_args

import pytest

from k8s import kinds
from labs.spec.fields import Kind as SpecKind
from labs.watcher import WATCHED_KINDS
from sandbox import hibernation
from sandbox import manifests as m


def test_every_kind_a_lab_may_check_is_one_the_gateway_may_read() -> None:
    assert set(get_args(SpecKind)) <= kinds.GRADED


def test_the_watcher_follows_only_kinds_labs_may_check() -> None:
    assert set(WATCHED_KINDS) <= set(get_args(SpecKind))


def test_resets_and_sleeps_take_their_kinds_from_the_table() -> None:
    assert [k.kind for k in m.WIPE_KINDS] == [k.kind for k in kinds.WIPED]
    assert {k.kind for k in hibernation.SAVED_KINDS} == {k.kind for k in kinds.SAVED}
    # Never credentials or rights in a snapshot, a database row in plain JSON.
    assert not {"Secret", "Role", "RoleBinding", "ServiceAccount"} & set(
        hibernation.SAVED_KIND_NAMES
    )


def test_paths_come_from_the_table() -> None:
    assert kinds.resource_path(api_version="apps/v1", kind="Deployment", namespace="n") == (
        "/apis/apps/v1/namespaces/n/deployments"
    )
    assert kinds.resource_path(api_version="v1", kind="Node", name="a") == "/api/v1/nodes/a"
    with pytest.raises(ValueError, match="namespaced"):
        kinds.resource_path(api_version="v1", kind="Pod")
    with pytest.raises(ValueError, match="does not know Widget"):
        kinds.kind_get("Widget")
    with pytest.raises(ValueError, match=r"does not know Deployment \(v1\)"):
        kinds.kind_get("Deployment", "v1")
