#!/usr/bin/env bash
# The Docker smoke test: everything built on this machine (nothing pulled from Docker Hub), then
# docker-compose.yml run to its audit, then the testcontainers fixture on the broker smoke tests.
#
#   container/smoke.sh            # all steps; as root it starts dockerd when no daemon answers
#   container/smoke.sh daemon base python kafka-image image     # only some steps, in this order
#
# Steps:
#   daemon      a Docker daemon that answers (started as root from /usr/sbin/dockerd if none does)
#   base        arena-base:bookworm: Debian bookworm by debootstrap from this machine's Debian mirror,
#               with this machine's extra certificate authorities, imported with `docker import`
#               (skipped when the image exists; SMOKE_REBUILD_BASE=1 builds it again)
#   python      arena-python:3.11: Debian's python3 and python3-venv on the base (container/python/Dockerfile)
#   kafka-image arena-kafka:<version>: the broker the project's launcher runs (the jars Maven resolves from
#               pom.xml) on Debian's openjdk-17-jre-headless (container/kafka/), taking the official image's
#               KAFKA_* variables
#   image       the project's image from the Dockerfile on arena-python:3.11 (arena-ledger:smoke)
#   compose     `docker compose up` with those images (ARENA_IMAGE, KAFKA_IMAGE) and SMOKE_WORKERS workers
#               (default 2): waits for the simulation service (the main job and `arena audit`), checks its
#               exit code, AUDIT PASSED and that `arena alerts` finds none, then `down -v`
#   testcontainers  ARENA_TEST_KAFKA=testcontainers pytest tests/integration/test_broker_smoke.py on the
#               local Kafka image (ARENA_TEST_KAFKA_IMAGE), Ryuk disabled (its image cannot be pulled)
#
# Each step's time is printed and written to $SMOKE_DIR/timings.txt; logs go to $SMOKE_DIR
# (default .arena/docker-smoke). Exit 0 only when every step asked for passed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

smoke_dir=${SMOKE_DIR:-$root/.arena/docker-smoke}
mkdir -p "$smoke_dir"
python=${SMOKE_PYTHON:-$root/.venv/bin/python}
[ -x "$python" ] || python=python3
kafka_version=${KAFKA_VERSION:-$("$python" -c 'from streams.broker.versions import DEFAULT_KAFKA_VERSION as v; print(v)')}
base_image=${SMOKE_BASE_IMAGE:-arena-base:bookworm}
python_image=${SMOKE_PYTHON_IMAGE:-arena-python:3.11}
kafka_image=${SMOKE_KAFKA_IMAGE:-arena-kafka:$kafka_version}
project_image=${SMOKE_PROJECT_IMAGE:-arena-ledger:smoke}
workers=${SMOKE_WORKERS:-2}
project=${SMOKE_COMPOSE_PROJECT:-arena-smoke}
timings=$smoke_dir/timings.txt

say() { printf '… %s\n' "$*" >&2; }
fail() { printf 'smoke: %s\n' "$*" >&2; exit 1; }

timed() {  # timed NAME COMMAND...: run it, print and record how long it took
  local name=$1 began ended code=0
  shift
  began=$(date +%s.%N)
  # A subshell with errexit in force: any failing command ends the step (not so under `||`).
  set +e
  (set -e; "$@")
  code=$?
  set -e
  ended=$(date +%s.%N)
  local seconds
  seconds=$(awk -v a="$began" -v b="$ended" 'BEGIN { printf "%.1f", b - a }')
  printf '%-16s %8ss  %s\n' "$name" "$seconds" "$([ $code = 0 ] && echo ok || echo "FAILED ($code)")" | tee -a "$timings" >&2
  return $code
}

compose() {
  if docker compose version >/dev/null 2>&1; then
    docker compose -p "$project" -f "$root/docker-compose.yml" "$@"
  else
    docker-compose -p "$project" -f "$root/docker-compose.yml" "$@"
  fi
}

# ---- daemon ---------------------------------------------------------------------------------------

step_daemon() {
  if docker info >/dev/null 2>&1; then
    say "a Docker daemon answers ($(docker version -f '{{.Server.Version}}'))"
    return 0
  fi
  [ "$(id -u)" = 0 ] || fail "no Docker daemon answers, and only root may start one here"
  command -v dockerd >/dev/null || fail "no Docker daemon answers and dockerd is not installed"
  say "starting dockerd (log $smoke_dir/dockerd.log)"
  nohup dockerd >"$smoke_dir/dockerd.log" 2>&1 &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && return 0
    sleep 1
  done
  fail "dockerd did not answer within 60 s; see $smoke_dir/dockerd.log"
}

