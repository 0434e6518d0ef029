from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "onfile.accounts"
    label = "accounts"
