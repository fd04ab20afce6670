#!/usr/bin/env bash
# End-to-end test of the containers on a real docker engine (npm run test:e2e):
# builds the image, brings docker-compose.yml up with 3 replicas and Redis, waits until they are
# healthy, checks RouteChat notes are shared across replicas, calls them from the host (gRPC and
# REST: health, GetFeature, NDJSON ListFeatures, OpenAPI and Swagger UI, WebSocket RouteChat across
# two replicas) and through the compose client, scrapes every replica's metrics
# (directly and through Prometheus), checks the runtime hardening, stops the stack and checks
# that every replica exited 0 within its grace period; then runs the image alone with 256 MiB on
# a generated 100,000-feature database under the stalled-reader attack (scripts/e2e-attack.js)
# and checks it is not OOM-killed and still answers, over gRPC and REST. Bounded in time; always
# tears down.
#
# Environment: E2E_TIMEOUT_S (whole run, default 1500), E2E_PROJECT (compose project name),
# E2E_ATTACK_STREAMS (stalled streams of the memory step, default 10000).
set -euo pipefail
cd "$(dirname "$0")/.."

PROJECT=${E2E_PROJECT:-routeguide-e2e}
TIMEOUT_S=${E2E_TIMEOUT_S:-1500}
IMAGE="routeguide:$(node -p 'require("./package.json").version')"
REPLICAS=3
HOST_PORTS=(50051 50052 50053)
REST_PORT=8080 # in the image; published on 127.0.0.1:8080-8082
REST_HOST_PORTS=(8080 8081 8082)
METRICS_PORT=9464
GRACE_S=15 # docker-compose.yml stop_grace_period
NODE=/nodejs/bin/node
ATTACK_PORT=50061 # the memory-limited container, on 127.0.0.1
ATTACK_REST_PORT=8090
ATTACK_STREAMS=${E2E_ATTACK_STREAMS:-10000}
ATTACK_MEMORY=256m

passed=()
log() { printf 'e2e: %s\n' "$*"; }
pass() {
  passed+=("$*")
  printf 'e2e: PASS %s\n' "$*"
}
fail() {
  printf 'e2e: FAIL %s\n' "$*" >&2
  exit 1
}

# Compose v2 when present (what users have), else v1 with --compatibility (honours deploy.replicas).
if docker compose version >/dev/null 2>&1; then
  compose_cmd=(docker compose -p "$PROJECT")
elif command -v docker-compose >/dev/null 2>&1; then
  compose_cmd=(docker-compose --compatibility -p "$PROJECT")
else
  fail "neither 'docker compose' nor 'docker-compose' is installed"
fi
compose() { "${compose_cmd[@]}" "$@"; }

work=$(mktemp -d "${TMPDIR:-/tmp}/routeguide-e2e.XXXXXX")
watchdog=
attack_c= # the memory-limited container, once started
engine=   # set once the docker engine answered: only then is there anything to show or tear down
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [[ -n $watchdog ]]; then
    pkill -P "$watchdog" 2>/dev/null || true # its sleep
    kill "$watchdog" 2>/dev/null || true
  fi
  if [[ -n $engine ]]; then
    if ((status != 0)); then
      log "failed (exit $status); state before teardown:"
      timeout 30 "${compose_cmd[@]}" ps || true
      timeout 30 "${compose_cmd[@]}" logs --no-color --tail 40 || true
      [[ -z $attack_c ]] || timeout 30 docker logs --tail 40 "$attack_c" || true
    fi
    [[ -z $attack_c ]] || timeout 60 docker rm -f "$attack_c" >/dev/null 2>&1 || true
    log "tearing down project $PROJECT"
    timeout 120 "${compose_cmd[@]}" down -v --remove-orphans -t 5 >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'log "time budget of ${TIMEOUT_S}s exhausted"; exit 124' TERM
# The whole run is bounded: the watchdog TERMs this script, whose trap tears everything down.
(sleep "$TIMEOUT_S" && kill -TERM $$) 2>/dev/null &
watchdog=$!

