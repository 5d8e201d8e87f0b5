"""Read the course for the pages: chapters in a language, rendered once and cached per process."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from tutorials.content_loader import DEFAULT_LANGUAGE, Chapter, Lesson, chapters_load
from tutorials.rendering import RenderedLesson, lesson_render

SUPPORTED_LANGUAGES = ("en", "zh-hant")


def course_language(code: str | None) -> str:
    """Django's active language (e.g. ``zh-hant``) as a content language, English otherwise."""
    code = (code or "").lower()
    return code if code in SUPPORTED_LANGUAGES else DEFAULT_LANGUAGE


@lru_cache(maxsize=1)
def course_chapters() -> tuple[Chapter, ...]:
    """Every chapter, validated at first use; a broken file raises ContentError naming it."""
    return tuple(chapters_load())


@dataclass(frozen=True)
class ChapterPage:
    chapter: Chapter
    lesson: Lesson
    rendered: RenderedLesson
    previous: Lesson | None
    next: Lesson | None


def chapter_find(slug: str) -> Chapter | None:
    return next((chapter for chapter in course_chapters() if chapter.slug == slug), None)


@lru_cache(maxsize=64)
def _rendered(slug: str, language: str) -> RenderedLesson:
    chapter = chapter_find(slug)
    assert chapter is not None
    return lesson_render(chapter.lesson(language))


def chapter_page(*, slug: str, language: str) -> ChapterPage | None:
    chapters = course_chapters()
    index = next((i for i, chapter in enumerate(chapters) if chapter.slug == slug), None)
    if index is None:
        return None
    chapter = chapters[index]
    return ChapterPage(
        chapter=chapter,
        lesson=chapter.lesson(language),
        rendered=_rendered(slug, language),
        previous=chapters[index - 1].lesson(language) if index > 0 else None,
        next=chapters[index + 1].lesson(language) if index + 1 < len(chapters) else None,
    )
