# Sourced by .ci/run (after .ci/system-deps.sh installed Debian's slurm-wlm and munge).
#
# Starts a THROWAWAY single-node SLURM cluster on this machine for the `slurm`
# tests: munged with its own key and socket, slurmctld and slurmd with a
# generated slurm.conf (this host as the only node, 2 fake GPUs as a generic
# resource, no cgroups, no accounting), all in a fresh directory under
# $TMPDIR on free ports, then exports SLURM_CONF (which sbatch, squeue,
# scancel and the tests read). An EXIT trap stops the daemons and deletes the
# directory. Needs root (slurmd runs jobs as their submitting user); without
# root or without the binaries it warns and returns 0, and the slurm tests then
# skip with the reason, or FAIL under CI=true.

_hps_slurm_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

_hps_slurm_stop() {
    if [ -n "${_HPS_SLURM_DIR:-}" ] && [ -d "$_HPS_SLURM_DIR" ]; then
        local f
        for f in slurmd.pid slurmctld.pid munge/munged.pid; do
            if [ -f "$_HPS_SLURM_DIR/$f" ]; then
                kill "$(cat "$_HPS_SLURM_DIR/$f")" 2>/dev/null || true
            fi
        done
        sleep 1
        rm -rf "$_HPS_SLURM_DIR"
    fi
}

_hps_slurm_start() {
    local dir host ctld_port d_port i
    if ! command -v slurmctld >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
        echo "start-slurm: slurm-wlm or munge is not installed; the slurm tests will not run" >&2
        return 0
    fi
    if [ "$(id -u)" != 0 ]; then
        echo "start-slurm: not root; a single-node SLURM needs root to run jobs; the slurm tests will not run" >&2
        return 0
    fi
    dir=$(mktemp -d "${TMPDIR:-/tmp}/hpsearch-slurm.XXXXXX")
    chmod 755 "$dir"
    _HPS_SLURM_DIR=$dir
    local previous_trap
    previous_trap=$(trap -p EXIT | sed -e "s/^trap -- '//" -e "s/' EXIT\$//")
    # shellcheck disable=SC2064
    trap "_hps_slurm_stop; ${previous_trap:-:}" EXIT
    mkdir -p "$dir/state" "$dir/spool" "$dir/munge"
    chown munge: "$dir/munge"
    chmod 755 "$dir/munge"
    # munged: our own key and socket, so no system munge service is needed or touched
    dd if=/dev/urandom bs=1 count=1024 of="$dir/munge/munge.key" 2>/dev/null
    chown munge: "$dir/munge/munge.key"
    chmod 400 "$dir/munge/munge.key"
    if ! runuser -u munge -- munged --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
            --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" \
            --seed-file="$dir/munge/munged.seed" >/dev/null 2>&1; then
        echo "start-slurm: munged did not start" >&2
        cat "$dir/munge/munged.log" >&2 2>/dev/null || true
        return 1
    fi
    host=$(hostname -s)
    ctld_port=$(_hps_slurm_free_port)
    d_port=$(_hps_slurm_free_port)
    cat >"$dir/slurm.conf" <<CONF
ClusterName=hpsearch
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$d_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
MailProg=/bin/true
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
KillWait=30
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
GresTypes=gpu
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) Gres=gpu:2 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
CONF
    # Two fake GPU device files: SLURM hands them out like real ones (and sets CUDA_VISIBLE_DEVICES)
    mkdir -p "$dir/dev"
    touch "$dir/dev/gpu0" "$dir/dev/gpu1"
    printf 'NodeName=%s Name=gpu File=%s/dev/gpu[0-1]\n' "$host" "$dir" >"$dir/gres.conf"
    export SLURM_CONF=$dir/slurm.conf
    if ! slurmctld -f "$dir/slurm.conf" -i >/dev/null 2>&1 || ! slurmd -f "$dir/slurm.conf" >/dev/null 2>&1; then
        echo "start-slurm: slurmctld or slurmd did not start; their logs:" >&2
        cat "$dir/slurmctld.log" "$dir/slurmd.log" >&2 2>/dev/null || true
        return 1
    fi
    for i in $(seq 1 60); do
        if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
            echo "start-slurm: SLURM $(slurmctld -V | awk '{print $2}') on $host (config $SLURM_CONF, removed on exit)" >&2
            return 0
        fi
        sleep 1
    done
    echo "start-slurm: the node did not come up; its logs:" >&2
    tail -n 30 "$dir/slurmctld.log" "$dir/slurmd.log" >&2 2>/dev/null || true
    return 1
}

_hps_slurm_start
