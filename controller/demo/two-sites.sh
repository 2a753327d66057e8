#!/bin/bash
# The main job (`make demo`): two sites joined by ESP, configured by the
# policy agent from docs/examples/two-sites.yaml.
#
#  ns ha       ns site-a                ns site-b                ns hb
#  +--------+  +----------------------+  +----------------------+  +--------+
#  |ha0     +--+ br0: lan0, esp-a-b   |  |   br0: lan0, esp-a-b +--+     hb0|
#  |10.1.0.2|  | br-wan: wan .1       |  |       br-wan: wan .2 |  |10.2.0.2|
#  +--------+  +---------+------------+  +------------+---------+  +--------+
#                        +------- veth "WAN" ---------+
#                           192.0.2.1 <-> 192.0.2.2
#
# Each site is its own ovsdb-server and patched ovs-vswitchd (userspace
# datapath, datapath_type=netdev) in its own network namespace, starting
# with bridges only; `esp-agent run` installs the SAs, the ESP tunnel port
# and the flows.  The hosts then exchange sequence-numbered UDP probes both
# ways and pings, while tcpdump records the WAN and the agent, restarted with
# --rekey-every, replaces the link's SA pair make-before-break a few times.
#
# Steps: 1 build what is missing, 2 create the sites, 3 start the agent and
# show the policy status, 4 send traffic, 5 show the WAN capture summary and
# the per-SA counters, 6 clean up.  Exits 0 only if every probe arrived
# exactly once, the link was rekeyed under that traffic (ending with the
# SPIs of the last rekey active), the pings answered, the WAN carried nothing
# but ESP (and ARP) and no probe or ping payload in clear, and the SA
# counters of both ends agree with no drop (ipsec/stats totals, which count
# the deleted SAs too, and the per-SA counters of those still installed).
#
# Usage: controller/demo/two-sites.sh      (as root, after `make deps`)
# Environment: PROBES (default 500), RATE (probes/s each way, default 100),
#              REKEY_EVERY (seconds between rekeys under traffic, default
#              1; PROBES / RATE must last longer, at least one rekey is
#              required), REKEY_GRACE (--rekey-grace, default 0.5),
#              KEEP=1 keeps the work directory (logs, captures).
# Removes every namespace, veth and process it made, also on failure or
# Ctrl-C; ends only the processes it started.
set -eEu -o pipefail

cd "$(dirname "$0")/../.."
TOP=$PWD
DEMO=$TOP/controller/demo
PY=/usr/bin/python3
PROBES=${PROBES:-500}
RATE=${RATE:-100}
REKEY_EVERY=${REKEY_EVERY:-1}
REKEY_GRACE=${REKEY_GRACE:-0.5}
PORT=5555
MARKER=ESPDEMO                       # In every probe and ping payload.
PING_PATTERN=45535044454d4f2d50494e4721212121   # "ESPDEMO-PING!!!!"
ROUTER_MAC=02:e5:a0:00:00:01         # The policy's default router-mac.
EXAMPLE=docs/examples/two-sites.yaml
OVS=$TOP/build/ovs/src
AGENT=$TOP/build/controller/esp-agent
# shellcheck disable=SC2034  # Used by sites.sh.
NS_PREFIX=demo-$$-
WORK=
PIDS=()
AGENT_PID=
T0=$(date +%s)

# --- output ---------------------------------------------------------------
if [ -t 1 ]; then
    TTY=1
    B=$'\e[1m' G=$'\e[32m' R=$'\e[31m' D=$'\e[2m' N=$'\e[0m'
else
    TTY=
    B='' G='' R='' D='' N=''
fi
step() { printf '\n%s[%s/6] %s%s\n' "$B" "$1" "$2" "$N"; }
info() { printf '  %s\n' "$*"; }
ok() { printf '  %s✓%s %s\n' "$G" "$N" "$*"; }
bad() { printf '  %s✗ %s%s\n' "$R" "$*" "$N"; }
die() {
    bad "$*"
    exit 1
}
elapsed() {   # elapsed SECONDS -> "2m05s" or "7s"
    if [ "$1" -ge 60 ]; then
        printf '%dm%02ds' $(($1 / 60)) $(($1 % 60))
    else
        printf '%ds' "$1"
    fi
}

