from django import template

register = template.Library()


@register.filter
def get_item(mapping, key):
    """``{{ dict|get_item:"key" }}`` for keys that are not identifiers."""
    return (mapping or {}).get(key)


@register.filter
def percent(fraction, digits=1):
    """``{{ 0.8571|percent }}`` -> ``"85.7 %"`` (a share 0..1 shown as a percentage); empty for no value."""
    if fraction in (None, ""):
        return ""
    return f"{float(fraction) * 100:.{int(digits)}f} %"
