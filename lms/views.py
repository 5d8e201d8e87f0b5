"""Thin views of the LMS integration: OIDC login initiation, the launch, kubelab's JWKS, the
deep-linking picker, and the instructor's roster and resend buttons. Who may reach each:
login, launch and JWKS are public (the platform's browser redirects and its servers call them;
every launch is checked by lms.protocol); the picker only the instructor whose deep-linking
launch is in their session; roster and resend only the class's instructors."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from lti_tool.models import LtiRegistration

from classes.selectors import ClassroomNotFound, classroom_get_for_instructor
from kubelab.security import SITE_POLICY
from lms.deeplinking import DEEP_LINK_SESSION, PlacementError, placements_answer
from lms.framing import FRAME_ORIGINS, cookies_for_frames, frame_allow
from lms.launches import LaunchNotUsable, frame_origins, launch_accept, origin_of
from lms.models import CourseClass, Passback, PassbackState
from lms.passback import passback_queue
from lms.protocol import (
    DEEP_LINKING_SETTINGS,
    LaunchRefused,
    claimed_issuer,
    launch_validate,
    login_redirect,
    login_registration,
    tool_jwks,
)
from lms.roles import language_for_locale
from lms.roster import roster_sync_queue
from lms.targets import catalog_choices

logger = logging.getLogger(__name__)


def frame_origins_claimed(request: HttpRequest) -> tuple[str, ...]:
    issuer = claimed_issuer(request)
    origins: list[str] = []
    for registration in LtiRegistration.objects.filter(issuer=issuer)[:10] if issuer else []:
        origins += [o for o in frame_origins(registration) if o not in origins]
    return tuple(origins)


def _refusal(
    request: HttpRequest, reason: str, status: int, origins: tuple[str, ...] = ()
) -> HttpResponse:
    response = render(request, "lms/refused.html", {"reason": reason}, status=status)
    if origins:
        frame_allow(response, origins)
    return response


@csrf_exempt  # a cross-site redirect or form from the LMS; it changes nothing in kubelab
@never_cache
@require_http_methods(["GET", "POST"])
def login_start(request: HttpRequest) -> HttpResponse:
    params = request.POST if request.method == "POST" else request.GET
    registration = login_registration(params)
    if registration is None:
        return _refusal(
            request,
            _("kubelab has no active registration for this platform (issuer %(iss)s).")
            % {"iss": (params.get("iss") or "?")[:200]},
            400,
        )
    origins = frame_origins(registration)
    if not params.get("lti1p3_new_window"):
        # First a page that tries a cookie: inside an LMS frame whose browser blocks
        # third-party cookies, the launch cannot keep its state, so kubelab opens in a window
        # of its own (first party) instead.
        query = urlencode({**{k: params.get(k) for k in params}, "lti1p3_new_window": "1"})
        response = render(
            request, "lms/cookie_check.html", {"continue_url": f"{request.path}?{query}"}
        )
    else:
        try:
            response = login_redirect(request, request.build_absolute_uri(reverse("lms:launch")))
        except LaunchRefused as exc:
            return _refusal(request, str(exc), 400, origins)
        # The login's state cookies must come back with the launch, inside the frame too.
        cookies_for_frames(request, response)
    frame_allow(response, origins)
    return response


@csrf_exempt  # the platform's form post; the signed id_token and state are the protection
@never_cache
@require_POST
def launch(request: HttpRequest) -> HttpResponse:
    try:
        validated = launch_validate(request)
    except LaunchRefused as exc:
        logger.info("LTI launch refused: %s", exc)
        return _refusal(
            request,
            _("This launch was refused: %(why)s") % {"why": exc},
            403,
            frame_origins_claimed(request),
        )
    origins = frame_origins(validated.registration)
    try:
        landing = launch_accept(validated)
    except LaunchNotUsable as exc:
        return _refusal(request, str(exc), 400, origins)
    login(request, landing.user, backend="django.contrib.auth.backends.ModelBackend")
    request.session[FRAME_ORIGINS] = list(origins)
    if landing.deep_link:
        request.session[DEEP_LINK_SESSION] = {
            "registration": validated.registration.pk,
            "deployment_id": validated.library.deployment.deployment_id,
            "settings": validated.claims.get(DEEP_LINKING_SETTINGS) or {},
            "context": (validated.claim("context") or {}).get("id", ""),
        }
    response = redirect(landing.path)
    # The LMS says which language its user reads; kubelab speaks it if it has it.
    presentation = validated.claim("launch_presentation") or {}
    language = language_for_locale(str(presentation.get("locale") or ""))
    if language:
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, language, samesite="Lax")
    return response


@require_GET
def jwks(request: HttpRequest) -> JsonResponse:
    response = JsonResponse(tool_jwks())
    response["Cache-Control"] = "public, max-age=300"
    return response


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def deep_link(request: HttpRequest) -> HttpResponse:
    pending = request.session.get(DEEP_LINK_SESSION)
    if not pending:
        return _refusal(
            request,
            _("There is nothing to place: open kubelab from your LMS's “add activity” again."),
            400,
        )
    language = get_language()
    choices = catalog_choices(user=request.user, language=language)
    if request.method == "GET":
        return render(request, "lms/deep_link.html", {"choices": choices})
    try:
        return_url, token = placements_answer(
            user=request.user,
            pending=pending,
            chosen=request.POST.getlist("target"),
            language=language,
            launch_url=request.build_absolute_uri(reverse("lms:launch")),
        )
    except PlacementError as exc:
        return render(
            request, "lms/deep_link.html", {"choices": choices, "error": str(exc)}, status=400
        )
    del request.session[DEEP_LINK_SESSION]
    response = render(request, "lms/deep_link_return.html", {"action": return_url, "jwt": token})
    # The form posts to the LMS: this page's CSP (the site's, which the middleware would add)
    # must allow that one destination.
    response["Content-Security-Policy"] = SITE_POLICY.replace(
        "form-action 'self'", f"form-action 'self' {origin_of(return_url)}"
    )
    return response


def _course(request: HttpRequest, classroom_id: int) -> CourseClass:
    try:
        classroom = classroom_get_for_instructor(user=request.user, classroom_id=classroom_id)
    except ClassroomNotFound:
        raise Http404("no such class") from None
    course = CourseClass.objects.filter(classroom=classroom).first()
    if course is None:
        raise Http404("this class is not linked to an LMS course")
    return course


@login_required
@require_POST
def roster(request: HttpRequest, classroom_id: int) -> HttpResponse:
    course = _course(request, classroom_id)
    roster_sync_queue(course.pk)
    messages.success(
        request, _("The roster is being read from the LMS; reload this page in a moment.")
    )
    return redirect("classes:detail", classroom_id)


@login_required
@require_POST
def passback_retry(request: HttpRequest, classroom_id: int) -> HttpResponse:
    course = _course(request, classroom_id)
    rows = Passback.objects.filter(
        activity__resource_link__context=course.context,
        state__in=[PassbackState.RETRYING, PassbackState.REFUSED],
    )
    ids = list(rows.values_list("pk", flat=True))
    rows.update(state=PassbackState.PENDING, tries=0)
    for passback_id in ids:
        passback_queue(passback_id)
    messages.success(request, _("%(n)d scores are being sent again.") % {"n": len(ids)})
    return redirect("classes:detail", classroom_id)