# spin PID LABEL [STATUS_FUNCTION]: wait for PID, showing a spinner, the
# elapsed time and what STATUS_FUNCTION prints (on a terminal only).
# Returns PID's exit status.
spin() {
    local pid=$1 label=$2 status_fn=${3:-} t0 frames='|/-\' i=0 status=
    PIDS+=("$pid")
    t0=$(date +%s)
    if [ -n "$TTY" ]; then
        while kill -0 "$pid" 2>/dev/null; do
            [ -n "$status_fn" ] && status=$($status_fn 2>/dev/null || true)
            printf '\r  %s %s %s(%s)%s %s\e[K' "${frames:i++%4:1}" "$label" \
                "$D" "$(elapsed $(($(date +%s) - t0)))" "$N" "${status:0:50}"
            sleep 0.2
        done
        printf '\r\e[K'
    fi
    wait "$pid"
}

# running PID...: returns once none of the PIDs runs (they need not be
# children of the caller, so spin can wait for several at once).
running() {
    local pid
    while :; do
        for pid in "$@"; do
            if kill -0 "$pid" 2>/dev/null; then
                sleep 0.1
                continue 2
            fi
        done
        return 0
    done
}

# --- clean-up -------------------------------------------------------------
# The sites and hosts: ns, in_ns, start_site, vsctl, appctl, end_pids...
# shellcheck source=tests/ovs/sites.sh
. "$TOP/tests/ovs/sites.sh"

CLEANED=
cleanup() {
    local status=${1:-$?}
    [ -n "$CLEANED" ] && return
    CLEANED=1
    set +eE
    trap - ERR
    [ -n "$TTY" ] && printf '\r\e[K'
    # The agent first, with SIGTERM: it leaves the sites as they are.
    if [ -n "$AGENT_PID" ]; then
        kill -TERM "$AGENT_PID" 2>/dev/null
    fi
    end_pids
    netns_del ha site-a site-b hb
    if [ -n "$WORK" ]; then
        ok "agent stopped, daemons and tcpdump ended," \
           "namespaces and veths removed"
        if [ "$status" -eq 0 ] && [ -z "${KEEP:-}" ]; then
            rm -rf "$WORK"
        else
            info "logs and captures kept in $WORK"
        fi
    fi
}
trap cleanup EXIT
trap 'bad "interrupted"; exit 130' INT TERM
trap 'bad "failed at line $LINENO: $BASH_COMMAND"' ERR

# --- preflight ------------------------------------------------------------
printf '%sESP between two Open vSwitch sites, configured by esp-agent%s\n' \
    "$B" "$N"
printf '%s  host-a 10.1.0.2 -- site-a ==ESP over the WAN== site-b --' "$D"
printf ' host-b 10.2.0.2%s\n' "$N"
if [ "$(id -u)" != 0 ]; then
    die "needs root (network namespaces): sudo make demo"
fi
for tool in ip ethtool tcpdump ping; do
    command -v $tool >/dev/null \
        || die "$tool not found: run 'make deps'" \
               "(iproute2, ethtool, tcpdump, iputils-ping)"
done
[ -x $PY ] || die "$PY not found: run 'make deps'"
WORK=$(mktemp -d /tmp/esp-demo.XXXXXX)

