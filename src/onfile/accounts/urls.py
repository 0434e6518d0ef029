from django.urls import path

from onfile.accounts import views

urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("login/code/", views.login_code, name="login-code"),
    path("logout/", views.logout_view, name="logout"),
    path("account/security/", views.security, name="account-security"),
    path("account/two-factor/setup/", views.two_factor_setup, name="two-factor-setup"),
    path("sso/login/", views.sso_login, name="sso-login"),
    path("sso/callback", views.sso_callback, name="sso-callback"),
]
