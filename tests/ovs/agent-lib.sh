#!/bin/bash
# Helpers of the agent system tests (tests/ovs/agent-restart.sh,
# agent-reload.sh); sourced after sites.sh, not run.  Uses AGENT, PY,
# PROBE, WORK, PIDS and the functions of sites.sh.
# shellcheck shell=bash

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    echo "agent-lib.sh: library of the agent tests, sourced by them: skipped"
    exit 0
fi

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

# restart_switch SITE: starts the site's ovs-vswitchd again (the command of
# sites.sh's start_site) and writes the CLOCK_MONOTONIC time at which it
# was up (its --detach returned: bridges configured from OVSDB) into
# $WORK/SITE.up.
restart_switch() {
    local s=$1
    at_site "$s" "$PY" -c '
import subprocess, sys, time
subprocess.run(sys.argv[1:], check=True)
print("%.6f" % time.monotonic())' \
        ovs-vswitchd unix:"$WORK/$s/db.sock" \
        --unixctl="$WORK/$s/ovs-vswitchd.ctl" \
        --pidfile="$WORK/$s/ovs-vswitchd.pid" \
        --log-file="$WORK/$s/ovs-vswitchd.log" --detach --no-chdir \
        -vconsole:off -vfile:info 2>>"$WORK/$s/start.log" >"$WORK/$s.up"
    PIDS+=("$(cat "$WORK/$s/ovs-vswitchd.pid")")
}

# capture_wan NS IFACE: tcpdump on IFACE of namespace NS into
# $WORK/wan.pcap, its own PID in TCPDUMP (not a subshell's, so that
# sites.sh's stop_wan_capture and cleanup end it); returns once it listens.
capture_wan() {
    ip netns exec "$(ns "$1")" tcpdump -i "$2" -U -w "$WORK/wan.pcap" -s 0 \
        2>"$WORK/tcpdump.log" &
    TCPDUMP=$!
    PIDS+=("$TCPDUMP")
    for _ in $(seq 50); do
        grep -q listening "$WORK/tcpdump.log" 2>/dev/null && break
        sleep 0.1
    done
}
