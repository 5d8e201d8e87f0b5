"""A simulated container's insides, checked as data against the kubelet's rules."""

from __future__ import annotations

import base64
import json
import re
from fractions import Fraction
from typing import Any

import pytest

from podsim.envvars import (
    DEFAULT_PATH,
    container_env,
    expand,
    resource_value,
    service_link_variables,
)
from podsim.etcfiles import etc_hosts, hostname, resolv_conf
from podsim.quantity import parse_quantity
from podsim.startuplog import container_startup_lines
from podsim.volumes import container_files, volume_mounts

SERVICE_VARS_KUBERNETES = [
    ("KUBERNETES_SERVICE_HOST", "10.96.0.1"),
    ("KUBERNETES_SERVICE_PORT", "443"),
    ("KUBERNETES_SERVICE_PORT_HTTPS", "443"),
    ("KUBERNETES_PORT", "tcp://10.96.0.1:443"),
    ("KUBERNETES_PORT_443_TCP", "tcp://10.96.0.1:443"),
    ("KUBERNETES_PORT_443_TCP_PROTO", "tcp"),
    ("KUBERNETES_PORT_443_TCP_PORT", "443"),
    ("KUBERNETES_PORT_443_TCP_ADDR", "10.96.0.1"),
]
SERVICE_VARS_MY_SVC = [
    ("MY_SVC_SERVICE_HOST", "10.96.16.77"),
    ("MY_SVC_SERVICE_PORT", "80"),
    ("MY_SVC_SERVICE_PORT_HTTP", "80"),
    ("MY_SVC_PORT", "tcp://10.96.16.77:80"),
    ("MY_SVC_PORT_80_TCP", "tcp://10.96.16.77:80"),
    ("MY_SVC_PORT_80_TCP_PROTO", "tcp"),
    ("MY_SVC_PORT_80_TCP_PORT", "80"),
    ("MY_SVC_PORT_80_TCP_ADDR", "10.96.16.77"),
]


def service(
    name: str,
    cluster_ip: str = "10.96.5.5",
    ports: list[dict[str, Any]] | None = None,
    namespace: str = "kl-demo",
    created: str = "2026-11-27T08:00:00Z",
    **spec: Any,
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": created},
        "spec": {
            "clusterIP": cluster_ip,
            "clusterIPs": [cluster_ip],
            "ports": ports or [{"port": 8080, "protocol": "TCP", "targetPort": 8080}],
            "type": "ClusterIP",
            **spec,
        },
    }


