"""What a simulated pod's container looks like from inside, computed from the API's plain dicts.

Every function is pure: it takes the Pod exactly as the API server returns it (``pod.json``),
the Services the pod could see (``services.json``) and the ConfigMaps/Secrets it references
(``refs.json``: ``{"configmaps": {name: {key: value}}, "secrets": {name: {key: base64}}}``).
The rules follow the kubelet (``pkg/kubelet/kubelet_pods.go``, ``pkg/kubelet/envvars``,
``third_party/forked/golang/expansion``, ``pkg/fieldpath``, ``pkg/api/v1/resource``).

Problems a real kubelet would refuse to start the container for (a missing ConfigMap that is not
optional, a missing key, an unsupported field) never raise: the value is left out and a sentence
is appended to the ``warnings`` list the caller may pass (``CreateContainerConfigError: ...``).

Stdlib only: this module runs under the system python inside the pod jail.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import posixpath
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from typing import Any

from podsim.quantity import SUFFIXES, parse_quantity

JSON = dict[str, Any]
EnvList = list[tuple[str, str]]

CLUSTER_DOMAIN = "cluster.local"
CLUSTER_DNS_IP = "10.96.0.10"
NDOTS = 5
# What the common base images (debian, alpine, busybox) put in PATH.
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# The embedded cluster's kwok nodes; the kubelet defaults missing limits to node allocatable.
NODE_ALLOCATABLE = {"cpu": "2", "memory": "8Gi", "ephemeral-storage": "100Gi"}
DEFAULT_FILE_MODE = 0o644
# Image names (last path component, without tag) that run the demo app.
DEMO_IMAGES = ("kuard", "kuard-amd64", "kuard-arm64", "kubelab-demoapp")
KUARD_DEFAULT_VERSION = "v0.10.0-blue"
KUARD_PORT = 8080
# A pod spec is learner input: --keygen-num-to-gen=10**11 must not make 10**11 log lines.
KEYGEN_MAX_KEYS = 1000
MASTER_SERVICE = "kubernetes"
# What default/kubernetes is on every cluster kubelab makes, used when services.json lacks it.
DEFAULT_MASTER_SERVICE: JSON = {
    "metadata": {"name": MASTER_SERVICE, "namespace": "default"},
    "spec": {
        "clusterIP": "10.96.0.1",
        "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}],
    },
}
# Set by the container runtime (image config and hostname), unknown to the kubelet's expansion.
RUNTIME_VARIABLES = ("HOSTNAME", "PATH")


# --- lookups --------------------------------------------------------------------------------


def pod_container(pod: Mapping[str, Any], container_name: str) -> JSON:
    """The named container of any kind (app, init, ephemeral); KeyError if the pod has none."""
    spec = pod.get("spec") or {}
    for kind in ("containers", "initContainers", "ephemeralContainers"):
        for container in spec.get(kind) or []:
            if container.get("name") == container_name:
                return dict(container)
    name = (pod.get("metadata") or {}).get("name", "?")
    raise KeyError(f"pod {name} has no container {container_name!r}")


def _meta(pod: Mapping[str, Any]) -> JSON:
    return dict(pod.get("metadata") or {})


def _spec(pod: Mapping[str, Any]) -> JSON:
    return dict(pod.get("spec") or {})


def _status(pod: Mapping[str, Any]) -> JSON:
    return dict(pod.get("status") or {})


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


# --- quantities (parsed by podsim.quantity, shared with the check engine) ---------------


def format_bytes(count: int | Fraction) -> str:
    """Bytes the way people read them: ``256Mi``, ``1.5Gi``, ``512``."""
    value = Fraction(count)
    for suffix in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
        unit = SUFFIXES[suffix]
        if value >= unit:
            scaled = value / unit
            if scaled.denominator == 1:
                return f"{scaled.numerator}{suffix}"
            return f"{float(scaled):.1f}{suffix}"
    return str(math.ceil(value))


# --- environment ----------------------------------------------------------------------------


def expand(text: str, *contexts: Mapping[str, str]) -> str:
    """``$(VAR)`` expansion exactly as the kubelet does it for env values, command and args.

    ``$$`` is a literal ``$``; an unknown ``$(VAR)`` and an unclosed ``$(`` stay as written.
    Linear in the text (a pod spec is learner input): no slicing per ``$``, and the next ``)``
    is searched for once, not again from every ``$(``."""
    out: list[str] = []
    checkpoint = 0
    cursor = 0
    end = len(text)
    next_close = -2  # position of the first ')' at or after the last search start; -1: none left
    while cursor < end:
        if text[cursor] == "$" and cursor + 1 < end:
            out.append(text[checkpoint:cursor])
            following = text[cursor + 1]
            if following == "$":
                out.append("$")
                advance = 1
            elif following == "(":
                if next_close != -1 and next_close < cursor + 2:
                    next_close = text.find(")", cursor + 2)
                if next_close == -1:
                    out.append("$(")
                    advance = 1
                else:
                    out.append(_lookup(text[cursor + 2 : next_close], contexts))
                    advance = next_close - cursor
            else:
                out.append("$" + following)
                advance = 1
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    return "".join(out) + text[checkpoint:]


def _lookup(name: str, contexts: Sequence[Mapping[str, str]]) -> str:
    for context in contexts:
        if name in context:
            return context[name]
    return f"$({name})"


def _env_name(service_name: str) -> str:
    return service_name.upper().replace("-", "_")


def _service_ip_set(service: Mapping[str, Any]) -> bool:
    cluster_ip = (service.get("spec") or {}).get("clusterIP") or ""
    return cluster_ip not in ("", "None")


def _host_port(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def service_link_variables(service: Mapping[str, Any]) -> EnvList:
    """The variables one Service contributes (``envvars.FromServices``); none when headless."""
    if not _service_ip_set(service):
        return []
    spec = service.get("spec") or {}
    ports = spec.get("ports") or []
    if not ports:
        return []
    ip = str(spec["clusterIP"])
    prefix = _env_name(str((service.get("metadata") or {}).get("name", "")))
    result: EnvList = [
        (f"{prefix}_SERVICE_HOST", ip),
        (f"{prefix}_SERVICE_PORT", str(ports[0].get("port"))),
    ]
    for port in ports:
        if port.get("name"):
            result.append((f"{prefix}_SERVICE_PORT_{_env_name(port['name'])}", str(port["port"])))
    for index, port in enumerate(ports):
        protocol = str(port.get("protocol") or "TCP")
        url = f"{protocol.lower()}://{_host_port(ip, int(port['port']))}"
        if index == 0:
            result.append((f"{prefix}_PORT", url))
        port_prefix = f"{prefix}_PORT_{port['port']}_{protocol.upper()}"
        result += [
            (port_prefix, url),
            (f"{port_prefix}_PROTO", protocol.lower()),
            (f"{port_prefix}_PORT", str(port["port"])),
            (f"{port_prefix}_ADDR", ip),
        ]
    return result


def service_env(pod: Mapping[str, Any], services: Sequence[Mapping[str, Any]]) -> EnvList:
    """Service variables of the pod's start: its namespace's Services (unless
    ``enableServiceLinks: false``) and always ``default/kubernetes`` (10.96.0.1:443 when
    ``services`` lacks it); sorted by Service name.

    A Service created after the pod started is left out, as the kubelet only knew the older
    ones when it started the container."""
    namespace = _meta(pod).get("namespace", "default")
    links = _spec(pod).get("enableServiceLinks") is not False
    started = _timestamp(_status(pod).get("startTime"))
    chosen: dict[str, Mapping[str, Any]] = {}
    for service in services:
        if not _service_ip_set(service):
            continue
        meta = service.get("metadata") or {}
        created = _timestamp(meta.get("creationTimestamp"))
        if started and created and created > started:
            continue
        name = str(meta.get("name", ""))
        in_namespace = meta.get("namespace") == namespace
        if in_namespace and links:
            chosen[name] = service
        elif meta.get("namespace") == "default" and name == MASTER_SERVICE:
            chosen.setdefault(name, service)
    chosen.setdefault(MASTER_SERVICE, DEFAULT_MASTER_SERVICE)
    result: EnvList = []
    for name in sorted(chosen):
        result += service_link_variables(chosen[name])
    return result


_FIELD_SUBSCRIPT = re.compile(r"^(metadata\.(?:labels|annotations))\['(.*)'\]$")


def _format_map(values: Mapping[str, str]) -> str:
    return "\n".join(
        f"{key}={json.dumps(values[key], ensure_ascii=False)}" for key in sorted(values)
    )


def field_value(pod: Mapping[str, Any], field_path: str) -> str | None:
    """A downward-API ``fieldRef`` value; None for a path the kubelet does not support."""
    meta, spec, status = _meta(pod), _spec(pod), _status(pod)
    pod_ips = [str(entry.get("ip")) for entry in status.get("podIPs") or [] if entry.get("ip")]
    if not pod_ips and status.get("podIP"):
        pod_ips = [str(status["podIP"])]
    host_ips = [str(entry.get("ip")) for entry in status.get("hostIPs") or [] if entry.get("ip")]
    if not host_ips and status.get("hostIP"):
        host_ips = [str(status["hostIP"])]
    simple = {
        "metadata.name": meta.get("name", ""),
        "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""),
        "spec.nodeName": spec.get("nodeName", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName", ""),
        "status.podIP": pod_ips[0] if pod_ips else "",
        "status.podIPs": ",".join(pod_ips),
        "status.hostIP": host_ips[0] if host_ips else "",
        "status.hostIPs": ",".join(host_ips),
    }
    if field_path in simple:
        return str(simple[field_path])
    if field_path in ("metadata.labels", "metadata.annotations"):
        return _format_map(meta.get(field_path.split(".")[1]) or {})
    match = _FIELD_SUBSCRIPT.match(field_path)
    if match:
        mapping = meta.get(match.group(1).split(".")[1]) or {}
        return str(mapping.get(match.group(2), ""))
    return None


def resource_value(
    pod: Mapping[str, Any],
    container_name: str,
    resource: str,
    divisor: str | int | None = None,
    node_allocatable: Mapping[str, str] | None = None,
) -> str | None:
    """A ``resourceFieldRef`` value: rounded up in units of ``divisor`` (default 1); a missing
    limit is the node's allocatable, a missing request 0. None for an unsupported resource."""
    try:
        container = pod_container(pod, container_name)
    except KeyError:
        return None
    kind, _, name = resource.partition(".")
    if kind not in ("limits", "requests") or name not in ("cpu", "memory", "ephemeral-storage"):
        return None
    declared = ((container.get("resources") or {}).get(kind) or {}).get(name)
    if declared is None and kind == "limits":
        declared = (node_allocatable or NODE_ALLOCATABLE).get(name)
    try:
        value = parse_quantity(declared if declared is not None else "0")
        unit = parse_quantity(divisor) if divisor not in (None, "", 0, "0") else Fraction(1)
    except ValueError:
        return None
    if unit == 0:
        unit = Fraction(1)
    if name == "cpu":
        # Quantity.MilliValue() rounds up before the division.
        return str(math.ceil(Fraction(math.ceil(value * 1000)) / math.ceil(unit * 1000)))
    return str(math.ceil(Fraction(math.ceil(value)) / math.ceil(unit)))


def _secret_text(encoded: str) -> str:
    return _decode_secret(encoded).decode("utf-8", errors="replace")


def _decode_secret(encoded: str) -> bytes:
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return encoded.encode()


def _valid_env_name(name: str) -> bool:
    # RelaxedEnvironmentVariableValidation: any printable ASCII except "=".
    return bool(name) and all(" " <= ch <= "~" and ch != "=" for ch in name)


def _warn(warnings: list[str] | None, message: str) -> None:
    if warnings is not None:
        warnings.append(message)


def container_env(
    pod: Mapping[str, Any],
    container_name: str,
    services: Sequence[Mapping[str, Any]],
    refs: Mapping[str, Any],
    *,
    warnings: list[str] | None = None,
    node_allocatable: Mapping[str, str] | None = None,
) -> EnvList:
    """What ``env`` prints in the container: HOSTNAME, PATH, the Service variables, then
    ``envFrom``, then ``env`` (later definitions win; a declared name hides a Service variable).

    Values follow the kubelet: ``$(VAR)`` expansion against the variables declared before and
    the Service variables, downward API, resource fields, ConfigMap and Secret keys (base64
    decoded). A reference that would stop a real container is skipped and explained in
    ``warnings`` when a list is passed; optional references skip silently."""
    container = pod_container(pod, container_name)
    namespace = _meta(pod).get("namespace", "default")
    configmaps: Mapping[str, Mapping[str, str]] = refs.get("configmaps") or {}
    secrets: Mapping[str, Mapping[str, str]] = refs.get("secrets") or {}
    services_vars = dict(service_env(pod, services))
    declared: dict[str, str] = {}

    for source in container.get("envFrom") or []:
        prefix = str(source.get("prefix") or "")
        for kind, store, decode in (
            ("configMapRef", configmaps, False),
            ("secretRef", secrets, True),
        ):
            ref = source.get(kind)
            if not ref:
                continue
            name = str(ref.get("name", ""))
            if name not in store:
                if not ref.get("optional"):
                    label = "configmap" if kind == "configMapRef" else "secret"
                    _warn(
                        warnings,
                        f'CreateContainerConfigError: {label} "{name}" not found '
                        f"(envFrom of container {container_name} in {namespace})",
                    )
                continue
            skipped = []
            for key, value in store[name].items():
                env_name = prefix + key
                if not _valid_env_name(env_name):
                    skipped.append(env_name)
                    continue
                declared[env_name] = _secret_text(value) if decode else str(value)
            if skipped:
                _warn(
                    warnings,
                    f"Keys [{', '.join(sorted(skipped))}] from envFrom {name} were skipped "
                    "since they are not valid environment variable names",
                )

    for variable in container.get("env") or []:
        name = str(variable.get("name", ""))
        value = variable.get("value") or ""
        source = variable.get("valueFrom")
        if value:
            declared[name] = expand(str(value), declared, services_vars)
            continue
        if not source:
            declared[name] = ""
            continue
        resolved = _value_from(pod, container_name, name, source, refs, warnings, node_allocatable)
        if resolved is not None:
            declared[name] = resolved

    result: dict[str, str] = {"HOSTNAME": hostname(pod), "PATH": DEFAULT_PATH}
    for name, value in services_vars.items():
        if name not in declared:
            result[name] = value
    result.update(declared)
    return list(result.items())


def _value_from(
    pod: Mapping[str, Any],
    container_name: str,
    name: str,
    source: Mapping[str, Any],
    refs: Mapping[str, Any],
    warnings: list[str] | None,
    node_allocatable: Mapping[str, str] | None,
) -> str | None:
    if source.get("fieldRef"):
        path = str(source["fieldRef"].get("fieldPath", ""))
        value = field_value(pod, path)
        if value is None:
            _warn(warnings, f"env {name}: unsupported fieldRef fieldPath {path!r}")
        return value
    if source.get("resourceFieldRef"):
        ref = source["resourceFieldRef"]
        value = resource_value(
            pod,
            str(ref.get("containerName") or container_name),
            str(ref.get("resource", "")),
            ref.get("divisor"),
            node_allocatable,
        )
        if value is None:
            _warn(warnings, f"env {name}: unsupported resourceFieldRef {ref.get('resource')!r}")
        return value
    for kind, store_name, label in (
        ("configMapKeyRef", "configmaps", "configmap"),
        ("secretKeyRef", "secrets", "secret"),
    ):
        ref = source.get(kind)
        if not ref:
            continue
        store = (refs.get(store_name) or {}).get(str(ref.get("name", "")))
        optional = bool(ref.get("optional"))
        if store is None:
            if not optional:
                _warn(
                    warnings, f'CreateContainerConfigError: {label} "{ref.get("name")}" not found'
                )
            return None
        key = str(ref.get("key", ""))
        if key not in store:
            if not optional:
                _warn(
                    warnings,
                    f"CreateContainerConfigError: couldn't find key {key} in "
                    f"{label} {ref.get('name')}",
                )
            return None
        return _secret_text(store[key]) if label == "secret" else str(store[key])
    _warn(warnings, f"env {name}: unsupported valueFrom {sorted(source)}")
    return None


# --- DNS and host files ---------------------------------------------------------------------


def search_domains(namespace: str) -> list[str]:
    """The resolver search path of a ClusterFirst pod."""
    return [f"{namespace}.svc.{CLUSTER_DOMAIN}", f"svc.{CLUSTER_DOMAIN}", CLUSTER_DOMAIN]


def resolv_conf(namespace: str) -> str:
    """The kubelet-written /etc/resolv.conf of a ClusterFirst pod."""
    return (
        f"search {' '.join(search_domains(namespace))}\n"
        f"nameserver {CLUSTER_DNS_IP}\n"
        f"options ndots:{NDOTS}\n"
    )


def hostname(pod: Mapping[str, Any]) -> str:
    """The container's hostname: ``spec.hostname`` or the pod name (at most 63 characters),
    the FQDN with ``setHostnameAsFQDN`` and a subdomain."""
    spec = _spec(pod)
    name = str(spec.get("hostname") or _meta(pod).get("name", ""))
    if len(name) > 63:
        name = name[:63].rstrip("-.")
    domain = host_domain(pod)
    if spec.get("setHostnameAsFQDN") and domain:
        return f"{name}.{domain}"
    return name


def host_domain(pod: Mapping[str, Any]) -> str:
    """``<subdomain>.<namespace>.svc.cluster.local`` when ``spec.subdomain`` is set, else ''."""
    subdomain = _spec(pod).get("subdomain")
    if not subdomain:
        return ""
    return f"{subdomain}.{_meta(pod).get('namespace', 'default')}.svc.{CLUSTER_DOMAIN}"


def etc_hosts(pod: Mapping[str, Any]) -> str:
    """The kubelet-managed /etc/hosts: localhost lines, the pod's IPs, then hostAliases."""
    spec, status = _spec(pod), _status(pod)
    short = str(spec.get("hostname") or _meta(pod).get("name", ""))[:63].rstrip("-.")
    domain = host_domain(pod)
    lines = [
        "# Kubernetes-managed hosts file.",
        "127.0.0.1\tlocalhost",
        "::1\tlocalhost ip6-localhost ip6-loopback",
        "fe00::0\tip6-localnet",
        "fe00::0\tip6-mcastprefix",
        "fe00::1\tip6-allnodes",
        "fe00::2\tip6-allrouters",
    ]
    ips = [str(entry["ip"]) for entry in status.get("podIPs") or [] if entry.get("ip")]
    if not ips and status.get("podIP"):
        ips = [str(status["podIP"])]
    for ip in ips:
        lines.append(f"{ip}\t{short}.{domain}\t{short}" if domain else f"{ip}\t{short}")
    aliases = spec.get("hostAliases") or []
    if aliases:
        lines += ["", "# Entries added by HostAliases."]
        for alias in aliases:
            lines.append("\t".join([str(alias.get("ip", "")), *(alias.get("hostnames") or [])]))
    return "\n".join(lines) + "\n"


# --- volumes --------------------------------------------------------------------------------

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
    volumes = {v.get("name"): v for v in _spec(pod).get("volumes") or []}
    env: dict[str, str] | None = None
    result: list[VolumeMount] = []
    for mount in container.get("volumeMounts") or []:
        name = str(mount.get("name", ""))
        volume = volumes.get(name)
        if volume is None:
            _warn(warnings, f"volumeMount {name}: the pod has no volume of that name")
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
    namespace = str(_meta(pod).get("namespace", "default"))
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
                _warn(warnings, f"downwardAPI item {path}: unsupported field")
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
            _warn(warnings, f'FailedMount: {label} "{name}" not found')
        return
    items = source.get("items")
    wanted = items if items else [{"key": key, "path": key} for key in sorted(data)]
    for item in wanted:
        key = str(item.get("key", ""))
        if key not in data:
            if not optional:
                _warn(warnings, f"FailedMount: {label} {name} has no key {key}")
            continue
        raw = data[key]
        content = _decode_secret(str(raw)) if label == "secret" else str(raw).encode()
        path = str(item.get("path") or key)
        files[path] = content
        modes[path] = int(item.get("mode", default_mode))


def service_account_token(pod: Mapping[str, Any], source: Mapping[str, Any]) -> str:
    """A token-shaped stand-in: readable claims, unsigned (``alg: none``), so it lets a learner
    see what a projected token holds without granting anything to anyone."""
    meta, spec = _meta(pod), _spec(pod)
    namespace = meta.get("namespace", "default")
    account = spec.get("serviceAccountName") or "default"
    started = _timestamp(_status(pod).get("startTime") or meta.get("creationTimestamp"))
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


# --- logs -----------------------------------------------------------------------------------


def image_parts(image: str) -> tuple[str, str]:
    """(repository, tag) of an image reference; tag '' when none (or only a digest)."""
    reference = image.split("@", 1)[0]
    repository, _, tag = reference.rpartition(":")
    if not repository or "/" in tag:
        return reference, ""
    return repository, tag


def is_demo_image(image: str) -> bool:
    """Whether the image is one the demo app plays (the book's kuard, or our own marker)."""
    repository, _ = image_parts(image)
    return repository.rsplit("/", 1)[-1] in DEMO_IMAGES


def kuard_version(image: str) -> str:
    _, tag = image_parts(image)
    if not tag or tag == "latest":
        return KUARD_DEFAULT_VERSION
    return tag if tag.startswith("v") else f"v0.10.0-{tag}"


def container_argv(container: Mapping[str, Any], env: Mapping[str, str]) -> list[str]:
    """``command`` + ``args`` with ``$(VAR)`` expanded as the kubelet does (the image's own
    entrypoint is unknown, so a container without ``command`` yields just its args).

    HOSTNAME and PATH come from the runtime, not the kubelet, so ``$(HOSTNAME)`` stays as
    written unless the container declares it in ``env``."""
    declared = {str(v.get("name")) for v in container.get("env") or []}
    env = {k: v for k, v in env.items() if k not in RUNTIME_VARIABLES or k in declared}
    words = [*(container.get("command") or []), *(container.get("args") or [])]
    return [expand(str(word), env) for word in words]


def container_startup_lines(
    pod: Mapping[str, Any], container_name: str, *, env: Sequence[tuple[str, str]] | None = None
) -> list[str]:
    """Plausible first log lines of the container, without timestamps (the shim adds them).

    kuard (and our demo image) print kuard's start-up; nginx its entrypoint's lines; a
    container running ``echo ...`` (directly or via ``sh -c``) those words; anything else one
    short line. ``env`` (from container_env) expands ``$(VAR)`` and shell ``$VAR``."""
    container = pod_container(pod, container_name)
    image = str(container.get("image", ""))
    variables = dict(env) if env is not None else dict(container_env(pod, container_name, [], {}))
    argv = container_argv(container, variables)
    repository, tag = image_parts(image)
    base = repository.rsplit("/", 1)[-1]
    echoed = _echo_lines(argv, variables)
    if echoed is not None:
        return echoed
    if is_demo_image(image):
        return _kuard_lines(pod, container)
    if base == "nginx" or base.startswith("nginx-"):
        return _nginx_lines(tag)
    what = f" {shlex.join(argv)}" if argv else ""
    return [f"Started container {container_name} (image {image}){what}"]


def _kuard_lines(pod: Mapping[str, Any], container: Mapping[str, Any]) -> list[str]:
    meta = _meta(pod)
    tls = any(
        m.get("mountPath", "").rstrip("/") == "/tls" for m in container.get("volumeMounts") or []
    )
    keygen = _keygen_flags(container)
    keygen_config: dict[str, Any] = {
        "enable": False,
        "exit-code": 0,
        "exit-on-complete": False,
        "memq-queue": "",
        "memq-server": "",
        "num-to-gen": 0,
        "time-to-run": 0,
    }
    keygen_config.update(keygen or {})
    config = {
        "address": f":{KUARD_PORT}",
        "debug": False,
        "debug-sitedata-dir": "./sitedata",
        "keygen": keygen_config,
        "liveness": {"fail-next": 0},
        "readiness": {"fail-next": 0},
        "tls-address": ":8443",
        "tls-dir": "/tls",
    }
    lines = [
        f"Starting kuard version: {kuard_version(str(container.get('image', '')))}",
        "*" * 70,
        "* WARNING: This server may expose sensitive",
        "* and secret information. Be careful.",
        "*" * 70,
        "Config: ",
        *json.dumps(config, indent=2).splitlines(),
        f"Pod {meta.get('name', '')} in namespace {meta.get('namespace', '')}"
        f" on node {_spec(pod).get('nodeName', '')}",
    ]
    if tls:
        lines.append("Serving on HTTPS on :8443")
    else:
        lines.append("Could not find certificates to serve TLS")
    lines.append(f"Serving on HTTP on :{KUARD_PORT}")
    if keygen is not None:
        lines += _keygen_lines(str(meta.get("uid") or meta.get("name", "")), keygen)
    return lines


def _keygen_flags(container: Mapping[str, Any]) -> dict[str, Any] | None:
    """kuard's --keygen-* flags from the container's command and args, or None without
    --keygen-enable."""
    flags: dict[str, Any] = {}
    for word in [*(container.get("command") or []), *(container.get("args") or [])]:
        name, _, value = str(word).removeprefix("--").partition("=")
        if not name.startswith("keygen-"):
            continue
        key = name.removeprefix("keygen-")
        if key in ("enable", "exit-on-complete"):
            flags[key] = value.lower() not in ("false", "0")
        elif key in ("num-to-gen", "exit-code", "time-to-run"):
            flags[key] = int(value) if value.lstrip("-").isdigit() else 0
        elif key in ("memq-server", "memq-queue"):
            flags[key] = value
    return flags if flags.get("enable") else None


def _keygen_lines(seed: str, flags: Mapping[str, Any]) -> list[str]:
    """What kuard's key generator prints: one line per generated key (a stand-in fingerprint,
    stable for the pod), framed by start and exit lines. Work from a MemQ queue is not
    simulated: such a worker finds nothing to do."""
    asked = int(flags.get("num-to-gen") or 0)
    total = min(asked, KEYGEN_MAX_KEYS)
    lines = ["(ID 0) Workload starting"]
    if flags.get("memq-server"):
        lines.append(f"(ID 0) No more items in queue {flags.get('memq-queue', '')}")
    for i in range(1, total + 1):
        digest = hashlib.sha256(f"{seed}/{i}".encode()).digest()
        fingerprint = base64.b64encode(digest).decode().rstrip("=")
        lines.append(f"(ID 0 {i}/{total}) Item done: SHA256:{fingerprint}")
    if asked > total:
        lines.append(
            f"(ID 0) kubelab's simulated key generator stops after {KEYGEN_MAX_KEYS} keys "
            f"(asked for {asked})"
        )
    if flags.get("exit-on-complete"):
        lines.append("(ID 0) Workload exiting")
    return lines


def _nginx_lines(tag: str) -> list[str]:
    version = tag.split("-", 1)[0] if re.match(r"^\d+\.\d+\.\d+", tag) else "1.27.3"
    entry = "/docker-entrypoint.sh"
    return [
        f"{entry}: /docker-entrypoint.d/ is not empty, will attempt to perform configuration",
        f"{entry}: Looking for shell scripts in /docker-entrypoint.d/",
        f"{entry}: Launching /docker-entrypoint.d/10-listen-on-ipv6-by-default.sh",
        "10-listen-on-ipv6-by-default.sh: info: Getting the checksum of "
        "/etc/nginx/conf.d/default.conf",
        "10-listen-on-ipv6-by-default.sh: info: Enabled listen on IPv6 in "
        "/etc/nginx/conf.d/default.conf",
        f"{entry}: Sourcing /docker-entrypoint.d/15-local-resolvers.envsh",
        f"{entry}: Launching /docker-entrypoint.d/20-envsubst-on-templates.sh",
        f"{entry}: Launching /docker-entrypoint.d/30-tune-worker-processes.sh",
        f"{entry}: Configuration complete; ready for start up",
        '[notice] 1#1: using the "epoll" event method',
        f"[notice] 1#1: nginx/{version}",
        "[notice] 1#1: built by gcc 12.2.0 (Debian 12.2.0-14)",
        "[notice] 1#1: OS: Linux",
        "[notice] 1#1: getrlimit(RLIMIT_NOFILE): 1048576:1048576",
        "[notice] 1#1: start worker processes",
        "[notice] 1#1: start worker process 29",
    ]


_SHELLS = ("sh", "bash", "ash", "dash", "busybox")
_SHELL_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


def _echo_lines(argv: Sequence[str], env: Mapping[str, str]) -> list[str] | None:
    """What ``echo`` in the container's command prints; None when it runs no echo."""
    if not argv:
        return None
    program = argv[0].rsplit("/", 1)[-1]
    if program == "echo":
        return [_echo_words(list(argv[1:]))]
    if program in _SHELLS and len(argv) >= 3 and argv[1].startswith("-") and "c" in argv[1]:
        lines: list[str] = []
        for command in _shell_commands(argv[2], env):
            if command and command[0].rsplit("/", 1)[-1] == "echo":
                lines.append(_echo_words(command[1:]))
        return lines or None
    return None


def _echo_words(words: list[str]) -> str:
    while words and words[0] in ("-n", "-e", "-E", "-ne", "-en"):
        words = words[1:]
    return " ".join(words)


def _shell_commands(script: str, env: Mapping[str, str]) -> list[list[str]]:
    """Simple commands of a ``sh -c`` script, split on ``;``, ``&&``, ``||``, ``|``, newlines
    and loop keywords, with ``$VAR`` outside single quotes expanded from ``env``."""
    commands: list[list[str]] = []
    for line in script.splitlines():
        try:
            lexer = shlex.shlex(_expand_shell_vars(line, env), posix=True, punctuation_chars=";&|")
            lexer.whitespace_split = True
            tokens = list(lexer)
        except ValueError:
            continue
        current: list[str] = []
        for token in tokens:
            if token in (";", "&&", "||", "|", "&", ";;"):
                commands.append(current)
                current = []
            elif not current and token in ("do", "then", "else", "{", "}", "done", "fi"):
                continue
            else:
                current.append(token)
        commands.append(current)
    return [command for command in commands if command]


def _expand_shell_vars(line: str, env: Mapping[str, str]) -> str:
    out: list[str] = []
    quoted = False
    index = 0
    while index < len(line):
        char = line[index]
        if char == "'":
            quoted = not quoted
        elif char == "$" and not quoted:
            match = _SHELL_VAR.match(line, index)
            if match:
                out.append(env.get(match.group(1) or match.group(2), ""))
                index = match.end()
                continue
        out.append(char)
        index += 1
    return "".join(out)
