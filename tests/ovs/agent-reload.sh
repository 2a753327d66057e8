#!/bin/bash
# System test of policy changes applied to a running agent (issue #5):
# three sites, a hub and two links, changed while probes flow.
#
#        hb 10.2.0.2 (+10.22.0.2) ── lan0 [site-b] wan ──┐
#                                                         │  "wan" namespace:
#   ha 10.1.0.2 ── lan0 [site-a] wan ─────────────────── sw  Linux bridge,
#                   esp-a-b, esp-a-c                      │  captured
#        hc 10.3.0.2 ───────────── lan0 [site-c] wan ────┘
#   (WAN addresses 192.0.2.1, .2, .3 on each site's br-wan)
#
# Each site is its own ovsdb-server + patched ovs-vswitchd (userspace
# datapath); `esp-agent run` applies docs/examples/three-sites.yaml
# (socket paths moved).  UDP probes (100/s each way) flow on the link that
# is never touched, a-c, for the whole test.
#
# Checks, each of which fails the test:
#   1. add a subnet to link a-b (SIGHUP after rewriting the policy file):
#      hb's new address reaches ha through a-b;
#   2. change the suite of a-b (`esp-agent/reload`): its SAs are
#      chacha20-poly1305 now, ha -> hb works;
#   3. remove link a-b (`esp-agent/reload FILE`): its port, SAs and flows
#      are gone from site-a and site-b;
#   after each of 1-3: site-c's flows and SAs, and link a-c's flows and
#      SAs at site-a, are exactly as before (same SPIs, no flow touched);
#   4. every invalid policy of controller/tests/invalid (31 mistakes), a
#      valid policy with an unreachable site, and a policy file writable by
#      others, reloaded into the running agent: each refused with its
#      expected message, and the flows and SAs of all three sites are
#      exactly as before;
#   5. no probe on a-c lost or duplicated, both ways, across 1-4;
#   6. the WAN carried only ESP and ARP, no probe payload in clear.
#
# Usage: tests/ovs/agent-reload.sh [OVS_BUILD_DIR [ESP_AGENT]]
# Environment: KEEP=1 keeps the work directory.  About 40 s.
# Needs root, ip, ethtool, tcpdump, ping.  Removes every namespace, veth and
# process it made, also on failure; ends only the processes it started.
set -eu

# shellcheck source=tests/ovs/sites.sh
. "$(dirname "$0")/sites.sh"
# shellcheck source=tests/ovs/agent-lib.sh
. "$(dirname "$0")/agent-lib.sh"
need_root_and_tools agent-reload

agent_init agent-reload esprl-$$- "${1:-}" "${2:-}"
EXAMPLE=$TOP/docs/examples/three-sites.yaml
INVALID=$TOP/controller/tests/invalid
RATE=100
SITES="site-a site-b site-c"
AC_COOKIE=0xe5a000002989ddd0        # Link a-c's flows (FNV-1a of "a-c").

trap 'cleanup_sites agent-reload ha hb hc site-a site-b site-c wan' EXIT
T0=$(date +%s)

# --- topology ---------------------------------------------------------------
agent_three_sites
in_ns hb ip addr add 10.22.0.2/24 dev hb0

start_wan_capture wan sw

# --- policies -----------------------------------------------------------------
sed -e "s|/run/esp-demo/|$WORK/|" "$EXAMPLE" >"$WORK/p0.yaml"
# 1: site-b's side of a-b gets a second subnet.
sed -e 's|subnets: \[10.2.0.0/24\]|subnets: [10.2.0.0/24, 10.22.0.0/24]|' \
    "$WORK/p0.yaml" >"$WORK/p1.yaml"
# 2: and a-b changes suite.
sed -e 's|^  - name: a-b$|&\n    suite: chacha20-poly1305|' \
    "$WORK/p1.yaml" >"$WORK/p2.yaml"
# 3: a-b removed (site-b stays, with no link).
$PY - "$WORK/p2.yaml" "$WORK/p3.yaml" <<'EOF'
import sys
text = open(sys.argv[1]).read()
start = text.index("  - name: a-b\n")
end = text.index("  - name: a-c\n")
open(sys.argv[2], "w").write(text[:start] + text[end:])
EOF
chmod 600 "$WORK"/p*.yaml
cp "$WORK/p0.yaml" "$WORK/policy.yaml"
for p in p1 p2 p3; do
    check "$p.yaml is valid" "$AGENT" --check "$WORK/$p.yaml" >/dev/null
done

