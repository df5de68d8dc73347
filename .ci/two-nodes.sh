#!/usr/bin/env bash
# Two nodes on one machine: two Linux namespaces (network, UTS with their own host names, IPC, and a
# private /dev/shm in a mount namespace of their own) joined by a veth pair with addresses of this test's
# own, then tp4j launched on both as on two hosts (issue 14, "Two hosts, for real"):
#   1. verify and mlp pass on 2 nodes x 2 ranks; the report shows shared memory inside a node and TCP
#      between nodes (the hierarchical transport, with the bytes of each link);
#   2. TP4J_TRANSPORT=shm across the two nodes exits 2 naming why (launcher and bare workers);
#   3. the link pulled (ip link set ... down) under a long verify --repeat ends every rank on both nodes
#      within the timeouts, naming the unreachable peer; no process stays in either namespace, no file in
#      either /dev/shm;
#   4. a node-1 launcher that never comes ends node 0 within the rendezvous timeout, saying so.
# Every step is bounded by `timeout`; only this test's namespaces and veth pair are touched, and they are
# removed on exit. Skips (exit 0, saying why) where it cannot run: not root, no ip/unshare, no netns.
#
#   .ci/two-nodes.sh            run all steps
#   .ci/two-nodes.sh --bench    instead, measure the collectives on 2 nodes x 2 ranks, 1 MiB to 64 MiB, over
#                               the flat TCP ring and over the hierarchical transport (docs/performance.md)
#   TWO_NODES_KEEP_LOGS=DIR     copy every step's output to DIR
set -uo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
mode=checks
[ "${1:-}" = --bench ] && mode=bench

skip() {
  echo "two-nodes: skipped: $*"
  exit 0
}
[ "$(id -u)" = 0 ] || skip "not root (network namespaces and tmpfs mounts need it)"
for tool in ip ss unshare timeout mount; do
  command -v "$tool" > /dev/null || skip "no $tool"
done

# Names unique to this run (interface names stay under 15 characters), addresses of the test's own.
tag="tp4j$$"
ns0="${tag}n0"
ns1="${tag}n1"
veth0="${tag}v0"
veth1="${tag}v1"
addr0=10.213.7.1
addr1=10.213.7.2
port=29513 # inside the namespaces' own network stacks: no other job's port
work="$(mktemp -d)"
failures=0

