#!/bin/bash
# System test of the policy agent: two sites, each its own ovsdb-server and
# patched ovs-vswitchd (userspace datapath) in its own network namespace,
# start with bridges only -- no tunnel port, no SA, no flow of ours -- and
# `esp-agent apply` configures them from docs/examples/two-sites.yaml (its
# socket paths moved into this test's directory, and its WAN port left out
# because here the WAN is a separate bridge).
#
#  ns ha           ns sa                                 ns sb            ns hb
#  +--------+  +------------------------------+  +---------------------+  +--------+
#  | ha0    +--+ br0: lan0 (+ esp-a-b by agent)|  | br0: lan0, esp-a-b  +--+ hb0    |
#  |10.1.0.2|  | br-wan: wan, 192.0.2.1/24     |  | br-wan: wan, .2/24  |  |10.2.0.2|
#  +--------+  +--------------+---------------+  +----------+----------+  +--------+
#                             +------- veth "WAN" ----------+
#
# Checks, each of which fails the test:
#   1. `esp-agent --check` of the example still works;
#   2. with one site unreachable (its ovs-vswitchd, then its OVSDB), apply
#      fails with exit status 3 and changes nothing on the other site (no
#      SA, no port, no flow);
#   3. apply configures both sites; ping both ways;
#   4. the WAN capture has only ESP and ARP, no payload in clear;
#   5. a second apply changes nothing ("no changes");
#   6. `esp-agent run` puts back a flow deleted behind its back, and exits
#      cleanly on SIGTERM;
#   7. no key in any log or in the agent's output;
#   8. applying the policy without its link removes the link's port, SAs
#      and flows, and only them.
#
# Usage: tests/ovs/agent-two-sites.sh [OVS_BUILD_DIR [ESP_AGENT]]
#        (defaults build/ovs/src, build/controller/esp-agent)
# Needs root, ip, ethtool, tcpdump, ping.  Removes every namespace, veth and
# process it made, also on failure; ends only the processes it started.
set -eu

# shellcheck source=tests/ovs/sites.sh
. "$(dirname "$0")/sites.sh"
# shellcheck source=tests/ovs/agent-lib.sh
. "$(dirname "$0")/agent-lib.sh"
need_root_and_tools agent-two-sites

agent_init agent-two-sites espag-$$- "${1:-}" "${2:-}"
EXAMPLE=$TOP/docs/examples/two-sites.yaml
PATTERN=c0ffee15c0ffee15                           # Ping payload.

trap 'cleanup_sites agent-two-sites ha site-a site-b hb' EXIT

T0=$(date +%s)

# 1. The example compiles, untouched by anything below.
check "esp-agent --check two-sites.yaml" \
    "$AGENT" --check --seed=1 "$EXAMPLE" >"$WORK/check.out"

# Hosts (IPv4 only: no router solicitations, ND or MLD anywhere) route
# the other site's subnet via their site, whose router MAC is their
# gateway's (the site answers no ARP yet); sites: bridges and their system
# ports only.
agent_two_sites

# The example with this test's socket paths and without the WAN port
# (the WAN is on br-wan here, not on br0).
test_policy "$EXAMPLE" "$WORK/policy.yaml" -e '/wan-port:/d'
sed -e "s|$WORK/site-b/ovs-vswitchd.ctl|$WORK/site-b/nowhere.ctl|" \
    "$WORK/policy.yaml" >"$WORK/unreachable.yaml"
sed -e "s|unix:$WORK/site-b/db.sock|unix:$WORK/site-b/nodb.sock|" \
    "$WORK/policy.yaml" >"$WORK/nodb.yaml"
chmod 600 "$WORK/unreachable.yaml" "$WORK/nodb.yaml"

n_agent_flows() {   # n_agent_flows SITE
    ofctl "$1" dump-flows br0 cookie=0xe5a0000000000000/0xffffffff00000000 \
        | grep -c cookie= || true
}
n_sas() {   # n_sas SITE
    appctl "$1" ipsec/sa-show --json | grep -o '"spi":' | wc -l
}

# 2. One site unreachable: exit status 3, nothing changed at the other.
status=0
"$AGENT" apply "$WORK/unreachable.yaml" >"$WORK/unreachable.out" \
    2>"$WORK/unreachable.err" || status=$?
check "apply with site-b unreachable exits 3 (got $status)" test $status = 3
check "unreachable site named" grep -q "site-b: cannot connect" \
    "$WORK/unreachable.err"
status=0
"$AGENT" apply "$WORK/nodb.yaml" >"$WORK/nodb.out" 2>"$WORK/nodb.err" \
    || status=$?
check "apply with site-b's OVSDB unreachable exits 3 (got $status)" \
    test $status = 3
