"""Roles (Django groups): staff manage members and enrolment (biometric
data); the ``kiosk`` group checks people in and reads the check-in log;
``operators`` follow every job. Other logged-in users use datasets,
training and search."""

from functools import wraps

from django.core.exceptions import PermissionDenied


def staff_required(view):
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_staff:
            raise PermissionDenied("Only staff can manage members and their face data.")
        return view(request, *args, **kwargs)

    return wrapped


CHECKIN_GROUPS = ("kiosk",)


def can_check_in(user) -> bool:
    """Staff, or a member of the ``kiosk`` group."""
    return bool(user.is_authenticated and (user.is_staff or user.groups.filter(name__in=CHECKIN_GROUPS).exists()))


def checkin_role_required(view):
    """Check-in pages show faces: staff or the ``kiosk`` group only."""
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not can_check_in(request.user):
            raise PermissionDenied("Check-in is for kiosk accounts and staff; ask an administrator to add you to the “kiosk” group.")
        return view(request, *args, **kwargs)

    return wrapped


def can_change_dataset(user, dataset) -> bool:
    """Whether ``user`` may add and delete a dataset's photos, change its
    label map, import and export boxes, or delete it: staff, and the user
    who created it. Users it is shared with (annotators assigned to it) see
    and annotate it, nothing more. The one rule of the datasets pages and the
    annotation pages alike."""
    return bool(user.is_authenticated and (
        user.is_staff or (dataset.created_by_id is not None and dataset.created_by_id == user.pk)))
