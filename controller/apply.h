/*
 * Apply and reconcile: makes each site's ovs-vswitchd and OVSDB hold the
 * desired state compiled from the policy (compile.h), through Open
 * vSwitch's own C library, as ovn-controller does: the unixctl client for
 * `ipsec/sa-show --json`, `sa-add`, `sa-del`; the OVSDB IDL for ports;
 * vconn (OpenFlow 1.3) for flows.
 *
 * Every call reads the actual state of every site first, compares it with
 * the desired state and changes only what differs, so applying twice
 * changes nothing the second time.  Sites are independent: one that cannot
 * be reached holds up only the links with an end there.
 */
#ifndef CTL_APPLY_H
#define CTL_APPLY_H 1

#include <stdbool.h>
#include <stddef.h>
#include "compile.h"

enum {
    CTL_APPLY_TIMEOUT_MS = 5000,   /* Per connection and per wait. */
    CTL_RECONNECT_MS = 50,         /* ctl_conns_run()'s reconnect period. */
};

/* What one apply changed (and, for 'n_errors', failed to change). */
struct ctl_apply_stats {
    size_t sas_added, sas_deleted, sas_adopted;
    size_t ports_added, ports_changed, ports_deleted;
    size_t flows_added, flows_deleted;
    size_t bridges_changed;         /* fail_mode set to secure. */
    size_t links_restored;          /* Rekeyed because an SA was lost. */
    size_t sites_failed;            /* Unreachable, or refused a change. */
    size_t links_frozen;            /* Left alone: an end failed. */
};

/* The connections to the sites: the ovs-vswitchd unixctl connection (its
 * end of file says the switch went away), the OVSDB IDL and the OpenFlow
 * connection of each site, kept open from one apply to the next (as
 * ovn-controller does), so that a round only reads and writes. */
struct ctl_conns;

struct ctl_conns *ctl_conns_create(void);
void ctl_conns_destroy(struct ctl_conns *);

/* Upkeep between two applies; never blocks.  Notices a site's
 * ovs-vswitchd going away (and says so on 'log'), tries every
 * CTL_RECONNECT_MS to reconnect to one that is away, runs the IDLs,
 * answers OpenFlow echo requests and drops asynchronous messages.  Returns
 * true if a site came back (its ovs-vswitchd answers again, or its OVSDB
 * connection is up again) since the last call: reconcile now. */
bool ctl_conns_run(struct ctl_conns *, FILE *log);
void ctl_conns_wait(const struct ctl_conns *);

/* What the last apply (or the upkeep since) knows of site 'name'. */
struct ctl_site_status {
    bool known;                 /* The site has a connection. */
    bool reachable;             /* Reached at the last apply, and not seen
                                 * going away since. */
    const char *error;          /* Why the last apply failed there (NULL if
                                 * it did not): the message logged. */
    long long int since_wall;   /* Wall clock ms of the last change of
                                 * 'reachable'. */
};
void ctl_conns_site_status(const struct ctl_conns *, const char *name,
                           struct ctl_site_status *);

/* Marks frozen the links of 'state' with an end at a site known to be
 * unreachable now (e.g. its ovs-vswitchd went away since the last apply),
 * so that ctl_rekey_run() leaves them alone: call it before. */
void ctl_conns_freeze(const struct ctl_conns *, struct ctl_state *state);

enum ctl_apply_mode {
    /* Connect to every site first; if one cannot be reached, change
     * nothing anywhere (`esp-agent apply`, a policy reload). */
    CTL_APPLY_ALL_OR_NOTHING,
    /* Reconcile every site that can be reached, each on its own (a round
     * of `esp-agent run`): see ctl_apply(). */
    CTL_APPLY_REACHABLE,
};

/* Makes the sites of 'state' match it, through 'conns' (connections are
 * opened as needed and kept; NULL: connections of this call only).
 * SAs found installed with the parameters 'state' asks for, on both ends
 * of a link, are adopted: 'state' takes their SPIs (and marks them
 * 'adopted') instead of replacing them.
 *
 * A site that cannot be reached, or that refuses a change, is left out
 * for the rest of the call; the links with an end there are "frozen"
 * (state->links[].frozen): nothing of theirs is installed or deleted on
 * any site, so their other end keeps its SAs as they are (until their hard
 * lifetime: then it fails closed), and ctl_rekey_run() leaves them alone;
 * every other site and link is reconciled.  In CTL_APPLY_ALL_OR_NOTHING
 * mode, an unreachable site found while connecting changes nothing
 * anywhere.
 *
 * Progress and errors go to 'log' (never a key).  Returns 0 on success,
 * else a positive errno value (EPROTO: a site refused a change; ENOTCONN:
 * a site unreachable, and nothing else wrong). */
int ctl_apply(struct ctl_state *state, struct ctl_conns *conns,
              enum ctl_apply_mode, struct ctl_apply_stats *stats,
              FILE *log);

/* Total number of changes in 'stats'. */
size_t ctl_apply_stats_changes(const struct ctl_apply_stats *);

/* Initializes the OVS library for the agent (logging to the console at
 * warning level only, OVS's signal handling set up).  Call before
 * installing signal handlers of one's own. */
void ctl_apply_init(void);

#endif /* apply.h */
