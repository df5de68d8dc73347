#!/usr/bin/env bash
# tp4j under a real Slurm (issue 14): a one-node cluster of Debian's munged, slurmctld and slurmd, started
# here as root with a private key, ports, state and logs under one temporary directory, the way Slurm's own
# CI containers run it. Then, on that cluster:
#   1. srun -n 4 bin/tp4j verify: exit 0, every line labelled with its rank (srun --label);
#   2. exit codes propagate: bad input on every rank -> srun exits 2, each rank's line carrying its label;
#      a stale RANK/WORLD_SIZE under srun -> exit 2 naming the variables;
#   3. sbatch scripts running mlp on a checkpoint of the test fixtures: exit 0 with the output written and
#      verified, and exit status 2 (as Slurm records it) for a tensor that is not there;
#   4. scancel of a running 4-rank job: every rank ends, nothing left (process, /dev/shm region, JVM files);
#   5. where mpirun is installed, mpirun -n 4 verify inside an sbatch script (the ranks inherit the script's
#      SLURM_PROCID=0 and must follow Open MPI's variables).
# Needs target/tp4j.jar (bin/tp4j builds it when missing). Installs the packages with apt-get when they are
# missing; skips, saying why, when it cannot. Leaves nothing running: the daemons are stopped on any exit.
set -euo pipefail
check_name=slurm
cd "$(dirname "$0")/../.."
repo="$PWD"
# shellcheck source=.ci/launchers/lib.sh
. .ci/launchers/lib.sh

ensure_packages slurmctld slurmctld slurmd slurm-client munge
for c in munged slurmd srun sbatch scancel sinfo squeue; do
  command -v "$c" > /dev/null || { echo "$check_name: SKIPPED: $c not found after installing Slurm"; exit 0; }
done
if [ "$(id -u)" != 0 ]; then
  echo "$check_name: SKIPPED: the one-node cluster's daemons run as root here (slurmd starts tasks as any user)"
  exit 0
fi

