from django.contrib.auth import views as auth_views
from django.urls import path

from onfile.channels.whatsapp.webhook import whatsapp_webhook
from onfile.web import api, views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(template_name="web/login.html", redirect_authenticated_user=True),
         name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("status/", views.status, name="status"),
    path("healthz", views.healthz, name="healthz"),
    path("webhooks/whatsapp", whatsapp_webhook, name="whatsapp-webhook"),
    path("api/v1/ledger/checkpoint", api.checkpoint, name="api-checkpoint"),
    path("api/v1/ledger/proof/inclusion", api.inclusion, name="api-inclusion"),
    path("api/v1/ledger/proof/consistency", api.consistency_view, name="api-consistency"),
]
