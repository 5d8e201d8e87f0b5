"""Refusals captured from a real API server, explained: the sentences a learner sees."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sandbox.explain import explain_denial

DENIALS = json.loads((Path(__file__).parent / "data" / "denials.json").read_text())


def _explain(name: str, asked: int | None = None) -> tuple[str, str]:
    explanation = explain_denial(DENIALS[name], asked=asked)
    assert explanation is not None, name
    return explanation.kind, explanation.sentence


def test_scaling_past_the_pod_quota_says_allowed_and_asked() -> None:
    kind, sentence = _explain("replicaset_event_pods_quota", asked=1000)
    assert kind == "quota"
    assert sentence.startswith("Your environment allows 20 pods; you asked for 1000.")
    assert "kubectl scale" in sentence


def test_one_pod_too_many() -> None:
    kind, sentence = _explain("kubectl_run_pods_quota")
    assert kind == "quota"
    assert sentence.startswith("Your environment allows 20 pods and already has 20.")


@pytest.mark.parametrize(
    ("name", "start"),
    [
        ("nodeport_quota", "Your environment allows 2 NodePort ports and already has 2."),
        ("deployments_quota", "Your environment allows 10 Deployments and already has 10."),
        ("configmaps_quota", "Your environment allows 20 ConfigMaps and already has 20."),
        (
            "cpu_requests_quota",
            "Your environment can reserve 2 CPU in total; 1800m is reserved already and this "
            "asks for 900m more.",
        ),
    ],
)
def test_other_quotas(name: str, start: str) -> None:
    kind, sentence = _explain(name)
    assert kind == "quota"
    assert sentence.startswith(start), sentence


def test_nodeport_hint_points_at_port_forward() -> None:
    assert "port-forward" in _explain("nodeport_quota")[1]


def test_critical_priority() -> None:
    kind, sentence = _explain("critical_priority")
    assert kind == "quota"
    assert "priorityClassName" in sentence


def test_limit_range() -> None:
    kind, sentence = _explain("limit_range_max")
    assert kind == "limit"
    assert sentence == (
        "In your environment each container may use at most 1 cpu, and this one asks for 2; "
        "each container may use at most 1Gi memory, and this one asks for 2Gi."
    )


def test_pod_security() -> None:
    kind, sentence = _explain("pod_security_privileged")
    assert kind == "pod-security"
    assert "baseline Pod Security standard" in sentence
    assert "securityContext.privileged=true" in sentence
    assert "hostNetwork=true" in _explain("pod_security_host")[1]


@pytest.mark.parametrize(
    ("name", "start"),
    [
        (
            "rbac_secrets_kube_system",
            'Your account may not list secrets in the namespace "kube-system".',
        ),
        ("rbac_label_node", "Your account may not patch nodes across the cluster."),
    ],
)
def test_rbac(name: str, start: str) -> None:
    kind, sentence = _explain(name)
    assert kind == "forbidden"
    assert sentence.startswith(start)


def test_impersonation_is_a_plain_refusal() -> None:
    assert _explain("rbac_impersonate")[0] == "forbidden"


def test_terminating_namespace() -> None:
    kind, sentence = _explain("namespace_terminating")
    assert kind == "terminating"
    assert "scratch-term" in sentence


@pytest.mark.parametrize(
    "message",
    ["", 'error: the server doesn\'t have a resource type "pdos"', "connection refused"],
)
def test_unknown_messages_are_left_alone(message: str) -> None:
    assert explain_denial(message) is None


def test_every_captured_denial_is_explained() -> None:
    for name, message in DENIALS.items():
        if not name.startswith("_"):
            assert explain_denial(message) is not None, name
