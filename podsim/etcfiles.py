"""The files the kubelet writes into every container (/etc/resolv.conf, /etc/hosts,
/etc/hostname) and the cluster DNS settings they carry, which podsim.dns resolves with too.
Pure, stdlib only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from podsim.container import pod_meta, pod_spec, pod_status

CLUSTER_DOMAIN = "cluster.local"
CLUSTER_DNS_IP = "10.96.0.10"
NDOTS = 5


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
    spec = pod_spec(pod)
    name = str(spec.get("hostname") or pod_meta(pod).get("name", ""))
    if len(name) > 63:
        name = name[:63].rstrip("-.")
    domain = host_domain(pod)
    if spec.get("setHostnameAsFQDN") and domain:
        return f"{name}.{domain}"
    return name


def host_domain(pod: Mapping[str, Any]) -> str:
    """``<subdomain>.<namespace>.svc.cluster.local`` when ``spec.subdomain`` is set, else ''."""
    subdomain = pod_spec(pod).get("subdomain")
    if not subdomain:
        return ""
    return f"{subdomain}.{pod_meta(pod).get('namespace', 'default')}.svc.{CLUSTER_DOMAIN}"


def etc_hosts(pod: Mapping[str, Any]) -> str:
    """The kubelet-managed /etc/hosts: localhost lines, the pod's IPs, then hostAliases."""
    spec, status = pod_spec(pod), pod_status(pod)
    short = str(spec.get("hostname") or pod_meta(pod).get("name", ""))[:63].rstrip("-.")
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
