from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import views

app_name = "accounts"
urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("signup/", views.signup, name="signup"),
    path("guest/", views.guest, name="guest"),
    path("claim/", views.claim, name="claim"),
    path("preferences/screen-reader/", views.screen_reader, name="screen_reader"),
]
