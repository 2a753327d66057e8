#!/bin/bash
# System test of make-before-break rekeying (issue #5): two sites, each its
# own ovsdb-server and patched ovs-vswitchd (userspace datapath) in its own
# network namespace (the topology of agent-two-sites.sh, another namespace
# prefix), configured by `esp-agent run` from docs/examples/two-sites.yaml
# with a soft lifetime of 1 second, so that the agent rekeys the link about
# once a second (--rekey-grace=0.4: each old pair is deleted 0.4 s after
# its successor is installed on both ends), while the hosts exchange
# sequence-numbered UDP probes both ways (controller/demo/probe.py).
#
# Checks, each of which fails the test:
#   1. at least 20 consecutive rekeys while the probes flow;
#   2. zero probes lost, none duplicated, both ways;
#   3. old SAs are removed: no sample of `ipsec/sa-show` during the run
#      shows more than the current pair and the one in its grace period
#      (4 SAs per site, at most 1 inactive outbound), and the agent deleted
#      the old SAs of every rekey but the last;
#   4. the WAN carried only ESP (and ARP), no probe payload in clear;
#   5. no key in the agent's output or in any OVS log.
#
# Usage: tests/ovs/agent-rekey.sh [OVS_BUILD_DIR [ESP_AGENT]]
#        (defaults build/ovs/src, build/controller/esp-agent)
# Environment: REKEYS (default 20), KEEP=1 keeps the work directory.
# Needs root, ip, ethtool, tcpdump, ping.  Removes every namespace, veth and
# process it made, also on failure; ends only the processes it started.
set -eu

# shellcheck source=tests/ovs/sites.sh
. "$(dirname "$0")/sites.sh"
# shellcheck source=tests/ovs/agent-lib.sh
. "$(dirname "$0")/agent-lib.sh"
need_root_and_tools agent-rekey

agent_init agent-rekey esprk-$$- "${1:-}" "${2:-}"
EXAMPLE=$TOP/docs/examples/two-sites.yaml
REKEYS=${REKEYS:-20}
RATE=200                                           # Probes/s each way.
PORT=5555
INTERVAL=100                                       # esp-agent --interval.
GRACE=0.4                                          # esp-agent --rekey-grace.

trap 'cleanup_sites agent-rekey ha site-a site-b hb' EXIT

T0=$(date +%s)

# Hosts (IPv4 only: no router solicitations, ND or MLD anywhere) route
# the other site's subnet via their site, whose router MAC is their
# gateway's (the site answers no ARP yet); sites: bridges and their system
# ports only.
agent_two_sites

# The example with this test's socket paths, without the WAN port (the WAN
# is on br-wan here), and with a soft lifetime of 1 s (hard: 1 h).
test_policy "$EXAMPLE" "$WORK/policy.yaml" -e '/wan-port:/d' -e "$SOFT_1S"
check "the test policy has a 1 s soft lifetime" \
    grep -q '^      seconds: 1$' "$WORK/policy.yaml"

n_rekeys() {
    grep -c ': rekey: ' "$WORK/run.err" 2>/dev/null || true
}

# Capture the WAN from site A's side.
start_wan_capture site-a

"$AGENT" run --interval=$INTERVAL --rekey-grace=$GRACE "$WORK/policy.yaml" \
    >"$WORK/run.out" 2>"$WORK/run.err" &
AGENT_PID=$!
PIDS+=("$AGENT_PID")
for _ in $(seq 50); do
    grep -q 'changes' "$WORK/run.out" 2>/dev/null && break
    sleep 0.1
done
check "esp-agent run applied the policy" grep -q 'changes: SAs +4' \
    "$WORK/run.out"

# The first packets resolve the tunnel neighbor (ARP from br-wan).
warm=0
for _ in $(seq 20); do
    if in_ns ha ping -c 1 -W 1 10.2.0.2 >/dev/null 2>&1 \
       && in_ns hb ping -c 1 -W 1 10.1.0.2 >/dev/null 2>&1; then
        warm=1
        break
    fi
done
check "warm-up ping both ways" test $warm = 1

# Probes both ways, for as long as REKEYS rekeys take (about 1.2 s each)
# plus margin.
PROBES=$(( RATE * (REKEYS * 12 / 10 + 6) ))
in_ns hb $PY "$PROBE" recv 10.2.0.2 $PORT $PROBES "$WORK/recv-b" &
RECV_B=$!
in_ns ha $PY "$PROBE" recv 10.1.0.2 $PORT $PROBES "$WORK/recv-a" &
RECV_A=$!
PIDS+=("$RECV_A" "$RECV_B")
for _ in $(seq 50); do
    [ -e "$WORK/recv-a.ready" ] && [ -e "$WORK/recv-b.ready" ] && break
    sleep 0.1
done
rekeys_before=$(n_rekeys)
in_ns ha $PY "$PROBE" send 10.2.0.2 $PORT $PROBES $RATE &
SEND_A=$!
in_ns hb $PY "$PROBE" send 10.1.0.2 $PORT $PROBES $RATE &
SEND_B=$!
PIDS+=("$SEND_A" "$SEND_B")

