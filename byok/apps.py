from django.apps import AppConfig


class ByokConfig(AppConfig):
    name = "byok"
    verbose_name = "Bring your own key"
