"""Dataset job kinds."""

from webapp.jobs.kinds import job_type

IMPORT = job_type("datasets", "import", "Photo import")
