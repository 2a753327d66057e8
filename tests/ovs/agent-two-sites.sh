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

for tool in ip ethtool tcpdump ping; do
    if ! command -v $tool >/dev/null; then
        echo "agent-two-sites: $tool not found (Debian: iproute2, ethtool," \
             "tcpdump, iputils-ping)" >&2
        exit 2
    fi
done
if [ "$(id -u)" != 0 ]; then
    echo "agent-two-sites: needs root (network namespaces)" >&2
    exit 2
fi

OVS=$(cd "${1:-build/ovs/src}" && pwd)
AGENT=$(realpath "${2:-build/controller/esp-agent}")
EXAMPLE=$(realpath "$(dirname "$0")/../../docs/examples/two-sites.yaml")
if [ ! -x "$AGENT" ]; then
    echo "agent-two-sites: $AGENT not built (make controller)" >&2
    exit 2
fi
PATH=$OVS/utilities:$OVS/vswitchd:$OVS/ovsdb:$PATH
SCHEMA=$OVS/vswitchd/vswitch.ovsschema
WORK=$(mktemp -d /tmp/agent-two-sites.XXXXXX)
NS_PREFIX=espag-$$-
PIDS=()
PASS=0
FAIL=0
PATTERN=c0ffee15c0ffee15                           # Ping payload.
ROUTER_MAC=02:e5:a0:00:00:01                       # The policy's default.

ns() { echo "$NS_PREFIX$1"; }
in_ns() { local n=$1; shift; ip netns exec "$(ns "$n")" "$@"; }

cleanup() {
    local pid
    set +e
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null
    done
    for pid in "${PIDS[@]}"; do
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        kill -9 "$pid" 2>/dev/null
    done
    for n in ha site-a site-b hb; do
        ip netns del "$(ns $n)" 2>/dev/null
    done
    if [ "$FAIL" -eq 0 ] && [ -z "${KEEP:-}" ]; then
        rm -rf "$WORK"
    else
        echo "agent-two-sites: logs kept in $WORK"
    fi
}
trap cleanup EXIT

not() { ! "$@"; }

check() {
    local what=$1; shift
    if "$@"; then
        PASS=$((PASS + 1))
    else
        FAIL=$((FAIL + 1))
        echo "FAIL: $what"
    fi
}

# Site commands, run inside the site's namespace against its own daemons.
site_env() {
    local s=$1
    echo "OVS_RUNDIR=$WORK/$s OVS_LOGDIR=$WORK/$s OVS_DBDIR=$WORK/$s OVS_SYSCONFDIR=$WORK/$s"
}
vsctl() { local s=$1; shift; in_ns "$s" env $(site_env "$s") ovs-vsctl --timeout=10 "$@"; }
appctl() { local s=$1; shift; in_ns "$s" env $(site_env "$s") ovs-appctl --timeout=10 -t "$WORK/$s/ovs-vswitchd.ctl" "$@"; }
ofctl() { local s=$1; shift; in_ns "$s" env $(site_env "$s") ovs-ofctl "$@"; }

start_site() {
    local s=$1
    mkdir -p "$WORK/$s"
    ovsdb-tool create "$WORK/$s/conf.db" "$SCHEMA"
    in_ns "$s" env $(site_env "$s") ovsdb-server "$WORK/$s/conf.db" \
        --remote=punix:"$WORK/$s/db.sock" --pidfile="$WORK/$s/ovsdb-server.pid" \
        --log-file="$WORK/$s/ovsdb-server.log" --detach --no-chdir \
        2>>"$WORK/$s/start.log"
    PIDS+=("$(cat "$WORK/$s/ovsdb-server.pid")")
    vsctl "$s" --no-wait init
    # The unixctl socket at the path the policy names.
    in_ns "$s" env $(site_env "$s") ovs-vswitchd unix:"$WORK/$s/db.sock" \
        --unixctl="$WORK/$s/ovs-vswitchd.ctl" \
        --pidfile="$WORK/$s/ovs-vswitchd.pid" \
        --log-file="$WORK/$s/ovs-vswitchd.log" --detach --no-chdir \
        -vconsole:off -vfile:info 2>>"$WORK/$s/start.log"
    PIDS+=("$(cat "$WORK/$s/ovs-vswitchd.pid")")
}

