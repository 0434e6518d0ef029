from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "onfile.web"
    label = "web"
