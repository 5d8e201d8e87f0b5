"""Cluster DNS answered from a pod's captured Services, the way the pod's resolver would ask.

Pure and offline: names are expanded with the pod's search path and ``ndots`` like glibc does,
each candidate is answered as CoreDNS would (Service A records, ExternalName CNAMEs, headless
Services without known endpoints, ``a-b-c-d.<ns>.pod`` names), and nothing outside
``cluster.local`` ever resolves, because the sandbox has no network.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from podsim.etcfiles import CLUSTER_DNS_IP, CLUSTER_DOMAIN, NDOTS, search_domains

TTL = 30
_LABEL = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$")
# The cluster DNS Service itself: pods always find it, even when services.json lacks it.
_BUILTIN = {f"kube-dns.kube-system.svc.{CLUSTER_DOMAIN}.": CLUSTER_DNS_IP}


@dataclass(frozen=True)
class Record:
    name: str
    type: str
    value: str


@dataclass(frozen=True)
class Lookup:
    """The answer for one query: status NOERROR or NXDOMAIN, the FQDN that answered (or the
    last one tried), every candidate tried with its status, and notes for the learner."""

    query: str
    status: str
    fqdn: str
    records: list[Record] = field(default_factory=list)
    tried: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def valid_name(name: str) -> bool:
    """Whether ``name`` is a syntactically valid DNS name (dots, letters, digits, - and _)."""
    stripped = name.rstrip(".") if name != "." else ""
    if not stripped or len(stripped) > 253:
        return False
    return all(_LABEL.match(label) for label in stripped.lower().split("."))


def candidates(name: str, namespace: str) -> list[str]:
    """The FQDNs a resolver with the pod's resolv.conf tries, in order."""
    name = name.lower()
    if name.endswith("."):
        return [name]
    expanded = [f"{name}.{domain}." for domain in search_domains(namespace)]
    if name.count(".") >= NDOTS:
        return [f"{name}.", *expanded]
    return [*expanded, f"{name}."]


def _answer(
    fqdn: str, services: Sequence[Mapping[str, Any]]
) -> tuple[str, list[Record], list[str]]:
    if fqdn in _BUILTIN:
        return "NOERROR", [Record(fqdn, "A", _BUILTIN[fqdn])], []
    for service in services:
        meta, spec = service.get("metadata") or {}, service.get("spec") or {}
        own = f"{meta.get('name')}.{meta.get('namespace')}.svc.{CLUSTER_DOMAIN}."
        if fqdn != own:
            continue
        if spec.get("type") == "ExternalName":
            target = str(spec.get("externalName", "")).rstrip(".") + "."
            return "NOERROR", [Record(fqdn, "CNAME", target)], []
        cluster_ip = spec.get("clusterIP") or ""
        if cluster_ip in ("", "None"):
            note = (
                f"{meta.get('name')} is a headless Service: its A records are the IPs of its "
                "ready pods, which this demo does not track"
            )
            return "NOERROR", [], [note]
        ips = [ip for ip in spec.get("clusterIPs") or [cluster_ip] if ":" not in ip]
        return "NOERROR", [Record(fqdn, "A", ip) for ip in ips], []
    pod = re.match(
        rf"^(\d+)-(\d+)-(\d+)-(\d+)\.[a-z0-9-]+\.pod\.{re.escape(CLUSTER_DOMAIN)}\.$", fqdn
    )
    if pod and all(int(part) < 256 for part in pod.groups()):
        return "NOERROR", [Record(fqdn, "A", ".".join(pod.groups()))], []
    return "NXDOMAIN", [], []


def lookup(name: str, namespace: str, services: Sequence[Mapping[str, Any]]) -> Lookup:
    """Resolve ``name`` (A records) as a pod in ``namespace`` would, from ``services`` only."""
    query = name.strip()
    tried: list[tuple[str, str]] = []
    nodata: tuple[str, list[str]] | None = None
    for fqdn in candidates(query, namespace):
        status, records, notes = _answer(fqdn, services)
        tried.append((fqdn, status if records or status == "NXDOMAIN" else "NODATA"))
        if records:
            return Lookup(query, "NOERROR", fqdn, records, tried, notes)
        if status == "NOERROR" and nodata is None:
            nodata = (fqdn, notes)
    if nodata:
        return Lookup(query, "NOERROR", nodata[0], [], tried, nodata[1])
    notes = []
    suffix = f".{CLUSTER_DOMAIN}."
    if not tried[-1][0].endswith(suffix) and not query.rstrip(".").endswith(CLUSTER_DOMAIN):
        notes.append("names outside cluster.local do not resolve here: the sandbox has no network")
    notes.append(
        f"this pod sees the Services of namespace {namespace} and default/kubernetes; "
        "a Service elsewhere needs its namespace in the name (my-svc.other-ns)"
    )
    return Lookup(query, "NXDOMAIN", tried[0][0], [], tried, notes)


def dig_output(result: Lookup, namespace: str) -> str:
    """The answer printed like ``dig +search``."""
    answers = len(result.records)
    query_id = zlib.crc32(result.query.encode()) & 0xFFFF
    lines = [
        f"; <<>> DiG 9.18 (kubelab demo) <<>> +search {result.query}",
        f";; search {' '.join(search_domains(namespace))} (options ndots:{NDOTS})",
    ]
    lines += [f";; tried {fqdn:<50} {status}" for fqdn, status in result.tried]
    lines += [
        ";; Got answer:",
        f";; ->>HEADER<<- opcode: QUERY, status: {result.status}, id: {query_id}",
        f";; flags: qr aa rd ra; QUERY: 1, ANSWER: {answers}, "
        f"AUTHORITY: {0 if answers else 1}, ADDITIONAL: 0",
        "",
        ";; QUESTION SECTION:",
        f";{result.fqdn}\t\tIN\tA",
        "",
    ]
    if answers:
        lines.append(";; ANSWER SECTION:")
        lines += [f"{r.name}\t{TTL}\tIN\t{r.type}\t{r.value}" for r in result.records]
    else:
        lines += [
            ";; AUTHORITY SECTION:",
            f"{CLUSTER_DOMAIN}.\t{TTL}\tIN\tSOA\tns.dns.{CLUSTER_DOMAIN}. "
            f"hostmaster.{CLUSTER_DOMAIN}. 1 7200 1800 86400 {TTL}",
        ]
    lines += ["", f";; SERVER: {CLUSTER_DNS_IP}#53({CLUSTER_DNS_IP}) (UDP)"]
    lines += [f";; note: {note}" for note in result.notes]
    return "\n".join(lines) + "\n"
