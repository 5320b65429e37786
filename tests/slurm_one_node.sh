#!/bin/bash
# Stand up a real one-node SLURM cluster on this machine (Debian 12, root, no systemd, no cgroups):
# munged + slurmctld + slurmd, one node (this host, all its CPUs), one partition "debug".
# Idempotent: rerunning rewrites the config and (re)starts only the daemons that are not running.
# Used to check the batch scripts and tests/test_slurm.py on real SLURM (22.05 on bookworm);
# NOT run by CI.   Usage: sudo bash tests/slurm_one_node.sh        Stop: bash $0 stop
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "slurm_one_node.sh: run as root" >&2; exit 1; }

if [ "${1:-}" = stop ]; then
    for daemon in slurmd slurmctld munged; do
        pid=$(pgrep -x "$daemon" || true)
        [ -n "$pid" ] && kill $pid && echo "stopped $daemon ($pid)"
    done
    exit 0
fi

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y slurm-wlm munge
fi

node=$(hostname -s)
cpus=$(nproc)
# leave 1 GiB (at least 1/8) of the memory to the system
total=$(free -m | awk '/^Mem:/ {print $2}')
margin=$(( total / 8 > 1024 ? total / 8 : 1024 ))
memory=$(( total - margin ))

# munge: key once, runtime directories, daemon
[ -s /etc/munge/munge.key ] || { mungekey --create --force 2>/dev/null \
    || dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key; }
mkdir -p /run/munge /var/log/munge /var/lib/munge
chown munge:munge /etc/munge/munge.key /run/munge /var/log/munge /var/lib/munge
chmod 400 /etc/munge/munge.key
chmod 755 /run/munge
pgrep -x munged >/dev/null || su -s /bin/sh munge -c 'munged --force'
munge -n | unmunge >/dev/null

# state and spool directories, log files
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/slurm
cat > /etc/slurm/slurm.conf.new <<CONF
# One-node test cluster written by tests/slurm_one_node.sh
ClusterName=pfamtest
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurm/slurmctld.pid
SlurmdPidFile=/run/slurm/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
# no slurmdbd: finished jobs stay visible to scontrol/squeue for MinJobAge seconds, and the
# job completion log feeds "sacct --completion" where this SLURM still has it
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=/var/log/slurm/jobcomp.log
MinJobAge=600
KillWait=30
InactiveLimit=0
Waittime=0
NodeName=${node} NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=${memory} State=UNKNOWN
PartitionName=debug Nodes=${node} Default=YES MaxTime=04:00:00 DefMemPerCPU=1024 State=UP
CONF
changed=1
if cmp -s /etc/slurm/slurm.conf.new /etc/slurm/slurm.conf; then changed=0; fi
mv /etc/slurm/slurm.conf.new /etc/slurm/slurm.conf

if [ "$changed" = 1 ] && pgrep -x slurmctld >/dev/null; then
    scontrol reconfigure || true
fi
pgrep -x slurmctld >/dev/null || slurmctld
for _ in $(seq 30); do scontrol ping >/dev/null 2>&1 && break; sleep 1; done
pgrep -x slurmd >/dev/null || slurmd
for _ in $(seq 30); do
    state=$(sinfo -h -N -n "$node" -o %t 2>/dev/null || true)
    case "$state" in idle|mix|alloc) break;; esac
    sleep 1
done
# a node left down/drained by an earlier run comes back
case "$state" in idle|mix|alloc) ;; *) scontrol update nodename="$node" state=resume || true; sleep 2;; esac
sinfo
srun -N1 -n1 hostname
