"""Course pages: the overview and one chapter beside the learner's terminal."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.utils.translation import get_language
from django.views.decorators.http import require_GET

from tutorials.selectors import chapter_page, course_chapters, course_language


@require_GET
def course_overview(request: HttpRequest) -> HttpResponse:
    language = course_language(get_language())
    lessons = [chapter.lesson(language) for chapter in course_chapters()]
    return render(request, "tutorials/overview.html", {"lessons": lessons})


@require_GET
def chapter_detail(request: HttpRequest, slug: str) -> HttpResponse:
    page = chapter_page(slug=slug, language=course_language(get_language()))
    if page is None:
        raise Http404("No such chapter")
    context = {
        "page": page,
        # The workbench panels come from the sandbox and labs apps; a deployment without one
        # of them still serves the lesson.
        "terminal_template": _optional_template("sandbox/_terminal.html"),
        "checklist_template": _optional_template("labs/_checklist.html"),
    }
    return render(request, "tutorials/chapter.html", context)


def _optional_template(name: str) -> str | None:
    try:
        get_template(name)
    except TemplateDoesNotExist:
        return None
    return name
