"""Sign-up, guests (start, claim); log in and out are Django's own views (see accounts/urls.py)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import login, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.conf import guest_config
from accounts.forms import SignupForm
from accounts.selectors import user_is_guest
from accounts.services import (
    GuestClaimError,
    GuestLimitReached,
    guest_claim,
    guest_start,
    student_signup,
)
from kubelab.limited import limited_response
from kubelab.ratelimit import RateLimited, client_network, rate_limit_take

_BACKEND = "django.contrib.auth.backends.ModelBackend"
GUEST_SESSION_SECONDS = 365 * 24 * 3600


def _next_or(request: HttpRequest, default: str) -> str:
    """The `next` the form sent, if it stays on this site; anything else is `default`."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def _client(request: HttpRequest) -> str:
    # REMOTE_ADDR: uvicorn sets it from X-Forwarded-For only for KUBELAB_TRUSTED_PROXIES.
    return str(request.META.get("REMOTE_ADDR", ""))


class LoginView(auth_views.LoginView):
    """Django's login, with attempts limited per client network and per username."""

    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        username = str(request.POST.get("username", "")).strip().lower()[:150]
        try:
            rate_limit_take(scope="login", key=client_network(_client(request)))
            rate_limit_take(scope="login-user", key=username)
        except RateLimited as exc:
            return limited_response(request, exc)
        return super().post(request, *args, **kwargs)


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if user_is_guest(user=request.user):
        # A second account would strand the guest's progress; claiming keeps it.
        return redirect("accounts:claim")
    form = SignupForm(request.POST or None)
    if request.method == "POST":
        try:
            # Every attempt counts (a failed one costs a password hash too): per client
            # network, and for the whole site, so a script cannot fill the cluster with learners.
            rate_limit_take(scope="signup", key=client_network(_client(request)))
            rate_limit_take(scope="signup-all", key="site")
        except RateLimited as exc:
            return limited_response(request, exc)
    if request.method == "POST" and form.is_valid():
        user = student_signup(
            username=form.cleaned_data["username"],
            password=form.cleaned_data["password1"],
            email=form.cleaned_data.get("email") or "",
        )
        login(request, user, backend=_BACKEND)
        return redirect("home")
    return render(request, "accounts/signup.html", {"form": form})


def guest(request: HttpRequest) -> HttpResponse:
    """POST (CSRF-checked): start a guest account, log it in, go back to where the click was."""
    # Switched off means the endpoint does not exist, whatever the method.
    if not guest_config().enabled:
        raise Http404("guest access is switched off")
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    target = _next_or(request, reverse("tutorials:overview"))
    if request.user.is_authenticated:
        return redirect(target)
    try:
        user = guest_start(client_ip=_client(request))
    except GuestLimitReached as exc:
        return render(request, "accounts/guest_limit.html", {"reason": str(exc)}, status=429)
    login(request, user, backend=_BACKEND)
    # The session is a guest's only key (there is no password), so it must not run out before
    # the account does: an active guest is kept indefinitely, an unused one is deleted after
    # KUBELAB_GUEST_DAYS (which ends the session too).
    request.session.set_expiry(GUEST_SESSION_SECONDS)
    return redirect(target)


@login_required
@require_http_methods(["GET", "POST"])
def claim(request: HttpRequest) -> HttpResponse:
    """A guest chooses a name and password; the account, and all its progress, stays."""
    if not user_is_guest(user=request.user):
        messages.info(request, _("Your account is already signed up."))
        return redirect("home")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = guest_claim(
                user=request.user,
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password1"],
                email=form.cleaned_data.get("email") or "",
            )
        except GuestClaimError as exc:
            form.add_error("username", str(exc))
        else:
            # The password changed: without this the session would be logged out.
            update_session_auth_hash(request, user)
            request.session.set_expiry(None)  # an ordinary account: the site's session age
            messages.success(
                request, _("Welcome, %(name)s: your progress is kept.") % {"name": user.username}
            )
            return redirect(_next_or(request, reverse("tutorials:overview")))
    return render(request, "accounts/claim.html", {"form": form, "next": _next_or(request, "")})


@login_required
@require_http_methods(["POST"])
def screen_reader(request: HttpRequest) -> HttpResponse:
    """Save the terminal's screen-reader mode with the account (`on` = "true" or "false")."""
    from django.http import JsonResponse

    from accounts.preferences import screen_reader_set

    value = request.POST.get("on", "")
    if value not in ("true", "false"):
        return JsonResponse({"error": _("Say on=true or on=false.")}, status=400)
    screen_reader_set(user=request.user, on=value == "true")
    return JsonResponse({"screen_reader": value == "true"})
