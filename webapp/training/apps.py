from django.apps import AppConfig


class TrainingConfig(AppConfig):
    name = "webapp.training"
    verbose_name = "Classifier training"

    def ready(self):
        from django.conf import settings

        from webapp.core.media_access import media_rule_register
        from webapp.jobs.models import Job
        from webapp.training import jobs

        # a user's own uploads for a prediction or activation-map job
        media_rule_register("predict/", lambda user, path: Job.objects.filter(
            created_by=user, kind=jobs.PREDICT.kind, params__url=settings.MEDIA_URL + path).exists())
        media_rule_register("inspect/", lambda user, path: Job.objects.filter(
            created_by=user, kind=jobs.ACTIVATIONS.kind, params__out=path).exists())
