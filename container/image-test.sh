#!/usr/bin/env bash
# `make image-test`: the image for real, with Podman, against this machine's PostgreSQL (a
# database of its own, recreated) and Redis (a db of its own). Checks the image's shape (size,
# non-root, no compilers, no pip), migrates, starts web, worker and beat, creates integrations
# with `manage`, posts a change and an Alertmanager alert over HTTP, waits for the worker to
# rank the change as the incident's suspect (read through the API), then stops every
# container with SIGTERM and expects a clean exit within its grace period. Last, compose.yaml
# is validated with podman-compose (its postgres and redis images cannot be pulled here).
# Fails loudly, with the containers' last log lines; removes what it started.
set -euo pipefail
cd "$(dirname "$0")/.."

started=$SECONDS
image="${IMAGE:-whatchanged:latest}"
postgres="${IMAGE_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432}"
database="${IMAGE_TEST_DATABASE:-wc_image}"
redis_url="${IMAGE_TEST_REDIS_URL:-redis://127.0.0.1:6379/9}"
port="${IMAGE_TEST_PORT:-18087}"
url="http://127.0.0.1:$port"
name=wc-image-test
max_bytes=300000000
# Seconds `podman stop` waits before SIGKILL; each process must be out well within it.
declare -A grace=([web]=30 [worker]=60 [beat]=10)
# What each process logs once SIGTERM reached it (beat leaves at once, saying nothing).
declare -A stopped_line=([web]="Shutting down: Master" [worker]="Warm shutdown" [beat]="")

say() { echo "image-test: $*"; }
# Podman here has no systemd to time HEALTHCHECKs with (`podman healthcheck run` below runs
# them): its complaints about that are left out.
podman() { command podman "$@" 2> >(grep -v "systemd connection" >&2); }
fail() {
  echo "image-test: FAIL: $*" >&2
  exit 1
}

cleanup() {
  local status=$? process
  if [ "$status" -ne 0 ]; then
    for process in web worker beat; do
      if podman container exists "$name-$process"; then
        echo "--- last lines of $name-$process" >&2
        podman logs --tail 25 "$name-$process" >&2 || true
      fi
    done
  fi
  podman rm --force --time 0 "$name-web" "$name-worker" "$name-beat" >/dev/null 2>&1 || true
  podman volume rm --force "$name-metrics" >/dev/null 2>&1 || true
  rm -f "$codes"
  [ "$status" -eq 0 ] || echo "image-test: FAILED after $((SECONDS - started)) s" >&2
}
codes=$(mktemp)
trap cleanup EXIT
podman rm --force --time 0 "$name-web" "$name-worker" "$name-beat" >/dev/null 2>&1 || true
podman volume rm --force "$name-metrics" >/dev/null 2>&1 || true

json() { python3 -c "import json, sys; print(json.load(sys.stdin)$1)"; }

# --- The image's shape -------------------------------------------------------------------
podman image exists "$image" || fail "no image $image (make image)"
size=$(podman image inspect --format '{{.Size}}' "$image")
say "image $image: $(awk -v b="$size" 'BEGIN { printf "%.1f MB", b / 1e6 }')"
[ "$size" -lt "$max_bytes" ] || fail "the image is $size bytes, over $max_bytes"
[ "$(podman run --rm "$image" id -u)" != 0 ] || fail "the image runs as root"
podman run --rm --user 0 "$image" sh -c '
  for tool in gcc cc c++ g++ clang make pip pip3; do
    command -v "$tool" && { echo "found $tool"; exit 1; }
  done
  ! python -m pip --version 2>/dev/null && ! ls -d /root/.cache/pip 2>/dev/null' ||
  fail "compilers, pip or a pip cache in the image"

# --- A database and a Redis db of the test's own ---------------------------------------------
psql -q "$postgres/postgres" -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" \
  -c "CREATE DATABASE $database" || fail "cannot recreate $database at $postgres"
if command -v redis-cli >/dev/null; then redis-cli -u "$redis_url" flushdb >/dev/null; fi

secret=$(python3 -c "import secrets; print(secrets.token_urlsafe(50))")
podman volume create --opt type=tmpfs --opt device=tmpfs --opt o=uid=10001,gid=10001 \
  "$name-metrics" >/dev/null
run=(
  podman run --network host
  -e "DATABASE_URL=$postgres/$database" -e "REDIS_URL=$redis_url" -e "SECRET_KEY=$secret"
  -e HTTPS=false -e "ALLOWED_HOSTS=127.0.0.1,localhost" -e "PUBLIC_URL=$url" -e "PORT=$port"
  -e CONN_MAX_AGE=60 -e PROMETHEUS_MULTIPROC_DIR=/run/metrics -v "$name-metrics:/run/metrics"
)

say "manage migrate"
"${run[@]}" --rm "$image" manage migrate --noinput >/dev/null || fail "manage migrate"

for process in web worker beat; do
  "${run[@]}" --detach --name "$name-$process" --stop-timeout "${grace[$process]}" \
    "$image" "$process" >/dev/null
done

say "waiting for $url/readyz"
for _ in $(seq 60); do
  curl -fsS -o /dev/null "$url/readyz" 2>/dev/null && break
  podman container inspect --format '{{.State.Running}}' "$name-web" | grep -q true ||
    fail "the web container exited"
  sleep 1