def kuard(pod: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = pod["spec"]["containers"][0]
    return container


def env_of(pod: dict[str, Any], services: Any = (), refs: Any = None, **kw: Any) -> dict[str, str]:
    return dict(container_env(pod, "kuard", list(services), refs or {}, **kw))


# --- environment ----------------------------------------------------------------------------


def test_env_of_a_real_pod_in_order(
    pod: dict[str, Any], services: list[dict[str, Any]], refs: dict[str, Any]
) -> None:
    warnings: list[str] = []
    env = container_env(pod, "kuard", services, refs, warnings=warnings)
    assert env == [
        ("HOSTNAME", "kuard"),
        ("PATH", DEFAULT_PATH),
        *SERVICE_VARS_KUBERNETES,
        *SERVICE_VARS_MY_SVC,
        ("ANOTHER_PARAM", "another-value"),
        ("EXTRA_PARAM", "extra-value"),
        ("MY_POD_NAME", "kuard"),
        ("MY_POD_IP", "10.244.4.2"),
        ("MEM_LIMIT_MI", "256"),
        ("GREETING", "hi kuard on $(MY_POD_IP)"),
    ]
    assert warnings == []


def test_service_created_after_the_pod_started_is_not_in_env(
    pod: dict[str, Any], services: list[dict[str, Any]]
) -> None:
    late = service("late-svc", created="2026-11-27T08:13:28Z")
    same_second = service("same-second", created=pod["status"]["startTime"])
    env = env_of(pod, [*services, late, same_second])
    assert "LATE_SVC_SERVICE_HOST" not in env
    assert env["SAME_SECOND_SERVICE_HOST"] == "10.96.5.5"


def test_headless_external_and_foreign_services_give_no_variables(
    pod: dict[str, Any], services: list[dict[str, Any]]
) -> None:
    extra = [
        service("headless", cluster_ip="None"),
        {
            "metadata": {"name": "ext", "namespace": "kl-demo"},
            "spec": {"type": "ExternalName", "externalName": "example.com"},
        },
        service("elsewhere", namespace="other-ns"),
        service("dns", namespace="default"),
    ]
    names = set(env_of(pod, [*services, *extra]))
    assert not {n for n in names if n.startswith(("HEADLESS_", "EXT_", "ELSEWHERE_", "DNS_"))}


def test_enable_service_links_false_keeps_only_the_kubernetes_service(
    pod: dict[str, Any], services: list[dict[str, Any]]
) -> None:
    pod["spec"]["enableServiceLinks"] = False
    env = env_of(pod, services)
    assert env["KUBERNETES_SERVICE_HOST"] == "10.96.0.1"
    assert "MY_SVC_SERVICE_HOST" not in env


def test_kubernetes_service_variables_even_without_the_object(pod: dict[str, Any]) -> None:
    env = container_env(pod, "kuard", [], {})
    assert env[2 : 2 + len(SERVICE_VARS_KUBERNETES)] == SERVICE_VARS_KUBERNETES


def test_own_kubernetes_service_shadows_the_default_one(
    pod: dict[str, Any], services: list[dict[str, Any]]
) -> None:
    own = service("kubernetes", "10.96.9.9", [{"port": 80}])
    for order in ([*services, own], [own, *services]):
        assert env_of(pod, order)["KUBERNETES_SERVICE_HOST"] == "10.96.9.9"


def test_multi_port_udp_and_ipv6_service_variables(pod: dict[str, Any]) -> None:
    ports = [
        {"name": "dns", "port": 53, "protocol": "UDP"},
        {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
        {"name": "metrics", "port": 9153},
    ]
    variables = service_link_variables(service("my-dns", "10.96.0.20", ports))
    assert variables == [
        ("MY_DNS_SERVICE_HOST", "10.96.0.20"),
        ("MY_DNS_SERVICE_PORT", "53"),
        ("MY_DNS_SERVICE_PORT_DNS", "53"),
        ("MY_DNS_SERVICE_PORT_DNS_TCP", "53"),
        ("MY_DNS_SERVICE_PORT_METRICS", "9153"),
        ("MY_DNS_PORT", "udp://10.96.0.20:53"),
        ("MY_DNS_PORT_53_UDP", "udp://10.96.0.20:53"),
        ("MY_DNS_PORT_53_UDP_PROTO", "udp"),
        ("MY_DNS_PORT_53_UDP_PORT", "53"),
        ("MY_DNS_PORT_53_UDP_ADDR", "10.96.0.20"),
        ("MY_DNS_PORT_53_TCP", "tcp://10.96.0.20:53"),
        ("MY_DNS_PORT_53_TCP_PROTO", "tcp"),
        ("MY_DNS_PORT_53_TCP_PORT", "53"),
        ("MY_DNS_PORT_53_TCP_ADDR", "10.96.0.20"),
        ("MY_DNS_PORT_9153_TCP", "tcp://10.96.0.20:9153"),
        ("MY_DNS_PORT_9153_TCP_PROTO", "tcp"),
        ("MY_DNS_PORT_9153_TCP_PORT", "9153"),
        ("MY_DNS_PORT_9153_TCP_ADDR", "10.96.0.20"),
    ]
    v6 = dict(service_link_variables(service("v6", "fd00::12", [{"port": 80}])))
    assert v6["V6_PORT"] == "tcp://[fd00::12]:80"
    assert v6["V6_PORT_80_TCP_ADDR"] == "fd00::12"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$(A)-$(B)", "a-b"),
        ("$$(A)", "$(A)"),
        ("$$$(A)", "$a"),
        ("$(MISSING)", "$(MISSING)"),
        ("$(A", "$(A"),
        ("cost $5", "cost $5"),
        ("end$", "end$"),
        ("$(SVC)", "from-service"),
        ("$()", "$()"),
    ],
)
def test_dollar_expansion_follows_the_kubelet(text: str, expected: str) -> None:
    assert expand(text, {"A": "a", "B": "b"}, {"SVC": "from-service", "A": "shadowed"}) == expected


