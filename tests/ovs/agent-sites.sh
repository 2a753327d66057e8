#!/bin/bash
# System test of independent sites (issue #5): one site's ovs-vswitchd is
# down, the agent keeps managing the others.
#
#        hb 10.2.0.2 ── lan0 [site-b] wan ──┐
#                                           │  "wan" namespace:
#   ha 10.1.0.2 ── lan0 [site-a] wan ───── sw  Linux bridge,
#                   esp-a-b, esp-a-c        │  captured
#        hc 10.3.0.2 ── lan0 [site-c] wan ──┘
#   (WAN addresses 192.0.2.1, .2, .3 on each site's br-wan)
#
# Each site is its own ovsdb-server + patched ovs-vswitchd (userspace
# datapath); the policy is docs/examples/three-sites.yaml (a hub, site-a,
# with links a-b and a-c; socket paths moved) with a soft lifetime of 1 s,
# so that the agent (--interval=200, --rekey-grace=0.4) rekeys every link
# about every 1.5 s.
#
# Checks, each of which fails the test:
#   1. site-c's ovs-vswitchd stopped before anything: `esp-agent apply`
#      exits 3 and changes nothing at site-a and site-b; `esp-agent run`
#      starts anyway: it configures site-a and site-b (ha <-> hb pings),
#      installs nothing of link a-c, and its status shows site-c NOT
#      REACHABLE with the error and a-c FROZEN (text and JSON);
#   2. site-c's ovs-vswitchd started: the agent notices at once and
#      configures a-c (ha <-> hc pings), status shows site-c reachable;
#   3. site-c's ovs-vswitchd stopped again (SIGTERM) while UDP probes flow
#      between ha and hb (100/s each way) for about 11 s: none of them is
#      lost or duplicated, link a-b is rekeyed at least 3 times during the
#      outage, site-a keeps a-c's SAs exactly as they were (same SPIs, no
#      rekey), and the status shows site-c NOT REACHABLE ("went away")
#      and a-c FROZEN;
#   4. site-c's ovs-vswitchd started again: a-c is restored with a fresh
#      pair (new SPIs at site-a) and pings ha <-> hc work, within 2 s of
#      the switch being up; a-c is rekeyed again after that;
#   5. a round's duration is reported in the status (the connections are
#      kept open across rounds); the WAN carried only ESP and ARP, no
#      probe payload in clear; no key in any log.
#
# Usage: tests/ovs/agent-sites.sh [OVS_BUILD_DIR [ESP_AGENT]]
# Environment: KEEP=1 keeps the work directory.  About 40 s.
# Needs root, ip, ethtool, tcpdump, ping.  Removes every namespace, veth and
# process it made, also on failure; ends only the processes it started.
set -eu

# shellcheck source=tests/ovs/sites.sh
. "$(dirname "$0")/sites.sh"
# shellcheck source=tests/ovs/agent-lib.sh
. "$(dirname "$0")/agent-lib.sh"
need_root_and_tools agent-sites

agent_init agent-sites espst-$$- "${1:-}" "${2:-}"
EXAMPLE=$TOP/docs/examples/three-sites.yaml
RATE=100
RESTORE_MS=${RESTORE_MS:-2000}

trap 'cleanup_sites agent-sites ha hb hc site-a site-b site-c wan' EXIT
T0=$(date +%s)

# --- topology ---------------------------------------------------------------
agent_three_sites
start_wan_capture wan sw

test_policy "$EXAMPLE" "$WORK/policy.yaml" -e "$SOFT_1S"
check "the test policy has a 1 s soft lifetime" \
    grep -q '^      seconds: 1$' "$WORK/policy.yaml"

# stop_switch SITE: SIGTERM to the site's ovs-vswitchd, waits until gone.
stop_switch() {
    local pid
    pid=$(cat "$WORK/$1/ovs-vswitchd.pid")
    kill -TERM "$pid"
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
}
n_agent_flows() {   # n_agent_flows SITE
    ofctl "$1" dump-flows br0 cookie=0xe5a0000000000000/0xffffffff00000000 \
        | grep -c cookie= || true
}
# rekeys_of LINK FILE: how many rekeys of LINK the agent logged in FILE.
rekeys_of() { grep -c "link $1: rekey: " "$2" || true; }
# status_json EXPR: evaluates the Python expression EXPR on the agent's
# status --json as 'st'.
status_json() {
    agentctl esp-agent/status --json | $PY -c '
import json, sys
st = json.load(sys.stdin)
site = {s["name"]: s for s in st["sites"]}
link = {l["name"]: l for l in st["links"]}
sys.exit(0 if eval(sys.argv[1]) else 1)' "$1"
}
# wait_for TRIES CMD...: CMD until it succeeds, 0.1 s apart.
wait_for() {
    local n=$1
    shift
    for _ in $(seq "$n"); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}

