"""The OpenAPI schema groups every operation under one of three areas, by the app whose view
serves it: the docs page then reads as changes, alerts and incidents, and configuration."""

from drf_spectacular.openapi import AutoSchema

CHANGES = "changes"
ALERTS_AND_INCIDENTS = "alerts and incidents"
CONFIGURATION = "configuration"
# The app a view is defined in -> its area (listed, with a line each, in SPECTACULAR_SETTINGS
# "TAGS"). Named, not imported: common sits below every app.
AREAS = {
    "changes": CHANGES,
    "incidents": ALERTS_AND_INCIDENTS,
    "teams": CONFIGURATION,
    "pipelines": CONFIGURATION,
}


class AreaAutoSchema(AutoSchema):
    """drf-spectacular's schema, each operation tagged with its view's area (AREAS) instead of
    the first word of its path ("api", "v2"). A view of an app without an area is a KeyError
    when the schema is built: a test builds it."""

    def get_tags(self) -> list[str]:
        return [AREAS[type(self.view).__module__.split(".")[0]]]
