from django.contrib import admin

from webapp.registry.models import ModelVersion


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "dataset", "version", "active", "created_at")
    list_filter = ("kind", "active")
