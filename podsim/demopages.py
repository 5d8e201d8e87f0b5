"""How the demo app's answers look: a page as plain text or, when the client prefers it, as an
HTML document with the app's navigation, and the small builders (tables, forms) its pages use.
Stdlib only: it runs in the demo app's jail.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

# Pages show learner input (escaped); were escaping ever to miss, a page still runs no script
# and loads nothing from anywhere.
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)


@dataclass
class Page:
    """What a handler produced: the same content as plain text and, optionally, as HTML."""

    status: int
    title: str
    text: str
    html: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)


def prefers_html(accept: str) -> bool:
    """Whether the Accept header ranks text/html at least as high as everything else."""
    html_q = plain_q = 0.0
    for item in accept.split(","):
        media, *params = item.strip().split(";")
        q = 1.0
        for param in params:
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        media = media.strip().lower()
        if media in ("text/html", "application/xhtml+xml"):
            html_q = max(html_q, q)
        elif media in ("text/plain", "text/*", "*/*"):
            plain_q = max(plain_q, q)
    return html_q > 0 and html_q >= plain_q


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


_NAV = [
    ("/", "Overview"),
    ("/healthy", "Liveness"),
    ("/ready", "Readiness"),
    ("/env", "Environment"),
    ("/dns", "DNS"),
    ("/memory", "Memory"),
    ("/fs", "Files"),
]
_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:0;color:#1d2433}"
    "header{background:#326ce5;color:#fff;padding:.6em 1em}"
    "nav a{color:#fff;margin-right:1em}main{padding:1em}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccd;padding:.2em .5em;"
    "text-align:left;vertical-align:top;font-family:monospace}"
    "pre{background:#f4f6fa;padding:.6em;overflow:auto}.bad{color:#b00020}.good{color:#0a7a2f}"
)


def html_document(page: Page, pod_name: str) -> str:
    nav = "".join(f'<a href="{href}">{esc(label)}</a>' for href, label in _NAV)
    body = page.html if page.html is not None else f"<pre>{esc(page.text)}</pre>"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(page.title)} - {esc(pod_name)}</title><style>{_STYLE}</style></head>"
        f"<body><header><strong>kuard</strong> on pod {esc(pod_name)} <nav>{nav}</nav>"
        f"</header><main><h1>{esc(page.title)}</h1>{body}</main></body></html>\n"
    )


def html_table(rows: list[tuple[str, str]]) -> str:
    """``rows`` as a two-column table, a heading cell and a value cell each."""
    cells = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
    return f"<table>{cells}</table>"


def text_rows(rows: list[tuple[str, str]]) -> str:
    """``rows`` as ``key: value`` lines, the values aligned."""
    width = max((len(k) for k, _ in rows), default=0) + 1
    return "\n".join(f"{(k + ':').ljust(width)} {v}" for k, v in rows)


def post_form(action: str, label: str, fields: str = "") -> str:
    """A form posting ``fields`` (HTML) to ``action`` with one button, ``label``."""
    return (
        f'<form method="post" action="{esc(action)}">{fields}<button>{esc(label)}</button></form>'
    )
