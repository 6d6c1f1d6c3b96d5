"""`make bench` / `make bench-quick`: ingest throughput beside this machine's ceiling, page and
correlation server times on a big history, and memory, printed as one table and saved as JSON.

Runs against the local PostgreSQL and Redis, in a database of its own (whatchanged_bench), with
gunicorn (sync workers) and a Celery worker started here as `make serve` would start them.
Every figure is the median of the rounds (cases interleaved round by round), with min and max.
"""

import argparse
import contextlib
import hashlib
import hmac
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import redis

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DATABASE = "whatchanged_bench"
POSTGRES = "postgresql://postgres@127.0.0.1:5432"
APP_PORT, CEILING_PORT = 8101, 8102
CONNECTIONS = 16
CHANGES_PER_SECOND = 50
# Signed GitHub bodies written per second of a wrk run: above what this machine can ingest.
GITHUB_BODIES_PER_SECOND = 2500  # the steady change load beside the alert-to-suspects measurement
GITHUB_FIXTURE = (
    ROOT / "tests" / "fixtures" / "producers" / "github" / "deployment_status_success.json"
)
ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DATABASE_URL": f"{POSTGRES}/{DATABASE}",
    "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/3"),
    "SECRET_KEY": "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
    "HTTPS": "false",
    "CONN_MAX_AGE": "60",
    "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
    "INGEST_RATE_LIMIT": "100000000",  # counted, as in production, but never reached
    "LOG_LEVEL": "WARNING",
}
SIZES = {
    "quick": {
        "changes": 20_000,
        "incidents": 500,
        "rounds": 1,
        "seconds": 3,
        "samples": 10,
        "alerts": 20,
        "live_changes": 5,
    },
    "full": {
        "changes": 1_000_000,
        "incidents": 10_000,
        "rounds": 3,
        "seconds": 10,
        "samples": 40,
        "alerts": 200,
        "live_changes": 20,
    },
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small history, one round (CI)")
    parser.add_argument("--changes", type=int, help="history size (10000000 for the big one)")
    parser.add_argument(
        "--pages-only", action="store_true", help="load the history and time the pages only"
    )
    options = parser.parse_args()
    size = dict(SIZES["quick" if options.quick else "full"])
    if options.changes:
        size["changes"] = options.changes
    env = {**os.environ, **ENV}
    ensure_wrk()
    recreate_database()
    redis.Redis.from_url(ENV["REDIS_URL"]).flushdb()  # no task left over from a previous run
    manage(env, "migrate", "-v0")
    manage(env, "collectstatic", "--noinput", "-v0")
    manage(env, "apply_config", "bench/config.yaml", quiet=True)
    started = time.monotonic()
    manage(
        env,
        "bench_seed",
        "--changes",
        str(size["changes"]),
        "--incidents",
        str(size["incidents"]),
        quiet=True,
    )
    report = {"seed_seconds": round(time.monotonic() - started, 1), "size": size}
    print(f"history of {size['changes']:,} changes loaded in {report['seed_seconds']} s")
    if not options.pages_only:
        report |= served_cases(env, size)
    report["pages"] = run_module(env, "bench.pages", size["samples"])
    report["machine"] = machine()
    print_table(report)
    RESULTS.mkdir(exist_ok=True)
    kind = "quick" if options.quick else "pages" if options.pages_only else "full"
    path = RESULTS / f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{kind}-{size['changes']}.json"
    path.write_text(json.dumps(report, indent=2))
    print(f"\nSaved {path.relative_to(ROOT)}")


def run_module(env: dict, module: str, *args: object) -> dict:
    """Run a bench module with Django set up in its own process; it prints JSON."""
    output = subprocess.run(
        [sys.executable, "-m", module, *map(str, args)],
        env=env,
        cwd=ROOT,
        check=True,
        stdout=subprocess.PIPE,  # stderr passes through: a failure shows its traceback
        text=True,
    ).stdout
    return json.loads(output)


def ensure_wrk() -> None:
    if shutil.which("wrk"):
        return
    print("Installing wrk (Debian package)…", flush=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "wrk"],
        check=True,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )


def recreate_database() -> None:
    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {DATABASE}")


def manage(env: dict, *args: str, quiet: bool = False) -> None:
    subprocess.run(
        [sys.executable, "manage.py", *args],
        env=env,
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL if quiet else None,
    )


