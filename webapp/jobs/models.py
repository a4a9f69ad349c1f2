"""The Job: one row per long operation of any kind (check-in, enrolment,
embedding, training, ...), written by workers and read by pages."""

from django.conf import settings
from django.db import models


class Job(models.Model):
    """A background job and everything a person needs to follow it.

    ``progress`` is 0..1; ``params`` and ``result`` are JSON whose shape
    depends on ``kind``; ``error`` is a sentence for the user, ``traceback``
    for operators. A running job cancelled is ``cancelled`` at once (its task
    sees that and stops) but ``finished_at`` stays empty until the task has
    stopped: meanwhile it is :attr:`stopping` ("Cancelling…"), not retryable. ``key`` (``kind:target:id``) lets a second request for the
    same work get the job already queued or running.
    """

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    ACTIVE_STATES = (State.QUEUED, State.RUNNING)
    # failures that would only happen again: no retry button for them
    FINAL_ERROR_CODES = ("no_face", "invalid_image", "not_image", "empty", "truncated", "too_large",
                         "unsupported_format", "deleted", "not_trainable", "invalid_archive", "invalid_layer")

    kind = models.CharField(max_length=50, db_index=True)
    key = models.CharField(max_length=200, db_index=True, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED, db_index=True)
    progress = models.FloatField(default=0.0)
    message = models.CharField(max_length=500, blank=True)
    error = models.TextField(blank=True)
    error_code = models.CharField(max_length=50, blank=True)
    traceback = models.TextField(blank=True)
    params = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    celery_task_id = models.CharField(max_length=255, blank=True)
    task_name = models.CharField(max_length=100, blank=True)
    # the Celery queue its task is routed to (webapp/jobs/routing.py), and the worker that ran it
    queue = models.CharField(max_length=100, blank=True, db_index=True)
    worker = models.CharField(max_length=200, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    restarts = models.JSONField(default=list, blank=True,
                                help_text="Each time a worker picked the job up again after the one running it died: "
                                          "{at, worker, reason}.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # set again by a retry, so "waited in queue" counts from the last time it was queued
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.kind} #{self.pk} ({self.state})"

    @property
    def kind_label(self) -> str:
        """The kind in a few words (``Check-in``), from its app's ``jobs.py``; the kind itself if undeclared."""
        from webapp.jobs.kinds import declared

        jt = declared().get(self.kind)
        return jt.label if jt else self.kind

    @property
    def queue_name(self) -> str:
        """The queue without the deployment's prefix: ``interactive`` or ``batch`` (empty before routing)."""
        from webapp.jobs.routing import queue_label

        return queue_label(self.queue)

    @property
    def is_active(self) -> bool:
        return self.state in self.ACTIVE_STATES

    @property
    def stopping(self) -> bool:
        """Cancelled while running, and its task has not stopped yet (it may still be saving
        what it keeps: training saves the best model so far)."""
        return self.state == self.State.CANCELLED and self.finished_at is None

    @property
    def state_label(self) -> str:
        """The state in a word for people: ``Cancelling…`` while :attr:`stopping`."""
        return "Cancelling…" if self.stopping else self.get_state_display()

    @property
    def retryable(self) -> bool:
        return (self.state == self.State.CANCELLED and not self.stopping) or (
            self.state == self.State.FAILED and self.error_code not in self.FINAL_ERROR_CODES)

    @property
    def queue_seconds(self) -> float | None:
        """Seconds from the last time the job was queued (created, or retried) to its start."""
        if self.started_at:
            return (self.started_at - (self.queued_at or self.created_at)).total_seconds()
        return None

    #: ``eta_seconds`` says nothing before this much progress (0..1) and this many seconds of running.
    ETA_MIN_PROGRESS, ETA_MIN_SECONDS = 0.02, 3.0

    def eta_seconds(self, now=None) -> float | None:
        """Seconds left for a running job, from its own pace so far:
        ``elapsed * (1 - progress) / progress`` (elapsed since ``started_at``). Right for a
        job whose bar moves at an even pace (training splits its bar by its estimate:
        ``vision.training.estimate``). None when not running or too early to tell
        (:attr:`ETA_MIN_PROGRESS`, :attr:`ETA_MIN_SECONDS`)."""
        from django.utils import timezone

        if self.state != self.State.RUNNING or not self.started_at:
            return None
        elapsed = ((now or timezone.now()) - self.started_at).total_seconds()
        if self.progress < self.ETA_MIN_PROGRESS or elapsed < self.ETA_MIN_SECONDS:
            return None
        return max(0.0, elapsed * (1 - min(1.0, self.progress)) / self.progress)

    @property
    def run_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None