# --- 1. build -------------------------------------------------------------
step 1 "Build the ESP engine, the patched Open vSwitch and esp-agent"
BUILD_LOG=$WORK/build.log
n_compiled() {   # Compiler runs so far (not libtool's echo of each).
    grep -v '^libtool: ' "$BUILD_LOG" | grep -c -- ' -c ' || true
}
build_status() {
    local last
    last=$(tail -n 20 "$BUILD_LOG" \
        | grep -E 'patch:|boot\.sh|configure|-c |-o ' | tail -n 1)
    case $last in
        *patch:*) echo "patching Open vSwitch" ;;
        *boot.sh*) echo "bootstrapping Open vSwitch (autoreconf)" ;;
        *./configure*) echo "configuring Open vSwitch" ;;
        *-c\ *) echo "$(n_compiled) compiled, now" \
            "$(echo "$last" | grep -oE '[^ =]+\.c( |$)' | tail -n 1)" ;;
        *-o\ *) echo "linking" ;;
    esac
}
make -j2 --no-print-directory ovs controller >"$BUILD_LOG" 2>&1 &
if ! spin $! "make ovs controller" build_status; then
    tail -n 15 "$BUILD_LOG" | sed 's/^/    /'
    die "build failed; full log: $BUILD_LOG (kept)"
fi
n_compiled=$(n_compiled)
if [ "$n_compiled" -eq 0 ]; then
    ok "already built ($(elapsed $(($(date +%s) - T0))))"
else
    ok "built: $n_compiled files compiled ($(elapsed $(($(date +%s) - T0))))"
fi
[ -x "$OVS/vswitchd/ovs-vswitchd" ] && [ -x "$AGENT" ] \
    || die "build finished but ovs-vswitchd or esp-agent is missing"
PATH=$OVS/utilities:$OVS/vswitchd:$OVS/ovsdb:$PATH

# --- 2. sites -------------------------------------------------------------
step 2 "Create the two sites and their hosts in network namespaces"
netns_add ha site-a site-b hb
# IPv4 only: no router solicitations, ND or MLD on the WAN.
netns_no_ipv6 ha site-a site-b hb
two_site_veths site-a site-b lan0
ok "namespaces $(ns ha), $(ns site-a), $(ns site-b), $(ns hb);" \
   "veths WAN, LAN a, LAN b"

# Hosts: each routes the other site's subnet via its site, whose router
# MAC is its gateway's (static: the site answers no ARP for it yet).
route_hosts $ROUTER_MAC

# Sites: bridges and their system ports only; nothing of the agent's yet.
lan_wan_sites site-a site-b
ok "site-a, site-b: ovsdb-server + ovs-vswitchd (datapath_type=netdev)," \
   "br0 (LAN) and br-wan (WAN 192.0.2.1, .2)"
info "${D}no SA, no ESP port, no flow yet: esp-agent adds them$N"

# --- 3. agent and policy --------------------------------------------------
step 3 "Start esp-agent with $EXAMPLE"
# The runtime copy: the example's socket paths (/run/esp-demo/SITE/...)
# moved into this run's directory, and its 'wan-port' left out because here
# the WAN is on a bridge of its own (br-wan), as in tests/ovs/.
POLICY=$WORK/policy.yaml
sed -e "s|/run/esp-demo/|$WORK/|" -e '/wan-port:/d' "$EXAMPLE" >"$POLICY"
chmod 600 "$POLICY"
info "${D}runtime copy $POLICY: socket paths under $WORK/," \
     "no 'wan-port' (WAN on its own bridge)$N"
"$AGENT" --check "$POLICY" >"$WORK/check.out" 2>"$WORK/check.err" \
    || { cat "$WORK/check.err"; die "esp-agent --check refused the policy"; }
sed -n -e 's/^# [^:]*: policy OK/policy OK/p' -e 's/^# \(link .*\)/\1/p' \
    "$WORK/check.out" | while read -r line; do
    ok "esp-agent --check: $line"
done

"$AGENT" run --interval=500 --unixctl="$WORK/esp-agent.ctl" "$POLICY" \
    >"$WORK/agent.out" 2>"$WORK/agent.err" &
AGENT_PID=$!
PIDS+=("$AGENT_PID")

n_sas() {
    appctl "$1" ipsec/sa-show --json 2>/dev/null | grep -o '"spi":' | wc -l
}
agent_ready() {
    grep -q 'changes:' "$WORK/agent.out" 2>/dev/null \
        && [ "$(n_sas site-a)" = 2 ] && [ "$(n_sas site-b)" = 2 ]
}
( for _ in $(seq 100); do agent_ready && exit 0; \
      kill -0 "$AGENT_PID" 2>/dev/null || exit 1; sleep 0.2; done; exit 1 ) &
