from django.urls import path

from sandbox import views

app_name = "sandbox"

urlpatterns = [
    path("status", views.status, name="status"),
    path("reset", views.reset, name="reset"),
]
