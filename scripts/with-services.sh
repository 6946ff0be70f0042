#!/usr/bin/env bash
# Runs a command with the services the tests need: PostgreSQL, the Google Cloud Pub/Sub emulator and,
# for the console's browser tests, Debian's chromium (installed with apt-get when missing and apt
# is usable: as root on a fresh machine; about a minute).
# Each is started on a free loopback port unless already given (HZ_TEST_POSTGRES_URL,
# PUBSUB_EMULATOR_HOST), and stopped again when the command ends. The test PostgreSQL runs with
# fsync=off; HZ_WITH_DURABLE_POSTGRES=1 starts a second one with fsync=on, as in production
# (HZ_TEST_DURABLE_POSTGRES_URL, for the drain benchmark). Under CI=true a service that
# cannot be started fails the run; elsewhere its tests are skipped with a message saying why.
set -euo pipefail

work=$(mktemp -d /tmp/hzhook-services.XXXXXX)
chmod 755 "$work"
pids=()
pg_dirs=()
pg_user=""

cleanup() {
  set +e
  for p in "${pids[@]:-}"; do
    [ -n "$p" ] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
  done
  for d in "${pg_dirs[@]:-}"; do
    [ -n "$d" ] && run_pg pg_ctl -D "$d" -m immediate stop >/dev/null 2>&1
  done
  rm -rf "$work"
}
trap cleanup EXIT

fail_or_skip() {
  if [ "${CI:-}" = "true" ]; then
    echo "with-services: $1 (required under CI=true)" >&2
    exit 1
  fi
  echo "with-services: $1; tests that need it will be skipped" >&2
}

free_port() { # a random loopback port nothing answers on (bash only: no python on a fresh machine)
  local p
  for _ in $(seq 1 200); do
    p=$(( (RANDOM % 30000) + 20000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  echo "with-services: no free port found" >&2
  return 1
}

pg_bin() {
  for d in /usr/lib/postgresql/*/bin /usr/local/bin /usr/bin; do
    [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && { echo "$d"; return 0; }
  done
  return 1
}

run_pg() { # PostgreSQL refuses to run as root: use the postgres (or nobody) account then
  if [ "$(id -u)" = "0" ]; then
    "$(command -v runuser || echo /usr/sbin/runuser)" -u "$pg_user" -- env PATH="$PGBIN:$PATH" "$@"
  else
    env PATH="$PGBIN:$PATH" "$@"
  fi
}

start_postgres() { # start_postgres <name> <fsync on|off> <variable to export the URL in>
  local name=$1 fsync=$2 var=$3
  if [ -n "${!var:-}" ]; then return 0; fi
  if ! PGBIN=$(pg_bin); then fail_or_skip "PostgreSQL (initdb, pg_ctl) not found"; return 0; fi
  export PGBIN
  pg_user=postgres
  id -u postgres >/dev/null 2>&1 || pg_user=nobody
  local data="$work/$name"
  mkdir -p "$data"
  [ "$(id -u)" = "0" ] && chown "$pg_user" "$data" "$work"
  local port; port=$(free_port)
  if ! run_pg initdb -D "$data" -U hzhook -A trust -E UTF8 --locale=C >"$work/$name-initdb.log" 2>&1; then
    cat "$work/$name-initdb.log" >&2; fail_or_skip "initdb failed"; return 0
  fi
  if ! run_pg pg_ctl -D "$data" -l "$work/$name.log" -w -t 60 \
      -o "-p $port -k $work -c listen_addresses=127.0.0.1 -c fsync=$fsync -c max_connections=200" start >/dev/null; then
    cat "$work/$name.log" >&2; fail_or_skip "PostgreSQL did not start"; return 0
  fi
  pg_dirs+=("$data")
  export "$var=postgres://hzhook@127.0.0.1:$port/postgres?sslmode=disable"
  echo "with-services: PostgreSQL (fsync=$fsync) on 127.0.0.1:$port" >&2
}

start_pubsub() {
  if [ -n "${PUBSUB_EMULATOR_HOST:-}" ]; then return 0; fi
  local bin=""
  for c in "${PUBSUB_EMULATOR_BIN:-}" \
           /usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator \
           "$(dirname "$(readlink -f "$(command -v gcloud 2>/dev/null || echo /nonexistent)")")/../platform/pubsub-emulator/bin/cloud-pubsub-emulator"; do
    [ -n "$c" ] && [ -x "$c" ] && { bin=$c; break; }
  done
  if [ -z "$bin" ]; then fail_or_skip "Pub/Sub emulator not found (install the Cloud SDK's pubsub-emulator component)"; return 0; fi
  if ! command -v java >/dev/null; then fail_or_skip "java not found (the Pub/Sub emulator needs it)"; return 0; fi
  local port; port=$(free_port)
  "$bin" --host=127.0.0.1 --port="$port" >"$work/pubsub.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 120); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      export PUBSUB_EMULATOR_HOST="127.0.0.1:$port"
      echo "with-services: Pub/Sub emulator on $PUBSUB_EMULATOR_HOST" >&2
      return 0
    fi
    sleep 0.5
  done
  cat "$work/pubsub.log" >&2
  fail_or_skip "Pub/Sub emulator did not start within 60s"
}

ensure_chromium() {
  if [ -n "${CHROMIUM:-}" ] && [ -x "${CHROMIUM}" ]; then return 0; fi
  if command -v chromium >/dev/null 2>&1; then export CHROMIUM; CHROMIUM=$(command -v chromium); return 0; fi
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "with-services: installing Debian's chromium for the console's browser tests" >&2
    local start=$SECONDS
    if { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >"$work/apt.log" 2>&1 \
        && command -v chromium >/dev/null 2>&1; then
      export CHROMIUM; CHROMIUM=$(command -v chromium)
      echo "with-services: chromium installed in $((SECONDS - start))s" >&2
      return 0
    fi
    tail -20 "$work/apt.log" >&2
  fi
  fail_or_skip "Chromium not found (apt-get install -y chromium, or set CHROMIUM)"
}

start_postgres pg off HZ_TEST_POSTGRES_URL
if [ "${HZ_WITH_DURABLE_POSTGRES:-}" = "1" ]; then start_postgres pg-durable on HZ_TEST_DURABLE_POSTGRES_URL; fi
start_pubsub
ensure_chromium
"$@"
