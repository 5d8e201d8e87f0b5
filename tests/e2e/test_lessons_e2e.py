"""A chapter in a real browser, in English and then, by the language switch, in Chinese."""

from typing import Any

import pytest

from tests.fixtures.browser import screenshot, wait_js
from tests.fixtures.processes import WebServer
from tutorials.selectors import course_chapters


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_chapter_in_both_languages(web_server: WebServer, page: Any) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    chapter = next(c for c in course_chapters() if c.slug == "pods")

    page.goto(f"{web_server.url}/learn/{chapter.slug}/")
    assert page.locator("h1#lesson-title").inner_text() == chapter.lesson("en").title
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("button[data-action=run-in-terminal]").count() > 0
    assert page.locator(".toc a").count() >= 3
    screenshot(page, "lesson-pods-en")

    # The handle resizes the split from the keyboard.
    handle = page.locator("[data-split-handle]")
    handle.focus()
    before = int(handle.get_attribute("aria-valuenow") or 0)
    page.keyboard.press("ArrowRight")
    assert int(handle.get_attribute("aria-valuenow") or 0) == before + 2

    page.select_option("#lang-select", "zh-hant")
    wait_js(page, "document.documentElement.lang === 'zh-hant'")
    assert page.locator("h1#lesson-title").inner_text() == chapter.lesson("zh-hant").title
    assert page.locator("button[data-action=copy]").first.inner_text() == "複製"
    screenshot(page, "lesson-pods-zh-hant")
    assert errors == []
