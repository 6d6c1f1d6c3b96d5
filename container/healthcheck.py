"""The image's HEALTHCHECK: /healthz of the web server, which answers before host checks and
the HTTPS redirect. Worker and beat serve no HTTP, so for them the check passes: their
container runs while the process does (PID 1), and /readyz and the metric
whatchanged_uncorrelated_change_age_seconds tell when work stalls.
"""

import os
import sys
import urllib.request


def main() -> int:
    with open("/proc/1/cmdline", "rb") as cmdline:
        if b"gunicorn" not in cmdline.read():
            return 0
    url = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=4) as response:
            return 0 if response.status == 200 else 1
    except OSError as error:
        print(f"{url}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
