#!/bin/sh
# The image's processes by name: web, worker, beat, manage <command>; anything else runs as
# given. Each execs, so the process is PID 1 and gets the container's SIGTERM itself:
# gunicorn stops taking connections and lets requests finish (--graceful-timeout), the Celery
# worker finishes its running tasks (warm shutdown; acks_late redelivers any it cannot).
# Configuration comes only from the environment variables the README documents.
set -e

# `manage` is also on PATH (a link to this script), for `docker compose exec web manage …`.
if [ "$(basename "$0")" = manage ]; then
  set -- manage "$@"
fi

command="${1:-web}"
[ "$#" -gt 0 ] && shift

case "$command" in
  web)
    # Stop within the 30 s a container gets by default (Compose: stop_grace_period).
    exec gunicorn config.wsgi \
      --bind "0.0.0.0:${PORT:-8000}" \
      --workers "${WEB_CONCURRENCY:-2}" \
      --timeout 30 --graceful-timeout 20 \
      --worker-tmp-dir /dev/shm \
      "$@"
    ;;
  worker)
    exec celery -A config worker --loglevel=info "$@"
    ;;
  beat)
    # The schedule's state is only when each entry last ran: a file in the writable var/.
    exec celery -A config beat --loglevel=info --schedule /app/var/celerybeat-schedule "$@"
    ;;
  manage)
    exec python /app/manage.py "$@"
    ;;
  *)
    exec "$command" "$@"
    ;;
esac
