from django.apps import AppConfig


class CheckinConfig(AppConfig):
    name = "webapp.checkin"
    verbose_name = "Face check-in"

    def ready(self):
        from webapp.checkin import signals  # noqa: F401  (file clean-up on delete)
