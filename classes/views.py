"""Thin HTTP views of classes: lists, joining, the gradebook, grading the class, exports.
Every class page reaches its class through ``classroom_get_for_instructor`` (404 otherwise)."""

from __future__ import annotations

import json
from datetime import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.selectors import user_is_guest
from classes.cells import CellNotFound, cell_shown
from classes.codes import InvalidCode, code_display, code_normalise
from classes.deadlines import DeadlineError, deadline_set, extension_grant, extension_revoke
from classes.export import export_filename, gradebook_csv, gradebook_json
from classes.extras import gradebook_extras
from classes.forms import ClassroomForm, InstructorForm, JoinForm, join_code_problem
from classes.gradebook import Gradebook
from classes.labs import class_lab_values, lab_choices
from classes.models import Classroom
from classes.selectors import (
    ClassroomNotFound,
    classroom_by_code,
    classroom_get_for_instructor,
    classrooms_joined,
    classrooms_taught,
    deadline_rows,
    gradebook_get,
    run_progress,
    user_is_instructor,
)
from classes.services import (
    ClassError,
    GuestCannotJoin,
    class_grade_request,
    classroom_create,
    classroom_join,
    classroom_update,
    guest_join_refusal,
    instructor_add,
    instructor_remove,
    join_code_regenerate,
    join_set_open,
    student_remove,
)


def _classroom(request: HttpRequest, classroom_id: int) -> Classroom:
    try:
        return classroom_get_for_instructor(user=request.user, classroom_id=classroom_id)
    except ClassroomNotFound:
        raise Http404("no such class") from None


def _join_url(request: HttpRequest, classroom: Classroom) -> str:
    path = reverse("classes:join_code", args=[code_display(classroom.join_code)])
    return request.build_absolute_uri(path)


