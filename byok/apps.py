from django.apps import AppConfig


class ByokConfig(AppConfig):
    name = "byok"
    verbose_name = "Bring your own key"

    def ready(self):
        from . import checks  # noqa: F401  (registers the system checks)