if ! spin $! "esp-agent run: connecting to both sites and applying"; then
    sed 's/^/    /' "$WORK/agent.err" | tail -n 10
    die "esp-agent did not configure both sites"
fi
ok "esp-agent run (pid $AGENT_PID):" \
   "$(sed -n '/^esp-agent: /{s///p;q}' "$WORK/agent.out")"
for s in site-a site-b; do
    appctl $s ipsec/sa-show --json >"$WORK/sa-$s.json"
done
info "SAs installed (ovs-appctl ipsec/sa-show per site;" \
     "keys are never shown):"
$PY "$DEMO/satable.py" installed site-a="$WORK/sa-site-a.json" \
    site-b="$WORK/sa-site-b.json"

# --- 4. traffic -----------------------------------------------------------
step 4 "Send traffic between the hosts, capturing the WAN"
capture() {   # capture NS IFACE FILE
    # Not through in_ns: $! must be tcpdump's own PID, not a subshell's.
    ip netns exec "$(ns "$1")" tcpdump -i "$2" --immediate-mode -U -s 0 \
        -w "$3" 2>"$3.log" &
    PIDS+=("$!")
    CAPTURES+=("$!")
    for _ in $(seq 50); do
        grep -q listening "$3.log" 2>/dev/null && return 0
        sleep 0.1
    done
    die "tcpdump on $2 did not start (see $3.log)"
}
CAPTURES=()
capture site-a wan "$WORK/wan.pcap"
# The LAN side too, where the payload is in clear: shows that the marker
# search below finds it when it is there.
capture site-a lan0 "$WORK/lan.pcap"
ok "tcpdump on the WAN veth (site-a side) and on site-a's LAN port"

# The first packet makes site-a resolve site-b's WAN address (ARP).
ping_answered ha 10.2.0.2 \
    || die "no ping through the tunnel (see $WORK/*/ovs-vswitchd.log)"

# For the traffic, the agent again, now rekeying the link every REKEY_EVERY
# seconds: it adopts the installed pair (SIGTERM left the sites as they
# were), then replaces it make-before-break.
kill -TERM "$AGENT_PID"
wait "$AGENT_PID" || die "esp-agent run did not stop cleanly"
AGENT_PID=
"$AGENT" run --interval=200 --rekey-every="$REKEY_EVERY" \
    --rekey-grace="$REKEY_GRACE" --unixctl="$WORK/esp-agent.ctl" "$POLICY" \
    >"$WORK/agent-rekey.out" 2>"$WORK/agent-rekey.err" &
AGENT_PID=$!
PIDS+=("$AGENT_PID")
for _ in $(seq 50); do
    grep -q 'changes' "$WORK/agent-rekey.out" 2>/dev/null && break
    kill -0 "$AGENT_PID" 2>/dev/null || break
    sleep 0.1
done
grep -q 'no changes (4 SAs adopted)' "$WORK/agent-rekey.out" \
    || die "the restarted esp-agent did not adopt the 4 SAs" \
           "(see $WORK/agent-rekey.*)"
ok "esp-agent restarted with --rekey-every=$REKEY_EVERY" \
   "--rekey-grace=$REKEY_GRACE: adopted the 4 SAs"
n_rekeys() { grep -c ': rekey: ' "$WORK/agent-rekey.err" || true; }

# Probes both ways at once, and pings meanwhile (all straight through
# `ip netns exec`, so that $! is the program's PID).
at_host() { local h=$1; shift; ip netns exec "$(ns "$h")" "$@"; }
for h in ha hb; do
    rm -f "$WORK/recv-$h" "$WORK/recv-$h.ready"
done
at_host hb $PY "$DEMO/probe.py" recv 10.2.0.2 $PORT "$PROBES" \
    "$WORK/recv-hb" 2>"$WORK/recv-hb.err" &
RECV_B=$!
PIDS+=("$RECV_B")
at_host ha $PY "$DEMO/probe.py" recv 10.1.0.2 $PORT "$PROBES" \
    "$WORK/recv-ha" 2>"$WORK/recv-ha.err" &
