"""Thin views of the studio under /labs/studio/. Every one reaches a lab through
``lab_get_for_author`` (instructors who author it; a 404 for everyone else); writes are POSTs
with CSRF; the editor's saves and checks answer JSON."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import TooManyFilesSent
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from classes.selectors import ClassroomNotFound, classroom_get_for_instructor, classrooms_taught
from classes.services import ClassError, class_lab_publish
from kubelab.limited import limited_response
from kubelab.ratelimit import RateLimited, rate_limit_take
from labs.library import catalog_get
from labs.models import AuthoredLab
from labs.selectors import exercise_preview, text_for
from labs.spec import Lab
from studio.archive import MAX_ARCHIVE_BYTES
from studio.content import MAX_FILES, MAX_TOTAL_BYTES
from studio.models import LabTest
from studio.selectors import (
    StudioNotFound,
    lab_get_for_author,
    lab_test_get_for_author,
    lab_test_latest,
    lab_test_passed,
    labs_of_author,
    studio_allowed,
    versions_of,
)
from studio.services import (
    DraftConflict,
    StudioError,
    authored_lab_create,
    coauthor_add,
    coauthor_remove,
    draft_save,
    lab_export,
    lab_import,
    lab_test_request,
    scenario_folder_import,
    version_publish,
)
from studio.starters import STARTERS
from studio.yamledit import EditError, text_set

LANGUAGES = ("en", "zh-hant")


def _lab(request: HttpRequest, slug: str) -> AuthoredLab:
    try:
        return lab_get_for_author(user=request.user, slug=slug)
    except StudioNotFound:
        raise Http404("no such lab") from None


def _studio(request: HttpRequest) -> None:
    if not studio_allowed(user=request.user):
        raise Http404("the studio is for instructors")


@never_cache
@login_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    _studio(request)
    language = get_language()
    return render(
        request,
        "studio/index.html",
        {
            "labs": labs_of_author(user=request.user),
            "starters": STARTERS.values(),
            "catalog": [
                (s, text_for(lab.title, language)) for s, lab in catalog_get().labs.items()
            ],
            "max_zip_kib": MAX_ARCHIVE_BYTES // 1024,
        },
    )


@login_required
@require_POST
def create(request: HttpRequest) -> HttpResponse:
    _studio(request)
    source = request.POST.get("source", "")
    starter, copy_of = "", ""
    if source.startswith("copy:"):
        copy_of = source.removeprefix("copy:")
    else:
        starter = source.removeprefix("starter:")
    try:
        lab = authored_lab_create(
            owner=request.user, slug=request.POST.get("slug", ""), starter=starter, copy_of=copy_of
        )
    except StudioError as exc:
        messages.error(request, str(exc))
        return redirect("studio:index")
    return redirect("studio:editor", lab.slug)


@login_required
@require_POST
def import_zip(request: HttpRequest) -> HttpResponse:
    _studio(request)
    upload = request.FILES.get("archive")
    if upload is None:
        messages.error(request, _("Choose a zip to import."))
        return redirect("studio:index")
    if upload.size is not None and upload.size > MAX_ARCHIVE_BYTES:
        messages.error(
            request,
            _("The zip was not imported: it is larger than %(kib)s KiB.")
            % {"kib": MAX_ARCHIVE_BYTES // 1024},
        )
        return redirect("studio:index")
    try:
        lab, outcome = lab_import(
            owner=request.user, data=upload.read(MAX_ARCHIVE_BYTES + 1),
            slug=request.POST.get("slug", "").strip(),
        )  # fmt: skip
    except StudioError as exc:
        messages.error(request, str(exc))
        return redirect("studio:index")
    if outcome:
        messages.info(
            request,
            _("Imported from Killercoda. What became of each step:") + "\n" + "\n".join(outcome),
        )
    return redirect("studio:editor", lab.slug)


def _folder_answer(request: HttpRequest, url: str) -> HttpResponse:
    # The page's script asks for JSON: a redirect it followed itself would show the next page,
    # and its messages, to the script instead of the author.
    if "application/json" in request.headers.get("Accept", ""):
        return JsonResponse({"next": url})
    return redirect(url)


@login_required
@require_POST
def import_folder(request: HttpRequest) -> HttpResponse:
    """A Killercoda scenario's folder from the browser (static/js/studio-import.js sends each
    file with its path in the folder, which a plain form would drop)."""
    _studio(request)
    try:
        uploads = request.FILES.getlist("files")
    except TooManyFilesSent:
        messages.error(request, _("The folder holds too many files to be one scenario."))
        return _folder_answer(request, reverse("studio:index"))
    paths = request.POST.getlist("paths")
    if not uploads or len(paths) != len(uploads):
        messages.error(request, _("Choose a scenario's folder to import."))
        return _folder_answer(request, reverse("studio:index"))
    if sum(upload.size or 0 for upload in uploads) > MAX_ARCHIVE_BYTES:
        messages.error(
            request,
            _("The folder was not imported: it is larger than %(kib)s KiB.")
            % {"kib": MAX_ARCHIVE_BYTES // 1024},
        )
        return _folder_answer(request, reverse("studio:index"))
    try:
        lab, outcome = scenario_folder_import(
            owner=request.user,
            uploads=[
                (p, u.read(MAX_ARCHIVE_BYTES + 1)) for p, u in zip(paths, uploads, strict=True)
            ],
            slug=request.POST.get("slug", "").strip(),
        )
    except StudioError as exc:
        messages.error(request, str(exc))
        return _folder_answer(request, reverse("studio:index"))
    messages.info(
        request,
        _("Imported from Killercoda. What became of each step:") + "\n" + "\n".join(outcome),
    )
    return _folder_answer(request, reverse("studio:editor", args=[lab.slug]))


def _test_json(test: LabTest | None, digest: str) -> dict[str, Any] | None:
    if test is None:
        return None
    return {
        "id": test.pk,
        "status": test.status,
        "done": test.done,
        "total": test.total,
        "digest": test.digest,
        "current": test.digest == digest,
        "report": test.report,
    }


def _editor_state(lab: AuthoredLab) -> dict[str, Any]:
    latest = lab_test_latest(lab=lab)
    passed = lab_test_passed(lab=lab, digest=lab.draft_digest)
    return {
        "slug": lab.slug,
        "spec": lab.draft_spec,
        "files": lab.draft_files,
        "digest": lab.draft_digest,
        "valid": bool(lab.draft_digest) and lab.draft_digest == lab.valid_digest,
        "test": _test_json(latest, lab.draft_digest),
        "publishable": passed is not None and lab.draft_digest == lab.valid_digest,
        "max_files": MAX_FILES,
        "max_total_kib": MAX_TOTAL_BYTES // 1024,
    }


@never_cache
@login_required
@require_GET
def editor(request: HttpRequest, slug: str) -> HttpResponse:
    lab = _lab(request, slug)
    return render(
        request,
        "studio/editor.html",
        {
            "lab": lab,
            "state": _editor_state(lab),
            "versions": versions_of(lab=lab),
            "authors": lab.authors.order_by("username"),
            "classes": classrooms_taught(user=request.user),
        },
    )


def _preview(request: HttpRequest, lab: Lab) -> dict[str, Any]:
    """Each exercise as a learner sees it, in each language, and the exercises for the
    instructions editor."""
    html: dict[str, str] = {}
    for language in LANGUAGES:
        with translation.override(language):
            rows = [exercise_preview(lab=lab, exercise=e, language=language) for e in lab.exercises]
            html[language] = render_to_string(
                "studio/_preview.html",
                {"lab": lab, "rows": rows, "title": text_for(lab.title, language)},
                request=request,
            )
    exercises = [
        {
            "id": e.id,
            "title": text_for(e.title, get_language()),
            "instructions": {lang: (e.instructions or {}).get(lang, "") for lang in LANGUAGES},
        }
        for e in lab.exercises
    ]
    return {"html": html, "exercises": exercises}


@login_required
@require_POST
def draft(request: HttpRequest, slug: str) -> JsonResponse:
    """Save what the editor holds and check it: the marks, the preview, the state. With
    ``instructions`` ({exercise, language, text}), that exercise's instructions are written
    into the spec first (the Markdown editor)."""
    lab = _lab(request, slug)
    try:
        rate_limit_take(scope="studio", key=f"user:{request.user.pk}")
    except RateLimited as exc:
        return limited_response(request, exc)  # type: ignore[return-value]
    try:
        body = json.loads(request.body or b"{}")
        spec = str(body.get("spec", ""))
        files = {str(k): str(v) for k, v in dict(body.get("files") or {}).items()}
        base = body.get("base")
        edit = body.get("instructions")
    except (ValueError, TypeError, AttributeError):
        return JsonResponse({"error": _("The editor sent something unreadable.")}, status=400)
    if isinstance(edit, dict):
        try:
            index = int(edit.get("exercise", -1))
            language = str(edit.get("language"))
            if language not in LANGUAGES:
                raise EditError("unknown language")
            spec = text_set(spec, ("exercises", index, "instructions", language),
                            str(edit.get("text", "")))  # fmt: skip
        except (EditError, ValueError) as exc:
            return JsonResponse({"error": _("The instructions were not written: %(why)s.")
                                 % {"why": str(exc)}}, status=400)  # fmt: skip
    try:
        checked = draft_save(
            lab=lab, by=request.user, spec=spec, files=files,
            base_digest=str(base) if base else None, translate=gettext,
        )  # fmt: skip
    except DraftConflict as exc:
        return JsonResponse({"error": str(exc), "conflict": True}, status=409)
    answer: dict[str, Any] = {
        **_editor_state(lab),
        "spec": spec,
        "kept": checked.kept,
        "marks": [m.as_json() for m in checked.marks],
        "preview": _preview(request, checked.lab) if checked.lab is not None else None,
    }
    if not checked.kept:
        answer["digest"] = lab.draft_digest  # what is stored is still the last kept draft
    return JsonResponse(answer)


@login_required
@require_POST
def lab_test(request: HttpRequest, slug: str) -> JsonResponse:
    lab = _lab(request, slug)
    try:
        rate_limit_take(scope="studio-test", key=f"user:{request.user.pk}")
    except RateLimited as exc:
        return limited_response(request, exc)  # type: ignore[return-value]
    try:
        started = lab_test_request(lab=lab, by=request.user)
    except StudioError as exc:
        return JsonResponse({"error": str(exc)}, status=409)
    return JsonResponse({"test": _test_json(started, lab.draft_digest)}, status=202)


@never_cache
@login_required
@require_GET
def lab_test_detail(request: HttpRequest, slug: str, test_id: int) -> JsonResponse:
    try:
        found = lab_test_get_for_author(user=request.user, slug=slug, test_id=test_id)
    except StudioNotFound:
        raise Http404("no such test") from None
    lab = found.lab
    return JsonResponse(
        {
            "test": _test_json(found, lab.draft_digest),
            "publishable": lab_test_passed(lab=lab, digest=lab.draft_digest) is not None
            and lab.draft_digest == lab.valid_digest,
        }
    )


@login_required
@require_POST
def publish(request: HttpRequest, slug: str) -> HttpResponse:
    lab = _lab(request, slug)
    try:
        version = version_publish(lab=lab, by=request.user)
    except StudioError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            _("Version %(n)s is published; add it to a class below.") % {"n": version.number},
        )
    return redirect("studio:editor", lab.slug)


@login_required
@require_POST
def use_in_class(request: HttpRequest, slug: str) -> HttpResponse:
    lab = _lab(request, slug)
    try:
        classroom = classroom_get_for_instructor(
            user=request.user, classroom_id=int(request.POST.get("classroom", "0"))
        )
        number = int(request.POST.get("version", "0"))
        class_lab_publish(classroom=classroom, slug=lab.slug, version=number, by=request.user)
    except (ClassroomNotFound, ValueError):
        messages.error(request, _("Choose one of your classes and a published version."))
    except ClassError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            _("%(class)s now uses version %(n)s of this lab.")
            % {"class": classroom.name, "n": number},
        )
    return redirect("studio:editor", lab.slug)


@login_required
@require_POST
def authors(request: HttpRequest, slug: str) -> HttpResponse:
    lab = _lab(request, slug)
    try:
        if request.POST.get("remove"):
            coauthor_remove(lab=lab, by=request.user, user_id=int(request.POST["remove"]))
        else:
            coauthor_add(lab=lab, by=request.user, username=request.POST.get("username", ""))
    except (StudioError, ValueError) as exc:
        messages.error(request, str(exc))
    return redirect("studio:editor", lab.slug)


@login_required
@require_GET
def export(request: HttpRequest, slug: str) -> HttpResponse:
    lab = _lab(request, slug)
    raw = request.GET.get("version")
    try:
        name, data = lab_export(lab=lab, version=int(raw) if raw else None)
    except (StudioError, ValueError):
        raise Http404("no such version") from None
    response = HttpResponse(data, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@never_cache
@login_required
@require_GET
def try_page(request: HttpRequest, slug: str) -> HttpResponse:
    """The draft beside a terminal, graded in the author's own environment as a learner's."""
    lab = _lab(request, slug)
    from labs.library import lab_resolve

    try:
        parsed = lab_resolve(slug=lab.slug, version=0)
    except LookupError:
        messages.error(request, _("Fix the problems marked in the editor first."))
        return redirect("studio:editor", lab.slug)
    language = get_language()
    return render(
        request,
        "studio/try.html",
        {
            "lab": lab,
            "title": text_for(parsed.title, language),
            "summary": text_for(parsed.summary, language) if parsed.summary else "",
            "exercise_ids": [f"{lab.slug}/{e.id}" for e in parsed.exercises],
        },
    )