veth() {   # veth NAME1 NS1 NAME2 NS2
    ip link add "$1" netns "$(ns "$2")" type veth peer name "$3" netns "$(ns "$4")"
    in_ns "$2" ip link set "$1" up
    in_ns "$4" ip link set "$3" up
    # AF_PACKET ports and ESP need packets with their checksums done.
    in_ns "$2" ethtool -K "$1" tx off >/dev/null
    in_ns "$4" ethtool -K "$3" tx off >/dev/null
}

T0=$(date +%s)

# 1. The example compiles, untouched by anything below.
check "esp-agent --check two-sites.yaml" \
    "$AGENT" --check --seed=1 "$EXAMPLE" >"$WORK/check.out"

for n in ha site-a site-b hb; do
    ip netns add "$(ns $n)"
    in_ns $n ip link set lo up
    # IPv4 only: no router solicitations, ND or MLD anywhere.
    in_ns $n sysctl -qw net.ipv6.conf.all.disable_ipv6=1
    in_ns $n sysctl -qw net.ipv6.conf.default.disable_ipv6=1
done
veth wan site-a wan site-b
veth ha0 ha lan0 site-a
veth hb0 hb lan0 site-b

# Hosts: each routes the other site's subnet via its site, whose router
# MAC is its gateway's (the site answers no ARP yet).
in_ns ha ip addr add 10.1.0.2/24 dev ha0
in_ns ha ip route add 10.2.0.0/24 via 10.1.0.1
in_ns ha ip neigh add 10.1.0.1 lladdr $ROUTER_MAC dev ha0
in_ns hb ip addr add 10.2.0.2/24 dev hb0
in_ns hb ip route add 10.1.0.0/24 via 10.2.0.1
in_ns hb ip neigh add 10.2.0.1 lladdr $ROUTER_MAC dev hb0

# Sites: bridges and their system ports only.
for s in site-a site-b; do
    start_site $s
    vsctl $s add-br br-wan -- set bridge br-wan datapath_type=netdev \
        -- add-port br-wan wan
    vsctl $s add-br br0 -- set bridge br0 datapath_type=netdev \
        -- add-port br0 lan0
    in_ns $s ip link set br-wan up
    in_ns $s ip link set br0 up
done
in_ns site-a ip addr add 192.0.2.1/24 dev br-wan
in_ns site-b ip addr add 192.0.2.2/24 dev br-wan

# The example with this test's socket paths and without the WAN port
# (the WAN is on br-wan here, not on br0).
sed -e "s|/run/esp-demo/|$WORK/|" -e '/wan-port:/d' "$EXAMPLE" \
    >"$WORK/policy.yaml"
chmod 600 "$WORK/policy.yaml"
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
in_ns site-a tcpdump -i wan -U -w "$WORK/wan.pcap" -s 0 \
    2>"$WORK/tcpdump.log" &
TCPDUMP=$!
PIDS+=("$TCPDUMP")
for _ in $(seq 50); do
    grep -q listening "$WORK/tcpdump.log" 2>/dev/null && break
    sleep 0.1
done

# The first packets resolve the tunnel neighbor (ARP from br-wan).
warm=0
for _ in $(seq 20); do
    if in_ns ha ping -c 1 -W 1 10.2.0.2 >/dev/null 2>&1; then
        warm=1
        break
    fi
done
check "warm-up ping ha -> hb" test $warm = 1
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
sleep 0.5
kill "$TCPDUMP"
wait "$TCPDUMP" 2>/dev/null || true
n_esp=$(tcpdump -nr "$WORK/wan.pcap" esp 2>/dev/null | wc -l)
n_other=$(tcpdump -nr "$WORK/wan.pcap" 'not esp and not arp' 2>/dev/null | wc -l)
check "ESP on the WAN ($n_esp packets)" test "$n_esp" -ge 16
check "nothing but ESP and ARP on the WAN ($n_other others)" test "$n_other" -eq 0
clear_payload_on_wan() {
    tcpdump -xnr "$WORK/wan.pcap" 2>/dev/null | sed 's/^.*0x[0-9a-f]*: *//' \
        | tr -d ' \n' | grep -q $PATTERN
}
check "no clear-text payload on the WAN" not clear_payload_on_wan

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
