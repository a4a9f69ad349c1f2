"""Celery app and thin tasks: load rows by id, call ``vision/``, save results."""
