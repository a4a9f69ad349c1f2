"""Search-by-image job kinds."""

from webapp.jobs.kinds import job_type

EMBED = job_type("search", "embed", "Gallery embedding")
BUILD_INDEX = job_type("search", "build_index", "Search index build")
QUERY = job_type("search", "query", "Image search", durable_result=False)  # hits: an answer, asked again if lost
CLASSIFY = job_type("search", "classify", "ImageNet classify")
