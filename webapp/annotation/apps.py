from django.apps import AppConfig


class AnnotationConfig(AppConfig):
    name = "webapp.annotation"
    verbose_name = "Annotation (detection boxes)"

    def ready(self):
        from webapp.core.media_access import media_rule_register, staff_only

        def own_detect_photo(user, path):
            from webapp.annotation.models import DetectPhoto

            return DetectPhoto.objects.filter(file=path, created_by=user).exists()

        media_rule_register("detect/", own_detect_photo)
        media_rule_register("exports/", staff_only)