check "unreachable OVSDB named" grep -q "site-b: cannot read OVSDB" \
    "$WORK/nodb.err"
check "nothing changed at site-a: no SA" test "$(n_sas site-a)" = 0
check "nothing changed at site-a: no agent flow" \
    test "$(n_agent_flows site-a)" = 0
check "nothing changed at site-a: no tunnel port" \
    test -z "$(vsctl site-a --if-exists get port esp-a-b name)"

# 3. Apply for real.
check "esp-agent apply" "$AGENT" apply "$WORK/policy.yaml" \
    >"$WORK/apply1.out" 2>"$WORK/apply1.err"
check "apply reports its changes" grep -q "changes: SAs +4" \
    "$WORK/apply1.out"
check "site-a has 2 SAs" test "$(n_sas site-a)" = 2
check "site-b has 2 SAs" test "$(n_sas site-b)" = 2
check "site-a has the esp port" \
    test "$(vsctl site-a --if-exists get port esp-a-b name)" = esp-a-b

# Capture the WAN from site A's side.
start_wan_capture site-a

# The first packets resolve the tunnel neighbor (ARP from br-wan).
check "warm-up ping ha -> hb" ping_answered ha 10.2.0.2
check "ping ha -> hb" in_ns ha ping -c 3 -i 0.2 -W 2 -p $PATTERN 10.2.0.2 >/dev/null
check "ping hb -> ha" in_ns hb ping -c 3 -i 0.2 -W 2 -p $PATTERN 10.1.0.2 >/dev/null

# 5. Idempotent: a second apply adopts what is there and changes nothing.
check "second apply" "$AGENT" apply "$WORK/policy.yaml" \
    >"$WORK/apply2.out" 2>"$WORK/apply2.err"
check "second apply changes nothing ($(cat "$WORK/apply2.out"))" \
    grep -q "no changes" "$WORK/apply2.out"
check "still 2 SAs at site-a" test "$(n_sas site-a)" = 2
check "ping after the second apply" \
    in_ns ha ping -c 2 -i 0.2 -W 2 -p $PATTERN 10.2.0.2 >/dev/null

# 6. run: a flow deleted behind the agent's back comes back; SIGTERM ends
# it cleanly.
n_before=$(n_agent_flows site-a)
"$AGENT" run --interval=200 "$WORK/policy.yaml" >"$WORK/run.out" \
    2>"$WORK/run.err" &
AGENT_PID=$!
PIDS+=("$AGENT_PID")
sleep 0.5
ofctl site-a --strict del-flows br0 \
    "table=0,priority=300,ip,nw_src=10.1.0.0/24,nw_dst=10.2.0.0/24"
restored=0
for _ in $(seq 20); do
    sleep 0.2
    if [ "$(n_agent_flows site-a)" = "$n_before" ]; then
        restored=1
        break
    fi
done
check "run restored the deleted flow" test $restored = 1
check "ping after the restore" \
    in_ns ha ping -c 2 -i 0.2 -W 2 -p $PATTERN 10.2.0.2 >/dev/null
kill -TERM $AGENT_PID
status=0
wait $AGENT_PID || status=$?
check "run exits 0 on SIGTERM (got $status)" test $status = 0

# 4. The WAN carried only ESP (and ARP), never the payload in clear.
stop_wan_capture
check_wan_esp_only 16
check "no clear-text payload on the WAN" not hex_on_wan $PATTERN

# 8. The link removed from the policy: its port, SAs and flows go, the
# site's own flows stay.
sed -e '/^links:/,$d' "$WORK/policy.yaml" >"$WORK/nolinks.yaml"
echo 'links: []' >>"$WORK/nolinks.yaml"
chmod 600 "$WORK/nolinks.yaml"
check "apply without the link" "$AGENT" apply "$WORK/nolinks.yaml" \
    >"$WORK/nolinks.out" 2>"$WORK/nolinks.err"
check "link removal: SAs -4, ports -2 ($(cat "$WORK/nolinks.out"))" \
    grep -q "SAs +0 -4, ports +0 ~0 -2" "$WORK/nolinks.out"
check "site-a: no SA left" test "$(n_sas site-a)" = 0
check "site-a: no tunnel port left" \
    test -z "$(vsctl site-a --if-exists get port esp-a-b name)"
check "site-a: only the site's 7 flows left" test "$(n_agent_flows site-a)" = 7

# 7. No key anywhere: the agent prints none, OVS logs none.
check "no key in the agent's output or any log" \
    not grep -rqiE 'key=0x|key=[0-9a-f]{16}' "$WORK"/*.out "$WORK"/*.err \
        "$WORK/site-a" "$WORK/site-b"

echo "agent-two-sites: $PASS passed, $FAIL failed ($(( $(date +%s) - T0 )) s)"
[ "$FAIL" -eq 0 ]
