#!/usr/bin/env bash
# tp4j under a real Open MPI mpirun (issue 14), Debian's openmpi-bin:
#   1. mpirun -n 4 bin/tp4j verify: exit 0, every line tagged with its rank once (--tag-output);
#   2. bad input on every rank: mpirun exits 2;
#   3. kill -9 of one rank's JVM mid-run: the whole job ends within a bound, every rank's process is gone,
#      nothing left (/dev/shm region, JVM files).
# mpirun needs --allow-run-as-root as root, and --oversubscribe for more ranks than cores. The ranks need no
# MASTER_ADDR on one host (127.0.0.1:29500 by default, MASTER_PORT here so that a concurrent job elsewhere on
# the machine does not meet this one). Needs target/tp4j.jar (bin/tp4j builds it when missing). Installs
# openmpi-bin with apt-get when missing; skips, saying why, when it cannot. Leaves nothing running.
set -euo pipefail
check_name=openmpi
cd "$(dirname "$0")/../.."
# shellcheck source=.ci/launchers/lib.sh
. .ci/launchers/lib.sh

ensure_packages mpirun openmpi-bin
started=$(date +%s%N)
work="$(mktemp -d /tmp/tp4j-openmpi.XXXXXX)"
mpirun_pid=
cleanup() {
  set +e
  if [ -n "$mpirun_pid" ] && [ -d "/proc/$mpirun_pid" ]; then
    kill -9 "$mpirun_pid" 2> /dev/null
  fi
  # shellcheck disable=SC2046
  for p in $(pids_with_env "TP4J_CI_RUN=$run"); do kill -9 "$p" 2> /dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# Every process of this check carries this run's mark, so that it is told apart from other tp4j on the machine.
run="openmpi-$$-$RANDOM"
export TP4J_CI_RUN="$run"
mpi=(mpirun --oversubscribe --tag-output)
[ "$(id -u)" != 0 ] || mpi+=(--allow-run-as-root)
small=(--hidden 64 --ffn 256)
echo "$check_name: $(mpirun --version | head -1)"

# --- 1. verify -------------------------------------------------------------------------------------------
t=$(date +%s%N)
rc=0
MASTER_PORT=$((20000 + RANDOM % 20000)) timeout 120 "${mpi[@]}" -n 4 bin/tp4j verify "${small[@]}" \
  > "$work/verify.log" 2>&1 || rc=$?
[ "$rc" = 0 ] || fail "mpirun -n 4 bin/tp4j verify exited $rc: $(tail -5 "$work/verify.log")"
grep -q '^\[[0-9]*,0\]<stdout>:verify: all 4 checks passed on 4 ranks$' "$work/verify.log" \
  || fail "no verdict: $(tail -5 "$work/verify.log")"
untagged=$(grep -cv '^\[[0-9]*,[0-3]\]<std\(out\|err\)>:' "$work/verify.log" || true)
[ "$untagged" = 0 ] || fail "$untagged lines without a rank tag: $(grep -v '^\[' "$work/verify.log" | head -3)"
# mpirun tags each piece it reads from a rank's pipe: a tag inside a line means the line left in pieces.
torn=$(grep -c '.\[[0-9]*,[0-9]*\]<std\(out\|err\)>:' "$work/verify.log" || true)
[ "$torn" = 0 ] || fail "$torn lines written in pieces: $(grep '.\[[0-9]*,[0-9]*\]<std' "$work/verify.log" | head -3)"
echo "$check_name: mpirun -n 4 bin/tp4j verify: exit 0, all 4 checks passed, every line tagged once" \
  "($(elapsed_since "$t") s)"

# --- 2. exit code ----------------------------------------------------------------------------------------
t=$(date +%s%N)
rc=0
timeout 60 "${mpi[@]}" -n 4 bin/tp4j verify --hidden 0 > "$work/bad.log" 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "bad input under mpirun: exit $rc, expected 2: $(tail -5 "$work/bad.log")"
grep -q '^\[[0-9]*,[0-3]\]<stderr>:tp4j: --hidden must be a positive integer, got 0$' "$work/bad.log" \
  || fail "no rank said why: $(cat "$work/bad.log")"
echo "$check_name: bad input: mpirun exits 2, the reason tagged with its rank ($(elapsed_since "$t") s)"

# --- 3. kill -9 of one rank ------------------------------------------------------------------------------
t=$(date +%s%N)
MASTER_PORT=$((20000 + RANDOM % 20000)) "${mpi[@]}" -n 4 bin/tp4j verify "${small[@]}" --repeat 100000000 \
  --timeout 120 > "$work/long.log" 2>&1 &
mpirun_pid=$!
wait_until 90 "mpirun's 4 ranks joined" all_joined 4 "TP4J_CI_RUN=$run"
pids=$(pids_with_env "TP4J_CI_RUN=$run")
victim=
for p in $(worker_jvms "TP4J_CI_RUN=$run"); do
  if grep -qzxF 'OMPI_COMM_WORLD_RANK=1' "/proc/$p/environ" 2> /dev/null; then
    victim=$p
  fi
done
[ -n "$victim" ] || fail "rank 1's JVM not found"
t_kill=$(date +%s%N)
# shellcheck disable=SC2034  # read by left_behind (lib.sh)
killed9="$victim"
kill -9 "$victim"
deadline=$((SECONDS + 30))
# shellcheck disable=SC2086
until left_behind $pids > "$work/left"; do
  [ "$SECONDS" -lt "$deadline" ] || fail "30 s after kill -9 of rank 1: $(cat "$work/left")"
  sleep 0.1
done
took=$(elapsed_since "$t_kill")
rc=0
wait "$mpirun_pid" || rc=$?
mpirun_pid=
[ "$rc" != 0 ] || fail "mpirun exited 0 after a rank was killed"
echo "$check_name: kill -9 of rank 1's JVM mid-run: mpirun exited $rc, all $(wc -w <<< "$pids") processes of the job" \
  "gone in $took s, nothing left ($(elapsed_since "$t") s)"
grep -E '<stderr>:tp4j:|mpirun|exited on signal' "$work/long.log" | head -4 | sed "s/^/$check_name:   /"

echo "$check_name: PASS ($(elapsed_since "$started") s)"
