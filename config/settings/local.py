"""Development: `make run`. DEBUG on, so a dev secret key is allowed."""

import os

os.environ.setdefault("DEBUG", "true")

from config.settings.base import *  # noqa: F403
