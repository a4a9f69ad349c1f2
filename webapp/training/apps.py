from django.apps import AppConfig


class TrainingConfig(AppConfig):
    name = "webapp.training"
    verbose_name = "Classifier training"

    def ready(self):
        from django.conf import settings

        from webapp.core.media_access import media_rule_register
        from webapp.jobs.models import Job
        from webapp.training import jobs

        def own_upload(kind: str):
            """A user's own uploads for their jobs of ``kind`` (a prediction's, a reading's photo)."""
            return lambda user, path: Job.objects.filter(
                created_by=user, kind=kind, params__url=settings.MEDIA_URL + path).exists()

        media_rule_register("predict/", own_upload(jobs.PREDICT.kind))
        media_rule_register("read/", own_upload(jobs.READ.kind))
        # a user's own activation maps
        media_rule_register("inspect/", lambda user, path: Job.objects.filter(
            created_by=user, kind=jobs.ACTIVATIONS.kind, params__out=path).exists())
