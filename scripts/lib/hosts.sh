# Sourced by scripts/demo and scripts/e2e: several Ferry hosts on one machine.
#
# As root (and unless FERRY_NETNS=0), every host is its own network namespace, wired to a "hub"
# namespace that plays the site network and holds the coordinator:
#
#   hub netns  (ferryd: agents on 10.77.0.1, API on the hub's own 127.0.0.1)
#     br-ctl  10.77.0.1/24 ── veth ── ctl0  10.77.0.1N  in host N's netns  (control: agent ⇄ ferryd)
#     br-data (no address) ── veth ── data0 10.78.0.1N  in host N's netns  (migration data, agent → agent)
#
# Control and data are separate links, as on hosts with a dedicated migration network, so a test
# can cut the data path between two hosts (ferry_link_down) while their control links stay up. No
# address or interface is added to the root namespace: nothing of a run is reachable from, or
# collides with, the machine's own network, and concurrent runs only need distinct tags. Deleting
# the namespaces removes every veth and bridge.
#
# Without root (or with FERRY_NETNS=0) every host is a process group on loopback with its own
# kernel-chosen ports, and ferry_net_describe says so.
#
# Use: ferry_net_setup TAG RUNDIR HOST...; ferry_spawn / ferry_hub / ferry_on; ferry_net_teardown
# (idempotent; call it from an EXIT trap). RUNDIR holds sockets, so it must be a short path.

FERRY_NET_MODE=
FERRY_NET_TAG=
FERRY_NET_RUNDIR=
FERRY_NET_HOSTS=()
FERRY_NET_PIDS=()

# Namespace names for the run's tag.
ferry_ns_hub() { echo "ferry-$FERRY_NET_TAG-hub"; }
ferry_ns_host() { echo "ferry-$FERRY_NET_TAG-$1"; }

# Index (1-based) of HOST among the run's hosts: its address suffix.
ferry__host_index() {
    local i
    for i in "${!FERRY_NET_HOSTS[@]}"; do
        if [ "${FERRY_NET_HOSTS[$i]}" = "$1" ]; then echo $((i + 1)); return 0; fi
    done
    echo "hosts.sh: unknown host '$1' (hosts: ${FERRY_NET_HOSTS[*]})" >&2
    return 1
}

# The address HOST's agent listens on for migration data (what peers dial).
ferry_host_data_ip() {
    if [ "$FERRY_NET_MODE" = netns ]; then echo "10.78.0.$((10 + $(ferry__host_index "$1")))"; else echo 127.0.0.1; fi
}

# The address ferryd listens on for agents.
ferry_hub_ctl_ip() {
    if [ "$FERRY_NET_MODE" = netns ]; then echo 10.77.0.1; else echo 127.0.0.1; fi
}

ferry__netns_possible() {
    [ "${FERRY_NETNS:-1}" != 0 ] && [ "$(id -u)" -eq 0 ] && command -v ip >/dev/null || return 1
    local probe="ferry-probe-$$"
    ip netns add "$probe" 2>/dev/null || return 1
    ip netns del "$probe"
}

ferry__sh() {
    echo "+ $*" >>"$FERRY_NET_RUNDIR/net.log"
    "$@" 2>>"$FERRY_NET_RUNDIR/net.log"
}

# Creates the hub and one namespace per HOST, or picks loopback. Sets FERRY_NET_MODE.
ferry_net_setup() {
    FERRY_NET_TAG=$1
    FERRY_NET_RUNDIR=$2
    shift 2
    FERRY_NET_HOSTS=("$@")
    mkdir -p "$FERRY_NET_RUNDIR"
    if ! ferry__netns_possible; then
        FERRY_NET_MODE=loopback
        return 0
    fi
    FERRY_NET_MODE=netns
    local hub n host ns
    hub=$(ferry_ns_hub)
    ferry__sh ip netns add "$hub" || return 1
    ferry__sh ip -n "$hub" link set lo up || return 1
    ferry__sh ip -n "$hub" link add br-ctl type bridge || return 1
    ferry__sh ip -n "$hub" link add br-data type bridge || return 1
    ferry__sh ip -n "$hub" addr add 10.77.0.1/24 dev br-ctl || return 1
    ferry__sh ip -n "$hub" link set br-ctl up || return 1
    ferry__sh ip -n "$hub" link set br-data up || return 1
    for host in "${FERRY_NET_HOSTS[@]}"; do
        n=$((10 + $(ferry__host_index "$host")))
        ns=$(ferry_ns_host "$host")
        ferry__sh ip netns add "$ns" || return 1
        ferry__sh ip -n "$ns" link set lo up || return 1
        # Hub-side names are per namespace, so short fixed names per host suffice.
        ferry__sh ip link add "c-$host" netns "$hub" type veth peer name ctl0 netns "$ns" || return 1
        ferry__sh ip link add "d-$host" netns "$hub" type veth peer name data0 netns "$ns" || return 1
        ferry__sh ip -n "$hub" link set "c-$host" master br-ctl up || return 1
        ferry__sh ip -n "$hub" link set "d-$host" master br-data up || return 1
        ferry__sh ip -n "$ns" addr add "10.77.0.$n/24" dev ctl0 || return 1
        ferry__sh ip -n "$ns" addr add "10.78.0.$n/24" dev data0 || return 1
        ferry__sh ip -n "$ns" link set ctl0 up || return 1
        ferry__sh ip -n "$ns" link set data0 up || return 1
    done
}

