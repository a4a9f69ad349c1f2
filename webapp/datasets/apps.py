from django.apps import AppConfig


class DatasetsConfig(AppConfig):
    name = "webapp.datasets"
    verbose_name = "Datasets"

    def ready(self):
        from webapp.datasets import signals  # noqa: F401  (file clean-up on delete)
