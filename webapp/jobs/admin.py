from django.contrib import admin

from webapp.jobs.models import Job


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "state", "progress", "message", "error", "created_by", "created_at", "finished_at")
    list_filter = ("kind", "state")
    search_fields = ("key", "message", "error", "celery_task_id")
    readonly_fields = ("created_at", "queued_at", "started_at", "finished_at", "heartbeat_at")