# --- 1. site-c down from the start ------------------------------------------
stop_switch site-c
status=0
"$AGENT" apply "$WORK/policy.yaml" >"$WORK/apply.out" 2>"$WORK/apply.err" \
    || status=$?
check "apply with site-c down exits 3 (got $status)" test $status = 3
check "apply names site-c" grep -q 'site-c: cannot connect' "$WORK/apply.err"
for s in site-a site-b; do
    check "apply changed nothing at $s: no SA" test "$(spis $s | wc -l)" = 0
    check "apply changed nothing at $s: no agent flow" \
        test "$(n_agent_flows $s)" = 0
done

start_agent agent "$WORK/policy.yaml" --interval=200 --rekey-grace=0.4
check "run starts with site-c down" kill -0 "$AGENT_PID"
check "run logs that it starts with a site failing" \
    grep -q 'starting with 1 site(s) failing (site-c: cannot connect' \
    "$WORK/agent.err"
check "run configured site-a and site-b ($(cat "$WORK/agent.out"))" \
    grep -q 'changes: SAs +4' "$WORK/agent.out"
check "ping ha -> hb" ping_answered ha 10.2.0.2
check "ping hb -> ha" ping_answered hb 10.1.0.2
check "nothing of a-c installed at site-a" not grep -q esp-a-c <(spis site-a)
agentctl esp-agent/status >"$WORK/status1.txt"
check "status: site-c NOT REACHABLE, with the error" \
    grep -q '^site site-c: NOT REACHABLE for [0-9]*s (.*): cannot connect to ovs-vswitchd' \
    "$WORK/status1.txt"
check "status: site-a reachable" grep -q '^site site-a: reachable' \
    "$WORK/status1.txt"
check "status: a-c frozen" grep -q '^link a-c: .*FROZEN' "$WORK/status1.txt"
check "status: a-b not frozen" not grep -q '^link a-b: .*FROZEN' \
    "$WORK/status1.txt"
check "status --json: site-c unreachable, error, a-c frozen" status_json \
    'not site["site-c"]["reachable"] and "cannot connect" in site["site-c"]["error"] and site["site-a"]["reachable"] and link["a-c"]["frozen"] and not link["a-b"]["frozen"]'

# --- 2. site-c comes up ---------------------------------------------------------
restart_switch site-c
check "ping ha -> hc once site-c is up" ping_answered ha 10.3.0.2
check "ping hc -> ha" ping_answered hc 10.1.0.2
check "the agent noticed site-c coming up" \
    grep -q 'site-c: ovs-vswitchd is up: reconciling now' "$WORK/agent.err"
check "status --json: site-c reachable, a-c not frozen" wait_for 20 \
    status_json 'site["site-c"]["reachable"] and site["site-c"]["error"] is None and not link["a-c"]["frozen"]'

# --- 3. site-c stops under a-b traffic ----------------------------------------
N=$((RATE * 11))
probes_start ab ha hb $N $RATE
probes_start ba hb ha $N $RATE
sleep 2
# A steady a-c: no rekey in its grace period, so its SAs at site-a are
# exactly the ones to compare with.
spis site-a | grep esp-a-c >"$WORK/ac-before" || true
spis site-c >"$WORK/c-before"
cp "$WORK/agent.err" "$WORK/agent-before-stop.err"
stop_switch site-c
sleep 0.5                       # The agent notices, a-c freezes.
cp "$WORK/agent.err" "$WORK/agent-stopped.err"
spis site-a | grep esp-a-c >"$WORK/ac-stop" || true
sleep 5.5
agentctl esp-agent/status >"$WORK/status3.txt"
spis site-a | grep esp-a-c >"$WORK/ac-during" || true
before=$(rekeys_of a-b "$WORK/agent-before-stop.err")
during=$(( $(rekeys_of a-b "$WORK/agent.err") - before ))
ac_during=$(( $(rekeys_of a-c "$WORK/agent.err") \
    - $(rekeys_of a-c "$WORK/agent-stopped.err") ))
check "a-b rekeyed during site-c's outage ($during times)" test "$during" -ge 3
check "a-c not rekeyed during the outage ($ac_during)" test "$ac_during" = 0
check "a-c's SAs at site-a left as they were ($(wc -l <"$WORK/ac-during") SAs)" \
    cmp -s "$WORK/ac-stop" "$WORK/ac-during"
check "a-c's SAs at site-a still there" test -s "$WORK/ac-during"
check "the agent saw site-c's ovs-vswitchd go" \
    grep -q 'site-c: ovs-vswitchd went away' "$WORK/agent.err"
check "status: site-c NOT REACHABLE" \
    grep -q '^site site-c: NOT REACHABLE for [0-9]*s' "$WORK/status3.txt"
