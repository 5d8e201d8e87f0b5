"""The container's environment as the kubelet computes it: ``$(VAR)`` expansion, Service link
variables, downward-API and resource fields, ConfigMap and Secret references, and
``container_env``, which puts them together in the kubelet's order. Pure, stdlib only (see
podsim.container for the inputs and the ``warnings`` convention).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

from podsim.container import (
    JSON,
    decode_secret,
    parse_timestamp,
    pod_container,
    pod_meta,
    pod_spec,
    pod_status,
    warn,
)
from podsim.etcfiles import hostname
from podsim.quantity import parse_quantity

EnvList = list[tuple[str, str]]

# What the common base images (debian, alpine, busybox) put in PATH.
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# The embedded cluster's kwok nodes; the kubelet defaults missing limits to node allocatable.
NODE_ALLOCATABLE = {"cpu": "2", "memory": "8Gi", "ephemeral-storage": "100Gi"}
MASTER_SERVICE = "kubernetes"
# What default/kubernetes is on every cluster kubelab makes, used when services.json lacks it.
DEFAULT_MASTER_SERVICE: JSON = {
    "metadata": {"name": MASTER_SERVICE, "namespace": "default"},
    "spec": {
        "clusterIP": "10.96.0.1",
        "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}],
    },
}


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
    namespace = pod_meta(pod).get("namespace", "default")
    links = pod_spec(pod).get("enableServiceLinks") is not False
    started = parse_timestamp(pod_status(pod).get("startTime"))
    chosen: dict[str, Mapping[str, Any]] = {}
    for service in services:
        if not _service_ip_set(service):
            continue
        meta = service.get("metadata") or {}
        created = parse_timestamp(meta.get("creationTimestamp"))
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
    meta, spec, status = pod_meta(pod), pod_spec(pod), pod_status(pod)
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
    return decode_secret(encoded).decode("utf-8", errors="replace")


def _valid_env_name(name: str) -> bool:
    # RelaxedEnvironmentVariableValidation: any printable ASCII except "=".
    return bool(name) and all(" " <= ch <= "~" and ch != "=" for ch in name)


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
    namespace = pod_meta(pod).get("namespace", "default")
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
                    warn(
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
                warn(
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
            warn(warnings, f"env {name}: unsupported fieldRef fieldPath {path!r}")
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
            warn(warnings, f"env {name}: unsupported resourceFieldRef {ref.get('resource')!r}")
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
                warn(warnings, f'CreateContainerConfigError: {label} "{ref.get("name")}" not found')
            return None
        key = str(ref.get("key", ""))
        if key not in store:
            if not optional:
                warn(
                    warnings,
                    f"CreateContainerConfigError: couldn't find key {key} in "
                    f"{label} {ref.get('name')}",
                )
            return None
        return _secret_text(store[key]) if label == "secret" else str(store[key])
    warn(warnings, f"env {name}: unsupported valueFrom {sorted(source)}")
    return None