# --- preflight -------------------------------------------------------------------------------
timeout 30 docker info >/dev/null 2>&1 || fail "no docker engine answers (is dockerd running?)"
engine=yes
log "compose: ${compose_cmd[*]}"
timeout 60 "${compose_cmd[@]}" config -q || fail "docker-compose.yml does not validate"
pass "docker-compose.yml validates ($(compose version --short 2>/dev/null || echo '?'))"
[[ -f dist/healthcheck.js && -f dist/client/cli.js ]] || npm run build >/dev/null
# Leftovers of an interrupted run would hold the ports.
timeout 120 "${compose_cmd[@]}" down -v --remove-orphans -t 5 >/dev/null 2>&1 || true

# --- image -----------------------------------------------------------------------------------
log "building $IMAGE"
build_start=$(date +%s)
timeout 900 docker build -t "$IMAGE" . >"$work/build.log" 2>&1 || {
  tail -40 "$work/build.log"
  fail "image build"
}
build_s=$(($(date +%s) - build_start))
size_bytes=$(docker image inspect -f '{{.Size}}' "$IMAGE")
size_mb=$((size_bytes / 1000000))
pass "image $IMAGE builds (${build_s}s, ${size_mb} MB)"

user=$(docker image inspect -f '{{.Config.User}}' "$IMAGE")
entrypoint=$(docker image inspect -f '{{json .Config.Entrypoint}}' "$IMAGE")
ports=$(docker image inspect -f '{{json .Config.ExposedPorts}}' "$IMAGE")
[[ $user == 65532:65532 ]] || fail "image user is '$user', want 65532:65532"
[[ $entrypoint == '["/nodejs/bin/node"]' ]] || fail "entrypoint is $entrypoint, want exec form node"
[[ $ports == *'"50051/tcp"'* && $ports == *"\"$METRICS_PORT/tcp\""* && $ports == *"\"$REST_PORT/tcp\""* ]] ||
  fail "exposed ports: $ports"
pass "image config: user $user, exec-form entrypoint $entrypoint, exposes $ports"

