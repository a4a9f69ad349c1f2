from webapp.core.permissions import can_check_in


def roles(request):
    """``can_check_in`` for the navigation and the home page."""
    user = getattr(request, "user", None)
    return {"can_check_in": bool(user and can_check_in(user))}
