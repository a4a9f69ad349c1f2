from django.contrib import admin
from django.utils.text import Truncator

from webapp.jobs.models import Job


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    # few, short columns: the change list fits a laptop screen (the full texts are on each job's page)
    list_display = ("id", "kind", "state", "progress_percent", "message_short", "error_short", "created_at")
    list_filter = ("kind", "state")
    search_fields = ("key", "message", "error", "celery_task_id")
    readonly_fields = ("created_at", "queued_at", "started_at", "finished_at", "heartbeat_at")

    @admin.display(description="progress", ordering="progress")
    def progress_percent(self, job):
        return f"{job.progress:.0%}"

    @admin.display(description="message")
    def message_short(self, job):
        return Truncator(job.message).chars(60)

    @admin.display(description="error")
    def error_short(self, job):
        return Truncator(job.error).chars(60)