# ---- base -----------------------------------------------------------------------------------------

debian_mirror() {  # the first Debian archive this machine's apt uses (deb822 .sources or sources.list)
  if [ -n "${DEBIAN_MIRROR:-}" ]; then echo "$DEBIAN_MIRROR"; return; fi
  local mirror
  mirror=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ { for (i = 2; i <= NF; i++) print $i }' \
    | grep -v -- '-security' | grep '/debian/\?$' | head -n 1 || true)
  if [ -z "$mirror" ]; then
    mirror=$(grep -h '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{ print $2 }' | grep -v -- '-security' | head -n 1 || true)
  fi
  echo "${mirror:-http://deb.debian.org/debian}"
}

step_base() {
  if docker image inspect "$base_image" >/dev/null 2>&1 && [ -z "${SMOKE_REBUILD_BASE:-}" ]; then
    say "$base_image exists (SMOKE_REBUILD_BASE=1 builds it again)"
    return 0
  fi
  [ "$(id -u)" = 0 ] || fail "debootstrap needs root"
  if ! command -v debootstrap >/dev/null; then
    say "installing debootstrap"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  fi
  local mirror rootfs
  mirror=$(debian_mirror)
  rootfs=$(mktemp -d /var/tmp/arena-rootfs.XXXXXX)
  say "debootstrap bookworm from $mirror into $rootfs (log $smoke_dir/debootstrap.log)"
  if ! debootstrap --variant=minbase --include=ca-certificates bookworm "$rootfs" "$mirror" \
      >"$smoke_dir/debootstrap.log" 2>&1; then
    rm -rf "$rootfs"
    fail "debootstrap failed; see $smoke_dir/debootstrap.log"
  fi
  cat >"$rootfs/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb ${mirror%/debian*}/debian-security bookworm-security main
EOF
  # This machine's own certificate authorities (a TLS-inspecting egress proxy, a company CA), so that
  # pip and apt inside the images trust what the host trusts.
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
    chroot "$rootfs" update-ca-certificates >/dev/null 2>&1 || fail "update-ca-certificates failed in the base"
  fi
  chroot "$rootfs" apt-get clean
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin
  tar -C "$rootfs" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["bash"]' \
    - "$base_image" >/dev/null
  rm -rf "$rootfs"
  say "imported $base_image ($(docker image inspect -f '{{.Size}}' "$base_image" | awk '{ printf "%.0f MB", $1 / 1e6 }'))"
}

# ---- images ---------------------------------------------------------------------------------------

build() {  # build TAG CONTEXT [docker build flags...]: the build's network is the host's (no bridge needed)
  local tag=$1 context=$2
  shift 2
  say "building $tag (log $smoke_dir/build-${tag//[:\/]/_}.log)"
  if ! docker build --network host -t "$tag" "$@" "$context" >"$smoke_dir/build-${tag//[:\/]/_}.log" 2>&1; then
    tail -n 30 "$smoke_dir/build-${tag//[:\/]/_}.log" >&2
    fail "building $tag failed"
  fi
}

step_python() {
  build "$python_image" "$root/container/python" --build-arg "BASE_IMAGE=$base_image"
}

step_kafka_image() {
  local context=$smoke_dir/kafka-context
  rm -rf "$context"
  mkdir -p "$context/libs"
  # The class path the launcher starts the broker with, resolved by Maven from pom.xml (cached).
  "$python" - "$kafka_version" "$smoke_dir/classpath-$kafka_version.txt" >"$smoke_dir/kafka-jars.txt" <<'EOF'
import sys
from pathlib import Path

from streams.broker.classpath import resolve_classpath
from streams.broker.launcher import default_paths
from streams.broker.versions import DEFAULT_KAFKA_VERSION

version, cache = sys.argv[1], Path(sys.argv[2])
resolved = resolve_classpath(default_paths().pom, cache, version=None if version == DEFAULT_KAFKA_VERSION else version)
if resolved.kafka_version != version:
    sys.exit(f"Maven resolved Kafka {resolved.kafka_version}, not {version}")
print("\n".join(resolved.entries))
EOF
  xargs -a "$smoke_dir/kafka-jars.txt" -d '\n' cp -t "$context/libs/"
  cp "$root/container/kafka/Dockerfile" "$root/container/kafka/entrypoint.sh" "$context/"
  say "$(wc -l <"$smoke_dir/kafka-jars.txt") jars of Kafka $kafka_version ($(du -sh "$context/libs" | cut -f1))"
  build "$kafka_image" "$context" --build-arg "BASE_IMAGE=$base_image" --build-arg "KAFKA_VERSION=$kafka_version"
}

