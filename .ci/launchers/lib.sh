# shellcheck shell=bash disable=SC2154  # check_name: set by the script that sources this
# Shared by the launcher checks (.ci/launchers/*.sh): package installation, bounded waits, and what
# "nothing left behind" means. Sourced, not run.

# ensure_packages COMMAND PACKAGE...: installs the packages with apt-get when COMMAND is missing; prints why
# and exits 0 (a skip, not a failure) when that cannot be done here: not root, or no apt-get.
ensure_packages() {
  local probe="$1"
  shift
  command -v "$probe" > /dev/null 2>&1 && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "$check_name: SKIPPED: $probe is missing and installing $* needs root"
    exit 0
  fi
  if ! command -v apt-get > /dev/null 2>&1; then
    echo "$check_name: SKIPPED: $probe is missing and there is no apt-get to install $*"
    exit 0
  fi
  echo "$check_name: installing $* ..."
  if ! { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" > /dev/null 2>&1 \
      || { DEBIAN_FRONTEND=noninteractive apt-get update -qq > /dev/null 2>&1 \
           && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" > /dev/null 2>&1; }; }; then
    echo "$check_name: SKIPPED: apt-get could not install $* (no package source reachable?)"
    exit 0
  fi
}

fail() {
  echo "$check_name: FAIL: $*" >&2
  exit 1
}

# wait_until SECONDS DESCRIPTION COMMAND...: polls COMMAND every 0.2 s until it succeeds; fails naming
# DESCRIPTION after SECONDS.
wait_until() {
  local limit="$1" what="$2"
  shift 2
  local deadline=$((SECONDS + limit))
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || fail "$what: not within ${limit}s"
    sleep 0.2
  done
}

# pids_with_env NAME=VALUE: the processes whose environment holds that assignment (a job's own processes,
# told apart from other jobs' tp4j on this machine).
pids_with_env() {
  # One grep over every environment (NUL-separated: -z); a shell loop over /proc takes seconds here.
  { grep -lzxF "$1" /proc/[0-9]*/environ || true; } 2> /dev/null | cut -d/ -f3
}

# left_behind PID...: what those (now gone) processes left: a live process, a /dev/shm region they created
# (tp4j-PID-*), or the JVM's perf-data file; prints each, returns 1 when there is any. A zombie has ended and
# holds nothing but its exit status (in containers whose PID 1 does not reap, orphans stay zombies). The
# perf-data file of a JVM in $killed9 is not counted: a JVM killed by SIGKILL cannot remove it, the next
# JVM to start on the machine does.
killed9=
left_behind() {
  local pid found=0 f state
  for pid in "$@"; do
    state=$({ sed 's/.*) //' < "/proc/$pid/stat"; } 2> /dev/null | cut -d' ' -f1 || true)
    if [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]; then
      echo "process $pid still runs ($state, $({ grep -E '^(Name|PPid):' "/proc/$pid/status"; } 2> /dev/null | tr '\n\t' '  '))" \
        "$({ tr '\0' ' ' < "/proc/$pid/cmdline"; } 2> /dev/null | cut -c1-120)"
      found=1
    fi
    for f in /dev/shm/tp4j-"$pid"-* /tmp/hsperfdata_*/"$pid"; do
      case "$f" in /tmp/hsperfdata_*/"$pid") [[ " $killed9 " != *" $pid "* ]] || continue ;; esac
      [ -e "$f" ] && { echo "file left: $f"; found=1; }
    done
  done
  return "$found"
}

# elapsed_since START_NANOS: seconds with two decimals.
elapsed_since() {
  local now
  now=$(date +%s%N)
  awk -v a="$1" -v b="$now" 'BEGIN { printf "%.2f", (b - a) / 1e9 }'
}

# worker_jvms NAME=VALUE: the tp4j JVMs among pids_with_env's processes.
worker_jvms() {
  local p
  for p in $(pids_with_env "$1"); do
    grep -qzF 'dev.tp4j.cli.Main' "/proc/$p/cmdline" 2> /dev/null && echo "$p"
  done
  return 0
}

# all_joined COUNT NAME=VALUE: COUNT worker JVMs run with that variable and every one has mapped the job's
# shared-memory region: all have met at the rendezvous and hold their communicator (the report itself only
# comes at the end of a run).
all_joined() {
  local want="$1" p n=0
  for p in $(worker_jvms "$2"); do
    grep -q ' /dev/shm/tp4j-' "/proc/$p/maps" 2> /dev/null && n=$((n + 1))
  done
  [ "$n" = "$want" ]
}
