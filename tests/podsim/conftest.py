"""A real pod, its Services and its ConfigMaps/Secrets, as an API server returned them.

``data/kuard`` was captured from the embedded cluster (a kuard pod with a Service, a
ConfigMap, a Secret and a downward-API volume; namespace renamed to ``kl-demo``)."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).parent / "data" / "kuard"


def load(name: str) -> Any:
    return json.loads((DATA / name).read_text())


@pytest.fixture
def pod() -> dict[str, Any]:
    return copy.deepcopy(load("pod.json"))


@pytest.fixture
def services() -> list[dict[str, Any]]:
    return copy.deepcopy(load("services.json"))


@pytest.fixture
def refs() -> dict[str, Any]:
    return copy.deepcopy(load("refs.json"))


@pytest.fixture
def pod_dir(tmp_path: Path) -> Path:
    """A writable copy of the captured pod dir, for tests that change it."""
    target = tmp_path / "pod"
    shutil.copytree(DATA, target)
    return target