done
curl -fsS "$url/readyz" >/dev/null || fail "/readyz did not answer 200 within 60 s"
podman healthcheck run "$name-web" >/dev/null || fail "the web container's HEALTHCHECK"
podman healthcheck run "$name-worker" >/dev/null || fail "the worker container's HEALTHCHECK"

# `manage` on PATH, as `docker compose exec web manage …` uses it.
manage() { podman exec "$name-web" manage "$@"; }
pipeline_key=$(manage create_integration pipeline --kind generic --name image-test | json '["key"]')
alerts_key=$(manage create_integration alert-source --kind alertmanager --name image-test |
  json '["key"]')
manage createsuperuser --noinput --username image-test --email image-test@example.com >/dev/null
token=$(manage create_api_token image-test --scope read 2>/dev/null)

post() { # URL KEY BODY: prints the answer's body; fails unless 2xx
  local answer
  answer=$(curl -sS -w '\n%{http_code}' -X POST "$url$1" -H "Authorization: Bearer $2" \
    -H "Content-Type: application/json" -d "$3")
  [[ "${answer##*$'\n'}" == 2* ]] || fail "POST $1 answered ${answer##*$'\n'}: ${answer%$'\n'*}"
  echo "${answer%$'\n'*}"
}

say "posting a change and an Alertmanager alert"
change_id=$(post /api/v1/changes "$pipeline_key" '{"component": "checkout-service",
  "environment": "production", "version": "v9.9.9", "description": "Deploy v9.9.9",
  "triggered_by": "image-test", "kind": "deployment"}' | json '["id"]')
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
incident_id=$(post /api/v1/alerts "$alerts_key" '{"receiver": "whatchanged",
  "status": "firing", "alerts": [{"status": "firing", "labels": {"alertname":
  "HighErrorRate", "service": "checkout-service", "env": "production", "severity":
  "critical"}, "annotations": {"summary": "image test"}, "startsAt": "'"$now"'",
  "endsAt": "0001-01-01T00:00:00Z"}]}' | json '["id"]')

say "waiting for the worker to rank change $change_id in incident $incident_id"
suspect=""
for _ in $(seq 60); do
  suspect=$(curl -fsS "$url/api/v1/incidents/$incident_id" -H "Authorization: Token $token" |
    json '["suspects"][0]["change"]["id"]' 2>/dev/null || true)
  [ "$suspect" = "$change_id" ] && break
  sleep 1
done
[ "$suspect" = "$change_id" ] || fail "change $change_id is not incident $incident_id's suspect"
say "change $change_id is incident $incident_id's top suspect"

# --- SIGTERM: every process leaves by itself, cleanly, within its grace period -------------
# While web stops, producers keep posting: a change is either answered 202 and stored, or
# refused before it was read (the producer retries); none is answered 5xx or lost.
seq 200 | xargs -P 6 -I{} curl -sS -o /dev/null -w '%{http_code}\n' -X POST \
  "$url/api/v1/changes" -H "Authorization: Bearer $pipeline_key" \
  -H "Content-Type: application/json" \
  -d '{"component": "checkout-service", "version": "v{}", "kind": "deployment"}' \
  >"$codes" 2>/dev/null &
posting=$!
sleep 0.3
for process in web worker beat; do
  stop_started=$SECONDS
  podman stop --time "${grace[$process]}" "$name-$process" >/dev/null
  if [ "$process" = web ]; then
    wait "$posting" || true
    accepted=$(grep -c '^202$' "$codes" || true)
    [ "$accepted" -gt 0 ] || fail "no change was answered while web stopped: nothing tested"
    if grep -Evq '^(202|000)$' "$codes"; then
      fail "answers while web stopped: $(sort "$codes" | uniq -c | xargs)"
    fi
    stored=$(psql -tA "$postgres/$database" -c "SELECT count(*) - 1 FROM changes_changeevent")
    [ "$stored" = "$accepted" ] || fail "$accepted changes answered 202 while web stopped, $stored stored"
    say "while web stopped: $accepted of 200 changes answered 202, all stored; the rest refused"
  fi
  took=$((SECONDS - stop_started))
  code=$(podman container inspect --format '{{.State.ExitCode}}' "$name-$process")
  [ "$code" = 0 ] || fail "$process exited with $code after SIGTERM"
  [ "$took" -lt "${grace[$process]}" ] || fail "$process took $took s to stop"
  if [ -n "${stopped_line[$process]}" ]; then
    podman logs "$name-$process" 2>&1 | grep -q "${stopped_line[$process]}" ||
      fail "$process did not log \"${stopped_line[$process]}\" on SIGTERM"
  fi
  say "$process stopped on SIGTERM in $took s, exit code 0"
done

# --- compose.yaml, parsed and resolved as Compose does ----------------------------------------
compose_venv=build/compose-venv
if [ ! -x "$compose_venv/bin/podman-compose" ]; then
  python3 -m venv "$compose_venv"
  "$compose_venv/bin/pip" install --quiet --disable-pip-version-check \
    -r container/requirements-compose.txt
fi
config=$("$compose_venv/bin/podman-compose" -f compose.yaml config) || fail "compose.yaml"
for service in postgres redis migrate web worker beat; do
  grep -q "^  $service:" <<<"$config" || fail "compose.yaml has no service $service"
done
say "compose.yaml: valid (podman-compose config)"

say "passed in $((SECONDS - started)) s"