def test_env_expansion_sees_earlier_variables_and_services_only(
    pod: dict[str, Any], services: list[dict[str, Any]]
) -> None:
    kuard(pod)["env"] = [
        {"name": "URL", "value": "http://$(MY_SVC_SERVICE_HOST):$(MY_SVC_SERVICE_PORT)"},
        {"name": "EARLY", "value": "$(LATER)"},
        {"name": "LATER", "value": "x"},
        {"name": "EMPTY", "value": ""},
    ]
    env = env_of(pod, services)
    assert env["URL"] == "http://10.96.16.77:80"
    assert env["EARLY"] == "$(LATER)"
    assert env["EMPTY"] == ""


def test_env_from_prefix_secret_and_overrides(
    pod: dict[str, Any], services: list[dict[str, Any]], refs: dict[str, Any]
) -> None:
    refs["configmaps"]["bad-keys"] = {"ok": "1", "has=equals": "2"}
    kuard(pod)["envFrom"] = [
        {"configMapRef": {"name": "my-config"}, "prefix": "CFG_"},
        {"secretRef": {"name": "kuard-tls"}},
        {"configMapRef": {"name": "absent", "optional": True}},
        {"configMapRef": {"name": "absent-required"}},
        {"configMapRef": {"name": "bad-keys"}},
    ]
    kuard(pod)["env"] = [
        {"name": "CFG_my-key", "value": "overridden"},
        {"name": "MY_SVC_SERVICE_HOST", "value": "mine"},
    ]
    warnings: list[str] = []
    env = container_env(pod, "kuard", services, refs, warnings=warnings)
    names = [name for name, _ in env]
    as_dict = dict(env)
    assert as_dict["CFG_another-param"] == "another-value"
    assert as_dict["CFG_my-key"] == "overridden"
    assert as_dict["kuard.crt"] == "CERT"
    assert as_dict["MY_SVC_SERVICE_HOST"] == "mine"
    assert names.count("MY_SVC_SERVICE_HOST") == 1
    # declared variables come after the service variables
    assert names.index("MY_SVC_PORT") < names.index("CFG_another-param")
    assert as_dict["ok"] == "1" and "has=equals" not in as_dict
    assert any('configmap "absent-required" not found' in w for w in warnings)
    assert any("has=equals" in w for w in warnings)
    assert not any('"absent"' in w for w in warnings)


def test_field_refs(pod: dict[str, Any]) -> None:
    pod["status"]["podIPs"] = [{"ip": "10.244.4.2"}, {"ip": "fd00::4"}]
    fields = {
        "NAME": "metadata.name",
        "NS": "metadata.namespace",
        "UID": "metadata.uid",
        "APP": "metadata.labels['app']",
        "NOPE": "metadata.labels['nope']",
        "NOTE": "metadata.annotations['note']",
        "NODE": "spec.nodeName",
        "SA": "spec.serviceAccountName",
        "IP": "status.podIP",
        "IPS": "status.podIPs",
        "HOST_IP": "status.hostIP",
    }
    kuard(pod)["env"] = [
        {"name": name, "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": path}}}
        for name, path in fields.items()
    ]
    env = env_of(pod)
    assert {name: env[name] for name in fields} == {
        "NAME": "kuard",
        "NS": "kl-demo",
        "UID": "7ef460f5-1128-4a3d-983a-52de72471447",
        "APP": "kuard",
        "NOPE": "",
        "NOTE": "hello",
        "NODE": "worker-4",
        "SA": "default",
        "IP": "10.244.4.2",
        "IPS": "10.244.4.2,fd00::4",
        "HOST_IP": "",
    }


