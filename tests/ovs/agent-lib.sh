#!/bin/bash
# Helpers of the agent system tests (tests/ovs/agent-*.sh); sourced after
# sites.sh, not run.  Uses the variables that agent_init sets and the
# functions of sites.sh.
# shellcheck shell=bash

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    echo "agent-lib.sh: library of the agent tests, sourced by them: skipped"
    exit 0
fi

# agent_init TEST NS_PREFIX [OVS_BUILD_DIR [ESP_AGENT]]: exits 2 unless
# ESP_AGENT (default build/controller/esp-agent) is built; sets AGENT, TOP
# (the source tree), PROBE (its controller/demo/probe.py), PY, PROBE_PIDS,
# ROUTER_MAC (the policies' default), and what sites_init sets.
agent_init() {
    TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
    AGENT=$(realpath "${4:-build/controller/esp-agent}")
    if [ ! -x "$AGENT" ]; then
        echo "$1: $AGENT not built (make controller)" >&2
        exit 2
    fi
    sites_init "$1" "$2" "${3:-}"
    PROBE=$TOP/controller/demo/probe.py
    PY=/usr/bin/python3
    PROBE_PIDS=()
    ROUTER_MAC=02:e5:a0:00:00:01
}

# The sed expression that gives a policy's links a soft lifetime of 1 s
# (the examples' 50m).
# shellcheck disable=SC2034  # Used by the sourcing scripts.
SOFT_1S='s|^\( *\)seconds: 50m.*|\1seconds: 1|'

# test_policy EXAMPLE OUT [SED_ARG...]: the example policy EXAMPLE with
# this test's socket paths (under WORK), edited by SED_ARG, into OUT, its
# user's only.
test_policy() {
    local example=$1 out=$2
    shift 2
    sed -e "s|/run/esp-demo/|$WORK/|" "$@" "$example" >"$out"
    chmod 600 "$out"
}

# agent_two_sites: hosts ha (10.1.0.2) and hb (10.2.0.2), IPv4 only, on
# lan0 of sites site-a and site-b (route_hosts, gateway ROUTER_MAC), the
# sites as lan_wan_sites made them.
agent_two_sites() {
    netns_add ha site-a site-b hb
    netns_no_ipv6 ha site-a site-b hb
    two_site_veths site-a site-b lan0
    route_hosts "$ROUTER_MAC"
    lan_wan_sites site-a site-b
}

# agent_three_sites: hosts ha, hb, hc (10.1.0.2, 10.2.0.2, 10.3.0.2, each
# routing 10.0.0.0/8 via ROUTER_MAC), IPv4 only, on lan0 of sites site-a,
# site-b, site-c: br0 (lan0) and br-wan (wan, 192.0.2.1, .2, .3/24); the
# sites' wan veths meet on the Linux bridge sw in namespace "wan".
agent_three_sites() {
    local i=1 x
    netns_add ha hb hc site-a site-b site-c wan
    netns_no_ipv6 ha hb hc site-a site-b site-c wan
    in_ns wan ip link add sw type bridge mcast_snooping 0
    in_ns wan ip link set sw up
    for x in a b c; do
        veth wan site-$x w$x wan
        in_ns wan ip link set w$x master sw
        veth h${x}0 h$x lan0 site-$x
        in_ns h$x ip addr add 10.$i.0.2/24 dev h${x}0
        in_ns h$x ip route add 10.0.0.0/8 via 10.$i.0.1
        in_ns h$x ip neigh add 10.$i.0.1 lladdr "$ROUTER_MAC" dev h${x}0
        start_site site-$x
        netdev_bridge site-$x br-wan wan
        netdev_bridge site-$x br0 lan0
        in_ns site-$x ip addr add 192.0.2.$i/24 dev br-wan
        i=$((i + 1))
    done
}

