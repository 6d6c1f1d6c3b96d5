"""The open-incident banner, for pages of lower apps (the deployments view) that may not
import incidents: a template loads this library instead."""

from typing import Any

from django import template

from incidents import selectors

register = template.Library()


@register.inclusion_tag("incidents/_open_banner.html")
def open_incidents_banner() -> dict[str, Any]:
    """The banner as it is now (one query); it then polls incidents:open-banner."""
    return {"open_incidents": selectors.open_incidents()}