@contextlib.contextmanager
def serving(env: dict) -> Iterator[dict[str, subprocess.Popen]]:
    """gunicorn for the app and for the ceiling, and a Celery worker, stopped on the way out."""
    workers = env.get("WEB_CONCURRENCY", str((os.cpu_count() or 2) * 2 + 1))
    gunicorn = [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        workers,
        "--worker-class",
        "sync",
        "--log-level",
        "warning",
        "--no-control-socket",  # two gunicorns here; the default socket path is one
    ]
    processes = {
        "web": subprocess.Popen(
            [*gunicorn, "--bind", f"127.0.0.1:{APP_PORT}", "config.wsgi"],
            env=env,
            cwd=ROOT,
        ),
        "ceiling": subprocess.Popen(
            [*gunicorn, "--bind", f"127.0.0.1:{CEILING_PORT}", "config.wsgi"],
            env={**env, "DJANGO_SETTINGS_MODULE": "bench.settings"},
            cwd=ROOT,
        ),
        "worker": subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--loglevel=warning",
                "--concurrency=2",
            ],
            env=env,
            cwd=ROOT,
        ),
    }
    try:
        wait_until_up(f"http://127.0.0.1:{APP_PORT}/login/")
        wait_until_up(f"http://127.0.0.1:{CEILING_PORT}/ceiling")  # a GET there is a 405
        yield processes
    finally:
        for process in processes.values():
            process.send_signal(signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:  # a worker still correlating the backlog
                process.kill()
                process.wait()


def wait_until_up(url: str) -> None:
    # Generous: on a loaded 2-core machine gunicorn's workers take a while to import Django.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
        except urllib.error.HTTPError:
            return  # an answer, even an error status: the server is up
        except OSError:
            time.sleep(0.2)
        else:
            return
    raise RuntimeError(f"nothing answers at {url}")


def write_github_bodies(path: Path, count: int) -> None:
    """`count` signed deployment_status bodies, each of its own deployment (ids unique across
    runs), as lines "<signature>\t<body>" for bench/lua/github.lua."""
    body = json.loads(json.loads(GITHUB_FIXTURE.read_text())["body"])
    first = time.time_ns() // 1000  # microseconds: later runs start above earlier ones
    with path.open("w") as lines:
        for number in range(first, first + count):
            body["deployment"]["id"] = body["deployment_status"]["id"] = number
            raw = json.dumps(body, separators=(",", ":"))
            signature = hmac.new(b"bench-secret", raw.encode(), hashlib.sha256).hexdigest()
            lines.write(f"sha256={signature}\t{raw}\n")


def served_cases(env: dict, size: dict) -> dict:
    """What needs gunicorn and the worker running: ingest, batch, end-to-end latency, memory."""
    with serving(env) as processes:
        report = {"ingest": ingest_rounds(size), "batch": batch_ingest(size)}
        report["latency"] = run_module(
            env,
            "bench.latency",
            f"http://127.0.0.1:{APP_PORT}",
            size["alerts"],
            CHANGES_PER_SECOND,
            size["live_changes"],
        )
        report["memory_mb"] = peak_memory(processes)
    return report


def ingest_cases() -> dict[str, list[str]]:
    body_file = RESULTS / "github-bodies.txt"
    RESULTS.mkdir(exist_ok=True)
    app = f"http://127.0.0.1:{APP_PORT}"
    return {
        "ceiling": ["bench/lua/change.lua", f"http://127.0.0.1:{CEILING_PORT}/ceiling", "none"],
        "change (generic API)": [
            "bench/lua/change.lua",
            f"{app}/api/v1/changes",
            "bench-generic-key-0001",
        ],
        "change (GitHub webhook)": [
            "bench/lua/github.lua",
            f"{app}/api/v1/pipelines/bench-github-key-0001/events",
            str(body_file),
        ],
        "alert (incidents API)": [
            "bench/lua/alert.lua",
            f"{app}/api/v1/incidents",
            "bench-alert-key-0001",
        ],
        "alert (Alertmanager)": [
            "bench/lua/alertmanager.lua",
            f"{app}/api/v1/alerts",
            "bench-alertmanager-key-0001",
        ],
    }


def ingest_rounds(size: dict) -> dict:
    cases = ingest_cases()
    runs: dict[str, list[dict]] = {name: [] for name in cases}
    for script, url, *args in cases.values():  # warm up: connections, caches, imports
        wrk(script, url, args, 1)
    for _ in range(size["rounds"]):
        for name, (script, url, *args) in cases.items():  # interleaved: noise hits all alike
            before = stored_rows()
            run = wrk(script, url, args, size["seconds"])
            after = stored_rows()
            run["stored"] = sum(after.values()) - sum(before.values())
            runs[name].append(run)
    ceiling = statistics.median(run["rps"] for run in runs["ceiling"])
    summary = {}
    for name, results in runs.items():
        rps = [run["rps"] for run in results]
        summary[name] = {
            "rps": spread(rps),
            "vs_ceiling": round(statistics.median(rps) / ceiling, 2) if ceiling else None,
            "p50_ms": spread([run["p50_ms"] for run in results]),
            "p99_ms": spread([run["p99_ms"] for run in results]),
            "errors": sum(run["errors"] for run in results),
            "acknowledged": sum(run["acknowledged"] for run in results),
            "stored": sum(run["stored"] for run in results),
        }
    return summary


def wrk(script: str, url: str, args: list[str], seconds: int) -> dict:
    if script.endswith("github.lua"):  # more bodies than the fastest run could send
        write_github_bodies(Path(args[0]), GITHUB_BODIES_PER_SECOND * seconds)
    output = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{CONNECTIONS}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            script,
            url,
            "--",
            *args,
        ],
        cwd=ROOT,
        env={**os.environ, "BENCH_RUN": uuid.uuid4().hex[:12]},  # idempotency keys per run
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    statuses = {int(code): int(count) for code, count in re.findall(r"STATUS (\d+) (\d+)", output)}
    p50, p99 = map(float, re.search(r"LATENCY ([\d.]+) ([\d.]+)", output).groups())
    acknowledged = sum(count for code, count in statuses.items() if 200 <= code < 300)
    socket_errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    return {
        "rps": round(float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)), 1),
        "p50_ms": round(p50, 1),
        "p99_ms": round(p99, 1),
        "acknowledged": acknowledged,
        "errors": sum(statuses.values()) - acknowledged + socket_errors,
    }


