from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from kubelab import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    # Pages link their icon; this answers what browsers ask for on their own (a JSON page, say).
    path("favicon.ico", RedirectView.as_view(url=static("favicon.svg"), permanent=True)),
    path("accounts/", include("accounts.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("sandbox/", include("sandbox.urls")),
    path("labs/studio/", include("studio.urls")),
    path("labs/", include("labs.urls")),
    path("classes/", include("classes.urls")),
    path("lms/", include("lms.urls")),
    path("", include("tutorials.urls")),
]
