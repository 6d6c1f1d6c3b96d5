"""The deployments row's text cell (see changes.presenters)."""

from django import template

from changes.models import ChangeEvent
from changes.presenters import RowText, row_text

register = template.Library()


@register.simple_tag(name="row_text")
def row_text_tag(change: ChangeEvent) -> RowText:
    """`{% row_text change as text %}`: the summary if it is news, the description's first
    line, and the hover text."""
    return row_text(change)
