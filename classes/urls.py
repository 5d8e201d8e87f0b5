"""Class pages under /classes/."""

from django.urls import path

from classes import help_views, views, watch_views

app_name = "classes"
urlpatterns = [
    path("", views.index, name="index"),
    path("new/", views.create, name="create"),
    path("join/", views.join, name="join"),
    path("watched/", watch_views.watched, name="watched"),
    path("join/<str:code>/", views.join_code, name="join_code"),
    path("help/<slug:lab>/<slug:exercise>/", help_views.help_toggle, name="help"),
    path("<int:classroom_id>/", views.detail, name="detail"),
    path("<int:classroom_id>/settings/", views.settings_page, name="settings"),
    path("<int:classroom_id>/code/", views.code_action, name="code"),
    path("<int:classroom_id>/instructors/", views.instructor_add_view, name="instructor_add"),
    path(
        "<int:classroom_id>/instructors/<int:user_id>/remove/",
        views.instructor_remove_view,
        name="instructor_remove",
    ),
    path(
        "<int:classroom_id>/students/<int:user_id>/remove/",
        views.student_remove_view,
        name="student_remove",
    ),
    # Before the cell's <lab>/<exercise>: "watch/object" would read as one.
    path(
        "<int:classroom_id>/students/<int:user_id>/watch/",
        watch_views.shadow,
        name="shadow",
    ),
    path(
        "<int:classroom_id>/students/<int:user_id>/watch/object/",
        watch_views.shadow_object,
        name="shadow_object",
    ),
    path(
        "<int:classroom_id>/students/<int:user_id>/<slug:lab>/<slug:exercise>/",
        views.cell,
        name="cell",
    ),
    path("<int:classroom_id>/deadlines/", views.deadline_view, name="deadline"),
    path("<int:classroom_id>/extensions/", views.extension_view, name="extension"),
    path(
        "<int:classroom_id>/extensions/<int:extension_id>/revoke/",
        views.extension_revoke_view,
        name="extension_revoke",
    ),
    path("<int:classroom_id>/help/", help_views.help_open, name="help_open"),
    path("<int:classroom_id>/help/helped/", help_views.helped, name="helped"),
    path("<int:classroom_id>/grade/", views.grade, name="grade"),
    path("<int:classroom_id>/regrade/", views.regrade, name="regrade"),
    path("<int:classroom_id>/gradebook.csv", views.export_csv, name="export_csv"),
    path("<int:classroom_id>/gradebook.json", views.export_json, name="export_json"),
]