RECV_A=$!
PIDS+=("$RECV_A")
for _ in $(seq 50); do
    [ -e "$WORK/recv-ha.ready" ] && [ -e "$WORK/recv-hb.ready" ] && break
    sleep 0.1
done
rekeys_before=$(n_rekeys)
at_host ha $PY "$DEMO/probe.py" send 10.2.0.2 $PORT "$PROBES" "$RATE" &
SEND_A=$!
at_host hb $PY "$DEMO/probe.py" send 10.1.0.2 $PORT "$PROBES" "$RATE" &
SEND_B=$!
PIDS+=("$SEND_A" "$SEND_B")
PING_N=10
ping_ok=1
at_host ha ping -c $PING_N -i 0.2 -W 2 -p $PING_PATTERN 10.2.0.2 \
    >"$WORK/ping-ab.out" 2>&1 &
PING_A=$!
at_host hb ping -c $PING_N -i 0.2 -W 2 -p $PING_PATTERN 10.1.0.2 \
    >"$WORK/ping-ba.out" 2>&1 &
PING_B=$!
PIDS+=("$PING_A" "$PING_B")
probe_status() {
    echo "$(tcpdump -nr "$WORK/wan.pcap" esp 2>/dev/null \
        | wc -l) ESP packets on the WAN, $(($(n_rekeys) - rekeys_before))" \
        "rekeys so far"
}
running $SEND_A $SEND_B &
spin $! "$PROBES UDP probes each way at $RATE/s, $PING_N pings each way" \
    probe_status || true
wait $SEND_A || die "probe sender host-a failed"
wait $SEND_B || die "probe sender host-b failed"
# The agent's own view, through its unixctl socket.
if "$OVS/utilities/ovs-appctl" -t "$WORK/esp-agent.ctl" esp-agent/status \
        >"$WORK/agent-status.txt" 2>&1; then
    info "esp-agent's status (ovs-appctl -t SOCKET esp-agent/status):"
    grep -E '^(reconciles|site |link |  )' "$WORK/agent-status.txt" \
        | sed 's/^/    /'
fi
# The traffic is over: no more rekeys (the sites keep their SAs).
kill -TERM "$AGENT_PID"
wait "$AGENT_PID" || die "esp-agent run did not stop cleanly"
AGENT_PID=
rekey_lines=$(grep ': rekey: ' "$WORK/agent-rekey.err" \
    | tail -n +$((rekeys_before + 1)) || true)
rekeys=$(printf '%s' "$rekey_lines" | grep -c . || true)
wait $PING_A || ping_ok=0
wait $PING_B || ping_ok=0
running $RECV_A $RECV_B &
spin $! "waiting for the last probes" || true
wait $RECV_A || true
wait $RECV_B || true

result() {   # result FILE KEY
    sed -n "s/.*\\b$2=\\([0-9]*\\).*/\\1/p" "$1" 2>/dev/null || echo "?"
}
probes_ok=1
for dir in "a b" "b a"; do
    read -r from to <<<"$dir"
    r=$WORK/recv-h$to
    if [ ! -s "$r" ]; then
        bad "host-$to: its probe receiver wrote no result"
        probes_ok=0
        continue
    fi
    line="host-$from -> host-$to: $(result "$r" received)/$PROBES received,"
    line+=" lost $(result "$r" lost), duplicated $(result "$r" duplicated),"
    line+=" out of order $(result "$r" out_of_order)"
    if [ "$(result "$r" lost)" = 0 ] && [ "$(result "$r" duplicated)" = 0 ] \
            && [ "$(result "$r" malformed)" = 0 ]; then
        ok "$line"
    else
        bad "$line"
        probes_ok=0
    fi
done
recv_total=0
lost_total=0
for h in ha hb; do
    n=$(result "$WORK/recv-$h" received)
    [ -n "$n" ] && [ "$n" != "?" ] && recv_total=$((recv_total + n))
    n=$(result "$WORK/recv-$h" lost)
    [ -n "$n" ] && [ "$n" != "?" ] && lost_total=$((lost_total + n))
