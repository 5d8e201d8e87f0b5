"""Render a lesson's Markdown to sanitised HTML plus a table of contents.

Pure: no Django, no ``kubernetes``. The pipeline is

1. parse with the course's Markdown dialect (``dialect.markdown_parser``);
2. rewrite tokens: heading ids from ``{#id}``, ``exercise:`` links to lab URLs, ``picture:``
   links to an unguessable marker href (all their other attributes dropped), and callout
   blockquotes and code fences replaced by unguessable placeholders;
3. sanitise the whole HTML with nh3 and an explicit allow-list (no scripts, no event handlers,
   only http(s)/mailto/relative URLs);
4. swap the placeholders for markup built here from escaped text: callout ``<aside>`` boxes and
   code blocks with their toolbar (Copy, and "Run in terminal" for shell blocks not marked
   illustrative), and open marked links as ``PICTURE_LINK_OPEN``. Because this trusted markup is
   added after sanitising, the allow-list never has to admit buttons, ``class``, ``data-command``
   or ``data-picture-open``.

The "Run in terminal" button carries the command text in ``data-command`` (HTML-escaped; may span
several lines); front-end code types it into the learner's terminal. Nothing runs server-side.
"""

from __future__ import annotations

import html
import re
import secrets
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import nh3
from markdown_it.token import Token

from tutorials.content_loader import DEFAULT_LANGUAGE, Lesson
from tutorials.dialect import (
    callout_marker,
    exercise_link_id,
    fence_info_parse,
    heading_split,
    markdown_parser,
    picture_link_target,
)

ExerciseHref = Callable[[str], str]

ALLOWED_TAGS: frozenset[str] = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "dl", "dt",
        "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p",
        "pre", "s", "samp", "strong", "sub", "summary", "sup", "table", "tbody", "td", "th",
        "thead", "tr", "ul",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES: Mapping[str, frozenset[str]] = {
    "a": frozenset({"href", "title"}),
    "abbr": frozenset({"title"}),
    "img": frozenset({"src", "alt", "title", "width", "height"}),
    "ol": frozenset({"start"}),
    "th": frozenset({"style", "colspan", "rowspan"}),
    "td": frozenset({"style", "colspan", "rowspan"}),
    **{f"h{level}": frozenset({"id"}) for level in range(1, 7)},
}
ALLOWED_URL_SCHEMES: frozenset[str] = frozenset({"http", "https", "mailto"})

# The workbench's script opens its "Namespace picture" tab (id="picture") on a click on this link.
PICTURE_LINK_OPEN = '<a href="#picture" class="picture-link" data-picture-open>'

LABELS: Mapping[str, Mapping[str, str]] = {
    "en": {
        "copy": "Copy",
        "run": "Run in terminal",
        "run_title": "Type this command into the terminal beside the lesson",
        "illustrative": "Illustrative",
        "illustrative_title": "Shown for reference: not meant to be run on this course's cluster",
        "interactive": "Interactive",
        "interactive_title": (
            "Needs you at the keyboard: it opens an editor or runs until you press Ctrl-C"
        ),
        "shell": "Shell",
        "text": "Output",
        "yaml": "YAML",
        "json": "JSON",
        "code": "Code",
        "THEN-AND-NOW": "Then and now",
        "SIMULATED": "Simulated here",
        "TRY-IT": "Try it",
        "NOTE": "Note",
        "WARNING": "Warning",
    },
    "zh-hant": {
        "copy": "複製",
        "run": "在終端機執行",
        "run_title": "把這個指令輸入到課程旁的終端機",
        "illustrative": "僅供參考",
        "illustrative_title": "僅供說明，不要在本課程的叢集上執行",  # noqa: RUF001
        "interactive": "互動式",
        "interactive_title": "需要你在鍵盤前操作：會開啟編輯器，或持續執行直到按下 Ctrl-C",  # noqa: RUF001
        "shell": "Shell",
        "text": "輸出",
        "yaml": "YAML",
        "json": "JSON",
        "code": "程式碼",
        "THEN-AND-NOW": "新舊對照",
        "SIMULATED": "本環境為模擬",
        "TRY-IT": "動手試試",
        "NOTE": "說明",
        "WARNING": "注意",
    },
}


@dataclass(frozen=True)
class TocEntry:
    """One heading of the rendered lesson, for the table of contents."""

    level: int
    id: str
    text: str


@dataclass(frozen=True)
class RenderedLesson:
    """Safe HTML for the lesson body and its table of contents (headings ``##`` to ``####``)."""

    html: str
    toc: tuple[TocEntry, ...]


def default_exercise_href(exercise_id: str) -> str:
    """Where an ``exercise:`` link points when the caller does not say: the lab's page."""
    return f"/labs/{exercise_id}/"


