#!/usr/bin/env bash
# Round robin vs weighted round robin, in one run, against three local replicas of which the
# first is throttled by a cgroup CPU quota (QUOTA_PERCENT of one CPU, default 5). Needs root,
# cgroup v1 (cpu controller) or v2, and `npm run build` first. Every server listens on 127.0.0.1.
#
#   sudo scripts/lb-demo.sh                       # defaults: 3000 calls, 10 in flight, 4 s warm-up
#   sudo CALLS=5000 WARMUP_MS=0 scripts/lb-demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."

CALLS=${CALLS:-3000}
CONCURRENCY=${CONCURRENCY:-10}
WARMUP_MS=${WARMUP_MS:-4000}
QUOTA_PERCENT=${QUOTA_PERCENT:-5}
BASE_PORT=${BASE_PORT:-50561}
PERIOD_US=100000
QUOTA_US=$((QUOTA_PERCENT * PERIOD_US / 100))

[ -f dist/main.js ] || { echo "lb-demo: run npm run build first" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "lb-demo: needs root to create a cgroup" >&2; exit 2; }

name="routeguide-demo-$$"
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
  grep -qw cpu /sys/fs/cgroup/cgroup.controllers || { echo "lb-demo: cgroup v2 without the cpu controller" >&2; exit 2; }
  echo +cpu >/sys/fs/cgroup/cgroup.subtree_control
  cgroup=/sys/fs/cgroup/$name
  mkdir "$cgroup"
  echo "$QUOTA_US $PERIOD_US" >"$cgroup/cpu.max"
else
  root=$(ls -d /sys/fs/cgroup/cpu /sys/fs/cgroup/cpu,cpuacct 2>/dev/null | head -n1 || true)
  [ -n "$root" ] || { echo "lb-demo: no cgroup v1 cpu controller" >&2; exit 2; }
  cgroup=$root/$name
  mkdir "$cgroup"
  echo "$PERIOD_US" >"$cgroup/cpu.cfs_period_us"
  echo "$QUOTA_US" >"$cgroup/cpu.cfs_quota_us"
fi

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rmdir "$cgroup" 2>/dev/null || true
}
trap cleanup EXIT

targets=()
for i in 1 2 3; do
  port=$((BASE_PORT + i - 1))
  targets+=("127.0.0.1:$port")
  if [ "$i" = 1 ]; then
    # Into the cgroup before node starts, so the replica is throttled from its first instruction.
    REPLICA_ID=routeguide-$i HOST=127.0.0.1 PORT=$port METRICS=false LOG_LEVEL=warn \
      sh -c 'echo $$ >"$1/cgroup.procs" && exec node dist/main.js' sh "$cgroup" &
  else
    REPLICA_ID=routeguide-$i HOST=127.0.0.1 PORT=$port METRICS=false LOG_LEVEL=warn node dist/main.js &
  fi
  pids+=($!)
done
target="ipv4:$(IFS=,; echo "${targets[*]}")"

# Starting costs about 1 s of CPU, so the throttled replica needs ~30 s at 5%: wait up to 120 s.
for t in "${targets[@]}"; do
  deadline=$((SECONDS + 120))
  until node dist/client/cli.js health --target "$t" --deadline 1000 >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "lb-demo: the replica at $t did not answer health within 120 s" >&2
      exit 1
    fi
    sleep 0.2
  done
done

echo "routeguide-1 is limited to $QUOTA_PERCENT% of a CPU ($cgroup)"
for lb in round_robin weighted_round_robin; do
  echo
  echo "\$ routeguide spread --target $target --lb $lb --calls $CALLS --concurrency $CONCURRENCY --warmup $WARMUP_MS"
  node dist/client/cli.js spread --target "$target" --lb "$lb" --calls "$CALLS" \
    --concurrency "$CONCURRENCY" --warmup "$WARMUP_MS" --no-progress
done