# One line for people: where the hosts are.
ferry_net_describe() {
    if [ "$FERRY_NET_MODE" = netns ]; then
        local host out=""
        for host in "${FERRY_NET_HOSTS[@]}"; do
            out+=" $host=$(ferry_ns_host "$host")(ctl 10.77.0.$((10 + $(ferry__host_index "$host"))), data $(ferry_host_data_ip "$host"))"
        done
        echo "network namespaces: ferryd in $(ferry_ns_hub) on 10.77.0.1;$out"
    elif [ "$(id -u)" -ne 0 ]; then
        echo "LOOPBACK, not network namespaces (not root): every host is a set of processes on 127.0.0.1 with its own ports"
    else
        echo "LOOPBACK, not network namespaces (FERRY_NETNS=0 or 'ip netns add' failed): every host is a set of processes on 127.0.0.1 with its own ports"
    fi
}

# ferry_hub CMD...: runs CMD where ferryd runs (ferryctl goes here: the API is on the hub's loopback).
ferry_hub() {
    if [ "$FERRY_NET_MODE" = netns ]; then ip netns exec "$(ferry_ns_hub)" "$@"; else "$@"; fi
}

# ferry_on HOST CMD...: runs CMD on HOST.
ferry_on() {
    local host=$1
    shift
    if [ "$FERRY_NET_MODE" = netns ]; then ip netns exec "$(ferry_ns_host "$host")" "$@"; else "$@"; fi
}

# ferry_spawn WHERE LOG CMD...: starts CMD in the background on host WHERE (or "hub"), stderr and
# stdout to LOG; its pid in FERRY_SPAWNED_PID, kept for teardown. Started as a simple command (not
# through a function, which would put a subshell in between), so the pid is CMD's own: `ip netns
# exec` execs CMD without forking. Signals sent to it reach CMD.
ferry_spawn() {
    local where=$1 log=$2 ns
    shift 2
    if [ "$FERRY_NET_MODE" != netns ]; then
        "$@" >"$log" 2>&1 &
    else
        if [ "$where" = hub ]; then ns=$(ferry_ns_hub); else ns=$(ferry_ns_host "$where"); fi
        ip netns exec "$ns" "$@" >"$log" 2>&1 &
    fi
    FERRY_SPAWNED_PID=$!
    FERRY_NET_PIDS+=("$FERRY_SPAWNED_PID")
}

# Cuts / restores HOST's migration-data link (its port on the data bridge).
ferry_link_down() { ferry__sh ip -n "$(ferry_ns_hub)" link set "d-$1" down; }
ferry_link_up() { ferry__sh ip -n "$(ferry_ns_hub)" link set "d-$1" up; }

# Cuts / restores both of HOST's links (control and data): the host drops off the network.
ferry_host_isolate() { ferry__sh ip -n "$(ferry_ns_hub)" link set "c-$1" down && ferry_link_down "$1"; }
ferry_host_rejoin() { ferry__sh ip -n "$(ferry_ns_hub)" link set "c-$1" up && ferry_link_up "$1"; }

# Pids of every process of this run that we did not spawn ourselves: ferry-simdevd (detached by
# its agent) and incoming workloads. In netns mode, whatever lives in the run's namespaces; on
# loopback, whatever names the run directory on its command line.
ferry__leftover_pids() {
    if [ "$FERRY_NET_MODE" = netns ]; then
        local ns
        for ns in "$(ferry_ns_hub)" "${FERRY_NET_HOSTS[@]/#/ferry-$FERRY_NET_TAG-}"; do
            ip netns pids "$ns" 2>/dev/null || true
        done
    elif [ -n "$FERRY_NET_RUNDIR" ]; then
        local f pid
        for f in /proc/[0-9]*/cmdline; do
            pid=${f#/proc/}
            pid=${pid%/cmdline}
            [ "$pid" = "$$" ] && continue
            tr '\0' ' ' <"$f" 2>/dev/null | grep -qF -- "$FERRY_NET_RUNDIR/" && echo "$pid"
        done
    fi
    return 0
}

# Stops every process of the run (TERM, then KILL after 5 s) and deletes the namespaces.
ferry_net_teardown() {
    local p left i
    for p in "${FERRY_NET_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in $(ferry__leftover_pids); do kill -TERM "$p" 2>/dev/null || true; done
    for i in $(seq 50); do
        left=""
        for p in "${FERRY_NET_PIDS[@]}" $(ferry__leftover_pids); do
            kill -0 "$p" 2>/dev/null && left+=" $p"
        done
        [ -z "$left" ] && break
        sleep 0.1
    done
    for p in $left; do kill -KILL "$p" 2>/dev/null || true; done
    for p in "${FERRY_NET_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    FERRY_NET_PIDS=()
    if [ "$FERRY_NET_MODE" = netns ]; then
        local host
        for host in "${FERRY_NET_HOSTS[@]}"; do ip netns del "$(ferry_ns_host "$host")" 2>/dev/null || true; done
        ip netns del "$(ferry_ns_hub)" 2>/dev/null || true
    fi
    FERRY_NET_MODE=
    return 0
}
