"""Reads a pod dir the kubelet shim writes, and describes a container of it as JSON.

A pod dir holds ``pod.json`` (the Pod as the API returns it), ``services.json`` (a list of
Services, or a ``ServiceList``) and ``refs.json`` (``{"configmaps": {name: {key: value}},
"secrets": {name: {key: base64}}}``); only ``pod.json`` is required.

``python3 -m podsim.poddir describe --pod-dir DIR --container NAME`` prints one JSON
object: ``hostname``, ``env`` (list of ``[name, value]``), ``resolv_conf``, ``hosts``,
``mounts`` (``name``, ``mount_path``, ``kind``, ``read_only``, ``sub_path``, ``persistent``,
``note``, ``files``: ``{path: base64}``, ``modes``: ``{path: int}``), ``startup_lines``,
``argv`` and ``warnings``; exit 2 with one line on stderr when the pod dir is unusable.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podsim.container import pod_container
from podsim.envvars import container_env
from podsim.etcfiles import etc_hosts, hostname, resolv_conf
from podsim.startuplog import container_argv, container_startup_lines, is_demo_image
from podsim.volumes import volume_mounts

MAX_FILE_BYTES = 32 * 1024 * 1024  # refs.json may hold several ConfigMaps of up to 1 MiB


class PodDirError(Exception):
    """The pod dir is missing or holds something that is not what the shim writes."""


@dataclass(frozen=True)
class PodDir:
    pod: dict[str, Any]
    services: list[dict[str, Any]]
    refs: dict[str, Any]

    @property
    def name(self) -> str:
        return str((self.pod.get("metadata") or {}).get("name", ""))

    @property
    def namespace(self) -> str:
        return str((self.pod.get("metadata") or {}).get("namespace", "default"))


def _read_json(path: Path, required: bool) -> Any:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise PodDirError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
        return _parse_json(str(path), path.read_bytes())
    except FileNotFoundError:
        if required:
            raise PodDirError(
                f"{path}: not found (the shim writes it when the pod starts)"
            ) from None
        return None
    except OSError as error:
        raise PodDirError(f"{path}: unreadable: {error}") from None


def _parse_json(name: str, data: bytes) -> Any:
    try:
        return json.loads(data.decode("utf-8")) if data.strip() else None
    except (UnicodeDecodeError, ValueError) as error:
        raise PodDirError(f"{name}: unreadable: {error}") from None


def _pod_dir(name: str, pod: Any, services: Any, refs: Any) -> PodDir:
    if not isinstance(pod, dict) or not isinstance(pod.get("spec"), dict):
        raise PodDirError(f"{name}: not a Pod object")
    services = services or []
    if isinstance(services, dict):
        services = services.get("items") or []
    if not isinstance(services, list):
        raise PodDirError(f"{name}: services are not a list of Services")
    refs = refs or {}
    if not isinstance(refs, dict):
        raise PodDirError(f"{name}: refs are not an object")
    return PodDir(pod, [s for s in services if isinstance(s, dict)], refs)


def pod_dir_load(directory: str | Path) -> PodDir:
    """The pod dir's three files as plain data; PodDirError names the file at fault."""
    root = Path(directory)
    pod = _read_json(root / "pod.json", required=True)
    services = _read_json(root / "services.json", required=False)
    refs = _read_json(root / "refs.json", required=False)
    return _pod_dir(str(root / "pod.json"), pod, services, refs)


def pod_dir_parse(pod: bytes, services: bytes, refs: bytes) -> PodDir:
    """The same from the three files' bytes (the pod builder gets them as descriptors)."""
    for name, data in (("pod.json", pod), ("services.json", services), ("refs.json", refs)):
        if len(data) > MAX_FILE_BYTES:
            raise PodDirError(f"{name}: larger than {MAX_FILE_BYTES} bytes")
    return _pod_dir(
        "pod.json",
        _parse_json("pod.json", pod),
        _parse_json("services.json", services),
        _parse_json("refs.json", refs),
    )


def default_container(pod: dict[str, Any], port: int | None = None) -> str:
    """The container a port-forward or a plain ``kubectl logs`` means: the one declaring
    ``port``, else the first running the demo image, else the first."""
    containers = (pod.get("spec") or {}).get("containers") or []
    if not containers:
        raise PodDirError("the pod has no containers")
    if port is not None:
        for item in containers:
            if any(p.get("containerPort") == port for p in item.get("ports") or []):
                return str(item["name"])
    for item in containers:
        if is_demo_image(str(item.get("image", ""))):
            return str(item["name"])
    return str(containers[0]["name"])


def describe(pod_dir: PodDir, container_name: str) -> dict[str, Any]:
    """Everything the shim needs to dress a jail up as this container."""
    warnings: list[str] = []
    env = container_env(
        pod_dir.pod, container_name, pod_dir.services, pod_dir.refs, warnings=warnings
    )
    mounts = volume_mounts(pod_dir.pod, container_name, pod_dir.refs, warnings=warnings)
    container = pod_container(pod_dir.pod, container_name)
    return {
        "hostname": hostname(pod_dir.pod),
        "env": [list(pair) for pair in env],
        "argv": container_argv(container, dict(env)),
        "resolv_conf": resolv_conf(pod_dir.namespace),
        "hosts": etc_hosts(pod_dir.pod),
        "mounts": [
            {
                "name": m.name,
                "mount_path": m.mount_path,
                "kind": m.kind,
                "read_only": m.read_only,
                "sub_path": m.sub_path,
                "persistent": m.persistent,
                "note": m.note,
                "files": {p: base64.b64encode(data).decode() for p, data in m.files.items()},
                "modes": m.modes,
            }
            for m in mounts
        ],
        "startup_lines": container_startup_lines(pod_dir.pod, container_name, env=env),
        "warnings": warnings,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m podsim.poddir")
    commands = parser.add_subparsers(dest="command", required=True)
    describe_parser = commands.add_parser("describe", help="print a container's insides as JSON")
    describe_parser.add_argument("--pod-dir", required=True)
    describe_parser.add_argument("--container", default="")
    args = parser.parse_args(argv)
    try:
        pod_dir = pod_dir_load(args.pod_dir)
        name = args.container or default_container(pod_dir.pod)
        json.dump(describe(pod_dir, name), sys.stdout, indent=1)
        sys.stdout.write("\n")
    except (PodDirError, KeyError) as error:
        print(f"poddir: {error.args[0] if error.args else error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
