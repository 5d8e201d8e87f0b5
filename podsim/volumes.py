"""The container's volume mounts and the files it is known to have: API-data volumes
(configMap, secret, downwardAPI, projected, with a stand-in service account token) with their
files, other kinds as empty directories, plus the kubelet-managed /etc files. Pure, stdlib only
(see podsim.container for the inputs and the ``warnings`` convention).
"""

from __future__ import annotations

import base64
import json
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from podsim.container import (
    decode_secret,
    parse_timestamp,
    pod_container,
    pod_meta,
    pod_spec,
    pod_status,
    warn,
)
from podsim.envvars import container_env, expand, field_value, resource_value
from podsim.etcfiles import etc_hosts, hostname, resolv_conf

DEFAULT_FILE_MODE = 0o644
API_DATA_KINDS = ("configMap", "secret", "downwardAPI", "projected")


@dataclass(frozen=True)
class VolumeMount:
    """One ``volumeMounts`` entry and what backs it.

    ``files`` maps paths relative to ``mount_path`` to their bytes (API-data volumes only);
    the key ``""`` means ``mount_path`` itself is one file (a ``subPath`` naming a file).
    ``writable``: processes may write there; ``persistent``: contents last for the pod's life
    (emptyDir, and the stand-ins for other volume types); ``note`` says what was simulated."""

    name: str
    mount_path: str
    kind: str
    read_only: bool
    sub_path: str = ""
    files: dict[str, bytes] = field(default_factory=dict)
    modes: dict[str, int] = field(default_factory=dict)
    note: str = ""

    @property
    def writable(self) -> bool:
        return not self.read_only

    @property
    def persistent(self) -> bool:
        return self.kind not in API_DATA_KINDS


def volume_mounts(
    pod: Mapping[str, Any],
    container_name: str,
    refs: Mapping[str, Any],
    *,
    warnings: list[str] | None = None,
) -> list[VolumeMount]:
    """What each of the container's volumeMounts is, in declaration order."""
    container = pod_container(pod, container_name)
    volumes = {v.get("name"): v for v in pod_spec(pod).get("volumes") or []}
    env: dict[str, str] | None = None
    result: list[VolumeMount] = []
    for mount in container.get("volumeMounts") or []:
        name = str(mount.get("name", ""))
        volume = volumes.get(name)
        if volume is None:
            warn(warnings, f"volumeMount {name}: the pod has no volume of that name")
            continue
        sub_path = str(mount.get("subPath") or "")
        if mount.get("subPathExpr"):
            if env is None:
                env = dict(container_env(pod, container_name, [], refs))
            sub_path = expand(str(mount["subPathExpr"]), env)
        kind = next((key for key in volume if key != "name"), "emptyDir")
        files: dict[str, bytes] = {}
        modes: dict[str, int] = {}
        note = ""
        read_only = bool(mount.get("readOnly"))
        if kind in API_DATA_KINDS:
            read_only = True
            _api_data_files(pod, container_name, kind, volume[kind], refs, files, modes, warnings)
            if sub_path:
                files, modes = _sub_path_files(files, modes, sub_path)
        elif kind == "emptyDir":
            medium = (volume.get("emptyDir") or {}).get("medium")
            note = "emptyDir: empty when the pod starts, kept until the pod is deleted"
            if medium == "Memory":
                note += " (tmpfs)"
        else:
            note = (
                f"{kind} volume simulated by an empty directory: simulated pods have no "
                "node or storage behind them"
            )
        result.append(
            VolumeMount(
                name=name,
                mount_path=str(mount.get("mountPath", "")),
                kind=kind,
                read_only=read_only,
                sub_path=sub_path,
                files=files,
                modes=modes,
                note=note,
            )
        )
    return result


def absolute_path(path: str) -> str:
    """``path`` as a normalised absolute path (``//a/../b/`` is ``/b``)."""
    return posixpath.normpath("/" + path.lstrip("/"))


def container_files(
    pod: Mapping[str, Any],
    container_name: str,
    refs: Mapping[str, Any],
    *,
    warnings: list[str] | None = None,
) -> tuple[dict[str, bytes], set[str]]:
    """The files the container is known to have, by absolute path, and its known directories:
    the kubelet-managed /etc/hosts, /etc/resolv.conf and /etc/hostname, and every volume
    mount (API-data volumes with their files, others as empty directories). The image's own
    files are not part of the simulation."""
    namespace = str(pod_meta(pod).get("namespace", "default"))
    files = {
        "/etc/hosts": etc_hosts(pod).encode(),
        "/etc/resolv.conf": resolv_conf(namespace).encode(),
        "/etc/hostname": (hostname(pod) + "\n").encode(),
    }
    directories = {"/", "/etc"}
    for mount in volume_mounts(pod, container_name, refs, warnings=warnings):
        root = absolute_path(mount.mount_path)
        directories.add(root)
        for relative, content in mount.files.items():
            path = absolute_path(f"{root}/{relative}") if relative else root
            if not relative:
                directories.discard(root)
            files[path] = content
    for path in [*files, *list(directories)]:
        parent = posixpath.dirname(path)
        while parent not in directories:
            directories.add(parent)
            parent = posixpath.dirname(parent)
    return files, directories