# snap NAME: flows and SAs of every site.
snap() {
    local s
    for s in $SITES; do
        flows "$s" br0 >"$WORK/$1.$s.flows"
        spis "$s" >"$WORK/$1.$s.sas"
    done
}
same() { cmp -s "$WORK/$1" "$WORK/$2"; }
# untouched BEFORE AFTER: site-c, and a-c at site-a, exactly as before.
untouched() {
    check "$2: site-c's flows unchanged" same "$1.site-c.flows" "$2.site-c.flows"
    check "$2: site-c's SAs unchanged (same SPIs)" \
        same "$1.site-c.sas" "$2.site-c.sas"
    grep "$AC_COOKIE" "$WORK/$1.site-a.flows" >"$WORK/$1.ac.flows"
    grep "$AC_COOKIE" "$WORK/$2.site-a.flows" >"$WORK/$2.ac.flows"
    check "$2: link a-c's flows at site-a unchanged ($(wc -l <"$WORK/$2.ac.flows"))" \
        same "$1.ac.flows" "$2.ac.flows"
    grep esp-a-c "$WORK/$1.site-a.sas" >"$WORK/$1.ac.sas" || true
    grep esp-a-c "$WORK/$2.site-a.sas" >"$WORK/$2.ac.sas" || true
    check "$2: link a-c's SAs at site-a unchanged ($(wc -l <"$WORK/$2.ac.sas"))" \
        same "$1.ac.sas" "$2.ac.sas"
}
ping_from() {   # ping_from HOST SRC DST: answered within 10 tries.
    for _ in $(seq 10); do
        in_ns "$1" ping -c 1 -W 1 -I "$2" "$3" >/dev/null 2>&1 && return 0
    done
    return 1
}
# reloaded N: waits for the Nth "reloaded" line of the agent.
reloaded() {
    for _ in $(seq 100); do
        [ "$(grep -c 'esp-agent: reloaded ' "$WORK/agent.err")" -ge "$1" ] \
            && return 0
        sleep 0.1
    done
    return 1
}

start_agent agent "$WORK/policy.yaml" --interval=1000 --rekey-grace=0.5
check "esp-agent run applied the policy" grep -q 'changes: SAs +8' \
    "$WORK/agent.out"
check "warm-up ping ha -> hb" ping_answered ha 10.2.0.2
check "warm-up ping ha -> hc" ping_answered ha 10.3.0.2
check "warm-up ping hc -> ha" ping_answered hc 10.1.0.2

N=$((RATE * 14))
probes_start ac ha hc $N $RATE
probes_start ca hc ha $N $RATE
snap s0

# --- 1. add a subnet, SIGHUP ---------------------------------------------------
check "hb's second address does not reach ha before" \
    not in_ns hb ping -q -c 1 -W 1 -I 10.22.0.2 10.1.0.2
cp "$WORK/p1.yaml" "$WORK/policy.yaml"
kill -HUP "$AGENT_PID"
check "SIGHUP: the agent reloaded" reloaded 1
check "added subnet: hb 10.22.0.2 reaches ha" ping_from hb 10.22.0.2 10.1.0.2
sleep 1.5            # a-b's old pair retires (grace 0.5 s, interval 1 s).
snap s1
untouched s0 s1
check "1: site-b has flows for 10.22.0.0/24" grep -q 10.22.0.0 "$WORK/s1.site-b.flows"

# --- 2. change a suite, esp-agent/reload ----------------------------------------
cp "$WORK/p2.yaml" "$WORK/policy.yaml"
check "esp-agent/reload" agentctl esp-agent/reload >"$WORK/reload2.out"
check "changed suite: a-b's new SAs are chacha20-poly1305" $PY -c '
import json, subprocess, sys
sas = json.load(sys.stdin)["sas"]
ab = [s for s in sas if s["port"] == "esp-a-b"]
out = [s for s in ab if s["dir"] == "out" and s["active"]]
new = [s for s in ab if s["dir"] == "in"
       and s["suite"].startswith("chacha20-poly1305")]
assert len(out) == 1 and out[0]["suite"].startswith("chacha20"), ab
assert new, ab
' < <(appctl site-b ipsec/sa-show --json)
check "ha -> hb after the suite change" ping_answered ha 10.2.0.2
sleep 1.5
snap s2
untouched s1 s2

# --- 3. remove a link, esp-agent/reload FILE ----------------------------------
check "esp-agent/reload p3.yaml" \
    agentctl esp-agent/reload "$WORK/p3.yaml" >"$WORK/reload3.out"
sleep 0.2
snap s3
untouched s2 s3
for s in site-a site-b; do
    check "3: $s has no port esp-a-b" not vsctl $s port-to-br esp-a-b
    check "3: $s has no SA on esp-a-b" not grep -q esp-a-b "$WORK/s3.$s.sas"
    check "3: $s has no flow of a-b" not grep -q esp-a-b "$WORK/s3.$s.flows"