def lesson_render(lesson: Lesson, *, exercise_href: ExerciseHref | None = None) -> RenderedLesson:
    """Render a loaded lesson in its own language."""
    return markdown_render(
        lesson.body_markdown, language=lesson.language, exercise_href=exercise_href
    )


def markdown_render(
    markdown: str, *, language: str = DEFAULT_LANGUAGE, exercise_href: ExerciseHref | None = None
) -> RenderedLesson:
    """Render any course Markdown to sanitised HTML; headings without ``{#id}`` get a slug id."""
    labels = LABELS.get(language, LABELS[DEFAULT_LANGUAGE])
    parser = markdown_parser()
    tokens = parser.parse(markdown)
    nonce = f"kubelab-{secrets.token_hex(8)}"
    trusted: dict[str, str] = {}

    def placeholder(markup: str) -> str:
        key = f"{nonce}-{len(trusted)}"
        trusted[key] = markup
        return f"<p>{key}</p>\n"

    toc = _headings_rewrite(tokens)
    _cjk_breaks_join(tokens)
    picture_marker = f"#{nonce}-picture"
    _links_rewrite(tokens, exercise_href or default_exercise_href, picture_marker)
    _callouts_rewrite(tokens, labels, placeholder)
    _fences_rewrite(tokens, labels, placeholder)
    raw = parser.renderer.render(tokens, parser.options, {})
    clean = html_sanitise(raw)
    clean = re.sub(rf'<a href="{re.escape(picture_marker)}"[^>]*>', PICTURE_LINK_OPEN, clean)
    restored = re.sub(
        rf"<p>({re.escape(nonce)}-\d+)</p>\n?", lambda match: trusted.get(match.group(1), ""), clean
    )
    return RenderedLesson(html=restored, toc=toc)


def html_sanitise(markup: str) -> str:
    """Strip everything not on the allow-list: scripts, styles, event handlers, unsafe URLs."""
    return nh3.clean(
        markup,
        tags=set(ALLOWED_TAGS),
        clean_content_tags={"script", "style"},
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(ALLOWED_URL_SCHEMES),
        filter_style_properties={"text-align"},
        link_rel="noopener noreferrer",
        strip_comments=True,
    )


def _headings_rewrite(tokens: Sequence[Token]) -> tuple[TocEntry, ...]:
    toc: list[TocEntry] = []
    used: set[str] = set()
    for index, token in enumerate(tokens):
        if token.type != "heading_open":
            continue
        inline = tokens[index + 1]
        _, heading_id = heading_split(inline.content)
        children = inline.children or []
        if heading_id is not None and children and children[-1].type == "text":
            children[-1].content = heading_split(children[-1].content)[0]
        text = "".join(
            child.content for child in children if child.type in {"text", "code_inline"}
        ).strip()
        heading_id = _unique_id(heading_id or _slug(text) or "section", used)
        token.attrSet("id", heading_id)
        level = int(token.tag[1])
        if 2 <= level <= 4:
            toc.append(TocEntry(level=level, id=heading_id, text=text))
    return tuple(toc)


def _is_wide(character: str) -> bool:
    return unicodedata.east_asian_width(character) in {"W", "F"}


def _cjk_breaks_join(tokens: Sequence[Token]) -> None:
    """Drop a source line break between two CJK characters: browsers would show it as a space,
    which Chinese text does not have. Breaks next to Latin text still become spaces."""
    for token in tokens:
        children = token.children or []
        for index, child in enumerate(children):
            if child.type != "softbreak":
                continue
            before = next((c.content for c in reversed(children[:index]) if c.content), "")
            after = next((c.content for c in children[index + 1 :] if c.content), "")
            if before and after and _is_wide(before[-1]) and _is_wide(after[0]):
                child.type = "text"
                child.content = ""


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _unique_id(candidate: str, used: set[str]) -> str:
    result, counter = candidate, 2
    while result in used:
        result = f"{candidate}-{counter}"
        counter += 1
    used.add(result)
    return result


def _links_rewrite(
    tokens: Sequence[Token], exercise_href: ExerciseHref, picture_marker: str
) -> None:
    for token in tokens:
        for child in token.children or []:
            if child.type != "link_open":
                continue
            if picture_link_target(str(child.attrGet("href") or "")) is not None:
                # Any target or title is dropped: there is one picture, and the trusted link
                # carries no author-written attribute.
                child.attrs = {"href": picture_marker}
                continue
            exercise = exercise_link_id(str(child.attrGet("href") or ""))
            if exercise is None:
                continue
            if re.fullmatch(r"[a-z0-9-]+/[a-z0-9-]+", exercise):
                child.attrSet("href", exercise_href(exercise))
            else:
                child.attrSet("href", "#")


