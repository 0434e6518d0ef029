"""The staff web app's pages (the inbox, conversations, clients, matters, administration)."""

from django.urls import path

from onfile.web import conversation, inbox, manage, records, search_page

urlpatterns = [
    path("inbox/", inbox.inbox, name="inbox"),
    path("conversations/<int:pk>/", conversation.conversation_page, name="conversation"),
    path("conversations/<int:pk>/new", conversation.new_messages, name="conversation-new"),
    path("conversations/<int:pk>/reply", conversation.reply, name="conversation-reply"),
    path("conversations/<int:pk>/assign", conversation.assign, name="conversation-assign"),
    path("conversations/<int:pk>/link", conversation.link, name="conversation-link"),
    path("conversations/<int:pk>/note", conversation.note, name="conversation-note"),
    path("conversations/<int:pk>/held/<int:held>/cancel", conversation.cancel_held, name="conversation-held-cancel"),
    path("media/<int:pk>", conversation.media, name="media"),
    path("search/", search_page.search_page, name="search"),
    path("search/count/", search_page.search_count, name="search-count"),
    path("clients/", records.clients, name="clients"),
    path("clients/new", records.client_new, name="client-new"),
    path("clients/<int:pk>/", records.client_page, name="client"),
    path("clients/<int:pk>/edit", records.client_edit, name="client-edit"),
    path("clients/<int:pk>/merge", records.client_merge, name="client-merge"),
    path("matters/", records.matters, name="matters"),
    path("matters/new", records.matter_new, name="matter-new"),
    path("matters/<int:pk>/", records.matter_page, name="matter"),
    path("matters/<int:pk>/edit", records.matter_edit, name="matter-edit"),
    path("matters/<int:pk>/wall", records.matter_wall, name="matter-wall"),
    path("manage/numbers", manage.numbers, name="manage-numbers"),
    path("manage/users", manage.users, name="manage-users"),
    path("manage/walls", manage.walls, name="manage-walls"),
    path("manage/ledger", manage.ledger, name="manage-ledger"),
    path("manage/ledger/checkpoint", manage.ledger_checkpoint, name="manage-ledger-checkpoint"),
]