@login_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "classes/index.html",
        {
            "is_instructor": user_is_instructor(user=request.user),
            "taught": classrooms_taught(user=request.user),
            "joined": classrooms_joined(user=request.user),
            "join_form": JoinForm(),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def create(request: HttpRequest) -> HttpResponse:
    if not user_is_instructor(user=request.user):
        raise Http404("only instructors create classes")
    form = ClassroomForm(
        request.POST or None, lab_choices=lab_choices(user=request.user, language=get_language())
    )
    if request.method == "POST" and form.is_valid():
        try:
            classroom = classroom_create(
                owner=request.user, name=form.cleaned_data["name"], labs=form.cleaned_data["labs"]
            )
        except ClassError as exc:
            form.add_error(None, str(exc))
        else:
            return redirect("classes:detail", classroom.pk)
    return render(request, "classes/form.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def join(request: HttpRequest) -> HttpResponse:
    """Paste a code (POST); the same page explains what is wrong with a bad one."""
    form = JoinForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            joined = classroom_join(user=request.user, code=form.cleaned_data["code"])
        except ClassError as exc:
            form.add_error("code", str(exc))
        else:
            _joined_message(request, joined.classroom, joined.created)
            return redirect("classes:index")
    return render(request, "classes/join.html", {"form": form}, status=400 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def join_code(request: HttpRequest, code: str) -> HttpResponse:
    """The join link: GET shows the class and a Join button, POST (CSRF-checked) joins."""
    try:
        normalised = code_normalise(code)
    except InvalidCode as exc:
        return _join_error(request, join_code_problem(exc))
    if request.method == "POST":
        try:
            joined = classroom_join(user=request.user, code=normalised)
        except GuestCannotJoin as exc:
            return _join_error(request, str(exc), status=403)
        except ClassError as exc:
            return _join_error(request, str(exc))
        _joined_message(request, joined.classroom, joined.created)
        return redirect("classes:index")
    if user_is_guest(user=request.user):
        return _join_error(request, guest_join_refusal(), status=403)
    classroom = classroom_by_code(code=normalised)
    if classroom is None:
        return _join_error(
            request, _("No class has this join code. Check the code with your instructor.")
        )
    already = classroom.enrollments.filter(student_id=request.user.pk).exists()
    if not classroom.join_open and not already:
        return _join_error(
            request, _("This class is not accepting new students; ask your instructor.")
        )
    return render(
        request,
        "classes/join_confirm.html",
        {"classroom": classroom, "code": code_display(normalised), "already": already},
    )


def _join_error(request: HttpRequest, message: str, *, status: int = 404) -> HttpResponse:
    form = JoinForm()
    return render(request, "classes/join.html", {"form": form, "error": message}, status=status)


def _joined_message(request: HttpRequest, classroom: Classroom, created: bool) -> None:
    if created:
        messages.success(request, _("You joined %(name)s.") % {"name": classroom.name})
    else:
        messages.info(request, _("You are already in %(name)s.") % {"name": classroom.name})


@never_cache
@login_required
@require_GET
def detail(request: HttpRequest, classroom_id: int) -> HttpResponse:
    classroom = _classroom(request, classroom_id)
    book = gradebook_get(classroom=classroom, language=get_language())
    rows = book.rows()
    return render(
        request,
        "classes/detail.html",
        {
            "classroom": classroom,
            "book": book,
            "rows": rows,
            "extras": gradebook_extras(classroom, [row.student.id for row in rows]),
            "join_url": _join_url(request, classroom),
            "join_code": code_display(classroom.join_code),
        },
    )


@never_cache
@login_required
@require_GET
def cell(
    request: HttpRequest, classroom_id: int, user_id: int, lab: str, exercise: str
) -> HttpResponse:
    """One cell opened: the newest grading's checks and the objects it read."""
    classroom = _classroom(request, classroom_id)
    try:
        shown = cell_shown(
            classroom=classroom, student_id=user_id, lab=lab, exercise=exercise,
            language=get_language(),
        )  # fmt: skip
    except CellNotFound:
        raise Http404("no such cell") from None
    return render(request, "classes/cell.html", {"classroom": classroom, "cell": shown})


@login_required
@require_http_methods(["GET", "POST"])
def settings_page(request: HttpRequest, classroom_id: int) -> HttpResponse:
    classroom = _classroom(request, classroom_id)
    values = class_lab_values(classroom)
    form = ClassroomForm(
        request.POST or None,
        initial={"name": classroom.name, "labs": values},
        lab_choices=lab_choices(user=request.user, language=get_language(), keep=values),
    )
    if request.method == "POST" and form.is_valid():
        try:
            classroom_update(
                classroom=classroom,
                name=form.cleaned_data["name"],
                labs=form.cleaned_data["labs"],
                by=request.user,
            )
        except ClassError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Saved."))
            return redirect("classes:settings", classroom.pk)
    return render(
        request,
        "classes/settings.html",
        {
            "classroom": classroom,
            "form": form,
            "instructor_form": InstructorForm(),
            "instructors": classroom.instructors.order_by("username"),
            "students": classroom.enrollments.select_related("student").order_by(
                "student__username"
            ),
            "join_url": _join_url(request, classroom),
            "join_code": code_display(classroom.join_code),
            "deadline_rows": deadline_rows(classroom=classroom, language=get_language()),
            "extensions": classroom.extensions.select_related("student").order_by(
                "lab", "student__username"
            ),
            "time_zone": timezone.get_current_timezone_name(),
        },
    )


def _when(text: str) -> datetime | None:
    """A datetime-local field (YYYY-MM-DDTHH:MM, the server's time zone); None when empty;
    DeadlineError naming the value otherwise."""
    text = text.strip()
    if not text:
        return None
    try:
        naive = datetime.fromisoformat(text)
    except ValueError:
        raise DeadlineError(
            _("%(value)s is not a date and time; write it like 2026-12-24 18:00.") % {"value": text}
        ) from None
    return timezone.make_aware(naive) if timezone.is_naive(naive) else naive


@login_required
@require_POST
def deadline_view(request: HttpRequest, classroom_id: int) -> HttpResponse:
    classroom = _classroom(request, classroom_id)
    try:
        deadline_set(
            classroom=classroom, lab=request.POST.get("lab", ""),
            due_at=_when(request.POST.get("due", "")),
        )  # fmt: skip
    except DeadlineError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Deadline saved."))
    return redirect("classes:settings", classroom.pk)


@login_required
@require_POST
def extension_view(request: HttpRequest, classroom_id: int) -> HttpResponse:
    classroom = _classroom(request, classroom_id)
    try:
        due_at = _when(request.POST.get("due", ""))
        if due_at is None:
            raise DeadlineError(_("Give the extension's new deadline."))
        student = request.POST.get("student", "")
        extension_grant(
            classroom=classroom, student_id=int(student) if student.isdigit() else 0,
            lab=request.POST.get("lab", ""), due_at=due_at,
        )  # fmt: skip
    except DeadlineError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Extension granted."))
    return redirect("classes:settings", classroom.pk)


@login_required
@require_POST
def extension_revoke_view(
    request: HttpRequest, classroom_id: int, extension_id: int
) -> HttpResponse:
    classroom = _classroom(request, classroom_id)
    if extension_revoke(classroom=classroom, extension_id=extension_id):
        messages.success(request, _("Extension removed."))
    return redirect("classes:settings", classroom.pk)


@login_required
@require_POST
def code_action(request: HttpRequest, classroom_id: int) -> HttpResponse:
    classroom = _classroom(request, classroom_id)
    action = request.POST.get("action")
    if action == "regenerate":
        join_code_regenerate(classroom=classroom)
        messages.success(request, _("New join code made; the old one no longer works."))
    elif action in ("open", "close"):
        join_set_open(classroom=classroom, open=action == "open")
        if action == "open":
            messages.success(request, _("Students can join with the code again."))
        else:
            messages.success(request, _("Joining is closed; the code no longer admits anyone."))
    else:
        return HttpResponse(_("Unknown action; use regenerate, open or close."), status=400)
    return redirect("classes:settings", classroom.pk)


@login_required
@require_POST
def instructor_add_view(request: HttpRequest, classroom_id: int) -> HttpResponse:
    classroom = _classroom(request, classroom_id)
    form = InstructorForm(request.POST)
    if form.is_valid():
        try:
            added = instructor_add(classroom=classroom, username=form.cleaned_data["username"])
        except ClassError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request, _("%(name)s now teaches this class.") % {"name": added.get_username()}
            )
    else:
        messages.error(request, _("Enter the username of an instructor."))
    return redirect("classes:settings", classroom.pk)


@login_required
@require_POST
def instructor_remove_view(request: HttpRequest, classroom_id: int, user_id: int) -> HttpResponse:
    classroom = _classroom(request, classroom_id)
    try:
        instructor_remove(classroom=classroom, user_id=user_id)
    except ClassError as exc:
        messages.error(request, str(exc))
    if user_id == request.user.pk:
        return redirect("classes:index")
    return redirect("classes:settings", classroom.pk)


@login_required
@require_POST
def student_remove_view(request: HttpRequest, classroom_id: int, user_id: int) -> HttpResponse:
    classroom = _classroom(request, classroom_id)
    if not student_remove(classroom=classroom, user_id=user_id):
        raise Http404("not a student of this class")
    messages.success(request, _("Student removed from the class; their own progress is kept."))
    return redirect("classes:settings", classroom.pk)


@login_required
@require_POST
def grade(request: HttpRequest, classroom_id: int) -> HttpResponse:
    classroom = _classroom(request, classroom_id)
    started = class_grade_request(classroom=classroom, requested_by=request.user)
    run = started.run
    # What the instructor reads; the progress line itself comes from the run, so a started run
    # needs no sentence (a flash saying "Grading…" would outlive the run on the next load).
    if not started.created:
        note = _("This class is already being graded; progress is shown below.")
    elif run.requested == 0:
        note = _("Nobody to grade: no enrolled student has a ready environment.")
    else:
        note = ""
    if "application/json" in request.headers.get("Accept", ""):
        return JsonResponse(
            {
                "run": run.pk,
                "created": started.created,
                "requested": run.requested,
                "message": note,
                "progress": run_progress(run=run).as_event(),
            },
            status=202,
        )
    if note:
        messages.info(request, note)
    return redirect("classes:detail", classroom.pk)


@login_required
@require_POST
def regrade(request: HttpRequest, classroom_id: int) -> HttpResponse:
    """Regrade the class's last gradings from their kept evidence (after a fixed spec)."""
    classroom = _classroom(request, classroom_id)
    lab = request.POST.get("lab", "").strip()
    if lab and lab not in (classroom.labs or []):
        messages.error(request, _("%(lab)s is not one of this class's labs.") % {"lab": lab})
        return redirect("classes:settings", classroom.pk)
    started = class_grade_request(
        classroom=classroom, requested_by=request.user, from_evidence=True, lab=lab
    )
    if not started.created:
        messages.info(request, _("This class is already being graded; progress is shown below."))
    elif started.run.requested == 0:
        messages.info(request, _("Nothing to regrade: no student's work has been checked yet."))
    else:
        messages.info(
            request,
            ngettext(
                "Regrading %(count)s exercise from kept evidence; progress is shown below.",
                "Regrading %(count)s exercises from kept evidence; progress is shown below.",
                started.run.requested,
            )
            % {"count": started.run.requested},
        )
    return redirect("classes:detail", classroom.pk)


def _download(request: HttpRequest, classroom_id: int, extension: str) -> tuple[str, Gradebook]:
    classroom = _classroom(request, classroom_id)
    book = gradebook_get(classroom=classroom, language=get_language())
    name = export_filename(
        name_slug=slugify(classroom.name),
        classroom_id=classroom.pk,
        day=timezone.localdate(),
        extension=extension,
    )
    return name, book


@never_cache
@login_required
@require_GET
def export_csv(request: HttpRequest, classroom_id: int) -> HttpResponse:
    name, book = _download(request, classroom_id, "csv")
    response = HttpResponse(gradebook_csv(book), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@never_cache
@login_required
@require_GET
def export_json(request: HttpRequest, classroom_id: int) -> HttpResponse:
    """The gradebook as JSON: a download, and what the live page re-reads after a reconnect."""
    name, book = _download(request, classroom_id, "json")
    body = json.dumps(gradebook_json(book), ensure_ascii=False, indent=1)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    if request.GET.get("download") != "0":
        response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
