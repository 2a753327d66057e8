/*
 * The long-running agent (`esp-agent run`): one event loop, OVS style
 * (poll_block()), that
 *
 *   - reconciles every site with the desired state every --interval, and
 *     at once when a site's ovs-vswitchd comes back after a restart (the
 *     connections to each site are kept open across rounds, struct
 *     ctl_conns: the unixctl connection's EOF says the switch went away,
 *     a successful reconnect that it is back); sites are independent: a
 *     round reconciles every site that can be reached, and a site that
 *     cannot holds up only the links with an end there (left as they are,
 *     no rekey) until it is back;
 *   - rekeys each link make-before-break (rekey.h);
 *   - reloads the policy on SIGHUP or `esp-agent/reload [FILE]`, changing
 *     only what the new policy changes (ctl_state_carry_over()); an
 *     invalid policy, or one naming a site that cannot be reached, changes
 *     nothing;
 *   - answers `ovs-appctl -t SOCKET esp-agent/status [--json]`,
 *     `esp-agent/reload [FILE]` and `esp-agent/rekey LINK` on its own
 *     unixctl socket.
 */
#ifndef CTL_AGENT_H
#define CTL_AGENT_H 1

#include "compile.h"
#include "policy.h"
#include "rekey.h"

struct ctl_agent_options {
    const char *policy_file;
    long interval_ms;               /* Reconcile at least this often. */
    struct ctl_rekey_options rekey;
    const char *unixctl;            /* Socket path; NULL: the default,
                                     * OVS_RUNDIR/esp-agent.PID.ctl. */
};

/* Applies 'state' (compiled from 'policy') and keeps the sites so until
 * SIGTERM or SIGINT.  Starts even if some sites cannot be reached or
 * refuse the first apply (they are reported in the log and the status,
 * and retried).  Takes ownership of 'policy' and 'state'.  Returns the
 * process exit status: 0 after a stop signal, 2 if the unixctl socket
 * asked for cannot be created. */
int ctl_agent_run(const struct ctl_agent_options *,
                  struct ctl_policy *policy, struct ctl_state *state);

#endif /* agent.h */
