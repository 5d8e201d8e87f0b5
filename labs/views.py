"""Thin HTTP views for exercises: the Check button, hints, auto-check, the panel partial and an
attempt's JSON. Access to attempts goes through ``attempt_get_for_user`` only."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from kubelab.limited import limited_response
from kubelab.ratelimit import RateLimited, rate_limit_take
from labs.library import LabNotFound, lab_resolve, lab_version_for
from labs.models import Attempt, Trigger
from labs.selectors import (
    ExerciseNotFound,
    attempt_get_for_user,
    attempt_payload,
    exercise_get,
    lab_checklists,
    text_for,
)
from labs.services import (
    attempt_check_request,
    attempt_get_or_create,
    attempt_hint_reveal,
    lab_auto_check_enable,
)


def _version_or_404(request: HttpRequest, lab: str) -> int:
    """The version of the lab this user works on; an authored lab that is not theirs (no class
    of theirs uses it, and they are not its author) is a 404 like a lab that does not exist."""
    version = lab_version_for(user=request.user, slug=lab)
    if version is None:
        raise Http404(f"no lab {lab}")
    return version


def _exercise_or_404(request: HttpRequest, lab: str, exercise: str) -> int:
    version = _version_or_404(request, lab)
    try:
        exercise_get(lab_slug=lab, exercise_id=exercise, version=version)
    except ExerciseNotFound:
        raise Http404(f"no exercise {lab}/{exercise}") from None
    return version


@require_GET
def exercise_redirect(request: HttpRequest, lab: str, exercise: str) -> HttpResponse:
    """Where lessons' exercise: links land: the chapter page, scrolled to the exercise."""
    version = _exercise_or_404(request, lab, exercise)
    chapter = lab_resolve(slug=lab, version=version).chapter
    return redirect(f"{reverse('tutorials:chapter', args=[chapter])}#exercise-{lab}-{exercise}")


@login_required
@require_POST
def check(request: HttpRequest, lab: str, exercise: str) -> HttpResponse:
    version = _exercise_or_404(request, lab, exercise)
    try:
        rate_limit_take(scope="check", key=f"user:{request.user.pk}")
    except RateLimited as exc:
        return limited_response(request, exc)
    attempt = attempt_get_or_create(
        user=request.user, lab_slug=lab, exercise_id=exercise, version=version
    )
    generation = attempt_check_request(attempt=attempt, trigger=Trigger.BUTTON)
    return JsonResponse(
        {"attempt": attempt.pk, "exercise": attempt.exercise_key, "generation": generation},
        status=202,
    )


@login_required
@require_POST
def hint(request: HttpRequest, lab: str, exercise: str) -> HttpResponse:
    version = _exercise_or_404(request, lab, exercise)
    try:
        rate_limit_take(scope="hint", key=f"user:{request.user.pk}")
    except RateLimited as exc:
        return limited_response(request, exc)
    attempt = attempt_get_or_create(
        user=request.user, lab_slug=lab, exercise_id=exercise, version=version
    )
    revealed = attempt_hint_reveal(attempt=attempt)
    _, spec = exercise_get(lab_slug=lab, exercise_id=exercise, version=version)
    from tutorials.rendering import markdown_render

    language = get_language()
    hints = [
        markdown_render(text_for(h, language), language=language).html
        for h in spec.hints[:revealed]
    ]
    return JsonResponse({"revealed": revealed, "total": len(spec.hints), "hints": hints})


@login_required
@require_POST
def setup(request: HttpRequest, lab: str, exercise: str) -> HttpResponse:
    """Run an imported scenario's setup for this step in the learner's namespace (queued)."""
    from labs.learner_setup import SetupUnavailable, exercise_setup_request

    version = _exercise_or_404(request, lab, exercise)
    try:
        rate_limit_take(scope="setup", key=f"user:{request.user.pk}")
    except RateLimited as exc:
        return limited_response(request, exc)
    try:
        exercise_setup_request(
            user=request.user, lab_slug=lab, exercise_id=exercise, version=version
        )
    except SetupUnavailable:
        raise Http404(f"{lab}/{exercise} has no setup to run") from None
    return JsonResponse({"exercise": f"{lab}/{exercise}", "queued": True}, status=202)


@login_required
@require_POST
def auto_check(request: HttpRequest, lab: str) -> HttpResponse:
    version = _version_or_404(request, lab)
    try:
        rate_limit_take(scope="auto-check", key=f"user:{request.user.pk}")
    except RateLimited as exc:
        return limited_response(request, exc)
    try:
        attempts = lab_auto_check_enable(user=request.user, lab_slug=lab, version=version)
    except LabNotFound:
        raise Http404(f"no lab {lab}") from None
    return JsonResponse({"lab": lab, "attempts": {a.exercise_key: a.pk for a in attempts}})


@never_cache
@require_GET
def panel(request: HttpRequest, lab: str, exercise: str) -> HttpResponse:
    """One exercise of the checklist, re-rendered (after a result changes what it shows)."""
    _exercise_or_404(request, lab, exercise)
    checklist = lab_checklists(
        user=request.user, exercise_ids=[f"{lab}/{exercise}"], language=get_language()
    )[0]
    row = next(e for e in checklist.exercises if e.id == exercise)
    return render(request, "labs/_exercise.html", {"ex": row})


@never_cache
@login_required
@require_GET
def attempt_detail(request: HttpRequest, attempt_id: int) -> JsonResponse:
    try:
        attempt = attempt_get_for_user(user=request.user, attempt_id=attempt_id)
    except Attempt.DoesNotExist:
        raise Http404("no such attempt") from None
    except PermissionDenied:
        raise
    return JsonResponse(attempt_payload(attempt=attempt, run=attempt.last_run))
