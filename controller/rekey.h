/*
 * Make-before-break rekey of the SA pairs of the desired state (issue #5,
 * RFC 9061 IKE-less model: the agent makes the new pair and installs both
 * ends itself).
 *
 * A rekey of a link replaces, in the desired state, each of its two SAs
 * (one per direction) by a new one with a fresh SPI and a fresh key from
 * getrandom(), and marks the old ones 'retiring'.  The reconcile step
 * (ctl_apply()) then installs every missing inbound SA on every site
 * before any outbound one, and adding an outbound SA makes it the port's
 * active one atomically: so the new inbound SAs are in place at both ends
 * before either end sends with the new keys, and the old inbound SAs stay
 * until the grace period has passed, for the packets already in flight.
 * No packet is lost by design.  Then the old pair leaves the state (keys
 * wiped) and the next reconcile deletes it from the sites.
 *
 * Nothing here talks to OVS; the caller runs ctl_apply() right after
 * ctl_rekey_run() and reports its success with ctl_rekey_commit().
 */
#ifndef CTL_REKEY_H
#define CTL_REKEY_H 1

#include <stdio.h>
#include "compile.h"

enum {
    CTL_REKEY_GRACE_MS_DEFAULT = 3000,
};

struct ctl_rekey_options {
    long long int grace_ms;     /* Old pair kept this long after the new
                                 * one is installed everywhere. */
    long long int every_ms;     /* Non-zero: rekey each link this often,
                                 * whatever its lifetimes (testing). */
};

struct ctl_rekey_stats {
    size_t rekeys;              /* Link rekeys started. */
    size_t retired;             /* Old SAs dropped from the state. */
};

/* At monotonic time 'now' (ms): drops from 'state' the retiring SAs whose
 * grace period is over (wiping their keys), then starts the rekey of every
 * link whose current pair reached a soft limit (seconds since it was made,
 * or the packets or bytes last read from the sites) or, with 'every_ms',
 * that age.  A link whose previous pair is still in its grace period, a
 * frozen link (an end's site failed at the last apply), or a link with an
 * end at an external gateway (whose SAs are configured out of band), is
 * not rekeyed.  Logs each rekey to 'log' with the link, the old
 * and new SPIs (never a key).  Adds to '*stats'.  Returns 0 or a positive
 * errno (getrandom() failing; the state is then unchanged for that
 * link). */
int ctl_rekey_run(struct ctl_state *state, const struct ctl_rekey_options *,
                  long long int now, struct ctl_rekey_stats *stats,
                  FILE *log);

/* Tells that ctl_apply() returned at monotonic time 'now': the grace
 * period of the pairs retired since the last call starts, on every link
 * that apply did not leave frozen (whose new pair is now installed on
 * both ends). */
void ctl_rekey_commit(struct ctl_state *state,
                      const struct ctl_rekey_options *, long long int now);

/* Starts the rekey of link 'link' now, whatever its lifetimes (the
 * operator's `rekey` command, tests).  Returns 0, EBUSY if the link's
 * previous pair is still in its grace period, ENOTCONN if the link is
 * frozen, ENOTSUP for a link to a gateway, or a positive errno value. */
int ctl_rekey_link(struct ctl_state *state, size_t link, long long int now,
                   FILE *log);

/* Replaces the SA pair(s) of link 'link' at once because an SA of its
 * current pair, installed before, is gone from its site (ovs-vswitchd
 * restarted, or an operator deleted it): the same key must not be
 * installed again (its sequence numbers, hence its IVs, would restart).
 * The pair in its grace period, if any, leaves the state first.  Returns
 * as ctl_rekey_link() (ENOTSUP for a gateway link, whose keys the caller
 * must reinstall instead). */
int ctl_rekey_replace_lost(struct ctl_state *state, size_t link,
                           long long int now, FILE *log);

#endif /* rekey.h */
