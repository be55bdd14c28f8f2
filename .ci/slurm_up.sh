#!/usr/bin/env bash
# Bring up a one-node SLURM cluster on 127.0.0.1 for the integration test (tests/e2e/test_slurm.py).
#
# Run as root on a Debian 12 machine (CI or a developer's). It installs slurm-wlm and munge if
# they are missing, writes /etc/slurm/slurm.conf (marked as ours) for a single node named after
# this host, starts munged, slurmctld and slurmd as background processes, records their PIDs in
# $TRAINPLAN_SLURM_DIR/pids (default /tmp/trainplan-slurm/pids) and waits until the node is idle.
# Stop everything again with .ci/slurm_down.sh, which kills exactly those PIDs.
#
# No cgroups (containers), no slurmdbd: job status comes from squeue, so MinJobAge keeps
# finished jobs visible for 300 s (the Snakemake SLURM executor needs >= 3 x its first
# status-check delay; see docs/slurm.md).
set -euo pipefail

BASE=${TRAINPLAN_SLURM_DIR:-/tmp/trainplan-slurm}
CONF=/etc/slurm/slurm.conf
MARK="# written by trainplan .ci/slurm_up.sh"
PIDS=$BASE/pids
HERE=$(cd "$(dirname "$0")" && pwd)