cleanup() {
  for ns in "$ns0" "$ns1"; do
    if ip netns list 2> /dev/null | grep -qw "$ns"; then
      for pid in $(ip netns pids "$ns" 2> /dev/null); do
        kill -9 "$pid" 2> /dev/null
      done
      ip netns del "$ns" 2> /dev/null
    fi
  done
  ip link del "$veth0" 2> /dev/null
  if [ -n "${TWO_NODES_KEEP_LOGS:-}" ]; then
    mkdir -p "$TWO_NODES_KEEP_LOGS" && cp "$work"/*.log "$TWO_NODES_KEEP_LOGS"/ 2> /dev/null
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$ns0" 2> /dev/null || skip "cannot create network namespaces here"
ip netns add "$ns1" || exit 1
ip link add "$veth0" type veth peer name "$veth1" || skip "cannot create a veth pair here"
ip link set "$veth0" netns "$ns0"
ip link set "$veth1" netns "$ns1"
ip -n "$ns0" addr add "$addr0/24" dev "$veth0"
ip -n "$ns1" addr add "$addr1/24" dev "$veth1"
for ns in "$ns0" "$ns1"; do
  ip -n "$ns" link set lo up
done
ip -n "$ns0" link set "$veth0" up
ip -n "$ns1" link set "$veth1" up
unshare --uts --ipc --mount true 2> /dev/null || skip "unshare --uts --ipc --mount refused"

# Build once, outside the namespaces (they see the same file system).
bin/tp4j info > /dev/null || {
  echo "two-nodes: bin/tp4j could not be built" >&2
  exit 1
}
# The job's shared secret, the same on both nodes, as a multi-node job needs.
TP4J_JOB_TOKEN="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
export TP4J_JOB_TOKEN

# on_node NS HOSTNAME LOG CMD...: runs CMD as a process of that node (its own network, host name, IPC and
# /dev/shm), output to LOG; exits with CMD's status, or 98 when a file stayed in the node's /dev/shm.
on_node() {
  local ns="$1" host="$2" log="$3"
  shift 3
  ip netns exec "$ns" unshare --uts --ipc --mount --propagation private -- bash -c '
    host="$1"; shift
    hostname "$host" && mount -t tmpfs -o size=512m,mode=1777 tmpfs /dev/shm || exit 97
    cd "$0" && "$@"
    rc=$?
    left="$(ls -A /dev/shm)"
    if [ -n "$left" ]; then
      echo "two-nodes: left in /dev/shm of $host: $left"
      rc=98
    fi
    exit $rc' "$root" "$host" "$@" > "$log" 2>&1
}

launch_args() { # NODE_RANK
  echo --nnodes 2 --node-rank "$1" --master-addr "$addr0" --master-port "$port" --nproc-per-node 2
}

pass() {
  echo "two-nodes: ok   $*"
}
fail() {
  echo "two-nodes: FAIL $*"
  failures=$((failures + 1))
}
show() { # LOG: the tail of a log, indented, for a failure's context
  sed 's/^/    | /' "$1" | tail -n 25
}
expect_in() { # LOG TEXT WHAT
  if grep -qF -- "$2" "$1"; then
    pass "$3"
  else
    fail "$3: no '$2' in $(basename "$1")"
    show "$1"
  fi
}
no_process_left() { # WHAT
  local left=""
  for ns in "$ns0" "$ns1"; do
    left="$left$(ip netns pids "$ns" 2> /dev/null | tr '\n' ' ')"
  done
  if [ -z "${left// /}" ]; then
    pass "$1: no process left in either namespace"
  else
    fail "$1: processes left: $left"
    for pid in $left; do
      kill -9 "$pid" 2> /dev/null
    done
  fi
}
# both NAME BOUND CMD...: both nodes' launchers at once (node-rank substituted for @R), each bounded; sets
# rc0, rc1 and the seconds until both ended.
both() {
  local name="$1" bound="$2"
  shift 2
  local start=$SECONDS
  on_node "$ns0" node-a "$work/$name.node0.log" timeout -k 5 "$bound" "${@/@R/0}" &
  local p0=$!
  on_node "$ns1" node-b "$work/$name.node1.log" timeout -k 5 "$bound" "${@/@R/1}" &
  local p1=$!
  wait "$p0"
  rc0=$?
  wait "$p1"
  rc1=$?
  took=$((SECONDS - start))
}

echo "two-nodes: $ns0 (node-a, $addr0) and $ns1 (node-b, $addr1), joined by $veth0-$veth1"

if [ "$mode" = bench ]; then
  for transport in tcp hierarchical; do
    both "bench-$transport" 600 bin/tp4j launch --transport "$transport" $(launch_args @R) \
      bench --collectives-only --min-kib 1024 --max-kib 65536 --timeout 120
    if [ "$rc0" = 0 ] && [ "$rc1" = 0 ]; then
      echo "two-nodes: bench over --transport $transport (${took}s):"
      grep -E "tp4j bench:|op +size|(all_reduce|all_gather|reduce_scatter|broadcast) " "$work/bench-$transport.node0.log"
    else
      fail "bench over $transport: node 0 exited $rc0, node 1 $rc1"
      show "$work/bench-$transport.node0.log"
    fi
  done
  exit $((failures > 0))
fi

# ---- 1. verify and mlp pass; the report shows shm inside a node and tcp between nodes
both verify 120 bin/tp4j launch $(launch_args @R) verify --hidden 256 --ffn 512 --timeout 30
if [ "$rc0" = 0 ] && [ "$rc1" = 0 ]; then
  pass "verify on 2 nodes x 2 ranks (${took}s)"
else
  fail "verify: node 0 exited $rc0, node 1 $rc1"
  show "$work/verify.node0.log"
  show "$work/verify.node1.log"
fi
log="$work/verify.node0.log"
expect_in "$log" "collectives: hierarchical, rank 0 of 4 on node 0 of 2" "verify's report names the hierarchical transport"
expect_in "$log" "shm inside node 0" "verify's report gives the bytes over shared memory inside the node"
expect_in "$log" "tcp between nodes" "verify's report gives the bytes over TCP between nodes"
sed -n '/^Bytes rank 0 sent per link/,/^$/p' "$log"

fixture=src/test/resources/interop/f32_relu_gated
out="$work/mlp-out.safetensors"
both mlp 120 bin/tp4j launch $(launch_args @R) mlp --checkpoint "$fixture/model.safetensors" \
  --up model.layers.0.mlp.up_proj --gate model.layers.0.mlp.gate_proj --down model.layers.0.mlp.down_proj \
  --activation relu --input "$fixture/input.safetensors" --output "$out" --verify --timeout 30
if [ "$rc0" = 0 ] && [ "$rc1" = 0 ] && [ -s "$out" ]; then
  pass "mlp --verify on 2 nodes x 2 ranks, output written (${took}s)"
else
  fail "mlp: node 0 exited $rc0, node 1 $rc1"
  show "$work/mlp.node0.log"
  show "$work/mlp.node1.log"
fi
expect_in "$work/mlp.node0.log" "hierarchical" "mlp's report names the hierarchical transport"
no_process_left "after verify and mlp"

# ---- 2. TP4J_TRANSPORT=shm across the nodes: exit 2, one line saying why
both shm-launch 60 env TP4J_TRANSPORT=shm bin/tp4j launch $(launch_args @R) verify --timeout 20
if [ "$rc0" = 2 ] && [ "$rc1" = 2 ]; then
  pass "TP4J_TRANSPORT=shm under launch --nnodes 2 exits 2 on both nodes"
else
  fail "TP4J_TRANSPORT=shm under launch: node 0 exited $rc0, node 1 $rc1 (expected 2)"
fi
expect_in "$work/shm-launch.node0.log" "needs every rank on one host, but the job spans 2 nodes" "and says why"
# Bare workers (as under srun or mpirun) find out at the rendezvous, from each other's host ids.
worker_env() { # RANK
  echo RANK="$1" WORLD_SIZE=2 LOCAL_RANK=0 LOCAL_WORLD_SIZE=1 MASTER_ADDR="$addr0" MASTER_PORT="$port" TP4J_TRANSPORT=shm
}
both shm-workers 60 env $(worker_env @R) bin/tp4j verify --timeout 20
if [ "$rc0" = 2 ]; then
  pass "TP4J_TRANSPORT=shm, one bare worker per node: rank 0 exits 2 (rank 1 exited $rc1)"
else
  fail "TP4J_TRANSPORT=shm, bare workers: rank 0 exited $rc0 (expected 2)"
  show "$work/shm-workers.node0.log"
fi
expect_in "$work/shm-workers.node0.log" "TP4J_TRANSPORT=shm needs every rank on one host, but rank 1 runs on node-b" \
  "and names the other host"
no_process_left "after the shm refusals"

# ---- 3. the link pulled mid-job: every rank on both nodes ends, naming the unreachable peer
timeout_s=15
both_start=$SECONDS
on_node "$ns0" node-a "$work/pull.node0.log" timeout -k 5 150 bin/tp4j launch $(launch_args 0) \
  verify --hidden 64 --ffn 128 --repeat 100000000 --timeout "$timeout_s" &
p0=$!
# The timeout is also the rendezvous's: node 1 starts once node 0's store listens, so that a slow JVM
# start on this shared machine is not what the short timeout catches.
for _ in $(seq 1 600); do
  ip netns exec "$ns0" ss -Htln "sport = :$port" 2> /dev/null | grep -q . && break
  kill -0 "$p0" 2> /dev/null || break
  sleep 0.1
done
on_node "$ns1" node-b "$work/pull.node1.log" timeout -k 5 150 bin/tp4j launch $(launch_args 1) \
  verify --hidden 64 --ffn 128 --repeat 100000000 --timeout "$timeout_s" &
p1=$!
# Mid-job: node 1 has sent 256 KiB to node 0 over its connections (the rendezvous and the handshakes
# are a few hundred bytes), so collectives are flowing between the nodes.
sent_to_node0() {
  ip netns exec "$ns1" ss -Htin state established dst "$addr0" 2> /dev/null |
    grep -o 'bytes_sent:[0-9]*' | cut -d: -f2 | awk '{ s += $1 } END { print s + 0 }'
}
sent=0
for _ in $(seq 1 600); do
  sent="$(sent_to_node0)"
  [ "$sent" -ge 262144 ] && break
  kill -0 "$p0" 2> /dev/null && kill -0 "$p1" 2> /dev/null || break
  sleep 0.1
done
if [ "$sent" -ge 262144 ] && kill -0 "$p0" 2> /dev/null && kill -0 "$p1" 2> /dev/null; then
  pulled=$SECONDS
  ip -n "$ns0" link set "$veth0" down
  wait "$p0"
  rc0=$?
  end0=$((SECONDS - pulled))
  wait "$p1"
  rc1=$?
  end1=$((SECONDS - pulled))
  # Leaders give up after twice the timeout without progress between nodes; the one cut off from the
  # store spends up to one more timeout (plus 5 s of grace) trying to leave its diagnosis there.
  bound=$((4 * timeout_s + 10))
  if [ "$rc0" = 1 ] && [ "$rc1" = 1 ] && [ "$end0" -le "$bound" ] && [ "$end1" -le "$bound" ]; then
    pass "link pulled: node 0 ended after ${end0}s, node 1 after ${end1}s, both exit 1 (--timeout $timeout_s, bound ${bound}s)"
  else
    fail "link pulled: node 0 exited $rc0 after ${end0}s, node 1 exited $rc1 after ${end1}s (expected 1 within ${bound}s)"
  fi
  expect_in "$work/pull.node0.log" "rank 2 is not answering" "node 0 names node 1's leader, rank 2, as not answering"
  expect_in "$work/pull.node1.log" "rank 0 is not answering" "node 1 names node 0's leader, rank 0, as not answering"
  grep -h "tp4j" "$work/pull.node0.log" "$work/pull.node1.log" | grep -v "^tp4j verify" | head -n 8 | sed 's/^/    | /'
  for n in 0 1; do
    if grep -q "left in /dev/shm" "$work/pull.node$n.log"; then
      fail "link pulled: a file stayed in node $n's /dev/shm"
    fi
  done
  pass "link pulled: nothing left in either node's /dev/shm" # a leftover fails above
else
  fail "link pull: the job never got going (or ended early) in $((SECONDS - both_start))s"
  show "$work/pull.node0.log"
  show "$work/pull.node1.log"
  kill "$p0" "$p1" 2> /dev/null
  wait
fi
ip -n "$ns0" link set "$veth0" up
no_process_left "after the link pull"

# ---- 4. node 1's launcher never comes: node 0 ends within the rendezvous timeout, saying so
start=$SECONDS
on_node "$ns0" node-a "$work/alone.node0.log" timeout -k 5 60 bin/tp4j launch $(launch_args 0) \
  verify --timeout "$timeout_s"
rc0=$?
took=$((SECONDS - start))
if [ "$rc0" = 1 ] && [ "$took" -le $((timeout_s + 20)) ]; then
  pass "node 1 never came: node 0 exits 1 after ${took}s (--timeout $timeout_s)"
else
  fail "node 1 never came: node 0 exited $rc0 after ${took}s (expected 1 within $((timeout_s + 20))s)"
  show "$work/alone.node0.log"
fi
expect_in "$work/alone.node0.log" "rank 2 did not show up" "node 0 says that rank 2 (node 1) did not show up"
no_process_left "after the lonely node"

if [ "$failures" -gt 0 ]; then
  echo "two-nodes: $failures check(s) FAILED"
  exit 1
fi
echo "two-nodes: all checks passed"
