"""Over the shoulder: an instructor's read-only view of one student's terminal and namespace
picture (404 for anyone but the instructors of a class the student is in), and what a student's
page asks to show who is watching them."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from classes.selectors import ClassroomNotFound, classroom_get_for_instructor
from classes.watching import student_watchable, watchers_of
from sandbox.picture_views import picture_object_response
from sandbox.selectors import sandbox_get_for_user


def _student(request: HttpRequest, classroom_id: int, user_id: int) -> Any:
    student = student_watchable(user=request.user, classroom_id=classroom_id, student_id=user_id)
    if student is None:
        raise Http404("no such student in your class")
    return student


@never_cache
@login_required
@require_GET
def shadow(request: HttpRequest, classroom_id: int, user_id: int) -> HttpResponse:
    student = _student(request, classroom_id, user_id)
    try:
        classroom = classroom_get_for_instructor(user=request.user, classroom_id=classroom_id)
    except ClassroomNotFound:
        raise Http404("no such class") from None
    base = f"/ws/classes/{classroom_id}/students/{user_id}"
    return render(
        request,
        "classes/watch.html",
        {
            "classroom": classroom,
            "student": student,
            "student_name": student.get_full_name() or student.get_username(),
            "terminal_ws_path": f"{base}/terminal/",
            "picture_ws_path": f"{base}/picture/",
            "picture_object_url": reverse("classes:shadow_object", args=[classroom_id, user_id]),
            "picture_readonly": True,
        },
    )


@never_cache
@login_required
@require_GET
def shadow_object(request: HttpRequest, classroom_id: int, user_id: int) -> HttpResponse:
    student = _student(request, classroom_id, user_id)
    environment = sandbox_get_for_user(user=student)
    if environment is None or not environment.namespace:
        raise Http404("no environment")
    return picture_object_response(
        request, namespace=environment.namespace, viewer_id=int(request.user.pk or 0)
    )


@never_cache
@login_required
@require_GET
def watched(request: HttpRequest) -> JsonResponse:
    """Who watches the signed-in learner now, and the sentence their page shows for it."""
    names = watchers_of(int(request.user.pk or 0))
    notice = (
        _(
            "%(names)s can see your terminal and namespace picture right now (read-only: "
            "nothing they do types into your shell)."
        )
        % {"names": ", ".join(names)}
        if names
        else ""
    )
    return JsonResponse({"watchers": names, "notice": notice})
