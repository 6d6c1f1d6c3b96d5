"""The IANA time zones a user may choose: the names this machine's zone database knows."""

import functools
import zoneinfo

from django.core.exceptions import ValidationError

# "localtime" is the server's own zone under a misleading name, not a place a user lives in.
NOT_CHOOSABLE = frozenset({"localtime"})


@functools.cache
def time_zone_names() -> frozenset[str]:
    """Every IANA name we accept (read from disk once per process)."""
    return frozenset(zoneinfo.available_timezones()) - NOT_CHOOSABLE


def is_time_zone(name: str) -> bool:
    return name in time_zone_names()


def validate_time_zone(name: str) -> None:
    """Model and form validator: an IANA name such as Europe/Berlin."""
    if name and not is_time_zone(name):
        raise ValidationError("Not a time zone we know: %(name)s.", params={"name": name[:64]})


@functools.cache
def time_zone_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """The names grouped by region ("Europe", "America", …) for a select's optgroups; names
    without a region (UTC, GMT, legacy aliases) come first, under "Other"."""
    regions: dict[str, list[tuple[str, str]]] = {}
    for name in sorted(time_zone_names()):
        region, slash, _ = name.partition("/")
        regions.setdefault(region if slash else "Other", []).append((name, name.replace("_", " ")))
    other = regions.pop("Other", [])
    return [("Other", other), *regions.items()]
