"""The Celery tasks, one module per app and nothing else: each task is
``run_job(self, job_id, <app>.processing.<entity>_<action>)``
(``webapp.jobs.runner``). The Celery app itself is ``webapp/celery.py``, so
the web process never imports this package."""
