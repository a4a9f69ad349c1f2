"""One date and time format on every page (Django's ``FORMAT_MODULE_PATH``):
``2026-11-30 14:05:09``, sortable and read the same way everywhere, instead of
US English's "Nov. 30, 2026, 2:05 p.m." beside ISO dates in tables and the
browser's own format in scripts (``static/js/app.js`` ``fmtTime`` matches it)."""

DATE_FORMAT = "Y-m-d"
TIME_FORMAT = "H:i:s"
DATETIME_FORMAT = "Y-m-d H:i:s"
SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
MONTH_DAY_FORMAT = "F j"
YEAR_MONTH_FORMAT = "F Y"
FIRST_DAY_OF_WEEK = 1  # Monday
