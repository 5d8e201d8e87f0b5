"""Forms of the classes pages; errors are specific and translated."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from classes.codes import LENGTH, InvalidCode, code_normalise


class ClassroomForm(forms.Form):
    name = forms.CharField(label=_("Class name"), max_length=120)
    labs = forms.MultipleChoiceField(
        label=_("Labs"),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_(
            "Students see the labs in course order; the gradebook has a column per exercise."
        ),
    )

    def __init__(self, *args: Any, lab_choices: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        labs = self.fields["labs"]
        assert isinstance(labs, forms.MultipleChoiceField)
        labs.choices = lab_choices


class JoinForm(forms.Form):
    code = forms.CharField(label=_("Join code"), max_length=40)

    def clean_code(self) -> str:
        try:
            return code_normalise(self.cleaned_data["code"])
        except InvalidCode as exc:
            raise forms.ValidationError(join_code_problem(exc)) from None


def join_code_problem(exc: InvalidCode) -> str:
    if exc.reason == "empty":
        return gettext("Enter the join code your instructor gave you.")
    if exc.reason == "length":
        return gettext("A join code has %(length)s letters and digits; this one has %(found)s.") % {
            "length": LENGTH,
            "found": exc.found,
        }
    return gettext("A join code never contains %(found)s; check the code with your instructor.") % {
        "found": exc.found
    }


class InstructorForm(forms.Form):
    username = forms.CharField(label=_("Instructor's username"), max_length=150)
