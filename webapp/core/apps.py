from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "webapp.core"
    verbose_name = "Core"

    def ready(self):
        # Every model name, registered once per process (records loaders only: cheap in the web process).
        from webapp.core.models_setup import models_setup

        models_setup()