# start_agent NAME POLICY [ARGS...]: `esp-agent run` with its unixctl socket
# at $WORK/agent.ctl, output in $WORK/NAME.out and .err, its PID in
# AGENT_PID; returns once the first apply is done (or the agent died).
start_agent() {
    local name=$1 policy=$2
    shift 2
    "$AGENT" run --unixctl="$WORK/agent.ctl" "$@" "$policy" \
        >"$WORK/$name.out" 2>"$WORK/$name.err" &
    AGENT_PID=$!
    PIDS+=("$AGENT_PID")
    for _ in $(seq 100); do
        grep -q 'changes' "$WORK/$name.out" 2>/dev/null && break
        kill -0 "$AGENT_PID" 2>/dev/null || break
        sleep 0.1
    done
    for _ in $(seq 50); do
        [ -S "$WORK/agent.ctl" ] && break
        sleep 0.1
    done
}

stop_agent() {   # stop_agent: SIGTERM, returns its exit status.
    local status=0
    kill -TERM "$AGENT_PID"
    wait "$AGENT_PID" || status=$?
    return $status
}

# agentctl CMD...: ovs-appctl to the running agent.
agentctl() {
    "$OVS/utilities/ovs-appctl" --timeout=20 -t "$WORK/agent.ctl" "$@"
}

# spis SITE: the site's SAs, one "PORT DIR SPI" line each, sorted.
spis() {
    appctl "$1" ipsec/sa-show --json | $PY -c '
import json, sys
for s in sorted(json.load(sys.stdin)["sas"],
                key=lambda s: (s["port"], s["dir"], s["spi"])):
    print(s["port"], s["dir"], "0x%08x" % s["spi"],
          "active" if s.get("active", True) else "inactive")'
}

# flows SITE BRIDGE: the agent's flows (cookie 0xe5a0...), without
# counters, sorted.
flows() {
    ofctl "$1" dump-flows "$2" --no-stats 2>/dev/null \
        | grep 'cookie=0xe5a0' | sort
}

# probes_start NAME FROM TO COUNT RATE: sequence-numbered UDP probes from
# host FROM to host TO (ha 10.1.0.2, hb 10.2.0.2) on port 5555; the
# receiver's result in $WORK/NAME, arrival times in $WORK/NAME.arr.  Sets
# PROBE_PIDS (sender and receiver).
probes_start() {
    local name=$1 from=$2 to=$3 count=$4 rate=$5 dst
    dst=$(host_addr "$to")
    rm -f "$WORK/$name" "$WORK/$name.ready" "$WORK/$name.arr"
    # Not through in_ns (a function): $! must be the program's own PID.
    ip netns exec "$(ns "$to")" "$PY" "$PROBE" recv "$dst" 5555 "$count" \
        "$WORK/$name" "$WORK/$name.arr" &
    local recv=$!
    for _ in $(seq 50); do
        [ -e "$WORK/$name.ready" ] && break
        sleep 0.1
    done
    ip netns exec "$(ns "$from")" "$PY" "$PROBE" send "$dst" 5555 \
        "$count" "$rate" &
    local send=$!
    PIDS+=("$recv" "$send")
    PROBE_PIDS+=("$recv" "$send")
}

probes_wait() {   # probes_wait: every sender and receiver done.
    local pid
    for pid in "${PROBE_PIDS[@]}"; do
        wait "$pid" || true
    done
    PROBE_PIDS=()
}

host_addr() {   # host_addr HOST: its address (ha, hb, hc).
    case $1 in
        ha) echo 10.1.0.2 ;;
        hb) echo 10.2.0.2 ;;
        hc) echo 10.3.0.2 ;;
    esac
}

# kill_switch SITE: SIGKILL to the site's ovs-vswitchd (a crash), waits
# until it is gone.
kill_switch() {
    local pid
    pid=$(cat "$WORK/$1/ovs-vswitchd.pid")
    kill -9 "$pid"
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
}

# restart_switch SITE: starts the site's ovs-vswitchd again and writes the
# CLOCK_MONOTONIC time at which it was up (its --detach returned: bridges
# configured from OVSDB) into $WORK/SITE.up.
restart_switch() {
    start_vswitchd "$1" "$PY" -c '
import subprocess, sys, time
subprocess.run(sys.argv[1:], check=True)
print("%.6f" % time.monotonic())' >"$WORK/$1.up"
}
