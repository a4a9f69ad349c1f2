from django import template

register = template.Library()


@register.filter
def get_item(mapping, key):
    """``{{ dict|get_item:"key" }}`` for keys that are not identifiers."""
    return (mapping or {}).get(key)