# --- up --------------------------------------------------------------------------------------
log "starting the stack"
timeout 180 "${compose_cmd[@]}" up -d --no-build >"$work/up.log" 2>&1 || {
  cat "$work/up.log"
  fail "compose up"
}
mapfile -t replicas < <(compose ps -q routeguide)
((${#replicas[@]} == REPLICAS)) || fail "${#replicas[@]} routeguide containers, want $REPLICAS"

deadline=$(($(date +%s) + 120))
while :; do
  healthy=0
  for c in "${replicas[@]}"; do
    [[ $(docker inspect -f '{{.State.Health.Status}}' "$c") == healthy ]] && healthy=$((healthy + 1))
  done
  ((healthy == REPLICAS)) && break
  if (($(date +%s) > deadline)); then
    for c in "${replicas[@]}"; do docker inspect -f '{{.Name}} {{json .State.Health}}' "$c"; done
    fail "$healthy of $REPLICAS replicas healthy after 120s"
  fi
  sleep 2
done
pass "$REPLICAS replicas healthy (docker HEALTHCHECK: node dist/healthcheck.js)"

# Replica ids: REPLICA_ID defaults to the hostname, which docker sets to the short container id.
ids=()
for c in "${replicas[@]}"; do ids+=("$(docker inspect -f '{{.Config.Hostname}}' "$c")"); done

# --- from the host: published ports (what README's grpcurl commands do) ---------------------
# Which replica publishes which host port.
declare -A replica_of_port
for c in "${replicas[@]}"; do
  host_port=$(docker port "$c" 50051/tcp | head -n1)
  replica_of_port[${host_port##*:}]=$(docker inspect -f '{{.Config.Hostname}}' "$c")
done
for port in "${HOST_PORTS[@]}"; do
  [[ -n ${replica_of_port[$port]:-} ]] || fail "no replica publishes 127.0.0.1:$port"
  env -i PATH="$PATH" PORT="$port" node dist/healthcheck.js >/dev/null ||
    fail "health Check through published port 127.0.0.1:$port"
  services=$(node scripts/e2e-docker-helpers.js list "127.0.0.1:$port") ||
    fail "reflection list on 127.0.0.1:$port"
  grep -qx routeguide.RouteGuide <<<"$services" ||
    fail "reflection on 127.0.0.1:$port does not list routeguide.RouteGuide: $services"
  answer=$(timeout 30 node dist/client/cli.js get 407838351 -746143763 --target "127.0.0.1:$port" --json) ||
    fail "GetFeature through 127.0.0.1:$port"
  node -e '
    const [answer, replica] = process.argv.slice(1);
    const { feature, replica: from } = JSON.parse(answer);
    if (feature.name !== "Patriots Path, Mendham, NJ 07945, USA" || from !== replica) {
      process.stderr.write(`unexpected answer ${answer}, want replica ${replica}\n`);
      process.exit(1);
    }' "$answer" "${replica_of_port[$port]}" || fail "GetFeature through 127.0.0.1:$port"
done
pass "ports ${HOST_PORTS[*]} on 127.0.0.1 each reach their own replica: health Check, reflection list, GetFeature"

# --- RouteChat across replicas: notes shared through the redis service ----------------------
redis_c=$(compose ps -q redis)
[[ -n $redis_c ]] || fail "no redis container"
[[ $(docker inspect -f '{{.State.Health.Status}}' "$redis_c") == healthy ]] || fail "redis is not healthy"
redis_user=$(docker exec "$redis_c" id -u)
[[ $redis_user != 0 ]] || fail "redis runs as root"
note="e2e note $(date +%s%N)"
chat() { # PORT TEXT -> JSON of the replay
  timeout 30 node dist/client/cli.js chat --target "127.0.0.1:$1" --json --note "12.5,-45.25=$2"
}
first=$(chat 50051 "$note") || fail "RouteChat through 127.0.0.1:50051"
second=$(chat 50052 "second") || fail "RouteChat through 127.0.0.1:50052"
third=$(chat 50053 "third") || fail "RouteChat through 127.0.0.1:50053"
node -e '
  const [first, second, third, note] = process.argv.slice(1).map((a, i) => (i < 3 ? JSON.parse(a) : a));
  const texts = (answer) => answer.received.map((n) => n.message);
  const want = (answer, expected, what) => {
    if (JSON.stringify(texts(answer)) !== JSON.stringify(expected)) {
      process.stderr.write(`${what}: got ${JSON.stringify(answer)}, want ${JSON.stringify(expected)}\n`);
      process.exit(1);
    }
  };
  want(first, [], "through 50051");
  want(second, [note], "through 50052");
  want(third, [note, "second"], "through 50053");
  const replicas = new Set([first.replica, second.replica, third.replica]);
  if (replicas.size !== 3) { process.stderr.write(`replicas: ${[...replicas]}\n`); process.exit(1); }
' "$first" "$second" "$third" "$note" || fail "RouteChat notes are not shared across replicas"
pass "RouteChat: a note sent through 127.0.0.1:50051 is replayed through :50052 and :50053 (three replicas, one redis; redis uid $redis_user, healthy)"

# --- REST from the host: the published REST ports (what README's curl commands do) ----------
declare -A replica_of_rest_port
for c in "${replicas[@]}"; do
  host_port=$(docker port "$c" "$REST_PORT/tcp" | head -n1)
  replica_of_rest_port[${host_port##*:}]=$(docker inspect -f '{{.Config.Hostname}}' "$c")
done
for port in "${REST_HOST_PORTS[@]}"; do
  [[ -n ${replica_of_rest_port[$port]:-} ]] || fail "no replica publishes REST on 127.0.0.1:$port"
  node scripts/e2e-docker-helpers.js rest-get "http://127.0.0.1:$port" "${replica_of_rest_port[$port]}" ||
    fail "REST /healthz and GetFeature through 127.0.0.1:$port"
done
answer=$(curl -sS -f --max-time 10 localhost:8080/v1/features/409146138/-746188906) || fail "curl GetFeature"
[[ $answer == *'"name":"Berkshire Valley Management Area Trail, Jefferson, NJ, USA"'* ]] ||
  fail "curl GetFeature answered $answer"
timeout 30 node dist/client/cli.js list --json --lo 400000000,-750000000 --hi 420000000,-730000000 \
  --target 127.0.0.1:50051 >"$work/list.json" || fail "gRPC ListFeatures through 127.0.0.1:50051"
node scripts/e2e-docker-helpers.js rest-list http://127.0.0.1:8081 "$work/list.json" ||
  fail "REST ListFeatures (NDJSON) through 127.0.0.1:8081"
node scripts/e2e-docker-helpers.js rest-docs http://127.0.0.1:8082 ||
  fail "OpenAPI document and Swagger UI through 127.0.0.1:8082"
node scripts/e2e-docker-helpers.js ws-chat ws://127.0.0.1:8080/v1/notes:chat ws://127.0.0.1:8081/v1/notes:chat ||
  fail "WebSocket RouteChat across replicas"
pass "REST on ${REST_HOST_PORTS[*]}: /healthz and GetFeature from each replica, curl GetFeature, NDJSON ListFeatures = gRPC's, /openapi.json and /docs/ with its assets, WebSocket RouteChat note through :8080 (${replica_of_rest_port[8080]}) replayed through :8081 (${replica_of_rest_port[8081]})"

# --- the compose client service --------------------------------------------------------------
client=$(compose ps -a -q client)
[[ -n $client ]] || fail "no client container"
status=$(timeout 120 docker wait "$client") || fail "client did not finish within 120s"
docker logs "$client" >"$work/client.log" 2>&1
cat "$work/client.log"
((status == 0)) || fail "client service exited $status"
for id in "${ids[@]}"; do
  grep -q "$id" "$work/client.log" || fail "client table does not show replica $id"
done
pass "compose client (spread --target dns:///routeguide:50051 --calls 300) exited 0, table shows all $REPLICAS replicas"

timeout 120 "${compose_cmd[@]}" run --rm -T client dist/client/cli.js spread \
  --target dns:///routeguide:50051 --calls 300 --json >"$work/spread.json" 2>"$work/spread.err" || {
  cat "$work/spread.err" "$work/spread.json"
  fail "client spread --json"
}
node scripts/e2e-docker-helpers.js spread "$work/spread.json" "${ids[@]}" ||
  fail "spread did not reach every replica"
pass "spread --json: 300 calls, 0 failed, every replica (${ids[*]}) served calls"

# Weighted round robin: the replicas' ORCA load reports (cgroup-aware CPU inside containers).
timeout 120 "${compose_cmd[@]}" run --rm -T client dist/client/cli.js spread \
  --target dns:///routeguide:50051 --lb weighted_round_robin --outlier-detection --warmup 3000 \
  --calls 300 --json >"$work/spread-wrr.json" 2>"$work/spread-wrr.err" || {
  cat "$work/spread-wrr.err" "$work/spread-wrr.json"
  fail "client spread --lb weighted_round_robin --json"
}
node scripts/e2e-docker-helpers.js spread "$work/spread-wrr.json" "${ids[@]}" ||
  fail "weighted round robin did not reach every replica"
pass "spread --lb weighted_round_robin --outlier-detection: 300 calls, 0 failed, every replica served calls"

# --- metrics ---------------------------------------------------------------------------------
# The image has no curl or shell: fetch /metrics with the image's own Node, inside each replica.
scrape="fetch('http://127.0.0.1:$METRICS_PORT/metrics').then(async (r) => {
  const body = await r.text();
  if (r.status !== 200 || !body.includes('# TYPE')) throw new Error('HTTP ' + r.status);
  process.stdout.write(body.split('\n').filter((l) => l.startsWith('# TYPE')).length + ' metric families');
}).catch((e) => { process.stderr.write(String(e)); process.exit(1); })"
for c in "${replicas[@]}"; do
  families=$(timeout 30 docker exec "$c" "$NODE" -e "$scrape") || fail "scrape /metrics in $c"
  log "$(docker inspect -f '{{.Config.Hostname}}' "$c"): $families"
done
pass "each replica serves /metrics on :$METRICS_PORT"

deadline=$(($(date +%s) + 90))
until node scripts/e2e-docker-helpers.js targets http://127.0.0.1:9090 "$REPLICAS" >"$work/targets.txt" 2>&1; do
  if (($(date +%s) > deadline)); then
    cat "$work/targets.txt"
    fail "Prometheus does not scrape $REPLICAS routeguide targets"
  fi
  sleep 3
done
cat "$work/targets.txt"
pass "Prometheus (127.0.0.1:9090) finds all $REPLICAS replicas by DNS and scrapes them (health up)"

# --- runtime hardening -----------------------------------------------------------------------
c=${replicas[0]}
ids_in=$(docker exec "$c" "$NODE" -e 'process.stdout.write(process.getuid() + ":" + process.getgid())')
[[ $ids_in == 65532:65532 ]] || fail "server runs as $ids_in, want 65532:65532"
if docker exec "$c" sh -c true >/dev/null 2>&1 || docker exec "$c" /bin/sh -c true >/dev/null 2>&1; then
  fail "the runtime container has a shell"
fi
shells=$(docker exec "$c" "$NODE" -e '
  const fs = require("fs");
  const found = ["/bin/sh", "/bin/bash", "/bin/dash", "/usr/bin/sh", "/usr/bin/bash", "/bin/busybox"]
    .filter((p) => fs.existsSync(p));
  process.stdout.write(found.join(" "));')
[[ -z $shells ]] || fail "shells present in the image: $shells"
rofs=$(docker exec "$c" "$NODE" -e '
  try { require("fs").writeFileSync("/app/probe", "x"); process.stdout.write("writable"); }
  catch (e) { process.stdout.write(e.code); }')
[[ $rofs == EROFS ]] || fail "root filesystem is not read-only ($rofs)"
cap=$(docker exec "$c" "$NODE" -e '
  const line = require("fs").readFileSync("/proc/self/status", "utf8").split("\n").find((l) => l.startsWith("CapEff"));
  process.stdout.write(line.split(/\s+/)[1]);')
[[ $cap == 0000000000000000 ]] || fail "effective capabilities $cap, want none"
pass "runtime container: uid:gid $ids_in, no shell, read-only root filesystem, no capabilities"

# --- graceful stop ---------------------------------------------------------------------------
log "stopping the replicas (stop_grace_period ${GRACE_S}s)"
stop_start=$(date +%s%N)
timeout $((GRACE_S + 60)) "${compose_cmd[@]}" stop routeguide >/dev/null 2>&1 || fail "compose stop"
stop_ms=$((($(date +%s%N) - stop_start) / 1000000))
((stop_ms < GRACE_S * 1000)) || fail "stop took ${stop_ms} ms, not within the ${GRACE_S}s grace period"
for c in "${replicas[@]}"; do
  state=$(docker inspect -f '{{.State.Status}} {{.State.ExitCode}} {{.State.OOMKilled}}' "$c")
  [[ $state == 'exited 0 false' ]] || fail "replica $c after stop: $state (want exited 0)"
done
pass "compose stop finished in ${stop_ms} ms (< ${GRACE_S}s grace); every replica exited 0 on SIGTERM"

# --- 256 MiB under hostile clients: stalled readers --------------------------------------------
# The image alone, memory-limited like a small pod, on a generated 100,000-feature database
# (mounted read-only), attacked from the host: ListFeatures streams over the whole world whose
# client never reads, held, then abandoned. The kernel's OOM killer is the judge.
db="$work/features-100k.json"
npm run --silent bench:generate -- --count 100k --out "$db" >/dev/null 2>&1 || fail "generating the 100k database"
chmod 0644 "$db"
docker rm -f "${PROJECT}-attack" >/dev/null 2>&1 || true
attack_c=$(docker run -d --name "${PROJECT}-attack" --memory "$ATTACK_MEMORY" --memory-swap "$ATTACK_MEMORY" \
  --read-only -p "127.0.0.1:$ATTACK_PORT:50051" -p "127.0.0.1:$ATTACK_REST_PORT:$REST_PORT" -v "$db:/data/features.json:ro" \
  -e FEATURES_FILE=/data/features.json -e METRICS=false \
  "$IMAGE") || fail "docker run --memory $ATTACK_MEMORY"
deadline=$(($(date +%s) + 120))
until [[ $(docker inspect -f '{{.State.Health.Status}}' "$attack_c") == healthy ]]; do
  (($(date +%s) <= deadline)) || fail "memory-limited container not healthy after 120s: $(docker inspect -f '{{json .State}}' "$attack_c")"
  sleep 2
done
peak_mem() { # the container's peak and current memory (cgroup v2, else v1), for the log
  docker exec "$attack_c" "$NODE" -e '
    const fs = require("fs");
    const read = (f) => { try { return Number(fs.readFileSync(f, "utf8")); } catch { return NaN; } };
    const either = (a, b) => (Number.isNaN(read(a)) ? read(b) : read(a));
    const peak = either("/sys/fs/cgroup/memory.peak", "/sys/fs/cgroup/memory/memory.max_usage_in_bytes");
    const now = either("/sys/fs/cgroup/memory.current", "/sys/fs/cgroup/memory/memory.usage_in_bytes");
    process.stdout.write(`${Number.isNaN(peak) ? "?" : (peak / 2 ** 20).toFixed(0)} MiB peak, ${Number.isNaN(now) ? "?" : (now / 2 ** 20).toFixed(0)} MiB now`);' 2>/dev/null || echo '?'
}
# The server finds its memory budget in the container's cgroup by itself.
budget=$(docker logs "$attack_c" 2>&1 | node -e '
  let text = ""; process.stdin.on("data", (d) => (text += d)).on("end", () => {
    const line = text.split("\n").find((l) => l.includes("\"routeguide serving\""));
    process.stdout.write(String(line ? JSON.parse(line).memoryBudgetBytes : "no serving line"));
  });')
[[ $budget == 268435456 ]] || fail "memory-limited container's budget: $budget (want the cgroup's 268435456)"
log "memory-limited container healthy ($(peak_mem)), budget $budget bytes from its cgroup; attacking with $ATTACK_STREAMS stalled streams"
attack=$(timeout 120 node scripts/e2e-attack.js "127.0.0.1:$ATTACK_PORT" "$ATTACK_STREAMS" 20 10000) ||
  log "the attack itself failed (the container may have gone): ${attack:-no output}"
log "attack: ${attack:-none}"
sleep 3 # the server's clean-up after the attacker vanished
state=$(docker inspect -f '{{.State.OOMKilled}} {{.State.Running}} {{.RestartCount}}' "$attack_c")
[[ $state == 'false true 0' ]] ||
  fail "under $ATTACK_STREAMS stalled streams with $ATTACK_MEMORY the container ended 'OOMKilled Running RestartCount' = '$state'"
log "after the attack: $(peak_mem)"
timeout 30 node dist/client/cli.js get 407838351 -746143763 --target "127.0.0.1:$ATTACK_PORT" --json >/dev/null ||
  fail "GetFeature on the memory-limited container after the attack"
answer=$(curl -sS -f --max-time 10 "127.0.0.1:$ATTACK_REST_PORT/v1/features/407838351/-746143763") ||
  fail "REST GetFeature on the memory-limited container after the attack"
[[ $answer == *'"latitude":407838351'* ]] || fail "REST GetFeature on the memory-limited container answered $answer"
pass "$ATTACK_MEMORY container survives $ATTACK_STREAMS stalled ListFeatures streams over 100k features (not OOM-killed, still serves GetFeature over gRPC and REST)"
docker rm -f "$attack_c" >/dev/null 2>&1 || true
attack_c=

log "summary: image $IMAGE ${size_mb} MB, built in ${build_s}s; stop ${stop_ms} ms"
log "${#passed[@]} checks passed"
