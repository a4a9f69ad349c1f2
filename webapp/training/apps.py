from django.apps import AppConfig


class TrainingConfig(AppConfig):
    name = "webapp.training"
    verbose_name = "Classifier training"

    def ready(self):
        from django.conf import settings

        from webapp.core.media_access import media_rule_register
        from webapp.jobs.models import Job

        # a user's own uploads for a prediction or activation-map job
        media_rule_register("predict/", lambda user, path: Job.objects.filter(
            created_by=user, kind="predict", params__url=settings.MEDIA_URL + path).exists())
        media_rule_register("inspect/", lambda user, path: Job.objects.filter(
            created_by=user, kind="activations", params__out=path).exists())
