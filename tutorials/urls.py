"""Lesson pages (the course overview and chapters) are wired here."""

app_name = "tutorials"
urlpatterns: list = []