log() { echo "slurm_up: $*"; }
die() { echo "slurm_up: ERROR: $*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root (it installs packages and writes $CONF)"
[[ $BASE == /?* && $BASE != *..* ]] || die "TRAINPLAN_SLURM_DIR must be an absolute path, not '$BASE'"

alive() {  # alive PID NAME: the process exists and is the daemon we started
    [[ -r /proc/$1/comm ]] && [[ $(cat "/proc/$1/comm") == "$2" ]]
}

# --- already up? --------------------------------------------------------------------------
if [[ -f $PIDS ]]; then
    all_alive=1
    while read -r name pid; do
        alive "$pid" "$name" || all_alive=0
    done <"$PIDS"
    if ((all_alive)) && [[ $(sinfo -h -o %t 2>/dev/null || true) == idle ]]; then
        log "cluster already up (PIDs in $PIDS)"
        sinfo
        exit 0
    fi
    log "found a stale $PIDS: stopping what is left of it first"
    "$HERE/slurm_down.sh" || true
fi

# --- packages -----------------------------------------------------------------------------
missing=0
for cmd in slurmctld slurmd sinfo squeue sbatch scontrol munged; do
    command -v "$cmd" >/dev/null 2>&1 || missing=1
done
if ((missing)); then
    log "installing slurm-wlm and munge"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || die "apt-get update failed"
    for pkg in slurm-wlm munge; do
        policy=$(apt-cache policy "$pkg" 2>&1 || true)
        [[ $policy =~ Candidate:\ [0-9] ]] ||
            die "package $pkg has no install candidate (apt-cache policy $pkg: ${policy:-nothing})"
    done
    apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null ||
        die "apt-get install slurm-wlm munge failed"
fi
for cmd in slurmctld slurmd sinfo squeue sbatch scontrol munged setpriv; do
    command -v "$cmd" >/dev/null 2>&1 || die "$cmd not found after installing slurm-wlm and munge"
done
id munge >/dev/null 2>&1 || die "user munge missing (the munge package creates it)"

# --- munge key ----------------------------------------------------------------------------
KEY=/etc/munge/munge.key
if [[ ! -s $KEY ]]; then
    log "creating $KEY"
    install -d -o munge -g munge -m 0700 /etc/munge
    if command -v mungekey >/dev/null 2>&1; then
        mungekey --create --keyfile="$KEY" --force
    else
        dd if=/dev/urandom of="$KEY" bs=1 count=1024 status=none
    fi
fi
chown munge:munge "$KEY"
chmod 0400 "$KEY"

# --- config -------------------------------------------------------------------------------
if [[ -e $CONF ]] && ! grep -qxF "$MARK" "$CONF"; then
    die "$CONF exists and was not written by this script: refusing to overwrite a real cluster's" \
        "config (move it away first)"
fi

NODE=$(hostname -s 2>/dev/null || true)
[[ $NODE =~ ^[A-Za-z0-9][A-Za-z0-9-]*$ ]] || NODE=localhost
CPUS=$(nproc)
MEM_TOTAL=$(free -m | awk '/^Mem:/ {print $2}')
[[ $MEM_TOTAL =~ ^[0-9]+$ ]] || die "could not read total memory from free -m"
MARGIN=$((MEM_TOTAL / 10 > 512 ? MEM_TOTAL / 10 : 512))
REAL_MEM=$((MEM_TOTAL - MARGIN))
((REAL_MEM >= 2048)) || die "only ${MEM_TOTAL} MB of memory: the shard jobs ask for 2048 MB"

rm -rf "$BASE"
install -d -m 0755 "$BASE" "$BASE/state" "$BASE/spool" "$BASE/log" "$BASE/run"
install -d -o munge -g munge -m 0755 "$BASE/munge"
MUNGE_SOCKET=$BASE/munge/munge.socket.2

install -d -m 0755 /etc/slurm
cat >"$CONF" <<EOF
$MARK
# One-node test cluster on 127.0.0.1 (removed again by .ci/slurm_down.sh).
ClusterName=trainplan
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCKET
StateSaveLocation=$BASE/state
SlurmdSpoolDir=$BASE/spool
SlurmctldPidFile=$BASE/run/slurmctld.pid
SlurmdPidFile=$BASE/run/slurmd.pid
SlurmctldLogFile=$BASE/log/slurmctld.log
SlurmdLogFile=$BASE/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# no cgroups in a container
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
# no slurmdbd: sacct has nothing to query, squeue reports finished jobs for MinJobAge seconds
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MinJobAge=300
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1024
ReturnToService=2
InactiveLimit=0
KillWait=10
Waittime=0
SlurmctldTimeout=120
SlurmdTimeout=300
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$REAL_MEM State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
log "wrote $CONF (node $NODE: $CPUS CPUs, $REAL_MEM MB)"

# --- daemons ------------------------------------------------------------------------------
: >"$PIDS"
started() { echo "$1 $2" >>"$PIDS"; log "started $1 (pid $2)"; }

fail() {  # print what the daemons said, stop them, exit 1
    echo "slurm_up: ERROR: $*" >&2
    for f in "$BASE"/log/*.log; do
        [[ -f $f ]] || continue
        echo "----- $f (last 30 lines)" >&2
        tail -n 30 "$f" >&2
    done
    "$HERE/slurm_down.sh" >&2 || true
    exit 1
}

# munged runs as the munge user; setpriv execs, so $! is munged itself.
setpriv --reuid=munge --regid=munge --clear-groups -- \
    munged --foreground --socket="$MUNGE_SOCKET" --key-file="$KEY" \
    --pid-file="$BASE/munge/munged.pid" --log-file="$BASE/log/munged.log" \
    --seed-file="$BASE/munge/munged.seed" </dev/null >>"$BASE/log/munged.out" 2>&1 &
started munged $!
for _ in $(seq 50); do [[ -S $MUNGE_SOCKET ]] && break; sleep 0.1; done
[[ -S $MUNGE_SOCKET ]] || fail "munged did not create $MUNGE_SOCKET"
munge --socket="$MUNGE_SOCKET" -n </dev/null | unmunge --socket="$MUNGE_SOCKET" >/dev/null ||
    fail "munge credential round trip failed"

slurmctld -D -i </dev/null >>"$BASE/log/slurmctld.out" 2>&1 &
started slurmctld $!
ping=""
for _ in $(seq 100); do
    ping=$(scontrol ping 2>&1 || true)
    [[ $ping == *" is UP"* ]] && break
    sleep 0.2
done
[[ $ping == *" is UP"* ]] || fail "slurmctld does not answer (scontrol ping: $ping)"

slurmd -D -N "$NODE" </dev/null >>"$BASE/log/slurmd.out" 2>&1 &
started slurmd $!

state=""
for _ in $(seq 120); do
    state=$(sinfo -h -N -n "$NODE" -o %t 2>/dev/null || true)
    [[ $state == idle ]] && break
    while read -r name pid; do
        alive "$pid" "$name" || fail "$name (pid $pid) exited"
    done <"$PIDS"
    sleep 0.5
done
[[ $state == idle ]] || fail "node $NODE is '${state:-unknown}', not idle, after 60 s: $(sinfo -R -h 2>&1)"

log "cluster up; PIDs in $PIDS"
sinfo
