"""Form widgets for the busiest pages."""

from html import escape
from typing import Any

from django import forms
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe


class FastSelect(forms.Select):
    """A <select> rendered in Python. Django renders each <option> through a template, which
    on the deployments page (hundreds of pipelines) cost more than all its queries together;
    the standard library's escape is also several times faster than Django's lazy-aware one."""

    def render(
        self, name: str, value: Any, attrs: dict | None = None, renderer: Any = None
    ) -> SafeString:
        values = value if isinstance(value, list | tuple) else [value]
        selected = {str(item) for item in values if item not in (None, "")}
        options = "".join(
            f'<option value="{escape(str(option))}"'
            f"{' selected' if str(option) in selected else ''}>{escape(str(label))}</option>"
            for option, label in self.choices
        )
        attributes = flatatt(self.build_attrs(self.attrs, {**(attrs or {}), "name": name}))
        return format_html("<select{}>{}</select>", attributes, mark_safe(options))  # noqa: S308 - escaped above


class Checklist(forms.CheckboxSelectMultiple):
    """Checkboxes for choosing several of a long list (a component's dependencies), instead of a
    Ctrl-click multi-select: the checked ones first, so what is chosen shows without scrolling,
    in a box that scrolls, under a filter box that hides the entries not matching what is typed
    (static/js/app.js; without JavaScript the filter is simply not there). Rendered in Python,
    like FastSelect; the field's label belongs in a <legend> (use_fieldset)."""

    def render(
        self, name: str, value: Any, attrs: dict | None = None, renderer: Any = None
    ) -> SafeString:
        attributes = self.build_attrs(self.attrs, attrs)
        base_id = attributes.get("id") or f"id_{name}"
        chosen = {str(item) for item in self.format_value(value)}
        choices = [(str(option), label) for option, label in self.choices]
        # A stable sort: checked first, each part in the field's own order.
        choices.sort(key=lambda choice: choice[0] not in chosen)
        items = format_html_join(
            "",
            '<li><label class="checklist-item"><input type="checkbox" name="{}" value="{}" '
            'id="{}_{}"{}> <span>{}</span></label></li>',
            (
                (name, option, base_id, index, " checked" if option in chosen else "", label)
                for index, (option, label) in enumerate(choices)
            ),
        )
        return format_html(
            '<div class="checklist" id="{}" data-checklist>'
            '<input type="search" class="checklist-filter" placeholder="Filter…" '
            'aria-label="Filter the list" aria-controls="{}_options" hidden>'
            '<ul class="checklist-options" id="{}_options">{}</ul>'
            '<p class="muted checklist-none" hidden>Nothing matches.</p></div>',
            base_id,
            base_id,
            base_id,
            items,
        )
