#!/bin/bash
# System test of restarts (issue #5): of ovs-vswitchd under traffic, of the
# agent under traffic, and of both.
#
#   ha ── lan0 [site-a: br0 ── esp port]  wan ═══ wan  [site-b: br0 ── esp port] lan0 ── hb
#   10.1.0.2       192.0.2.1 on br-wan    (ESP only,     192.0.2.2 on br-wan          10.2.0.2
#                                          captured)
#
# Each site is its own ovsdb-server + patched ovs-vswitchd (userspace
# datapath) in its own namespace, configured by `esp-agent run` from
# docs/examples/two-sites.yaml (socket paths moved), with --interval=5000:
# restoring fast must come from the agent noticing, not from its polling.
# Sequence-numbered UDP probes (controller/demo/probe.py, 100/s each way)
# time every outage.
#
# Checks, each of which fails the test:
#   0. the agent's unixctl socket is accessible to its user only;
#   1. ovs-vswitchd of site-b killed (SIGKILL) and started again under
#      traffic: probes flow again within 1 s of the switch being up, both
#      ways; the agent saw it go and come back and replaced the link's
#      pair with fresh keys (never the old keys again: their sequence
#      numbers would restart); br0 is fail_mode=secure;
#   2. the agent restarted (SIGTERM, start) under traffic: same SPIs before
#      and after, no SA added or deleted, "4 SAs adopted", no probe lost;
#      `esp-agent/status` shows the adopted pair; `esp-agent/rekey a-b`
#      then rekeys it make-before-break, still no probe lost;
#   3. agent stopped, then ovs-vswitchd of site-a restarted: its bridge has
#      no flow and drops everything (ping fails, nothing leaves in clear);
#      the agent started again installs a new pair, ping works;
#   4. the WAN capture, over the whole test, holds only ESP and ARP, and no
#      probe payload in clear.
#
# Usage: tests/ovs/agent-restart.sh [OVS_BUILD_DIR [ESP_AGENT]]
# Environment: KEEP=1 keeps the work directory.  About 40 s.
# Needs root, ip, ethtool, tcpdump, ping.  Removes every namespace, veth and
# process it made, also on failure; ends only the processes it started.
set -eu

# shellcheck source=tests/ovs/sites.sh
. "$(dirname "$0")/sites.sh"
# shellcheck source=tests/ovs/agent-lib.sh
. "$(dirname "$0")/agent-lib.sh"
need_root_and_tools agent-restart

agent_init agent-restart esprs-$$- "${1:-}" "${2:-}"
EXAMPLE=$TOP/docs/examples/two-sites.yaml
GAP=$TOP/controller/tests/gap.py
RATE=100
RESTORE_MS=${RESTORE_MS:-1000}

trap 'cleanup_sites agent-restart ha site-a site-b hb' EXIT
T0=$(date +%s)

agent_two_sites

test_policy "$EXAMPLE" "$WORK/policy.yaml" -e '/wan-port:/d'

start_wan_capture site-a
start_agent agent1 "$WORK/policy.yaml" --interval=5000
check "esp-agent run applied the policy" grep -q 'changes: SAs +4' \
    "$WORK/agent1.out"