@pytest.mark.parametrize(
    ("resource", "divisor", "expected"),
    [
        ("limits.memory", "1Mi", "256"),
        ("limits.memory", None, str(256 * 2**20)),
        ("limits.cpu", None, "1"),
        ("limits.cpu", "1m", "1000"),
        ("requests.cpu", "1m", "500"),
        ("requests.cpu", None, "1"),  # 500m rounds up to one core
        ("requests.memory", "1M", "135"),  # 128Mi = 134.2M, rounded up
        ("limits.ephemeral-storage", "1Gi", "100"),  # no limit: node allocatable
    ],
)
def test_resource_field_refs(
    pod: dict[str, Any], resource: str, divisor: str | None, expected: str
) -> None:
    assert resource_value(pod, "kuard", resource, divisor) == expected


def test_resource_field_defaults_without_resources(pod: dict[str, Any]) -> None:
    kuard(pod)["resources"] = {}
    assert resource_value(pod, "kuard", "limits.cpu", "1m") == "2000"
    assert resource_value(pod, "kuard", "limits.memory", "1Gi") == "8"
    assert resource_value(pod, "kuard", "requests.memory") == "0"
    assert resource_value(pod, "kuard", "limits.nvidia.com/gpu") is None


def test_key_refs_decode_secrets_and_honour_optional(
    pod: dict[str, Any], refs: dict[str, Any]
) -> None:
    refs["secrets"]["db"] = {"password": base64.b64encode("s3cr3t ✓".encode()).decode()}
    kuard(pod)["env"] = [
        {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
        {
            "name": "OPT_KEY",
            "valueFrom": {"configMapKeyRef": {"name": "my-config", "key": "x", "optional": True}},
        },
        {
            "name": "OPT_MAP",
            "valueFrom": {"secretKeyRef": {"name": "none", "key": "x", "optional": True}},
        },
        {"name": "REQ_KEY", "valueFrom": {"configMapKeyRef": {"name": "my-config", "key": "x"}}},
    ]
    warnings: list[str] = []
    env = env_of(pod, refs=refs, warnings=warnings)
    assert env["PASSWORD"] == "s3cr3t ✓"
    assert not {"OPT_KEY", "OPT_MAP", "REQ_KEY"} & set(env)
    assert warnings == ["CreateContainerConfigError: couldn't find key x in configmap my-config"]


def test_unknown_container_is_a_key_error(pod: dict[str, Any]) -> None:
    with pytest.raises(KeyError, match="no container 'sidecar'"):
        container_env(pod, "sidecar", [], {})


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", Fraction(1, 2)),
        ("2", Fraction(2)),
        ("128Mi", Fraction(128 * 2**20)),
        ("1G", Fraction(10**9)),
        ("1.5Gi", Fraction(3 * 2**29)),
        ("1e3", Fraction(1000)),
        ("100n", Fraction(1, 10**7)),
    ],
)
def test_parse_quantity(text: str, value: Fraction) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "1.2.3", "5 Mi", "Mi", "1mi", "--1", "\u0661\u0662Mi"])
def test_parse_quantity_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_quantity(text)


def test_the_check_engine_reads_quantities_as_the_pods_do() -> None:
    # One parser (podsim.quantity) serves both; only the engine bounds exponents.
    from decimal import Decimal

    from labs.kubevalues import QuantityError, quantity_parse

    for text in ("500m", "1.5Gi", "1e3", "100n", "+2k"):
        assert quantity_parse(text) == Decimal(parse_quantity(text).numerator) / Decimal(
            parse_quantity(text).denominator
        )
    with pytest.raises(QuantityError, match="exponent out of range"):
        quantity_parse("1e99")
    assert parse_quantity("1e99") == 10**99


# --- DNS and host files ---------------------------------------------------------------------