done
check "3: site-a still has a-c" grep -q esp-a-c "$WORK/s3.site-a.sas"
agentctl esp-agent/status >"$WORK/status3.txt"
check "status names the new policy file" grep -q "p3.yaml" "$WORK/status3.txt"
probes_wait
for d in ac ca; do
    check "probes $d (untouched link) during 1-3: none lost ($(cat "$WORK/$d"))" \
        grep -q "^received=$N lost=0 duplicated=0 " "$WORK/$d"
done

# --- 4. invalid policies change nothing ----------------------------------------
N=$((RATE * 10))
probes_start ac4 ha hc $N $RATE
probes_start ca4 hc ha $N $RATE
mkdir -p "$WORK/invalid"
n_invalid=0
for f in "$INVALID"/*.yaml; do
    name=$(basename "$f")
    cp "$f" "$WORK/invalid/$name"
    chmod 600 "$WORK/invalid/$name"
    out=$(agentctl esp-agent/reload "$WORK/invalid/$name" 2>&1) && rc=0 || rc=$?
    check "$name: refused" test "$rc" != 0
    missing=0
    while IFS= read -r e; do
        case $out in
            *"$WORK/invalid/$name:$e"*) ;;
            *) missing=1; echo "agent-reload: $name: expected '$e' in: $out" ;;
        esac
    done < <(sed -n 's/^# expect: //p' "$f")
    check "$name: expected message" test $missing = 0
    check "$name: 'nothing changed'" grep -q 'nothing changed' <<<"$out"
    n_invalid=$((n_invalid + 1))
done
check "at least 15 invalid policies tried ($n_invalid)" test $n_invalid -ge 15
# A valid policy with a site that cannot be reached.
sed -e "s|$WORK/site-c/ovs-vswitchd.ctl|$WORK/nowhere/ovs-vswitchd.ctl|" \
    "$WORK/p3.yaml" >"$WORK/unreachable.yaml"
chmod 600 "$WORK/unreachable.yaml"
out=$(agentctl esp-agent/reload "$WORK/unreachable.yaml" 2>&1) && rc=0 || rc=$?
check "unreachable site: refused, nothing changed" \
    grep -q 'site-c: cannot connect.*nothing changed' <<<"$(tr '\n' ' ' <<<"$out")"
# A policy file writable by others.
cp "$WORK/p3.yaml" "$WORK/unsafe.yaml"
chmod 666 "$WORK/unsafe.yaml"
out=$(agentctl esp-agent/reload "$WORK/unsafe.yaml" 2>&1) && rc=0 || rc=$?
check "policy writable by others: refused" \
    grep -q 'unsafe permissions 0666' <<<"$out"
snap s4
for s in $SITES; do
    check "4: $s's flows unchanged by the invalid reloads" \
        same "s3.$s.flows" "s4.$s.flows"
    check "4: $s's SAs unchanged by the invalid reloads" \
        same "s3.$s.sas" "s4.$s.sas"
done
probes_wait
for d in ac4 ca4; do
    check "probes $d during the invalid reloads: none lost ($(cat "$WORK/$d"))" \
        grep -q "^received=$N lost=0 duplicated=0 " "$WORK/$d"
done
agentctl esp-agent/status >"$WORK/status4.txt"
check "status still names p3.yaml" grep -q "p3.yaml" "$WORK/status4.txt"
status=0
stop_agent || status=$?
check "the agent exits 0 on SIGTERM (got $status)" test $status = 0

# --- 6. the WAN -----------------------------------------------------------------
stop_wan_capture
n_esp=$(tcpdump -nr "$WORK/wan.pcap" esp 2>/dev/null | wc -l)
n_other=$(tcpdump -nr "$WORK/wan.pcap" 'not esp and not arp' 2>/dev/null | wc -l)
check "ESP on the WAN ($n_esp packets)" test "$n_esp" -ge 2000
check "nothing but ESP and ARP on the WAN ($n_other others)" test "$n_other" = 0
check "no probe payload in clear on the WAN" \
    not grep -aq ESPDEMO-PROBE "$WORK/wan.pcap"
check "no key in the agent's output or any log" \
    not grep -rqiE --include='*.log' --include='*.out' --include='*.err' \
        'key=0x|key=[0-9a-f]{16}|[0-9a-f]{64}' "$WORK"

echo "agent-reload: $PASS passed, $FAIL failed ($(( $(date +%s) - T0 )) s)"
[ "$FAIL" -eq 0 ]
