from __future__ import annotations

from django import forms
from django.contrib.auth.forms import UserCreationForm
from django.utils.translation import gettext_lazy as _

from accounts.services import username_is_reserved


class SignupForm(UserCreationForm):
    """Signing up, and claiming a guest account (the same name and password rules)."""

    email = forms.EmailField(label=_("Email (optional)"), required=False)

    def clean_username(self) -> str:
        username = str(super().clean_username() or "")
        if username_is_reserved(username):
            raise forms.ValidationError(
                _(
                    "Names starting with “guest-” or “lti-” are kept for guests and for "
                    "learners from an LMS; choose another."
                )
            )
        return username