def test_resolv_conf() -> None:
    assert resolv_conf("kl-demo") == (
        "search kl-demo.svc.cluster.local svc.cluster.local cluster.local\n"
        "nameserver 10.96.0.10\n"
        "options ndots:5\n"
    )


def test_etc_hosts_plain(pod: dict[str, Any]) -> None:
    assert etc_hosts(pod).splitlines() == [
        "# Kubernetes-managed hosts file.",
        "127.0.0.1\tlocalhost",
        "::1\tlocalhost ip6-localhost ip6-loopback",
        "fe00::0\tip6-localnet",
        "fe00::0\tip6-mcastprefix",
        "fe00::1\tip6-allnodes",
        "fe00::2\tip6-allrouters",
        "10.244.4.2\tkuard",
    ]


def test_hostname_subdomain_and_host_aliases(pod: dict[str, Any]) -> None:
    pod["spec"].update(
        hostname="web-0",
        subdomain="web",
        hostAliases=[{"ip": "10.1.2.3", "hostnames": ["foo.local", "bar.local"]}],
    )
    assert hostname(pod) == "web-0"
    hosts = etc_hosts(pod).splitlines()
    assert "10.244.4.2\tweb-0.web.kl-demo.svc.cluster.local\tweb-0" in hosts
    assert hosts[-2:] == ["# Entries added by HostAliases.", "10.1.2.3\tfoo.local\tbar.local"]
    pod["spec"]["setHostnameAsFQDN"] = True
    assert hostname(pod) == "web-0.web.kl-demo.svc.cluster.local"


def test_long_pod_name_is_truncated_for_the_hostname(pod: dict[str, Any]) -> None:
    pod["metadata"]["name"] = "a" * 62 + "-bcd"
    assert hostname(pod) == "a" * 62


# --- volumes --------------------------------------------------------------------------------


def test_volume_mounts_of_a_real_pod(pod: dict[str, Any], refs: dict[str, Any]) -> None:
    warnings: list[str] = []
    mounts = {m.mount_path: m for m in volume_mounts(pod, "kuard", refs, warnings=warnings)}
    assert warnings == []
    assert list(mounts) == [
        "/config",
        "/tls",
        "/scratch",
        "/etc/podinfo",
        "/var/run/secrets/kubernetes.io/serviceaccount",
    ]
    config = mounts["/config"]
    assert (config.kind, config.read_only, config.writable) == ("configMap", True, False)
    assert config.files == {
        "another-param": b"another-value",
        "extra-param": b"extra-value",
        "my-key": b"my-value",
    }
    assert set(config.modes.values()) == {0o644}
    assert mounts["/tls"].files == {"kuard.crt": b"CERT", "kuard.key": b"KEY"}
    scratch = mounts["/scratch"]
    assert (scratch.kind, scratch.writable, scratch.persistent, scratch.files) == (
        "emptyDir",
        True,
        True,
        {},
    )
    assert mounts["/etc/podinfo"].files == {
        "labels": b'app="kuard"\ncolor="blue"',
        "cpu_limit": b"1000",
    }
    account = mounts["/var/run/secrets/kubernetes.io/serviceaccount"]
    assert account.kind == "projected" and account.read_only
    assert account.files["namespace"] == b"kl-demo"
    assert account.files["ca.crt"].startswith(b"-----BEGIN CERTIFICATE-----")
    header, claims, signature = account.files["token"].decode().split(".")
    decoded = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    assert json.loads(base64.urlsafe_b64decode(header + "==="))["alg"] == "none"
    assert signature == ""
    assert decoded["sub"] == "system:serviceaccount:kl-demo:default"
    assert decoded["kubernetes.io"]["pod"]["name"] == "kuard"


