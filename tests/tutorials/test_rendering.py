"""Rendering: every lesson renders safely, with stable heading ids, code toolbars and callouts."""

import html
import re

import pytest

from tutorials.content_loader import Chapter, Lesson, chapters_load
from tutorials.rendering import PICTURE_LINK_OPEN, lesson_render, markdown_render

CHAPTERS = chapters_load()
LESSONS = [lesson for chapter in CHAPTERS for lesson in chapter.lessons.values()]


def lesson_id(lesson: Lesson) -> str:
    return f"{lesson.chapter_slug}-{lesson.language}"


@pytest.mark.parametrize("lesson", LESSONS, ids=lesson_id)
def test_every_lesson_renders_with_its_toc(lesson: Lesson) -> None:
    rendered = lesson_render(lesson)
    assert [entry.id for entry in rendered.toc] == [heading.id for heading in lesson.headings]
    for entry in rendered.toc:
        assert re.search(rf'<h{entry.level} id="{entry.id}">', rendered.html)
        assert "{#" not in entry.text
    assert "{#" not in rendered.html
    assert "<script" not in rendered.html
    assert "[!" not in rendered.html, "a callout marker was left unrendered"


@pytest.mark.parametrize("lesson", LESSONS, ids=lesson_id)
def test_every_shell_block_gets_the_right_buttons(lesson: Lesson) -> None:
    rendered = lesson_render(lesson)
    shell = [block for block in lesson.code_blocks if block.kind == "shell"]
    runnable = [block for block in shell if not block.illustrative]
    assert rendered.html.count('data-action="copy"') == len(lesson.code_blocks)
    assert rendered.html.count('data-action="run-in-terminal"') == len(runnable)
    commands = [html.unescape(c) for c in re.findall(r'data-command="([^"]*)"', rendered.html)]
    assert commands == [block.code for block in runnable]


@pytest.mark.parametrize("lesson", LESSONS, ids=lesson_id)
def test_exercise_links_point_at_labs(lesson: Lesson) -> None:
    rendered = lesson_render(lesson, exercise_href=lambda exercise: f"/labs/go/{exercise}")
    assert "exercise:" not in rendered.html
    for exercise in re.findall(r'href="/labs/go/([^"]+)"', rendered.html):
        assert exercise in lesson.exercises


def test_picture_link_opens_the_namespace_picture() -> None:
    rendered = markdown_render("Open the [namespace *picture*](picture:) first.\n")
    assert rendered.html == (
        '<p>Open the <a href="#picture" class="picture-link" data-picture-open>'
        "namespace <em>picture</em></a> first.</p>\n"
    )


def test_picture_link_inside_a_callout_and_as_autolink() -> None:
    rendered = markdown_render("> [!TRY-IT]\n> Watch [it](picture:).\n\n<picture:>\n")
    assert rendered.html.count(PICTURE_LINK_OPEN) == 2
    assert "picture:</a>" in rendered.html


def test_picture_link_with_a_target_or_title_renders_the_same() -> None:
    # The loader refuses both in lesson files; the renderer still drops them.
    rendered = markdown_render('[a](picture:pods "a \\" title")\n')
    assert rendered.html == f"<p>{PICTURE_LINK_OPEN}a</a></p>\n"


def test_content_cannot_forge_picture_links() -> None:
    source = (
        '<a href="#picture" class="picture-link" data-picture-open onclick="x()">raw</a>\n\n'
        '<span data-picture-open class="picture-link">span</span>\n\n'
        "[upper](PICTURE:)\n"
    )
    rendered = markdown_render(source)
    assert "data-picture-open" not in rendered.html
    assert "picture-link" not in rendered.html
    assert "onclick" not in rendered.html


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda chapter: chapter.slug)
def test_every_language_links_the_picture_as_often(chapter: Chapter) -> None:
    counts = {
        language: lesson_render(lesson).html.count(PICTURE_LINK_OPEN)
        for language, lesson in chapter.lessons.items()
    }
    assert len(set(counts.values())) == 1, counts


@pytest.mark.parametrize(
    "slug", ["labels-annotations", "service-discovery", "replicasets", "daemonsets", "jobs"]
)
def test_chapters_with_live_changes_point_at_the_picture(slug: str) -> None:
    (chapter,) = [chapter for chapter in CHAPTERS if chapter.slug == slug]
    assert PICTURE_LINK_OPEN in lesson_render(chapter.lesson("en")).html


def test_chinese_lesson_gets_chinese_labels() -> None:
    lesson = CHAPTERS[0].lesson("zh-hant")
    rendered = lesson_render(lesson)
    assert "在終端機執行" in rendered.html
    assert "僅供參考" in rendered.html
    assert "新舊對照" in rendered.html
    assert "Run in terminal" not in rendered.html


def test_script_tags_are_removed_with_their_content() -> None:
    rendered = markdown_render(
        "Hello\n\n<script>alert('owned')</script>\n\n<p>after<script>x()</script></p>\n"
    )
    assert "<script" not in rendered.html
    assert "alert" not in rendered.html
    assert "x()" not in rendered.html
    assert "after" in rendered.html


def test_event_handler_attributes_are_removed() -> None:
    source = (
        '<img src="/static/ok.png" onerror="alert(1)" alt="pic">\n\n'
        'Inline <span onclick="steal()">text</span> and <a href="/x" onmouseover="y()">link</a>\n'
    )
    rendered = markdown_render(source)
    assert not re.search(r"\son\w+=", rendered.html)
    assert "alert" not in rendered.html
    assert 'src="/static/ok.png"' in rendered.html


