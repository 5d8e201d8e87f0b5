"""Cluster DNS from a pod's point of view, answered from its captured Services only."""

from __future__ import annotations

from typing import Any

import pytest

from podsim import dns


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "my-svc",
            [
                "my-svc.kl-demo.svc.cluster.local.",
                "my-svc.svc.cluster.local.",
                "my-svc.cluster.local.",
                "my-svc.",
            ],
        ),
        ("Example.COM.", ["example.com."]),
        (
            "a.b.c.d.e.f",
            [
                "a.b.c.d.e.f.",
                "a.b.c.d.e.f.kl-demo.svc.cluster.local.",
                "a.b.c.d.e.f.svc.cluster.local.",
                "a.b.c.d.e.f.cluster.local.",
            ],
        ),
    ],
)
def test_search_path_and_ndots(name: str, expected: list[str]) -> None:
    assert dns.candidates(name, "kl-demo") == expected


@pytest.mark.parametrize(
    ("name", "fqdn", "ip"),
    [
        ("kubernetes", None, None),  # the pod's own namespace has no such Service
        ("kubernetes.default", "kubernetes.default.svc.cluster.local.", "10.96.0.1"),
        ("kubernetes.default.svc", "kubernetes.default.svc.cluster.local.", "10.96.0.1"),
        ("my-svc", "my-svc.kl-demo.svc.cluster.local.", "10.96.16.77"),
        ("my-svc.kl-demo", "my-svc.kl-demo.svc.cluster.local.", "10.96.16.77"),
        ("my-svc.kl-demo.svc.cluster.local", "my-svc.kl-demo.svc.cluster.local.", "10.96.16.77"),
        ("MY-SVC.kl-demo.svc.cluster.local.", "my-svc.kl-demo.svc.cluster.local.", "10.96.16.77"),
        ("kube-dns.kube-system", "kube-dns.kube-system.svc.cluster.local.", "10.96.0.10"),
        ("10-244-4-2.kl-demo.pod", "10-244-4-2.kl-demo.pod.cluster.local.", "10.244.4.2"),
    ],
)
def test_lookup(
    services: list[dict[str, Any]], name: str, fqdn: str | None, ip: str | None
) -> None:
    result = dns.lookup(name, "kl-demo", services)
    if ip is None:
        assert result.status == "NXDOMAIN" and result.records == []
        return
    assert result.status == "NOERROR"
    assert result.fqdn == fqdn
    assert [(r.type, r.value) for r in result.records] == [("A", ip)]


def test_kubernetes_resolves_in_the_default_namespace(services: list[dict[str, Any]]) -> None:
    assert dns.lookup("kubernetes", "default", services).records[0].value == "10.96.0.1"


def test_unknown_and_outside_names_are_nxdomain_with_a_reason(
    services: list[dict[str, Any]],
) -> None:
    unknown = dns.lookup("nope", "kl-demo", services)
    assert unknown.status == "NXDOMAIN"
    assert [status for _, status in unknown.tried] == ["NXDOMAIN"] * 4
    outside = dns.lookup("example.com", "kl-demo", services)
    assert any("no network" in note for note in outside.notes)
    text = dns.dig_output(unknown, "kl-demo")
    assert "status: NXDOMAIN" in text and "AUTHORITY SECTION" in text


def test_headless_and_external_name(services: list[dict[str, Any]]) -> None:
    services += [
        {
            "metadata": {"name": "db", "namespace": "kl-demo"},
            "spec": {"clusterIP": "None", "ports": [{"port": 5432}]},
        },
        {
            "metadata": {"name": "ext", "namespace": "kl-demo"},
            "spec": {"type": "ExternalName", "externalName": "api.example.com"},
        },
    ]
    headless = dns.lookup("db", "kl-demo", services)
    assert (headless.status, headless.records) == ("NOERROR", [])
    assert "headless" in headless.notes[0]
    external = dns.lookup("ext", "kl-demo", services)
    assert [(r.type, r.value) for r in external.records] == [("CNAME", "api.example.com.")]


def test_dig_output_answer(services: list[dict[str, Any]]) -> None:
    text = dns.dig_output(dns.lookup("my-svc", "kl-demo", services), "kl-demo")
    assert "status: NOERROR" in text
    assert "my-svc.kl-demo.svc.cluster.local.\t30\tIN\tA\t10.96.16.77" in text
    assert text == dns.dig_output(dns.lookup("my-svc", "kl-demo", services), "kl-demo")


@pytest.mark.parametrize("name", ["", ".", "a..b", "-bad", "bad-", "x" * 64, "sp ace", "a/b"])
def test_invalid_names(name: str) -> None:
    assert not dns.valid_name(name)
