"""The ceiling app: production settings with only the ceiling view routed."""

from config.settings.production import *  # noqa: F403

ROOT_URLCONF = "bench.ceiling"
