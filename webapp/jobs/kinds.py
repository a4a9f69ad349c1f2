"""What a kind of job is called, declared once per app in its ``jobs.py``.

A job kind is spelled ``<app>.<action>`` (``checkin.enrol``) and its Celery
task ``workers.<app>.<action>`` (``workers.checkin.enrol``): :func:`job_type`
derives both from the same two words, so they cannot drift apart. Which queue
a task goes to is Celery's routing table, ``CELERY_TASK_ROUTES`` in settings
(:mod:`webapp.jobs.routing`), not part of the declaration.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Every declared job type by kind, filled as the apps' ``jobs.py`` modules are imported.
DECLARED: dict[str, "JobType"] = {}


@dataclass(frozen=True)
class JobType:
    """One kind of background job.

    Attributes:
        kind: ``"<app>.<action>"``, stored in ``Job.kind``.
        task: ``"workers.<app>.<action>"``, the Celery task name sent to the broker.
        label: a few words for people (the Jobs page filter).
        stopping: what a job of this kind shows from Cancel until its task has stopped
            (``Job.stopping``), e.g. training's "Cancelling… (saving the best model)".
        durable_result: False for a job whose result is only an answer for the person
            waiting on it, stored and gone from interest in seconds (a search's hits):
            its success is committed without waiting for the disk (PostgreSQL's
            asynchronous commit, ``webapp.jobs.services.job_succeed``). A database crash
            in the next fraction of a second loses that answer and nothing else; the
            job then fails as one whose worker died, and the search is asked again.
    """

    kind: str
    task: str
    label: str
    stopping: str = "Cancelling… (the job stops at its next check)"
    durable_result: bool = True

    def key(self, target: str, pk) -> str:
        """The de-duplication key ``<kind>:<target>:<pk>`` of one job of this kind on one row."""
        return f"{self.kind}:{target}:{pk}"


def job_type(app: str, action: str, label: str, *, stopping: str = "", durable_result: bool = True) -> JobType:
    """Declare the job type ``<app>.<action>`` (task ``workers.<app>.<action>``);
    ``stopping``, ``durable_result``: see :class:`JobType` (empty ``stopping``: the general sentence).

    Raises:
        ValueError: the kind was declared before with another task or label.
    """
    jt = JobType(f"{app}.{action}", f"workers.{app}.{action}", label, *([stopping] if stopping else []),
                 durable_result=durable_result)
    if DECLARED.setdefault(jt.kind, jt) != jt:
        raise ValueError(f"Job kind {jt.kind!r} declared twice")
    return jt


def declared() -> dict[str, JobType]:
    """Every job type of every installed app (imports each app's ``jobs.py``)."""
    import importlib

    from django.apps import apps

    for config in apps.get_app_configs():
        if config.name.startswith("webapp."):
            try:
                importlib.import_module(f"{config.name}.jobs")
            except ModuleNotFoundError as err:
                if err.name != f"{config.name}.jobs":
                    raise
    return dict(DECLARED)