def _callouts_rewrite(
    tokens: list[Token], labels: Mapping[str, str], placeholder: Callable[[str], str]
) -> None:
    for index, token in enumerate(tokens):
        if token.type != "blockquote_open" or index + 2 >= len(tokens):
            continue
        if tokens[index + 1].type != "paragraph_open":
            continue
        inline = tokens[index + 2]
        children = inline.children or []
        if not children or children[0].type != "text":
            continue
        marker = callout_marker(children[0].content)
        if marker is None:
            continue
        kind, title = marker
        title = title or labels.get(kind, kind.title())
        _drop_first_line(tokens, index + 1)
        close = _matching_close(tokens, index, "blockquote_open", "blockquote_close")
        css_kind = kind.lower()
        _as_html_block(
            token,
            placeholder(
                f'<aside class="callout callout--{css_kind}" role="note" '
                f'aria-label="{html.escape(title)}">\n'
                f'<p class="callout__title">{html.escape(title)}</p>\n'
            ),
        )
        _as_html_block(tokens[close], placeholder("</aside>\n"))


def _drop_first_line(tokens: list[Token], paragraph_open: int) -> None:
    """Remove the ``[!KIND] title`` line from a callout's first paragraph (and the paragraph if
    nothing else is left)."""
    inline = tokens[paragraph_open + 1]
    children = inline.children or []
    cut = next(
        (i for i, child in enumerate(children) if child.type in {"softbreak", "hardbreak"}),
        len(children),
    )
    inline.children = children[cut + 1 :]
    if not inline.children:
        for position in (paragraph_open, paragraph_open + 1, paragraph_open + 2):
            _as_html_block(tokens[position], "")


def _matching_close(tokens: Sequence[Token], start: int, open_type: str, close_type: str) -> int:
    depth = 0
    for position in range(start, len(tokens)):
        if tokens[position].type == open_type:
            depth += 1
        elif tokens[position].type == close_type:
            depth -= 1
            if depth == 0:
                return position
    raise ValueError("unbalanced Markdown tokens")


def _as_html_block(token: Token, content: str) -> None:
    token.type = "html_block"
    token.tag = ""
    token.nesting = 0
    token.content = content
    token.children = None


def _fences_rewrite(
    tokens: list[Token], labels: Mapping[str, str], placeholder: Callable[[str], str]
) -> None:
    for token in tokens:
        if token.type == "fence":
            kind, flags = fence_info_parse(token.info)
            _as_html_block(token, placeholder(_code_block_html(token.content, kind, flags, labels)))


def _code_block_html(code: str, kind: str, flags: frozenset[str], labels: Mapping[str, str]) -> str:
    code = code.rstrip("\n")
    safe_kind = kind if re.fullmatch(r"[a-z0-9-]+", kind) else "code"
    illustrative = kind == "shell" and "illustrative" in flags
    interactive = kind == "shell" and "interactive" in flags
    classes = ["codeblock", f"codeblock--{safe_kind}"]
    badges: list[str] = []
    if illustrative:
        classes.append("codeblock--illustrative")
        badges.append(
            f'<span class="codeblock__badge codeblock__badge--illustrative" '
            f'title="{html.escape(labels["illustrative_title"])}">{html.escape(labels["illustrative"])}</span>'
        )
    if interactive:
        classes.append("codeblock--interactive")
        badges.append(
            f'<span class="codeblock__badge codeblock__badge--interactive" '
            f'title="{html.escape(labels["interactive_title"])}">{html.escape(labels["interactive"])}</span>'
        )
    buttons = [
        '<button type="button" class="codeblock__button codeblock__button--copy" '
        f'data-action="copy">{html.escape(labels["copy"])}</button>'
    ]
    if kind == "shell" and not illustrative:
        buttons.append(
            '<button type="button" class="codeblock__button codeblock__button--run" '
            f'data-action="run-in-terminal" data-command="{html.escape(code, quote=True)}" '
            f'title="{html.escape(labels["run_title"])}">{html.escape(labels["run"])}</button>'
        )
    label = labels.get(safe_kind, labels["code"])
    return (
        f'<div class="{" ".join(classes)}" data-kind="{safe_kind}">\n'
        f'<div class="codeblock__toolbar">'
        f'<span class="codeblock__label">{html.escape(label)}</span>{"".join(badges)}'
        f'<span class="codeblock__actions">{"".join(buttons)}</span></div>\n'
        f'<pre class="codeblock__pre"><code class="language-{safe_kind}">'
        f"{html.escape(code, quote=False)}</code></pre>\n"
        f"</div>\n"
    )
