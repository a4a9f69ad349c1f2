from django.apps import AppConfig


class DatasetsConfig(AppConfig):
    name = "webapp.datasets"
    verbose_name = "Datasets"

    def ready(self):
        from webapp.core.media_access import media_rule_register
        from webapp.datasets import signals  # noqa: F401  (file clean-up on delete)

        def dataset_member(user, path):
            from django.db.models import Q

            from webapp.datasets.models import DatasetImage
            from webapp.datasets.selectors import sharing_q

            return DatasetImage.objects.filter(Q(file=path) | Q(thumbnail=path)).filter(sharing_q(user, "dataset__")).exists()

        media_rule_register("datasets/", dataset_member)
