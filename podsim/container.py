"""A simulated pod's containers, and the conventions of the modules that compute what a container
looks like from inside (envvars, etcfiles, volumes, startuplog) from the API's plain dicts.

Every function there is pure: it takes the Pod exactly as the API server returns it
(``pod.json``), the Services the pod could see (``services.json``) and the ConfigMaps/Secrets it
references (``refs.json``: ``{"configmaps": {name: {key: value}}, "secrets": {name: {key:
base64}}}``). The rules follow the kubelet (``pkg/kubelet/kubelet_pods.go``,
``pkg/kubelet/envvars``, ``third_party/forked/golang/expansion``, ``pkg/fieldpath``,
``pkg/api/v1/resource``).

Problems a real kubelet would refuse to start the container for (a missing ConfigMap that is not
optional, a missing key, an unsupported field) never raise: the value is left out and a sentence
is appended to the ``warnings`` list the caller may pass (``CreateContainerConfigError: ...``),
with ``warn``.

What belongs here: finding a container in the pod, the pod's sections, and the small readings
(timestamps, Secret values) those modules share. Stdlib only: this runs under the system python
inside the pod jail.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from datetime import datetime
from typing import Any

JSON = dict[str, Any]


def pod_container(pod: Mapping[str, Any], container_name: str) -> JSON:
    """The named container of any kind (app, init, ephemeral); KeyError if the pod has none."""
    spec = pod.get("spec") or {}
    for kind in ("containers", "initContainers", "ephemeralContainers"):
        for container in spec.get(kind) or []:
            if container.get("name") == container_name:
                return dict(container)
    name = (pod.get("metadata") or {}).get("name", "?")
    raise KeyError(f"pod {name} has no container {container_name!r}")


def pod_meta(pod: Mapping[str, Any]) -> JSON:
    return dict(pod.get("metadata") or {})


def pod_spec(pod: Mapping[str, Any]) -> JSON:
    return dict(pod.get("spec") or {})


def pod_status(pod: Mapping[str, Any]) -> JSON:
    return dict(pod.get("status") or {})


def parse_timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def decode_secret(encoded: str) -> bytes:
    """A Secret value's bytes; a value that is not base64 is taken as written."""
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return encoded.encode()


def warn(warnings: list[str] | None, message: str) -> None:
    """Append ``message`` to the caller's ``warnings``, if it passed a list."""
    if warnings is not None:
        warnings.append(message)