mode=$(stat -c %a "$WORK/agent.ctl")
check "the agent's unixctl socket is its user's only (mode $mode)" \
    test $((8#$mode & 8#077)) = 0
check "warm-up ping ha -> hb" ping_answered ha 10.2.0.2
check "warm-up ping hb -> ha" ping_answered hb 10.1.0.2
for s in site-a site-b; do
    check "$s: br0 fails closed (fail_mode=secure)" \
        test "$(vsctl $s get bridge br0 fail_mode)" = secure
done

# --- 1. ovs-vswitchd restart under traffic ---------------------------------
spis site-b >"$WORK/spis-1-before"
N=$((RATE * 7))
probes_start p1-ab ha hb $N $RATE
probes_start p1-ba hb ha $N $RATE
sleep 2
kill_switch site-b
sleep 0.3
restart_switch site-b
T_UP=$(cat "$WORK/site-b.up")
probes_wait
for d in ab ba; do
    r=$($PY "$GAP" "$WORK/p1-$d.arr" "$T_UP" || echo "restore_ms=99999")
    echo "agent-restart: ovs-vswitchd restart, probes $d: $r"
    ms=$(echo "$r" | sed -n 's/.*restore_ms=\(-\?[0-9]*\).*/\1/p')
    check "probes $d flow again within $RESTORE_MS ms of the switch being up" \
        test "${ms:-99999}" -le "$RESTORE_MS"
    check "probes $d: the last ones arrived" \
        grep -q "$((N - 1)) " "$WORK/p1-$d.arr"
done
check "the agent saw ovs-vswitchd go" \
    grep -q 'site-b: ovs-vswitchd went away' "$WORK/agent1.err"
check "the agent saw it come back" \
    grep -q 'site-b: ovs-vswitchd is up: reconciling now' "$WORK/agent1.err"
check "the agent replaced the lost pair with fresh keys" \
    grep -q 'is gone (ovs-vswitchd restarted?): replacing the pair' \
    "$WORK/agent1.err"
spis site-b >"$WORK/spis-1-after"
old_spis() { awk '{print $3}' "$WORK/spis-1-before"; }
check "no SPI of before the restart is installed again at site-b" \
    not grep -qFf <(old_spis) "$WORK/spis-1-after"
check "site-b has its current pair again ($(wc -l <"$WORK/spis-1-after") SAs)" \
    test "$(grep -c ' active$' "$WORK/spis-1-after")" -ge 2

# Wait for the replaced pair's grace period to end: a steady state.
sleep 4

# --- 2. agent restart under traffic ----------------------------------------
spis site-a >"$WORK/spis-2-a-before"
spis site-b >"$WORK/spis-2-b-before"
N=$((RATE * 8))
probes_start p2-ab ha hb $N $RATE
probes_start p2-ba hb ha $N $RATE
sleep 1.5
status=0
stop_agent || status=$?
check "the agent exits 0 on SIGTERM (got $status)" test $status = 0
start_agent agent2 "$WORK/policy.yaml" --interval=5000
spis site-a >"$WORK/spis-2-a-after"
spis site-b >"$WORK/spis-2-b-after"
check "restarted agent: no changes, 4 SAs adopted ($(cat "$WORK/agent2.out"))" \
    grep -q 'no changes (4 SAs adopted)' "$WORK/agent2.out"
check "restarted agent: no SA added or deleted" \
    not grep -qE ': (added|deleted) .* SA ' "$WORK/agent2.err"
check "site-a: same SAs and SPIs before and after the agent restart" \
    cmp -s "$WORK/spis-2-a-before" "$WORK/spis-2-a-after"
check "site-b: same SAs and SPIs before and after the agent restart" \
    cmp -s "$WORK/spis-2-b-before" "$WORK/spis-2-b-after"
agentctl esp-agent/status >"$WORK/status.txt"
agentctl esp-agent/status --json >"$WORK/status.json"
check "esp-agent/status shows the adopted pair" \
    test "$(grep -c ' adopted' "$WORK/status.txt")" = 4
check "esp-agent/status --json: 4 adopted SAs on link a-b" $PY -c '
import json, sys
st = json.load(open(sys.argv[1]))
sas = st["links"][0]["sas"]
assert st["links"][0]["name"] == "a-b"
assert len(sas) == 4 and all(s["adopted"] for s in sas), sas' \
    "$WORK/status.json"
sleep 1
check "esp-agent/rekey a-b" agentctl esp-agent/rekey a-b
probes_wait
for d in ab ba; do
    check "probes $d across the agent restart and rekey: none lost ($(cat "$WORK/p2-$d"))" \
        grep -q "^received=$N lost=0 duplicated=0 " "$WORK/p2-$d"
done
check "the adopted pair was rekeyed" grep -q 'link a-b: rekey: ' \
    "$WORK/agent2.err"
spis site-a >"$WORK/spis-2-a-rekeyed"
check "site-a: new SPIs after the rekey" \
    not cmp -s "$WORK/spis-2-a-before" "$WORK/spis-2-a-rekeyed"

# --- 3. no agent, a switch restarted: it fails closed ---------------------
status=0
stop_agent || status=$?
kill_switch site-a
restart_switch site-a
check "site-a restarted without agent: no flow on br0" \
    test "$(ofctl site-a dump-flows br0 --no-stats | grep -c priority)" = 0
check "site-a restarted without agent: no SA" \
    test "$(spis site-a | wc -l)" = 0
check "site-a without flows: ha cannot reach hb" \
    not in_ns ha ping -q -c 3 -i 0.3 -W 1 10.2.0.2
start_agent agent3 "$WORK/policy.yaml" --interval=5000
check "agent started again: a new pair installed ($(cat "$WORK/agent3.out"))" \
    grep -q 'changes: SAs +4' "$WORK/agent3.out"
check "ping ha -> hb works again" ping_answered ha 10.2.0.2
stop_agent || true

# --- 4. the WAN -------------------------------------------------------------
stop_wan_capture
check_wan_esp_only 1000
check "no probe payload in clear on the WAN" \
    not grep -aq ESPDEMO-PROBE "$WORK/wan.pcap"
check "no ICMP in clear on the WAN" \
    test "$(tcpdump -nr "$WORK/wan.pcap" icmp 2>/dev/null | wc -l)" = 0
check "no key in the agent's output or any log" \
    not grep -rqiE --include='*.log' --include='*.out' --include='*.err' \
        'key=0x|key=[0-9a-f]{16}|[0-9a-f]{64}' "$WORK"

echo "agent-restart: $PASS passed, $FAIL failed ($(( $(date +%s) - T0 )) s)"
[ "$FAIL" -eq 0 ]
