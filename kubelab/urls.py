from django.contrib import admin
from django.urls import include, path

from kubelab import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/", include("accounts.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("sandbox/", include("sandbox.urls")),
    path("labs/", include("labs.urls")),
    path("classes/", include("classes.urls")),
    path("", include("tutorials.urls")),
]
