"""The exceptions of the job platform, raised by processing code and services
and turned into words by one place each: the task boundary
(:func:`webapp.jobs.runner.run_job`) for jobs, and
:class:`webapp.core.api_errors.ServiceErrorMiddleware` for pages and JSON."""

from __future__ import annotations


class JobFailed(Exception):
    """A domain failure with a user-facing sentence (e.g. "no face"): the job
    fails at once, without retry, optionally keeping a partial ``result``.

    Attributes:
        message: the sentence shown on the job page.
        code: a short machine code (``deleted``, ``not_trainable``, ...);
            ``Job.FINAL_ERROR_CODES`` lists those not worth a retry.
        result: JSON-able dict recorded on the job, or ``None``.
    """

    def __init__(self, message: str, code: str = "error", result: dict | None = None):
        super().__init__(message, code, result)
        self.message, self.code, self.result = message, code, result


class JobCancelled(Exception):
    """The job was cancelled while it ran, and the task stopped between two
    batches (see :func:`webapp.jobs.services.cancel_checker`). The job stays
    cancelled; ``message`` says how far it got and ``result`` what was kept,
    and both are recorded on it (:func:`webapp.jobs.services.job_cancel_record`)."""

    def __init__(self, message: str = "Cancelled", result: dict | None = None):
        super().__init__(message, result)
        self.message, self.result = message, result


class QueueUnavailable(Exception):
    """The broker could not be reached: the job was marked failed; pages and
    the API answer 503 with :attr:`message` (``ServiceErrorMiddleware``)."""

    def __init__(self, message="The job queue is not reachable right now; please try again in a minute."):
        super().__init__(message)
        self.message = message