def stored_rows() -> dict[str, int]:
    with psycopg.connect(ENV["DATABASE_URL"]) as connection:
        changes = connection.execute("SELECT count(*) FROM changes_changeevent").fetchone()[0]
        # Each alert is an incident, one more alert of a storm's incident, or a repeat.
        alerts = connection.execute(
            "SELECT coalesce(sum(alert_count + repeat_count), 0) FROM incidents_incident"
        ).fetchone()[0]
    return {"changes": changes, "alerts": alerts}


def batch_ingest(size: dict) -> dict:
    """Events per second committed through /api/v1/changes/batch, 1,000 per request, from one
    sender per core (a producer with that much to send sends in parallel)."""
    url = f"http://127.0.0.1:{APP_PORT}/api/v1/changes/batch"
    senders = os.cpu_count() or 1

    def send(prefix: str, until: float) -> str | None:
        sent = 0
        while time.monotonic() < until:
            items = [
                {
                    "component": "payments-service",
                    "description": f"batch {prefix}-{sent + i}",
                    "idempotency_key": f"batch-{prefix}-{sent + i}",
                }
                for i in range(1000)
            ]
            request = urllib.request.Request(
                url,
                data=json.dumps({"changes": items}).encode(),
                method="POST",
                headers={
                    "Authorization": "Bearer bench-generic-key-0001",
                    "Content-Type": "application/json",
                },
            )
            try:
                urllib.request.urlopen(request, timeout=60).read()
            except urllib.error.HTTPError as error:
                return f"{error.code} {error.read()[:200]!r}"
            sent += 1000
        return None

    rates = []
    for round_number in range(size["rounds"]):
        before = stored_rows()["changes"]
        started = time.monotonic()
        until = started + size["seconds"]
        with ThreadPoolExecutor(senders) as pool:
            errors = list(
                pool.map(send, [f"{round_number}-{n}" for n in range(senders)], [until] * senders)
            )
        if any(errors):
            return {"error": next(error for error in errors if error)}
        elapsed = time.monotonic() - started
        rates.append((stored_rows()["changes"] - before) / elapsed)
    return {"events_per_second": spread([round(rate) for rate in rates]), "senders": senders}


