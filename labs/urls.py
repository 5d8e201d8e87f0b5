"""Exercise endpoints under /labs/."""

from django.urls import path

from labs import views

app_name = "labs"
urlpatterns = [
    path("attempts/<int:attempt_id>/", views.attempt_detail, name="attempt"),
    path("<slug:lab>/auto-check/", views.auto_check, name="auto_check"),
    path("<slug:lab>/<slug:exercise>/", views.exercise_redirect, name="exercise"),
    path("<slug:lab>/<slug:exercise>/check/", views.check, name="check"),
    path("<slug:lab>/<slug:exercise>/hint/", views.hint, name="hint"),
    path("<slug:lab>/<slug:exercise>/setup/", views.setup, name="setup"),
    path("<slug:lab>/<slug:exercise>/panel/", views.panel, name="panel"),
]
