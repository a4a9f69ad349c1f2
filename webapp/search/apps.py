from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "webapp.search"
    label = "search"
    verbose_name = "Search by image"

    def ready(self):
        # Records loaders only (numpy, no TensorFlow): cheap in the web process.
        from webapp.search import signals  # noqa: F401
        from webapp.search.backbones import backbones_register

        backbones_register()
