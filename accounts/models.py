"""What a user chose for themselves, kept with their account so it follows them to every
browser: today the terminal's screen-reader mode (xterm.js reads its output to assistive
technology, at a cost in speed, so it is off unless asked for)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Preferences(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preferences"
    )
    screen_reader = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"preferences of user {self.user_id}"