# Meanwhile, sample the SAs of both sites: never more than the current pair
# and the one in its grace period.
max_sas=0
max_inactive=0
samples=0
while kill -0 $SEND_A 2>/dev/null || kill -0 $SEND_B 2>/dev/null; do
    for s in site-a site-b; do
        appctl $s ipsec/sa-show --json >"$WORK/sa.json" 2>/dev/null || continue
        n=$(grep -o '"spi":' "$WORK/sa.json" | wc -l)
        i=$(grep -o '"active":false' "$WORK/sa.json" | wc -l)
        [ "$n" -gt "$max_sas" ] && max_sas=$n
        [ "$i" -gt "$max_inactive" ] && max_inactive=$i
        samples=$((samples + 1))
    done
    sleep 0.25
done
rekeys_during=$(( $(n_rekeys) - rekeys_before ))
wait $SEND_A || true
wait $SEND_B || true
wait $RECV_A || true
wait $RECV_B || true

kill -TERM $AGENT_PID
status=0
wait $AGENT_PID || status=$?
check "run exits 0 on SIGTERM (got $status)" test $status = 0

result_a=$(cat "$WORK/recv-a" 2>/dev/null || echo "no result")
result_b=$(cat "$WORK/recv-b" 2>/dev/null || echo "no result")
echo "agent-rekey: $rekeys_during rekeys under traffic; probes to hb: $result_b; to ha: $result_a"

# 1. Rekeys under traffic, counted by the agent too.
check "at least $REKEYS rekeys under traffic (got $rekeys_during)" \
    test "$rekeys_during" -ge "$REKEYS"
total=$(sed -n 's/.* after \([0-9]*\) rekeys.*/\1/p' "$WORK/run.err")
check "the agent counts its rekeys ($total, $(n_rekeys) logged)" \
    test "${total:-x}" = "$(n_rekeys)"
bad_rekey_line() {
    grep ': rekey: ' "$WORK/run.err" | grep -qv \
        'site-[ab]->site-[ab] 0x[0-9a-f]\{8\} -> 0x[0-9a-f]\{8\}, site-[ab]->site-[ab] 0x[0-9a-f]\{8\} -> 0x[0-9a-f]\{8\}$'
}
check "each rekey logs the old and new SPIs of both directions" \
    not bad_rekey_line

# 2. No probe lost.
check "probes ha -> hb: none lost ($result_b)" \
    grep -q "^received=$PROBES lost=0 duplicated=0 " "$WORK/recv-b"
check "probes hb -> ha: none lost ($result_a)" \
    grep -q "^received=$PROBES lost=0 duplicated=0 " "$WORK/recv-a"

# 3. Old SAs removed.
check "SAs sampled ($samples samples)" test "$samples" -ge 20
check "at most 2 pairs per site at any sample (max $max_sas SAs)" \
    test "$max_sas" -le 4
check "at most 1 inactive outbound SA per site (max $max_inactive)" \
    test "$max_inactive" -le 1
n_total=$(n_rekeys)
for s in site-a site-b; do
    deleted=$(grep -c "^esp-agent: $s: deleted .* SA " "$WORK/run.err" || true)
    check "$s: the old SAs of every rekey but the last deleted ($deleted)" \
        test "$deleted" -ge $(( 2 * (n_total - 1) ))
    n=$(appctl $s ipsec/sa-show --json | grep -o '"spi":' | wc -l)
    check "$s: at most 2 pairs left at the end ($n SAs)" test "$n" -le 4
done
# The current pair is the last one logged.
appctl site-a ipsec/sa-show --json >"$WORK/sa-a.json"
last=$(grep ': rekey: ' "$WORK/run.err" | tail -1)
new_spis=$(echo "$last" | grep -o -- '-> 0x[0-9a-f]*' | sed 's/-> 0x//')
for spi in $new_spis; do
    check "the last rekey's SPI 0x$spi is installed at site-a" \
        grep -q "\"spi\":$((16#$spi))[,}]" "$WORK/sa-a.json"
done
check "the last rekey logged two new SPIs" test "$(echo "$new_spis" | wc -w)" = 2

# 4. The WAN carried only ESP (and ARP), never a probe in clear.
stop_wan_capture
check_wan_esp_only $(( 2 * PROBES ))
check "no probe payload in clear on the WAN" \
    not grep -aq ESPDEMO-PROBE "$WORK/wan.pcap"
n_spis=$(tcpdump -nr "$WORK/wan.pcap" esp 2>/dev/null \
         | grep -o 'spi=0x[0-9a-f]*' | sort -u | wc -l)
check "the WAN saw the SPIs of the rekeys ($n_spis distinct)" \
    test "$n_spis" -ge $(( 2 * REKEYS ))

# 5. No key anywhere: the agent prints none, OVS logs none.
check "no key in the agent's output or any log" \
    not grep -rqiE --include='*.log' --include='*.out' --include='*.err' \
        'key=0x|key=[0-9a-f]{16}|[0-9a-f]{64}' "$WORK"

echo "agent-rekey: $PASS passed, $FAIL failed ($(( $(date +%s) - T0 )) s)"
[ "$FAIL" -eq 0 ]