check "status: a-c frozen, a-b not" grep -q '^link a-c: .*FROZEN' \
    "$WORK/status3.txt"
check "status: a-b not frozen" not grep -q '^link a-b: .*FROZEN' \
    "$WORK/status3.txt"

# --- 4. site-c back -------------------------------------------------------------
restart_switch site-c
T_UP=$(cat "$WORK/site-c.up")
check "ping ha -> hc after site-c is back" ping_answered ha 10.3.0.2
T_PING=$($PY -c 'import time; print("%.6f" % time.monotonic())')
ms=$($PY -c "print(int((float('$T_PING') - float('$T_UP')) * 1000))")
echo "agent-sites: a-c restored, ha -> hc answered $ms ms after site-c was up"
check "a-c restored within $RESTORE_MS ms of site-c being up ($ms ms)" \
    test "$ms" -le "$RESTORE_MS"
check "ping hc -> ha" ping_answered hc 10.1.0.2
probes_wait
for d in ab ba; do
    check "probes $d across site-c's outage: none lost ($(cat "$WORK/$d"))" \
        grep -q "^received=$N lost=0 duplicated=0 " "$WORK/$d"
done
spis site-a | grep esp-a-c >"$WORK/ac-after" || true
check "a-c has a fresh pair at site-a" \
    not grep -qFf <(awk '{print $3}' "$WORK/ac-before") "$WORK/ac-after"
check "site-c has a-c's SAs again" grep -q esp-a-c <(spis site-c)
spis site-c >"$WORK/c-after"
check "no SPI site-c had before its stop is installed there again" \
    not grep -qFf <(awk '{print $3}' "$WORK/c-before") "$WORK/c-after"
# The agent notices that a-c's installed pair is gone from site-c and
# replaces it; or, when site-c stopped in the middle of an a-c rekey (the
# rekey logged, its SAs not yet at site-c), it installs that rekey's pair,
# never installed anywhere before, once site-c is back (with fresh keys
# either way: the two checks above).
replaced_or_interrupted() {
    grep -q 'site-c: .* SA 0x[0-9a-f]* of link a-c is gone' "$WORK/agent.err" \
        && return 0
    $PY - "$WORK/agent.err" <<'EOF'
import re, sys
lines = open(sys.argv[1]).read().splitlines()
away = [i for i, l in enumerate(lines) if "site-c: ovs-vswitchd went away" in l]
up = [i for i, l in enumerate(lines) if "site-c: ovs-vswitchd is up" in l]
if not away or not up:
    sys.exit(1)
before = "\n".join(lines[:away[0]])
rekeys = re.findall(r"link a-c: rekey: .*", before)
new = set(re.findall(r"-> (0x[0-9a-f]+)", rekeys[-1])) if rekeys else set()
installed = set(re.findall(r"added (?:in|out) SA (0x[0-9a-f]+)", before))
after = re.findall(r"site-c: added (?:in|out) SA (0x[0-9a-f]+)",
                   "\n".join(lines[up[-1]:]))
sys.exit(0 if len(new) == 2 and not new & installed
         and set(after[:2]) == new else 1)
EOF
}
check "the agent replaced a-c's pair lost at site-c (or installed the pair of the a-c rekey that site-c's stop interrupted)" \
    replaced_or_interrupted
n0=$(rekeys_of a-c "$WORK/agent.err")
more_ac_rekeys() { test "$(rekeys_of a-c "$WORK/agent.err")" -gt "$n0"; }
check "a-c rekeyed again after site-c is back" wait_for 50 more_ac_rekeys
check "status: every site reachable, nothing frozen" wait_for 20 \
    status_json 'all(s["reachable"] for s in st["sites"]) and not any(l["frozen"] for l in st["links"])'

# --- 5. round time, WAN, keys ---------------------------------------------------
agentctl esp-agent/status >"$WORK/status5.txt"
round=$(grep '^round: ' "$WORK/status5.txt" || true)
echo "agent-sites: $round"
check "status reports the round duration" test -n "$round"
check "status --json: mean round under 200 ms" \
    status_json 'st["rounds"] > 20 and 0 < st["mean_round_ms"] < 200'
status=0
stop_agent || status=$?
check "the agent exits 0 on SIGTERM (got $status)" test $status = 0
stop_wan_capture
check_wan_esp_only 1000
check "no probe payload in clear on the WAN" \
    not grep -aq ESPDEMO-PROBE "$WORK/wan.pcap"
check "no key in the agent's output or any log" \
    not grep -rqiE --include='*.log' --include='*.out' --include='*.err' \
        'key=0x|key=[0-9a-f]{16}|[0-9a-f]{64}' "$WORK"

echo "agent-sites: $PASS passed, $FAIL failed ($(( $(date +%s) - T0 )) s)"
[ "$FAIL" -eq 0 ]