def test_items_modes_sub_path_and_other_volume_types(
    pod: dict[str, Any], refs: dict[str, Any]
) -> None:
    pod["spec"]["volumes"] += [
        {
            "name": "picked",
            "configMap": {
                "name": "my-config",
                "defaultMode": 0o600,
                "items": [
                    {"key": "my-key", "path": "conf/app.conf"},
                    {"key": "extra-param", "path": "extra", "mode": 0o400},
                ],
            },
        },
        {"name": "logs", "hostPath": {"path": "/var/log"}},
        {"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
        {"name": "gone", "secret": {"secretName": "gone"}},
        {"name": "gone-ok", "secret": {"secretName": "gone", "optional": True}},
    ]
    kuard(pod)["volumeMounts"] = [
        {"name": "picked", "mountPath": "/etc/app"},
        {"name": "picked", "mountPath": "/etc/app.conf", "subPath": "conf/app.conf"},
        {"name": "logs", "mountPath": "/var/log/app", "readOnly": True},
        {"name": "data", "mountPath": "/data"},
        {"name": "gone", "mountPath": "/gone"},
        {"name": "gone-ok", "mountPath": "/gone-ok"},
        {"name": "no-such-volume", "mountPath": "/x"},
    ]
    warnings: list[str] = []
    mounts = volume_mounts(pod, "kuard", refs, warnings=warnings)
    by_path = {m.mount_path: m for m in mounts}
    assert by_path["/etc/app"].files == {"conf/app.conf": b"my-value", "extra": b"extra-value"}
    assert by_path["/etc/app"].modes == {"conf/app.conf": 0o600, "extra": 0o400}
    single = by_path["/etc/app.conf"]
    assert (single.sub_path, single.files) == ("conf/app.conf", {"": b"my-value"})
    logs = by_path["/var/log/app"]
    assert (logs.kind, logs.writable, logs.files) == ("hostPath", False, {})
    assert "empty directory" in logs.note
    assert by_path["/data"].kind == "persistentVolumeClaim" and by_path["/data"].writable
    assert by_path["/gone"].files == {} and by_path["/gone-ok"].files == {}
    assert "/x" not in by_path
    assert warnings == [
        'FailedMount: secret "gone" not found',
        "volumeMount no-such-volume: the pod has no volume of that name",
    ]


def test_sub_path_expr_uses_the_container_env(pod: dict[str, Any], refs: dict[str, Any]) -> None:
    kuard(pod)["volumeMounts"] = [
        {"name": "scratch", "mountPath": "/logs", "subPathExpr": "$(MY_POD_NAME)"}
    ]
    (mount,) = volume_mounts(pod, "kuard", refs)
    assert mount.sub_path == "kuard"


# --- start-up lines -------------------------------------------------------------------------


def test_kuard_startup_lines(pod: dict[str, Any]) -> None:
    lines = container_startup_lines(pod, "kuard")
    assert lines[0] == "Starting kuard version: v0.10.0-blue"
    assert lines[-1] == "Serving on HTTP on :8080"
    assert "Pod kuard in namespace kl-demo on node worker-4" in lines
    assert lines == container_startup_lines(pod, "kuard")


@pytest.mark.parametrize(
    ("image", "version"),
    [
        ("gcr.io/kuar-demo/kuard-amd64:1", "v0.10.0-1"),
        ("gcr.io/kuar-demo/kuard-amd64:v0.9.0-green", "v0.9.0-green"),
        ("kuard", "v0.10.0-blue"),
        ("localhost:5000/kuard@sha256:" + "0" * 64, "v0.10.0-blue"),
        ("kubelab-demoapp:purple", "v0.10.0-purple"),
    ],
)
def test_kuard_version_from_the_tag(pod: dict[str, Any], image: str, version: str) -> None:
    kuard(pod)["image"] = image
    assert container_startup_lines(pod, "kuard")[0] == f"Starting kuard version: {version}"


def test_kuard_without_tls_mount_says_so(pod: dict[str, Any]) -> None:
    kuard(pod)["volumeMounts"] = []
    assert "Could not find certificates to serve TLS" in container_startup_lines(pod, "kuard")


def test_nginx_startup_lines(pod: dict[str, Any]) -> None:
    kuard(pod)["image"] = "nginx:1.25.3-alpine"
    lines = container_startup_lines(pod, "kuard")
    assert lines[0].startswith("/docker-entrypoint.sh: ")
    assert "/docker-entrypoint.sh: Configuration complete; ready for start up" in lines
    assert "[notice] 1#1: nginx/1.25.3" in lines


@pytest.mark.parametrize(
    ("command", "args", "expected"),
    [
        (["echo"], ["hello", "world"], ["hello world"]),
        (["/bin/echo", "-n", "$(MY_POD_NAME)"], [], ["kuard"]),
        (["sh", "-c"], ["echo Hello Kubernetes! && sleep 3600"], ["Hello Kubernetes!"]),
        (
            ["/bin/sh", "-c", 'while true; do echo "pod $HOSTNAME"; sleep 5; done'],
            [],
            ["pod kuard"],
        ),
        (["sh", "-c", "echo '$HOME stays'; echo ${MY_POD_IP}"], [], ["$HOME stays", "10.244.4.2"]),
        (["bash", "-ec", "echo one\necho two"], [], ["one", "two"]),
        (["echo", "$(HOSTNAME)", "$HOSTNAME"], [], ["$(HOSTNAME) $HOSTNAME"]),
    ],
)
def test_echo_commands_print_their_words(
    pod: dict[str, Any], command: list[str], args: list[str], expected: list[str]
) -> None:
    kuard(pod).update(image="busybox:1.36", command=command, args=args)
    env = container_env(pod, "kuard", [], {})
    assert container_startup_lines(pod, "kuard", env=env) == expected


def test_other_containers_get_one_generic_line(pod: dict[str, Any]) -> None:
    kuard(pod).update(image="busybox:1.36", command=["sleep", "3600"])
    assert container_startup_lines(pod, "kuard") == [
        "Started container kuard (image busybox:1.36) sleep 3600"
    ]


def test_container_files_and_directories(pod: dict[str, Any], refs: dict[str, Any]) -> None:
    files, directories = container_files(pod, "kuard", refs)
    assert files["/etc/hostname"] == b"kuard\n"
    assert files["/etc/resolv.conf"] == resolv_conf("kl-demo").encode()
    assert files["/config/my-key"] == b"my-value"
    assert files["/tls/kuard.key"] == b"KEY"
    assert files["/var/run/secrets/kubernetes.io/serviceaccount/namespace"] == b"kl-demo"
    assert {"/", "/etc", "/config", "/scratch", "/var", "/var/run"} <= directories
    assert not set(files) & directories


def test_kuard_keygen_prints_its_work_as_the_books_jobs_show() -> None:
    pod: dict[str, Any] = {
        "metadata": {"name": "oneshot-x1", "namespace": "ns", "uid": "u-1"},
        "spec": {
            "nodeName": "worker-1",
            "containers": [
                {
                    "name": "kuard",
                    "image": "gcr.io/kuar-demo/kuard-amd64:blue",
                    "command": ["/kuard"],
                    "args": [
                        "--keygen-enable",
                        "--keygen-exit-on-complete",
                        "--keygen-num-to-gen=3",
                    ],
                }
            ],
        },
    }
    lines = container_startup_lines(pod, "kuard")
    work = lines[lines.index("(ID 0) Workload starting") :]
    assert [line.split(" Item done")[0] for line in work[1:4]] == [
        "(ID 0 1/3)", "(ID 0 2/3)", "(ID 0 3/3)",
    ]  # fmt: skip
    assert all(re.fullmatch(r".* Item done: SHA256:[A-Za-z0-9+/]{43}", line) for line in work[1:4])
    assert len(set(work[1:4])) == 3
    assert work[-1] == "(ID 0) Workload exiting"
    assert '"num-to-gen": 3' in "\n".join(lines)  # the printed config shows the flags
    # Another pod generates other keys; without --keygen-enable nothing is generated.
    other = {**pod, "metadata": {**pod["metadata"], "uid": "u-2"}}
    assert container_startup_lines(other, "kuard")[-2] != lines[-2]
    pod["spec"]["containers"][0]["args"] = []
    assert "(ID 0) Workload starting" not in container_startup_lines(pod, "kuard")
