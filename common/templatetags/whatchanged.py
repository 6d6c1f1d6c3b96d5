"""Template filters for payload data."""

from urllib.parse import urlsplit

from django import template

register = template.Library()


@register.filter
def safe_href(url: object) -> str:
    """The URL if it is http(s), else "": payload links must not smuggle `javascript:` in."""
    text = str(url or "").strip()
    return text if urlsplit(text).scheme.lower() in {"http", "https"} else ""
