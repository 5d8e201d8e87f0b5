"""The administrator's side of LTI: registering a platform (django-lti's registration admin,
with kubelab's frame origins inline) and, on the same page, the URLs and keys to enter in the
LMS. kubelab's private keys are never shown (django-lti's Key has no admin page)."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from lti_tool.admin import LtiRegistrationAdmin
from lti_tool.models import LtiRegistration

from lms.models import CourseClass, LinkedActivity, Passback, PlatformSite
from lms.protocol import keys_rotate, tool_jwks


class PlatformSiteInline(admin.StackedInline):
    model = PlatformSite
    can_delete = False
    extra = 1
    max_num = 1
    verbose_name = "framing"
    verbose_name_plural = "framing (origins that may show kubelab in a frame)"


def tool_urls(request: HttpRequest) -> dict[str, str]:
    """What an LMS administrator enters for kubelab (README, "Use kubelab from your LMS")."""
    return {
        "OIDC login initiation URL": request.build_absolute_uri(reverse("lms:login")),
        "Target link URI / redirect URI / deep linking URL": request.build_absolute_uri(
            reverse("lms:launch")
        ),
        "Public keyset (JWKS) URL": request.build_absolute_uri(reverse("lms:jwks")),
    }


admin.site.unregister(LtiRegistration)


@admin.register(LtiRegistration)
class KubelabRegistrationAdmin(LtiRegistrationAdmin):
    inlines = [*LtiRegistrationAdmin.inlines, PlatformSiteInline]
    actions = ["rotate_keys"]

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        extra = {
            **(extra_context or {}),
            "kubelab_tool_urls": tool_urls(request),
            "kubelab_jwks": json.dumps(tool_jwks(), indent=2),
        }
        return super().changeform_view(request, object_id, form_url, extra)

    @admin.action(description="Rotate kubelab's signing key (old keys stay published 7 days)")
    def rotate_keys(self, request: HttpRequest, queryset: QuerySet[LtiRegistration]) -> None:
        retired = keys_rotate()
        messages.success(request, f"kubelab signs with a new key; {retired} old key(s) retired.")


@admin.register(CourseClass)
class CourseClassAdmin(admin.ModelAdmin):
    list_display = ["context", "classroom", "roster_synced_at"]
    readonly_fields = ["context", "classroom", "roster_synced_at", "roster_error"]


@admin.register(LinkedActivity)
class LinkedActivityAdmin(admin.ModelAdmin):
    list_display = ["resource_link", "target", "lineitem_url"]


@admin.register(Passback)
class PassbackAdmin(admin.ModelAdmin):
    list_display = ["activity", "user", "score_given", "score_maximum", "state", "tries", "sent_at"]
    list_filter = ["state"]
    readonly_fields = [f.name for f in Passback._meta.fields]
