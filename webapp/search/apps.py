from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "webapp.search"
    label = "search"
    verbose_name = "Search by image"

    def ready(self):
        from webapp.core.media_access import media_rule_register
        from webapp.search import signals  # noqa: F401

        def own_query_photo(user, path):
            from webapp.search.models import QueryPhoto

            return QueryPhoto.objects.filter(photo=path, created_by=user).exists()

        media_rule_register("search/queries/", own_query_photo)
