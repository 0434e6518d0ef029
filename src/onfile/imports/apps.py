from django.apps import AppConfig


class ImportsConfig(AppConfig):
    name = "onfile.imports"
    label = "imports"