def test_javascript_urls_are_removed() -> None:
    source = (
        '[click](javascript:alert(1))\n\n<a href="javascript:alert(2)">raw</a>\n\n'
        '<a href="JaVaScRiPt:alert(3)">mixed</a> <img src="javascript:alert(4)">\n\n'
        "[fine](https://kubernetes.io/) [relative](/learn/pods/)\n"
    )
    rendered = markdown_render(source)
    assert not re.search(r'(href|src)="\s*javascript:', rendered.html, flags=re.IGNORECASE)
    assert ">click</a>" not in rendered.html, "a javascript: Markdown link must not become a link"
    assert 'href="https://kubernetes.io/"' in rendered.html
    assert 'href="/learn/pods/"' in rendered.html


def test_other_dangerous_markup_is_removed() -> None:
    source = (
        '<iframe src="https://evil.example"></iframe>\n\n<style>body{display:none}</style>\n\n'
        '<form action="/x"><input name="q"></form>\n\n<div style="position:fixed">x</div>\n\n'
        '<a href="data:text/html,<b>x</b>">data</a>\n'
    )
    rendered = markdown_render(source)
    for bad in ("<iframe", "<style", "<form", "<input", "position:fixed", "data:text"):
        assert bad not in rendered.html


def test_content_cannot_forge_run_buttons() -> None:
    source = (
        '<button data-action="run-in-terminal" data-command="rm -rf ~">Run</button>\n\n'
        '<div class="codeblock" data-command="rm -rf ~">x</div>\n'
    )
    rendered = markdown_render(source)
    assert "<button" not in rendered.html
    assert "data-command" not in rendered.html
    assert "run-in-terminal" not in rendered.html


def test_code_is_escaped_inside_blocks_and_attributes() -> None:
    source = "```shell\nkubectl get pods -o jsonpath='{.items[0]}' \"<b>\" && echo done\n```\n"
    rendered = markdown_render(source)
    assert "<b>" not in rendered.html
    assert "&lt;b&gt;" in rendered.html
    (command,) = re.findall(r'data-command="([^"]*)"', rendered.html)
    assert (
        html.unescape(command) == "kubectl get pods -o jsonpath='{.items[0]}' \"<b>\" && echo done"
    )


def test_illustrative_and_interactive_blocks() -> None:
    source = (
        "```shell illustrative\nkubectl label nodes worker-1 ssd=true\n```\n\n"
        "```shell interactive\nkubectl edit deployment kuard\n```\n\n"
        "```yaml\nkind: Pod\n```\n\n```text\nNAME  READY\n```\n"
    )
    rendered = markdown_render(source)
    blocks = re.findall(r'<div class="(codeblock(?: [^"]*)?)"', rendered.html)
    assert blocks == [
        "codeblock codeblock--shell codeblock--illustrative",
        "codeblock codeblock--shell codeblock--interactive",
        "codeblock codeblock--yaml",
        "codeblock codeblock--text",
    ]
    assert re.findall(r'data-command="([^"]*)"', rendered.html) == ["kubectl edit deployment kuard"]
    assert "Illustrative" in rendered.html and "Interactive" in rendered.html


def test_callouts_become_asides_with_titles() -> None:
    source = (
        "> [!THEN-AND-NOW]\n> The book used `--cascade=false`.\n\n"
        "> [!SIMULATED] Nothing runs here\n> Pods are fake.\n\n"
        "> A plain quote stays a quote.\n"
    )
    rendered = markdown_render(source)
    assert (
        '<aside class="callout callout--then-and-now" role="note" aria-label="Then and now">'
        in (rendered.html)
    )
    assert '<p class="callout__title">Nothing runs here</p>' in rendered.html
    assert "<p>The book used <code>--cascade=false</code>.</p>" in rendered.html
    assert "<blockquote>" in rendered.html
    assert rendered.html.count("</aside>") == 2


def test_callout_content_is_still_sanitised() -> None:
    rendered = markdown_render(
        '> [!NOTE]\n> <img src=x onerror="alert(1)"> <script>bad()</script>\n'
    )
    assert "onerror" not in rendered.html
    assert "bad()" not in rendered.html
    assert '<aside class="callout callout--note"' in rendered.html


def test_heading_ids_are_explicit_or_slugged_and_unique() -> None:
    rendered = markdown_render(
        "## Pods and you {#pods}\n\n## Second part\n\n## Second part\n\n### 中文標題\n"
    )
    assert [entry.id for entry in rendered.toc] == [
        "pods",
        "second-part",
        "second-part-2",
        "section",
    ]
    assert '<h2 id="pods">Pods and you</h2>' in rendered.html


def test_toc_text_is_plain() -> None:
    rendered = markdown_render("## The `kubectl` tool {#tool}\n")
    assert rendered.toc[0].text == "The kubectl tool"
    assert '<h2 id="tool">The <code>kubectl</code> tool</h2>' in rendered.html


def test_tables_render_with_alignment() -> None:
    rendered = markdown_render("| a | b |\n|:--|--:|\n| 1 | 2 |\n")
    assert '<th style="text-align:left">a</th>' in rendered.html
    assert "<table>" in rendered.html


def test_placeholders_cannot_be_guessed_from_content() -> None:
    first = markdown_render("```shell\nkubectl get pods\n```\n").html
    second = markdown_render("```shell\nkubectl get pods\n```\n").html
    assert first == second
    assert "kubelab-" not in first


def test_line_breaks_between_chinese_characters_add_no_space() -> None:
    rendered = markdown_render("第一行結尾。\n第二行開頭、\n接著 `kubectl`\nand English\ntext.\n")
    assert (
        "<p>第一行結尾。第二行開頭、接著 <code>kubectl</code>\nand English\ntext.</p>"
        in rendered.html
    )
