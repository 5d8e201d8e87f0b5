"""Course pages through Django: every chapter in both languages, with its navigation."""

import pytest
from django.test import Client

from tutorials.selectors import course_chapters

LANGUAGES = ["en", "zh-hant"]


def get(path: str, language: str) -> str:
    response = Client(HTTP_ACCEPT_LANGUAGE=language).get(path)
    assert response.status_code == 200, (path, language, response.status_code)
    return response.content.decode()


@pytest.mark.parametrize("language", LANGUAGES)
def test_overview_lists_every_chapter_in_order(language: str) -> None:
    body = get("/learn/", language)
    chapters = course_chapters()
    assert len(chapters) == 8
    positions = [body.index(f'href="/learn/{chapter.slug}/"') for chapter in chapters]
    assert positions == sorted(positions)
    for chapter in chapters:
        assert chapter.lesson(language).title in body


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("index", range(8))
def test_every_chapter_renders_with_toc_and_pager(language: str, index: int) -> None:
    chapters = course_chapters()
    chapter = chapters[index]
    lesson = chapter.lesson(language)
    body = get(f"/learn/{chapter.slug}/", language)
    assert f'<html lang="{language}">' in body
    assert f'<h1 id="lesson-title">{lesson.title}</h1>' in body
    for heading in lesson.headings:
        if heading.level <= 3:
            assert f'href="#{heading.id}"' in body
            assert f'id="{heading.id}"' in body
    if index > 0:
        assert f'rel="prev" href="/learn/{chapters[index - 1].slug}/"' in body
    else:
        assert 'rel="prev"' not in body
    if index < len(chapters) - 1:
        assert f'rel="next" href="/learn/{chapters[index + 1].slug}/"' in body
    else:
        assert 'rel="next"' not in body
    assert "<script>" not in body.split('<div class="lesson-body">', 1)[1].split("</article>")[0]


def test_unknown_chapter_is_404() -> None:
    assert Client().get("/learn/no-such-chapter/").status_code == 404
