"""Check-in job kinds (both on the interactive queue: a person is waiting)."""

from webapp.jobs.kinds import job_type

ENROL = job_type("checkin", "enrol", "Enrolment")
CHECKIN = job_type("checkin", "checkin", "Check-in")