step_image() {
  build "$project_image" "$root" --build-arg "PYTHON_IMAGE=$python_image"
}

# ---- compose --------------------------------------------------------------------------------------

step_compose() {
  export ARENA_IMAGE=$project_image KAFKA_IMAGE=$kafka_image PYTHON_IMAGE=$python_image
  local log=$smoke_dir/compose.log
  compose down -v --remove-orphans >/dev/null 2>&1 || true
  # The step runs in a subshell of its own (timed): whatever happens, keep the logs and take the stack down.
  trap 'compose logs --no-color >"$smoke_dir/compose-all.log" 2>&1 || true; compose down -v --remove-orphans >/dev/null 2>&1 || true' EXIT
  say "docker compose up --scale worker=$workers (kafka $KAFKA_IMAGE, project $ARENA_IMAGE)"
  local began
  began=$(date +%s)
  # Detached: `up --exit-code-from simulation` would stop everything when the one-shot `topics` exits.
  compose up -d --no-build --scale "worker=$workers" >"$log" 2>&1 || { cat "$log" >&2; fail "compose up failed"; }
  local id="" code="" deadline=$((began + ${SMOKE_TIMEOUT_S:-1800}))
  while [ -z "$code" ]; do
    [ "$(date +%s)" -lt "$deadline" ] || { compose ps >&2; fail "the simulation did not finish in time"; }
    id=${id:-$(compose ps -q simulation 2>/dev/null || true)}
    if [ -n "$id" ] && [ "$(docker inspect -f '{{.State.Status}}' "$id")" = exited ]; then
      code=$(docker inspect -f '{{.State.ExitCode}}' "$id")
    else
      sleep 2
    fi
  done
  local seconds=$(($(date +%s) - began))
  compose logs --no-color simulation >"$smoke_dir/simulation.log" 2>&1
  say "the simulation service exited with $code after ${seconds}s from \`up\` (log $smoke_dir/simulation.log)"
  printf '%-16s %8ss  %s\n' "compose up→audit" "$seconds" "exit $code" >>"$timings"
  grep -E '\[[0-9]/7\]|AUDIT|alert|report:' "$smoke_dir/simulation.log" | tail -n 25 >&2 || true
  [ "$code" = 0 ] || { tail -n 40 "$smoke_dir/simulation.log" >&2; fail "the simulation service exited with $code"; }
  grep -q 'AUDIT PASSED' "$smoke_dir/simulation.log" || fail "no AUDIT PASSED in the simulation's log"
  if ! compose exec -T worker arena alerts >"$smoke_dir/alerts.txt" 2>&1; then
    cat "$smoke_dir/alerts.txt" >&2
    fail "arena alerts found alerts (or could not read them)"
  fi
  say "$(tail -n 1 "$smoke_dir/alerts.txt")"
  compose exec -T worker arena lag >"$smoke_dir/lag.txt" 2>&1 || { cat "$smoke_dir/lag.txt" >&2; fail "the workers are behind"; }
  say "arena lag: $(tail -n 1 "$smoke_dir/lag.txt")"
  local running
  running=$(compose ps -q worker | wc -l)
  [ "$running" = "$workers" ] || fail "$running worker container(s), expected $workers"
}

# ---- testcontainers -------------------------------------------------------------------------------

step_testcontainers() {
  [ -x "$root/.venv/bin/pytest" ] || fail "no .venv/bin/pytest: make setup-tests first"
  ARENA_TEST_KAFKA=testcontainers ARENA_TEST_KAFKA_IMAGE=$kafka_image TESTCONTAINERS_RYUK_DISABLED=true \
    KAFKA_BOOTSTRAP_SERVERS='' "$root/.venv/bin/pytest" -q -p no:cacheprovider tests/integration/test_broker_smoke.py \
    2>&1 | tee "$smoke_dir/testcontainers.log" >&2
  return "${PIPESTATUS[0]}"
}

# ---- main -----------------------------------------------------------------------------------------

steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(daemon base python kafka-image image compose testcontainers)
printf '# container/smoke.sh %s, %s\n' "${steps[*]}" "$(date -u +%FT%TZ)" >>"$timings"
for step in "${steps[@]}"; do
  case $step in
    daemon | base | python | kafka-image | image | compose | testcontainers) timed "$step" "step_${step//-/_}" ;;
    *) fail "unknown step $step (daemon base python kafka-image image compose testcontainers)" ;;
  esac
done
say "all passed: ${steps[*]}"