done
# The SPIs before the first rekey and after the last one, per direction
# (from the agent's lines "link a-b: rekey: site-a->site-b 0xOLD -> 0xNEW,
# site-b->site-a 0xOLD -> 0xNEW"; keys are never logged).
spis() {   # spis REKEY_LINE FIELD (2: old, 4: new): "a->b b->a"
    echo "$1" | sed 's/.*: rekey: //' | tr ',' '\n' \
        | awk -v f="$2" '{ printf "%s ", $f }'
}
rekey_ok=0
if [ "$rekeys" -ge 1 ]; then
    read -r before_ab before_ba <<<"$(spis "$(echo "$rekey_lines" \
        | head -n 1)" 2)"
    read -r after_ab after_ba <<<"$(spis "$(echo "$rekey_lines" \
        | tail -n 1)" 4)"
    [ "$lost_total" = 0 ] && [ $probes_ok = 1 ] && rekey_ok=1
fi
line="$rekeys rekeys of link a-b under the probes, $lost_total probes lost"
if [ $rekey_ok = 1 ]; then
    ok "$line"
    info "  site-a->site-b SPI ${before_ab} -> ${after_ab}," \
         "site-b->site-a SPI ${before_ba} -> ${after_ba}" \
         "${D}(before -> after)$N"
else
    bad "$line (at least 1 rekey and 0 lost expected)"
fi
ping_line() { grep -o '[0-9]* received' "$1" || echo "0 received"; }
line="ping host-a -> host-b: $(ping_line "$WORK/ping-ab.out")/$PING_N,"
line+=" host-b -> host-a: $(ping_line "$WORK/ping-ba.out")/$PING_N"
if [ $ping_ok = 1 ]; then
    ok "$line"
else
    bad "$line"
fi

# --- 5. what crossed the WAN ---------------------------------------------
step 5 "What crossed the WAN"
sleep 0.3
for pid in "${CAPTURES[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
done
# The SA counters, once traffic has stopped: per installed SA, and the
# totals of each site, deleted (rotated) SAs included.
for s in site-a site-b; do
    appctl $s ipsec/sa-show --json >"$WORK/sa-$s.json"
    appctl $s ipsec/stats --json >"$WORK/stats-$s.json"
done
n_sent=$($PY "$DEMO/satable.py" sent site-a="$WORK/stats-site-a.json" \
    site-b="$WORK/stats-site-b.json")
# The last rekey's new outbound SAs are the active ones.
if [ $rekey_ok = 1 ]; then
    for spi in "$after_ab:site-a" "$after_ba:site-b"; do
        $PY "$DEMO/satable.py" active-out "${spi%%:*}" \
            "${spi#*:}=$WORK/sa-${spi#*:}.json" || {
            bad "${spi%%:*} is not the active outbound SA at ${spi#*:}"
            rekey_ok=0
        }
    done
fi
count() { tcpdump -nr "$1" "$2" 2>/dev/null | wc -l; }
n_all=$(count "$WORK/wan.pcap" '')
n_esp=$(count "$WORK/wan.pcap" esp)
n_arp=$(count "$WORK/wan.pcap" arp)
n_other=$(count "$WORK/wan.pcap" 'not esp and not arp')
n_spis=$(tcpdump -nr "$WORK/wan.pcap" esp 2>/dev/null \
    | grep -o 'spi=0x[0-9a-f]*' | sort -u | wc -l)
# Every occurrence of the marker, wherever it is in a packet.
markers() { grep -a -o "$MARKER" "$1" | wc -l || true; }
m_wan=$(markers "$WORK/wan.pcap")
m_lan=$(markers "$WORK/lan.pcap")
# Every packet the SAs encrypted was captured (the capture started before
# the first one), and at least the probes and pings.
min_esp=$((2 * PROBES + 4 * PING_N))
wan_ok=1
if [ "$n_esp" -eq "$n_sent" ] && [ "$n_esp" -ge "$min_esp" ] \
        && [ "$n_other" -eq 0 ]; then
    ok "WAN capture: $n_all packets = $n_esp ESP + $n_arp ARP" \
       "+ $n_other other"
    info "  ${D}$n_sent packets encrypted by the sites (ipsec/stats)," \
         "all of them captured as ESP, under $n_spis SPIs$N"
    tcpdump -nr "$WORK/wan.pcap" esp 2>/dev/null | sed -n -e '1,2!d' \
        -e 's/^[0-9:.]* //' -e "s/^/    $D/" -e "s/\$/$N/p"
