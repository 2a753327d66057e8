/*
 * Apply and reconcile: makes each site's ovs-vswitchd and OVSDB hold the
 * desired state compiled from the policy (compile.h), through Open
 * vSwitch's own C library, as ovn-controller does: the unixctl client for
 * `ipsec/sa-show --json`, `sa-add`, `sa-del`; the OVSDB IDL for ports;
 * vconn (OpenFlow 1.3) for flows.
 *
 * Every call reads the actual state of every site first, compares it with
 * the desired state and changes only what differs, so applying twice
 * changes nothing the second time.
 */
#ifndef CTL_APPLY_H
#define CTL_APPLY_H 1

#include <stdbool.h>
#include <stddef.h>
#include "compile.h"

enum {
    CTL_APPLY_TIMEOUT_MS = 5000,   /* Per connection and per wait. */
};

/* What one apply changed (and, for 'n_errors', failed to change). */
struct ctl_apply_stats {
    size_t sas_added, sas_deleted, sas_adopted;
    size_t ports_added, ports_changed, ports_deleted;
    size_t flows_added, flows_deleted;
    size_t bridges_changed;         /* fail_mode set to secure. */
    size_t links_restored;          /* Rekeyed because an SA was lost. */
};

/* Makes every site of 'state' match it.  Connects to every site first and
 * changes nothing anywhere if one of them cannot be reached or lacks its
 * bridge.  SAs found installed with the parameters 'state' asks for, on
 * both ends of a link, are adopted: 'state' takes their SPIs (and marks
 * them 'adopted') instead of replacing them.  Progress and errors go to
 * 'log' (never a key).  Returns 0 on success, else a positive errno value
 * (ENOTCONN: a site unreachable, nothing changed; EPROTO: a site refused a
 * change). */
int ctl_apply(struct ctl_state *state, struct ctl_apply_stats *stats,
              FILE *log);

/* Total number of changes in 'stats'. */
size_t ctl_apply_stats_changes(const struct ctl_apply_stats *);

/* Initializes the OVS library for the agent (logging to the console at
 * warning level only, OVS's signal handling set up).  Call before
 * installing signal handlers of one's own. */
void ctl_apply_init(void);

#endif /* apply.h */
