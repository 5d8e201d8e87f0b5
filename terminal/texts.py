"""What the terminal says in the learner's shell, in the language of the page that opened it
(kubelab.socket_language reads that language from the socket's headers)."""

from __future__ import annotations

from django.utils import translation
from django.utils.translation import gettext as _

from kubelab.socket_language import language_from_headers, scope_language
from terminal.session import ShellTexts

__all__ = ["language_from_headers", "scope_language", "shell_lost_notice", "shell_texts"]


def shell_texts(*, language: str) -> ShellTexts:
    """The terminal's own lines in `language`."""
    with translation.override(language):
        return ShellTexts(
            # jails.learner.welcome_line fills it in: bold from %(bold)s to %(plain)s.
            welcome=_(
                "%(bold)sWelcome to kubelab.%(plain)s Your namespace is %(namespace)s. "
                "Try: %(command)s"
            ),
            ended=_("session ended, press Enter to restart"),
            # %(minutes)s is filled in when the shell is ended.
            idle_ended=_("idle for %(minutes)s min; session ended, press Enter to restart"),
        )


def shell_lost_notice(*, language: str) -> str:
    """Above a new shell's first prompt when the one the screen asked for went with a restart."""
    with translation.override(language):
        return _(
            "your previous shell is gone (kubelab's server restarted); this is a new one, and "
            "your namespace and everything in it are as you left them"
        )
