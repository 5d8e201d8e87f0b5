"""Thin HTTP views of "Ask for help": the learner's ask/cancel on an exercise, the open requests
of a class for its live gradebook, and an instructor's "Mark as helped". Each answers JSON to
the page's fetches (``Accept: application/json``) and redirects back without JavaScript."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from classes.help import (
    HelpNotFound,
    help_ask,
    help_cancel,
    help_close_by_instructor,
    help_may_ask,
    help_open_for_class,
)
from classes.models import Classroom
from classes.selectors import ClassroomNotFound, classroom_get_for_instructor
from kubelab.limited import limited_response
from kubelab.ratelimit import RateLimited, rate_limit_take


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _classroom(request: HttpRequest, classroom_id: int) -> Classroom:
    try:
        return classroom_get_for_instructor(user=request.user, classroom_id=classroom_id)
    except ClassroomNotFound:
        raise Http404("no such class") from None


@login_required
@require_POST
def help_toggle(request: HttpRequest, lab: str, exercise: str) -> HttpResponse:
    """``action=ask`` (the default) opens a request, ``action=cancel`` withdraws it. Explicit
    rather than a flip, so a double click or two tabs never undo each other."""
    # Checked before the rate limit, so an unknown lab answers 404 however often it is asked.
    if not help_may_ask(user=request.user, lab=lab, exercise=exercise):
        raise Http404(f"no exercise {lab}/{exercise}")
    try:
        rate_limit_take(scope="help", key=f"user:{request.user.pk}")
    except RateLimited as exc:
        return limited_response(request, exc)
    try:
        if request.POST.get("action") == "cancel":
            help_cancel(user=request.user, lab=lab, exercise=exercise)
            is_open = False
        else:
            help_ask(user=request.user, lab=lab, exercise=exercise)
            is_open = True
    except HelpNotFound:
        raise Http404(f"no exercise {lab}/{exercise}") from None
    if _wants_json(request):
        return JsonResponse({"lab": lab, "exercise": exercise, "open": is_open})
    return redirect(reverse("labs:exercise", args=[lab, exercise]))


@never_cache
@login_required
@require_GET
def help_open(request: HttpRequest, classroom_id: int) -> JsonResponse:
    """The class's open requests, which the live gradebook re-reads on every (re)connect."""
    classroom = _classroom(request, classroom_id)
    found = help_open_for_class(classroom=classroom)
    return JsonResponse(
        {
            "open": [
                {"student": student, "exercise": f"{lab}/{exercise}", "asked_at": at.isoformat()}
                for (student, lab, exercise), at in sorted(found.items(), key=lambda i: i[1])
            ]
        }
    )


@login_required
@require_POST
def helped(request: HttpRequest, classroom_id: int) -> HttpResponse:
    """An instructor of the class marks a student's request helped (fields: student, lab,
    exercise). Anyone else, and a student or lab not of this class, is a 404."""
    classroom = _classroom(request, classroom_id)
    try:
        student_id = int(request.POST.get("student", ""))
    except ValueError:
        raise Http404("no such student") from None
    lab, exercise = request.POST.get("lab", ""), request.POST.get("exercise", "")
    try:
        help_close_by_instructor(
            classroom=classroom,
            student_id=student_id,
            lab=lab,
            exercise=exercise,
            instructor=request.user,
        )
    except HelpNotFound:
        raise Http404("no such student or lab in this class") from None
    if _wants_json(request):
        return JsonResponse({"student": student_id, "exercise": f"{lab}/{exercise}", "open": False})
    return redirect("classes:detail", classroom.pk)
