from pathlib import Path

from django.apps import AppConfig
from django.conf import settings

from .tracing import tracing_configure


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Kernel"

    def ready(self):
        _create_development_folders()
        tracing_configure()


def _create_development_folders() -> None:
    """The embedded defaults keep their state under ./var/: the SQLite file and the filesystem broker's folders.

    Created when a process starts, not when settings are imported (importing settings writes nothing).
    """
    folders = []
    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        folders.append(Path(settings.DATABASES["default"]["NAME"]).parent)
    options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {})
    folders += [Path(options[name]) for name in ("data_folder_in", "processed_folder", "control_folder")
                if name in options]
    if settings.CELERY_RESULT_BACKEND.startswith("file://"):
        folders.append(Path(settings.CELERY_RESULT_BACKEND.removeprefix("file://")))
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
