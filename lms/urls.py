from django.urls import path

from lms import views

app_name = "lms"

urlpatterns = [
    path("login/", views.login_start, name="login"),
    path("launch/", views.launch, name="launch"),
    path("jwks.json", views.jwks, name="jwks"),
    path("deep-link/", views.deep_link, name="deep_link"),
    path("classes/<int:classroom_id>/roster/", views.roster, name="roster"),
    path("classes/<int:classroom_id>/passback/", views.passback_retry, name="passback_retry"),
]
