from django.apps import AppConfig


class CheckinConfig(AppConfig):
    name = "webapp.checkin"
    verbose_name = "Face check-in"

    def ready(self):
        from webapp.checkin import signals  # noqa: F401  (file clean-up on delete)
        from webapp.core.media_access import media_rule_register, staff_only
        from webapp.core.permissions import can_check_in

        media_rule_register("faces/", staff_only)  # enrolment photos and face crops: biometric data
        media_rule_register("checkins/", lambda user, path: can_check_in(user))