def _sub_path_files(
    files: dict[str, bytes], modes: dict[str, int], sub_path: str
) -> tuple[dict[str, bytes], dict[str, int]]:
    sub = sub_path.strip("/")
    if sub in files:
        return {"": files[sub]}, {"": modes.get(sub, DEFAULT_FILE_MODE)}
    prefix = sub + "/"
    picked = {path[len(prefix) :]: data for path, data in files.items() if path.startswith(prefix)}
    return picked, {path: modes.get(prefix + path, DEFAULT_FILE_MODE) for path in picked}


def _api_data_files(
    pod: Mapping[str, Any],
    container_name: str,
    kind: str,
    source: Mapping[str, Any],
    refs: Mapping[str, Any],
    files: dict[str, bytes],
    modes: dict[str, int],
    warnings: list[str] | None,
) -> None:
    default_mode = int(source.get("defaultMode", DEFAULT_FILE_MODE))
    if kind == "projected":
        for part in source.get("sources") or []:
            for sub_kind, sub_source in part.items():
                if sub_kind in ("configMap", "secret", "downwardAPI"):
                    merged = {"defaultMode": default_mode, **sub_source}
                    _api_data_files(
                        pod, container_name, sub_kind, merged, refs, files, modes, warnings
                    )
                elif sub_kind == "serviceAccountToken":
                    path = str(sub_source.get("path", "token"))
                    files[path] = service_account_token(pod, sub_source).encode()
                    modes[path] = default_mode
        return
    if kind == "downwardAPI":
        for item in source.get("items") or []:
            path = str(item.get("path", ""))
            value: str | None
            if item.get("fieldRef"):
                value = field_value(pod, str(item["fieldRef"].get("fieldPath", "")))
            elif item.get("resourceFieldRef"):
                ref = item["resourceFieldRef"]
                value = resource_value(
                    pod,
                    str(ref.get("containerName") or container_name),
                    str(ref.get("resource", "")),
                    ref.get("divisor"),
                )
            else:
                value = None
            if value is None:
                warn(warnings, f"downwardAPI item {path}: unsupported field")
                continue
            files[path] = value.encode()
            modes[path] = int(item.get("mode", default_mode))
        return
    store_name, label = (
        ("configmaps", "configmap") if kind == "configMap" else ("secrets", "secret")
    )
    name = str(source.get("name") or source.get("secretName") or "")
    data = (refs.get(store_name) or {}).get(name)
    optional = bool(source.get("optional"))
    if data is None:
        if not optional:
            warn(warnings, f'FailedMount: {label} "{name}" not found')
        return
    items = source.get("items")
    wanted = items if items else [{"key": key, "path": key} for key in sorted(data)]
    for item in wanted:
        key = str(item.get("key", ""))
        if key not in data:
            if not optional:
                warn(warnings, f"FailedMount: {label} {name} has no key {key}")
            continue
        raw = data[key]
        content = decode_secret(str(raw)) if label == "secret" else str(raw).encode()
        path = str(item.get("path") or key)
        files[path] = content
        modes[path] = int(item.get("mode", default_mode))


def service_account_token(pod: Mapping[str, Any], source: Mapping[str, Any]) -> str:
    """A token-shaped stand-in: readable claims, unsigned (``alg: none``), so it lets a learner
    see what a projected token holds without granting anything to anyone."""
    meta, spec = pod_meta(pod), pod_spec(pod)
    namespace = meta.get("namespace", "default")
    account = spec.get("serviceAccountName") or "default"
    started = parse_timestamp(pod_status(pod).get("startTime") or meta.get("creationTimestamp"))
    issued = int(started.timestamp()) if started else 0
    claims = {
        "aud": [source.get("audience") or "https://kubernetes.default.svc.cluster.local"],
        "exp": issued + int(source.get("expirationSeconds", 3607)),
        "iat": issued,
        "iss": "https://kubernetes.default.svc.cluster.local",
        "kubernetes.io": {
            "namespace": namespace,
            "node": {"name": spec.get("nodeName", "")},
            "pod": {"name": meta.get("name", ""), "uid": meta.get("uid", "")},
            "serviceaccount": {"name": account},
        },
        "nbf": issued,
        "sub": f"system:serviceaccount:{namespace}:{account}",
    }

    def part(value: Mapping[str, Any]) -> str:
        raw = json.dumps(value, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'kid': 'kubelab-simulated'})}.{part(claims)}."
