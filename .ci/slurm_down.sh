#!/usr/bin/env bash
# Stop the one-node SLURM cluster started by .ci/slurm_up.sh and clean up after it.
#
# Cancels the jobs still on that cluster, then stops exactly the processes whose PIDs
# slurm_up.sh recorded in $TRAINPLAN_SLURM_DIR/pids (default /tmp/trainplan-slurm/pids),
# each only if it is still the daemon that was started (never by name), and removes
# the state directory and the /etc/slurm/slurm.conf it wrote. Safe to run twice.
set -uo pipefail

BASE=${TRAINPLAN_SLURM_DIR:-/tmp/trainplan-slurm}
CONF=/etc/slurm/slurm.conf
MARK="# written by trainplan .ci/slurm_up.sh"
PIDS=$BASE/pids

log() { echo "slurm_down: $*"; }

alive() {  # alive PID NAME: the process exists and is the daemon we started
    [[ -r /proc/$1/comm ]] && [[ $(cat "/proc/$1/comm") == "$2" ]]
}

if [[ ! -f $PIDS ]]; then
    log "no $PIDS: nothing to stop"
else
    # Cancel what is still queued or running, so no job step outlives the cluster.
    if command -v squeue >/dev/null 2>&1 && grep -qxF "$MARK" "$CONF" 2>/dev/null; then
        jobs=$(timeout 10 squeue -h -t PENDING,RUNNING,CONFIGURING,COMPLETING -o %A 2>/dev/null |
            sort -u | tr '\n' ' ')
        if [[ -n ${jobs// /} ]]; then
            log "cancelling jobs: $jobs"
            # shellcheck disable=SC2086
            timeout 10 scancel $jobs || true
            for _ in $(seq 30); do
                left=$(timeout 5 squeue -h -t PENDING,RUNNING,CONFIGURING,COMPLETING -o %A 2>/dev/null)
                [[ -z $left ]] && break
                sleep 0.5
            done
        fi
    fi

    # Stop in reverse start order: slurmd, slurmctld, munged.
    mapfile -t entries < <(tac "$PIDS")
    for entry in "${entries[@]}"; do
        read -r name pid <<<"$entry"
        [[ -n ${pid:-} ]] || continue
        if ! alive "$pid" "$name"; then
            log "$name (pid $pid) is not running"
            continue
        fi
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 50); do
            alive "$pid" "$name" || break
            sleep 0.2
        done
        if alive "$pid" "$name"; then
            log "$name (pid $pid) ignored SIGTERM for 10 s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        log "stopped $name (pid $pid)"
    done
fi

if [[ -f $CONF ]] && grep -qxF "$MARK" "$CONF"; then
    rm -f "$CONF"
    log "removed $CONF"
fi
if [[ $BASE == /tmp/* || -n ${TRAINPLAN_SLURM_DIR:-} ]] && [[ -d $BASE && $BASE != / ]]; then
    rm -rf "$BASE"
    log "removed $BASE"
fi
exit 0