started=$(date +%s%N)
work="$(mktemp -d /tmp/tp4j-slurm.XXXXXX)"
chmod 711 "$work"
cleanup() {
  local status=$?
  set +e
  if [ "$status" != 0 ] && [ -f "$work/slurmd.log" ]; then
    echo "--- the end of slurmctld's and slurmd's logs:" >&2
    tail -n 15 "$work/slurmctld.log" "$work/slurmd.log" >&2
  fi
  if [ -f "$work/slurm.conf" ] && [ -f "$work/slurmctld.pid" ]; then
    SLURM_CONF="$work/slurm.conf" timeout 10 scancel --quiet --full -u "$(id -un)" 2> /dev/null
  fi
  local f pid
  for f in slurmd slurmctld munged; do
    pid=$(cat "$work/$f.pid" 2> /dev/null) || continue
    kill "$pid" 2> /dev/null
    for _ in $(seq 50); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
    kill -9 "$pid" 2> /dev/null
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# --- the cluster -----------------------------------------------------------------------------------------
host="$(hostname -s)"
cpus="$(nproc)"
# Ports of this run's own, so that a second CI run or another Slurm on the machine is not disturbed.
ctld_port=$((20000 + RANDOM % 20000))
mkdir -m 700 "$work/munge" && chmod 711 "$work/munge"
head -c 1024 /dev/urandom > "$work/munge/munge.key"
chmod 600 "$work/munge/munge.key"
munged --force --socket="$work/munge/socket" --key-file="$work/munge/munge.key" --pid-file="$work/munged.pid" \
  --log-file="$work/munged.log" --seed-file="$work/munge/seed" \
  || fail "munged did not start: $(tail -3 "$work/munged.log" 2> /dev/null)"
mkdir "$work/state" "$work/spool" "$work/out"
cat > "$work/slurm.conf" << EOF
ClusterName=tp4jci
# Addresses given: the cluster must not depend on the host name resolving.
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$work/munge/socket
CredType=cred/munge
SlurmctldPort=$ctld_port
SlurmdPort=$((ctld_port + 1))
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
# No cgroups in CI containers: processes are tracked by process group (linuxproc, by parent, loses an srun
# whose batch script died first: it is re-parented to init), tasks are not bound to cores.
ProctrackType=proctrack/pgid
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
# scancel: SIGTERM, then SIGKILL after 5 s (default 30)
KillWait=5
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=ci Nodes=$host Default=YES MaxTime=10 State=UP
EOF
export SLURM_CONF="$work/slurm.conf"
slurmctld || fail "slurmctld did not start: $(tail -3 "$work/slurmctld.log" 2> /dev/null)"
slurmd || fail "slurmd did not start: $(tail -3 "$work/slurmd.log" 2> /dev/null)"
node_idle() { [ "$(sinfo -h -n "$host" -o %t 2> /dev/null)" = idle ]; }
wait_until 30 "node $host idle in sinfo (logs: $work/slurm*.log)" node_idle
echo "$check_name: one-node cluster up ($host, $cpus CPUs, slurmctld port $ctld_port, $(srun --version)) in $(elapsed_since "$started") s"

# The node has $cpus CPUs; 4 tasks on it need --overcommit. srun passes the caller's environment on
# (OPENBLAS_* included).
small=(--hidden 64 --ffn 256)
out="$work/out"

# --- 1. srun -n 4 verify ---------------------------------------------------------------------------------
t=$(date +%s%N)
rc=0
timeout 120 srun --overcommit -n 4 --label bin/tp4j verify "${small[@]}" > "$out/verify.log" 2>&1 || rc=$?
[ "$rc" = 0 ] || fail "srun -n 4 bin/tp4j verify exited $rc: $(tail -5 "$out/verify.log")"
grep -q '^0: verify: all 4 checks passed on 4 ranks$' "$out/verify.log" || fail "no verdict: $(tail -5 "$out/verify.log")"
unlabelled=$(grep -cv '^[0-3]: ' "$out/verify.log" || true)
[ "$unlabelled" = 0 ] || fail "$unlabelled lines without a rank label: $(grep -v '^[0-3]: ' "$out/verify.log" | head -3)"
grep -q '^0: tp4j verify: 4 ranks' "$out/verify.log" || fail "not 4 ranks: $(head -3 "$out/verify.log")"
echo "$check_name: srun -n 4 bin/tp4j verify: exit 0, all 4 checks passed, every line labelled ($(elapsed_since "$t") s)"

# --- 2. exit codes ---------------------------------------------------------------------------------------
t=$(date +%s%N)
rc=0
timeout 60 srun --overcommit -n 4 --label bin/tp4j verify --hidden 0 > "$out/bad.log" 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "bad input under srun: exit $rc, expected 2: $(tail -5 "$out/bad.log")"
for r in 0 1 2 3; do
  grep -qx "$r: tp4j: --hidden must be a positive integer, got 0" "$out/bad.log" \
    || fail "rank $r did not say why: $(cat "$out/bad.log")"
done
rc=0
RANK=0 WORLD_SIZE=1 timeout 60 srun --overcommit -n 2 --label bin/tp4j verify "${small[@]}" > "$out/stale.log" 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "stale RANK/WORLD_SIZE under srun: exit $rc, expected 2: $(tail -5 "$out/stale.log")"
grep -q '^1: tp4j: WORLD_SIZE=1 but SLURM_NTASKS=2: ' "$out/stale.log" || fail "variables not named: $(cat "$out/stale.log")"
echo "$check_name: exit status 2 through srun for bad input (each rank's line labelled) and for a stale" \
  "RANK/WORLD_SIZE against SLURM_NTASKS ($(elapsed_since "$t") s)"

# sbatch_exit_status SCRIPT ARG...: submits, waits (bounded) until the job has ended, prints the exit status
# of its batch script as Slurm recorded it (scontrol's ExitCode=STATUS:SIGNAL). Polled every 0.2 s: sbatch
# --wait polls every 2 to 10 s, a third of this check's time.
sbatch_exit_status() {
  local job state
  job=$(sbatch --parsable -o "$out/%x-%j.out" "$@")
  # shellcheck disable=SC2317  # called by wait_until
  ended() {
    state=$(scontrol show job "$job" -o 2> /dev/null)
    grep -qE 'JobState=(COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY) ' <<< "$state"
  }
  wait_until 90 "batch job $job ended" ended
  grep -oE ' ExitCode=[0-9]+' <<< "$state" | cut -d= -f2
}

# --- 3. sbatch: mlp on a checkpoint ----------------------------------------------------------------------
t=$(date +%s%N)
fixture="$repo/src/test/resources/interop/llama_bf16_silu_gated"
layer=model.layers.0.mlp
cat > "$work/mlp.sbatch" << EOF
#!/bin/bash
#SBATCH --job-name=tp4j-mlp
#SBATCH --ntasks=2
#SBATCH --overcommit
#SBATCH --time=2
# One secret per job, handed to every task by srun's environment.
export TP4J_JOB_TOKEN=\$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
srun --label "$repo/bin/tp4j" mlp --checkpoint "$fixture/model.safetensors" \\
  --up $layer.up_proj --gate $layer.gate_proj --down $layer.down_proj --activation silu \\
  --input "$fixture/input.safetensors" --output "\$1" --verify
EOF
rc=$(sbatch_exit_status "$work/mlp.sbatch" "$out/mlp.safetensors")
log=$(cat "$out"/tp4j-mlp-*.out)
[ "$rc" = 0 ] || fail "sbatch mlp: job exit status $rc: $log"
[ -s "$out/mlp.safetensors" ] || fail "sbatch mlp wrote no output: $log"
grep -q '^0: Verify against the float64 .*: ok$' <<< "$log" || fail "no verdict 'ok' from rank 0: $log"
rm -f "$out"/tp4j-mlp-*.out
sed "s/--up $layer.up_proj/--up $layer.upproj/" "$work/mlp.sbatch" > "$work/bad.sbatch"
rc=$(sbatch_exit_status "$work/bad.sbatch" "$out/never.safetensors")
log=$(cat "$out"/tp4j-mlp-*.out)
[ "$rc" = 2 ] || fail "sbatch mlp with a missing tensor: job exit status $rc, expected 2: $log"
grep -q "no tensor '$layer.upproj.weight'" <<< "$log" || fail "missing tensor not named: $log"
[ ! -e "$out/never.safetensors" ] || fail "an output was written by a failed run"
tmp=$(find "$out" -name '*.tmp' | head -3)
[ -z "$tmp" ] || fail "temporary files left: $tmp"
echo "$check_name: sbatch mlp --verify (2 tasks): exit 0, verified ok, output written; with a missing tensor: the" \
  "job's exit status is 2, naming it, no output, no temporary file ($(elapsed_since "$t") s)"

# --- 4. scancel mid-run ----------------------------------------------------------------------------------
t=$(date +%s%N)
cat > "$work/long.sbatch" << EOF
#!/bin/bash
#SBATCH --job-name=tp4j-long
#SBATCH --ntasks=4
#SBATCH --overcommit
#SBATCH --time=3
srun --label "$repo/bin/tp4j" verify ${small[*]} --repeat 100000000 --timeout 120
EOF
job=$(sbatch --parsable -o "$out/long.out" "$work/long.sbatch")
wait_until 90 "job $job's 4 ranks joined" all_joined 4 "SLURM_JOB_ID=$job"
pids=$(pids_with_env "SLURM_JOB_ID=$job")
t_cancel=$(date +%s%N)
scancel "$job"
deadline=$((SECONDS + 30))
# shellcheck disable=SC2086
until left_behind $pids > "$work/left"; do
  [ "$SECONDS" -lt "$deadline" ] || fail "30 s after scancel of job $job: $(cat "$work/left")"
  sleep 0.2
done
took=$(elapsed_since "$t_cancel")
no_job() { [ -z "$(squeue -h -j "$job" 2> /dev/null)" ]; }
wait_until 30 "job $job left the queue" no_job
# shellcheck disable=SC2086
left_behind $pids || fail "left behind by job $job"
echo "$check_name: scancel of a running 4-rank verify: its $(wc -w <<< "$pids") processes (4 JVMs) gone in $took s," \
  "no /dev/shm region or JVM file left ($(elapsed_since "$t") s)"

# --- 5. mpirun inside a batch script --------------------------------------------------------------------
# Its ranks inherit the script's SLURM_PROCID=0 and SLURM_NTASKS; they must follow Open MPI's variables.
if command -v mpirun > /dev/null; then
  t=$(date +%s%N)
  cat > "$work/mpirun.sbatch" << EOF
#!/bin/bash
#SBATCH --job-name=tp4j-mpirun
#SBATCH --ntasks=4
#SBATCH --overcommit
#SBATCH --time=2
mpirun --allow-run-as-root --oversubscribe -n 4 "$repo/bin/tp4j" verify ${small[*]}
EOF
  rc=$(sbatch_exit_status "$work/mpirun.sbatch")
  log=$(cat "$out"/tp4j-mpirun-*.out)
  [ "$rc" = 0 ] || fail "mpirun -n 4 verify inside sbatch: job exit status $rc: $log"
  grep -q '^verify: all 4 checks passed on 4 ranks$' <<< "$log" || fail "no verdict: $log"
  echo "$check_name: mpirun -n 4 bin/tp4j verify inside an sbatch script (ranks carrying SLURM_PROCID=0): exit 0," \
    "all 4 checks passed ($(elapsed_since "$t") s)"
else
  echo "$check_name: mpirun inside sbatch not checked: no mpirun here (.ci/launchers/openmpi.sh installs it)"
fi

echo "$check_name: PASS ($(elapsed_since "$started") s)"
