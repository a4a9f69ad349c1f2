"""Roles: staff manage members and enrolment (biometric data); any logged-in
user (e.g. the ``kiosk`` group) can check people in and read the log."""

from functools import wraps

from django.core.exceptions import PermissionDenied


def staff_required(view):
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_staff:
            raise PermissionDenied("Only staff can manage members and their face data.")
        return view(request, *args, **kwargs)

    return wrapped
