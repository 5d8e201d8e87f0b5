"""Reads of learner environments; `sandbox_get_for_user` is the one access check."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils import translation

import k8s
from kubelab.access import user_standing
from sandbox.explain import explain_denial
from sandbox.models import LearnerEnvironment


def sandbox_get_for_user(*, user: Any) -> LearnerEnvironment | None:
    """The environment `user` may use: their own, or None (anonymous, inactive, or none yet).

    Every view, consumer and service that acts on a learner's environment gets it from here;
    there is no way to reach another learner's environment through the sandbox app.
    """
    if user_standing(user) != "active":
        return None
    return LearnerEnvironment.objects.filter(user_id=user.pk).first()


def sandbox_namespaces() -> list[tuple[str, int]]:
    """(namespace, user id) for every environment that currently has a namespace."""
    rows = LearnerEnvironment.objects.filter(namespace__isnull=False).values_list(
        "namespace", "user_id"
    )
    return [(str(namespace), int(user_id)) for namespace, user_id in rows]


def sandbox_status_view(*, environment: LearnerEnvironment | None) -> dict[str, Any]:
    """The JSON the pages show: state, namespace, and a sentence when it is not ready."""
    if environment is None:
        return {"status": "none", "namespace": None, "message": "No environment yet."}
    return {
        "status": environment.status,
        "namespace": environment.namespace if environment.status == "ready" else None,
        "message": environment.detail,
        "last_active_at": environment.last_active_at.isoformat(),
        "token_expires_at": (
            environment.token_expires_at.isoformat() if environment.token_expires_at else None
        ),
        "resets": environment.resets,
    }


def explained_in_every_language(message: str, *, asked: int | None = None) -> dict[str, str]:
    """{"en": sentence, "zh-hant": sentence, ...}, or {} when kubelab does not know the refusal:
    for live notices, which reach pages in any language (as check messages do)."""
    sentences: dict[str, str] = {}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            explanation = explain_denial(message, asked=asked, translate=translation.gettext)
        if explanation is None:
            return {}
        sentences[code] = explanation.sentence
    return sentences


def event_time(event: dict[str, Any]) -> str:
    return str(
        event.get("lastTimestamp")
        or event.get("eventTime")
        or (event.get("metadata") or {}).get("creationTimestamp")
        or ""
    )


def _workload_of(kind: str, name: str, namespace: str) -> tuple[str, int | None]:
    """`deployment/x` and its wanted replicas for a ReplicaSet; the object itself otherwise."""
    if kind != "ReplicaSet":
        return f"{kind.lower()}/{name}", None
    rs = k8s.object_get(api_version="apps/v1", kind="ReplicaSet", name=name, namespace=namespace)
    if rs is None:
        return f"replicaset/{name}", None
    wanted = int((rs.get("spec") or {}).get("replicas") or 0)
    have = int((rs.get("status") or {}).get("replicas") or 0)
    if have >= wanted:
        return "", None  # the shortfall is over; the event is history
    owners = (rs.get("metadata") or {}).get("ownerReferences") or []
    owner = next((o for o in owners if o.get("kind") == "Deployment"), None)
    label = f"deployment/{owner['name']}" if owner else f"replicaset/{name}"
    return label, wanted


def sandbox_denials(*, environment: LearnerEnvironment | None) -> list[dict[str, Any]]:
    """Why controllers in the learner's namespace cannot create what was asked, explained.

    Reads recent FailedCreate warnings (a Deployment scaled past the pod quota, say) and turns
    each into a sentence: "Your environment allows 20 pods; you asked for 1000."
    """
    if environment is None or environment.status != "ready" or not environment.namespace:
        return []
    namespace = environment.namespace
    events = k8s.objects_query(
        api_version="v1", kind="Event", namespace=namespace, field_selector="type=Warning"
    )
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for event in events:
        if event.get("reason") != "FailedCreate":
            continue
        involved = event.get("involvedObject") or {}
        key = (str(involved.get("kind", "")), str(involved.get("name", "")))
        if key not in latest or event_time(event) > event_time(latest[key]):
            latest[key] = event
    found = []
    for (kind, name), event in sorted(latest.items()):
        workload, asked = _workload_of(kind, name, namespace)
        if not workload:
            continue
        message = str(event.get("message") or "")
        explanation = explain_denial(message, asked=asked, translate=translation.gettext)
        found.append(
            {
                "object": workload,
                "message": message,
                "kind": explanation.kind if explanation else "other",
                "explanation": explanation.sentence if explanation else message,
                # Every language's, for live notices (pages of either language get them).
                "explanations": explained_in_every_language(message, asked=asked),
                "at": event_time(event),
            }
        )
    return found
