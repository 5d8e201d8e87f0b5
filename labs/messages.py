"""Learner-facing messages as data: an English template (also the gettext msgid) and its
parameters, rendered in any language by a caller that has a translator (pure).

The check engine builds ``Msg`` values and never translates; ``labs.translation`` renders them
in every supported language when results are stored. Templates are marked with ``_`` (a no-op
here) so `manage.py makemessages` finds them; parameters are ``{named}`` and may themselves be
messages (``Msg``) or runs of messages (``MsgList``), which are translated too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Msg", "MsgList", "Translate", "gettext_noop"]

Translate = Callable[[str], str]


def gettext_noop(text: str) -> str:
    """Mark `text` as a message id for makemessages; translation happens when it is rendered."""
    return text


def _identity(text: str) -> str:
    return text


@dataclass(frozen=True)
class Msg:
    template: str
    params: tuple[tuple[str, str | int | float | Msg | MsgList], ...] = ()

    @classmethod
    def of(cls, template: str, **params: str | int | float | Msg | MsgList) -> Msg:
        return cls(template, tuple(params.items()))

    def render(self, translate: Translate = _identity) -> str:
        values = {
            key: value.render(translate) if isinstance(value, Msg | MsgList) else value
            for key, value in self.params
        }
        translated = translate(self.template)
        try:
            return translated.format(**values)
        except (KeyError, IndexError, ValueError):
            # A broken translation must never hide the message: fall back to English.
            return self.template.format(**values)

    def __str__(self) -> str:
        return self.render()


@dataclass(frozen=True)
class MsgList:
    """Messages shown one after another (several problems with one check)."""

    parts: tuple[Msg, ...]
    separator: str = " "

    def render(self, translate: Translate = _identity) -> str:
        return self.separator.join(part.render(translate) for part in self.parts)

    def __str__(self) -> str:
        return self.render()


def verbatim(text: str) -> Msg:
    """Text that is not translated (a script's own output)."""
    return Msg("{text}", (("text", text),))
