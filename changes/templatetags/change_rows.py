"""`{% change_row change %}`: a change's row on the deployments and component pages (see
changes.rows)."""

from django import template
from django.utils.safestring import SafeString

from changes import rows
from changes.models import ChangeEvent

register = template.Library()


@register.simple_tag
def change_row(change: ChangeEvent, new: bool = False, oob: bool = False) -> SafeString:
    return rows.change_row(change, new=new, oob=oob)
