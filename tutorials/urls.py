"""Lesson pages: the course overview and chapters."""

from django.urls import path

from tutorials import views

app_name = "tutorials"
urlpatterns = [
    path("learn/", views.course_overview, name="overview"),
    path("learn/<slug:slug>/", views.chapter_detail, name="chapter"),
]
