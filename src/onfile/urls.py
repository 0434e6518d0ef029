from django.urls import include, path

from onfile.channels.whatsapp.webhook import whatsapp_webhook
from onfile.exports import views as exports
from onfile.web import api, views

urlpatterns = [
    path("", views.home, name="home"),
    path("", include("onfile.accounts.urls")),  # login, logout, two-factor, security page, single sign-on
    path("", include("onfile.web.urls")),  # inbox, conversations, clients, matters, administration
    path("conversations/<int:pk>/export.pdf", exports.conversation_pdf, name="conversation-pdf"),
    path("conversations/<int:pk>/export.zip", exports.conversation_zip, name="conversation-zip"),
    path("conversations/<int:pk>/exports", exports.request_export, name="conversation-export-request"),
    path("exports/", exports.my_exports, name="exports"),  # "My exports": jobs of long conversations
    path("exports/<int:pk>/download", exports.download, name="export-download"),
    path("status/", views.status, name="status"),
    path("healthz", views.healthz, name="healthz"),
    path("webhooks/whatsapp", whatsapp_webhook, name="whatsapp-webhook"),
    path("api/v1/ledger/checkpoint", api.checkpoint, name="api-checkpoint"),
    path("api/v1/ledger/proof/inclusion", api.inclusion, name="api-inclusion"),
    path("api/v1/ledger/proof/consistency", api.consistency_view, name="api-consistency"),
]
