# Sourced by scripts/demo and scripts/e2e (after hosts.sh): one ferryd and its agents as real
# processes on the hosts that hosts.sh set up, VMs (ferry-workload) on them, and the queries the
# demo and the tests ask (ferryctl's JSON through jq).
#
# Needs: FERRY_BIN (swift build's bin path), FERRY_AGENTS (agents/build), FERRY_RUN (the short
# run directory of hosts.sh: sockets), FERRY_LOGS (logs), FERRY_DATA (ferryd's data directory).

FERRY_API=
FERRY_AGENTS_LISTEN=
declare -A FERRY_AGENT_PIDS=()
declare -A FERRY_VM_PIDS=()

ferry_die() {
    echo "FAIL: $*" >&2
    return 1
}

# ferry_wait_until TIMEOUT_S WHAT CMD...: polls CMD every 0.2 s until it succeeds; fails naming
# WHAT after TIMEOUT_S (a guard against hangs, not a measurement).
ferry_wait_until() {
    local timeout=$1 what=$2 deadline
    shift 2
    deadline=$(($(date +%s) + timeout))
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -ge "$deadline" ] && { ferry_die "timed out after ${timeout}s waiting for $what"; return 1; }
        sleep 0.2
    done
}

# ferryctl against this run's ferryd, from where the API is reachable; 30 s guard against a hang.
ferry_ctl() { ferry_hub timeout 30 env FERRY_SERVER="http://$FERRY_API" "$FERRY_BIN/ferryctl" "$@"; }

# Starts ferryd on the hub's private address and waits for its endpoints file.
ferry_start_ferryd() {
    mkdir -p "$FERRY_DATA"
    rm -f "$FERRY_DATA/ferryd.endpoints.json"
    ferry_spawn hub "$FERRY_LOGS/ferryd.log" "$FERRY_BIN/ferryd" --data-dir "$FERRY_DATA" \
        --agents-listen "$(ferry_hub_ctl_ip):0" --api-listen 127.0.0.1:0 \
        --heartbeat-interval-ms 500 --heartbeat-miss-limit 4 "$@"
    ferry_wait_until 60 "ferryd's endpoints file (log: $FERRY_LOGS/ferryd.log)" \
        test -s "$FERRY_DATA/ferryd.endpoints.json" || return 1
    FERRY_AGENTS_LISTEN=$(jq -r .agents_listen "$FERRY_DATA/ferryd.endpoints.json")
    FERRY_API=$(jq -r .api_listen "$FERRY_DATA/ferryd.endpoints.json")
}

# ferry_start_agent HOST [CONFIG]: the host's agent, its data listener on the host's data address.
ferry_start_agent() {
    local host=$1 config=${2:-agents/examples/$1.conf}
    ferry_spawn "$host" "$FERRY_LOGS/$host.log" "$FERRY_AGENTS/ferry-agent" --coordinator "$FERRY_AGENTS_LISTEN" \
        --host-id "$host" --data-listen "$(ferry_host_data_ip "$host"):0" --vm-socket "$FERRY_RUN/$host.sock" \
        --config "$config" --log-level info
    FERRY_AGENT_PIDS[$host]=$FERRY_SPAWNED_PID
}

ferry__hosts_ready() {
    local n
    n=$(ferry_ctl hosts --output json | jq --argjson want "$(printf '%s\n' "$@" | jq -R . | jq -s .)" \
        '[.hosts[] | select(.status == "ready" and (.id as $id | $want | any(. == $id)))] | length')
    [ "$n" -eq "$#" ]
}

# ferry_wait_hosts_ready HOST...
ferry_wait_hosts_ready() { ferry_wait_until 60 "hosts $* to be ready" ferry__hosts_ready "$@"; }

# ferry_start_vm HOST VM RAM DIRTY_RATE: a workload registered with HOST's agent; its control socket
# is $FERRY_RUN/VM.ctl. Waits until ferryd lists the VM on HOST.
ferry_start_vm() {
    local host=$1 vm=$2 ram=$3 rate=$4
    ferry_spawn "$host" "$FERRY_LOGS/$vm.log" "$FERRY_AGENTS/ferry-workload" --control "$FERRY_RUN/$vm.ctl" \
        --ram "$ram" --vcpus 2 --pattern hot:64MiB --dirty-rate "$rate" --seed 7 \
        --agent-socket "$FERRY_RUN/$host.sock" --vm-id "$vm"
    FERRY_VM_PIDS[$vm]=$FERRY_SPAWNED_PID
    ferry_wait_until 60 "VM $vm on $host in ferryd's inventory (log: $FERRY_LOGS/$vm.log)" ferry_vm_on "$host" "$vm"
}

# True when ferryd lists VM on HOST.
ferry_vm_on() {
    ferry_ctl hosts show "$1" --output json | jq -e --arg vm "$2" '[.vms[]? | select(.id == $vm)] | length == 1'
}

# ferry_vm_command SOCKET COMMAND: one line to a workload's control socket, its answer on stdout.
ferry_vm_command() {
    printf '%s\n' "$2" | timeout 20 socat -t 15 - "UNIX-CONNECT:$1"
}

# The control socket of the workload that an agent started for an incoming VM on HOST.
ferry_incoming_socket() { echo "$FERRY_RUN/incoming-$2.sock"; }

# ferry_submit FILE: submits a plan; prints its id.
ferry_submit() {
    local out
    out=$(ferry_ctl plan submit "$1" --output json) || { echo "$out" >&2; ferry_die "plan $1 was refused"; return 1; }
    jq -r '.plan.id // .id' <<<"$out"
}

# The JSON list of the plan's migrations (ferryctl status PLAN --output json).
ferry_plan_migrations() { ferry_ctl status "$1" --output json | jq -c '.migrations // .'; }

ferry__plan_ended() {
    ferry_plan_migrations "$1" | jq -e 'length > 0 and all(.[]; .phase as $p
        | ["completed", "failed", "cancelled", "rolled_back"] | index($p))'
}

# ferry_wait_plan_ended PLAN TIMEOUT_S
ferry_wait_plan_ended() { ferry_wait_until "$2" "plan $1 to end" ferry__plan_ended "$1"; }

# One field of one migration: ferry_migration_field MIGRATION JQ_PATH (on the status entry).
ferry_migration_field() { ferry_ctl status "$1" --output json | jq -r "(.migrations // .)[0] | $2"; }

# ferry_grep_log FILE PATTERN: the first line of FILE matching PATTERN (grep -E), or failure.
ferry_grep_log() { grep -m1 -E -- "$2" "$1"; }

# Pids of the workloads (VMs) registered with HOST's agent: the ones we started and the incoming
# ones its agent started.
ferry_workload_pids() {
    local f pid
    for f in /proc/[0-9]*/cmdline; do
        pid=${f#/proc/}
        pid=${pid%/cmdline}
        tr '\0' ' ' <"$f" 2>/dev/null | grep -qF -- "--agent-socket $FERRY_RUN/$1.sock " && echo "$pid"
    done
    return 0
}

# ferry_vm_writes SOCKET: the workload's total vCPU writes so far (its `stats` answer).
ferry_vm_writes() { ferry_vm_command "$1" stats | sed -n 's/.* writes=\([0-9]*\).*/\1/p'; }