def peak_memory(processes: dict[str, subprocess.Popen]) -> dict[str, float]:
    """Peak RSS (VmHWM) of the largest gunicorn worker and of the Celery worker's processes."""

    def peak(pid: int) -> float:
        with contextlib.suppress(OSError):
            status = Path(f"/proc/{pid}/status").read_text()
            return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024
        return 0.0

    def children(pid: int) -> list[int]:
        with contextlib.suppress(OSError):
            tasks = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            return [int(child) for child in tasks]
        return []

    web = max((peak(child) for child in children(processes["web"].pid)), default=0.0)
    worker_pids = [processes["worker"].pid, *children(processes["worker"].pid)]
    return {
        "gunicorn worker": round(web, 1),
        "celery worker": round(max(map(peak, worker_pids)), 1),
    }


def spread(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 1), "min": min(values), "max": max(values)}


def machine() -> dict:
    memory = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    with psycopg.connect(f"{POSTGRES}/postgres") as connection:
        postgres = connection.execute("SHOW server_version").fetchone()[0]
    return {
        "cores": os.cpu_count(),
        "memory_gb": round(memory / 1024 / 1024, 1),
        "python": platform.python_version(),
        "postgresql": postgres,
        "date": f"{datetime.now(UTC):%Y-%m-%d}",
    }


def print_table(report: dict) -> None:
    size = report["size"]
    print(f"\nWhatchanged benchmarks on {report['machine']}")
    print(
        f"history: {size['changes']:,} changes, {size['incidents']:,} incidents, "
        f"loaded in {report['seed_seconds']} s; medians of {size['rounds']} round(s)"
    )
    header = (
        "ingest, 16 connections",
        "req/s",
        "(min-max)",
        "x ceiling",
        "p50 ms",
        "p99 ms",
        "errors",
        "2xx",
        "stored",
    )
    print(
        "\n{:32} {:>9} {:>9} {:>9}".format(
            "server time, big history", "p50 ms", "p95 ms", "queries"
        )
    )
    for name, row in report["pages"].items():
        print(f"{name:32} {row['p50_ms']:>9} {row['p95_ms']:>9} {row['queries']:>9}")
    if "ingest" not in report:  # --pages-only
        return
    print("\n{:32} {:>9} {:>17} {:>9} {:>7} {:>7} {:>6} {:>8} {:>8}".format(*header))
    for name, row in report["ingest"].items():
        rps, p50, p99 = row["rps"], row["p50_ms"]["median"], row["p99_ms"]["median"]
        values = (
            name,
            rps["median"],
            f"({rps['min']}-{rps['max']})",
            row["vs_ceiling"],
            p50,
            p99,
            row["errors"],
            row["acknowledged"],
            row["stored"],
        )
        print("{:32} {:>9} {:>17} {:>9} {:>7} {:>7} {:>6} {:>8} {:>8}".format(*values))
    batch = report["batch"]
    if "events_per_second" in batch:
        eps = batch["events_per_second"]
        print(
            f"{'batch, 1,000 per request':32} {eps['median']:>9} events/s "
            f"({eps['min']}-{eps['max']}), {batch['senders']} senders"
        )
    else:
        print(f"{'batch, 1,000 per request':32} {batch['error']}")
    alerts, live = report["latency"]["alert to suspects"], report["latency"]["live update"]
    print("\n{:32} {:>9} {:>9} {:>9}".format("latency, end to end", "p50 ms", "p95 ms", "max ms"))
    print(
        f"{'alert to suspects':32} {alerts['p50_ms']:>9} {alerts['p95_ms']:>9} "
        f"{alerts['max_ms']:>9}   {alerts['correlated']}/{alerts['alerts']} alerts, "
        f"{alerts['changes_per_second']} changes/s beside"
    )
    print(
        f"{'change to live page':32} {live['p50_ms']:>9} {live['p95_ms']:>9} "
        f"{live['max_ms']:>9}   {live['changes']} changes, Chromium"
    )
    memory = ", ".join(f"{name} {mb} MB" for name, mb in report["memory_mb"].items())
    print(f"\npeak memory: {memory}")


if __name__ == "__main__":
    main()