else
    bad "WAN capture: $n_all packets = $n_esp ESP ($n_sent encrypted by" \
        "the SAs, at least $min_esp expected) + $n_arp ARP" \
        "+ $n_other other (0 expected)"
    wan_ok=0
fi
if [ "$m_wan" -eq 0 ] && [ "$m_lan" -gt 0 ]; then
    ok "payload marker \"$MARKER\": $m_wan times on the WAN," \
       "$m_lan times on site-a's LAN (clear text there)"
else
    bad "payload marker \"$MARKER\": $m_wan times on the WAN (0 expected)," \
        "$m_lan on the LAN (more expected)"
    wan_ok=0
fi
info "Per-site totals (ipsec/stats, rotated SAs included):"
sa_ok=1
$PY "$DEMO/satable.py" totals site-a="$WORK/stats-site-a.json" \
    site-b="$WORK/stats-site-b.json" || sa_ok=0
info "Per-SA counters of the SAs still installed (ipsec/sa-show):"
$PY "$DEMO/satable.py" counters site-a="$WORK/sa-site-a.json" \
    site-b="$WORK/sa-site-b.json"
$PY "$DEMO/satable.py" check site-a="$WORK/sa-site-a.json" \
    site-b="$WORK/sa-site-b.json" >"$WORK/sa-check.out" || sa_ok=0
if [ $sa_ok = 1 ]; then
    ok "every packet one end encrypted, the other verified; nothing dropped"
else
    sed 's/^/    /' "$WORK/sa-check.out"
    bad "SA counters disagree"
fi
key_ok=1
if grep -rqiE 'key=0x|key=[0-9a-f]{16}' "$WORK"/agent*.* "$WORK"/check.* \
        "$WORK/site-a" "$WORK/site-b"; then
    bad "a key appears in the agent's output or an OVS log"
    key_ok=0
fi

# --- 6. clean up ----------------------------------------------------------
step 6 "Clean up"
total=$(elapsed $(($(date +%s) - T0)))
rc=0
[ $probes_ok = 1 ] && [ $ping_ok = 1 ] && [ $wan_ok = 1 ] && [ $sa_ok = 1 ] \
    && [ $key_ok = 1 ] && [ $rekey_ok = 1 ] || rc=1
trap - ERR
cleanup $rc

row() {   # row CHECK RESULT 1|0
    local verdict="${G}PASS$N"
    [ "$3" = 1 ] || verdict="${R}FAIL$N"
    printf '  %-12s %-44s %s\n' "$1" "$2" "$verdict"
}
printf '\n%sSummary%s %s(%s)%s\n' "$B" "$N" "$D" "$total" "$N"
printf '  %s%-12s %-44s %s%s\n' "$D" check result verdict "$N"
row "policy" "applied by esp-agent run: 2 sites, 4 SAs" 1
row "UDP probes" "$((2 * PROBES)) sent, $recv_total received once" $probes_ok
row "rekey" "$rekeys under traffic, $lost_total probes lost" $rekey_ok
row "ping" "$PING_N each way" $ping_ok
row "WAN capture" "$n_esp ESP, $n_other other, $m_wan in clear" $wan_ok
row "SA counters" "both ends agree, no drop" $sa_ok
row "keys" "none in any output or log" $key_ok
if [ $rc = 0 ]; then
    printf '%sdemo: traffic flowed encrypted with no loss,' "$G"
    printf ' across %s rekeys%s\n' "$rekeys" "$N"
else
    printf '%sdemo: FAILED%s\n' "$R" "$N"
fi
exit $rc
