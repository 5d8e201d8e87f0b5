"""The studio, under /labs/studio/ (mounted before labs' own URLs: "studio" is no lab slug)."""

from django.urls import path

from studio import views

app_name = "studio"
urlpatterns = [
    path("", views.index, name="index"),
    path("new/", views.create, name="create"),
    path("import/", views.import_zip, name="import"),
    path("import-folder/", views.import_folder, name="import_folder"),
    path("<slug:slug>/", views.editor, name="editor"),
    path("<slug:slug>/draft/", views.draft, name="draft"),
    path("<slug:slug>/test/", views.lab_test, name="test"),
    path("<slug:slug>/tests/<int:test_id>/", views.lab_test_detail, name="test_detail"),
    path("<slug:slug>/publish/", views.publish, name="publish"),
    path("<slug:slug>/classes/", views.use_in_class, name="use_in_class"),
    path("<slug:slug>/authors/", views.authors, name="authors"),
    path("<slug:slug>/export.zip", views.export, name="export"),
    path("<slug:slug>/try/", views.try_page, name="try"),
]
