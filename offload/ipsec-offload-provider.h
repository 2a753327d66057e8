/*
 * IPsec offload providers: the class every provider implements.
 *
 * A provider is one way of doing an SA's crypto (or all of its ESP
 * processing) for packets that leave or arrive on a port: "sw" (the
 * datapath library's own engine), "dpdk-inline-crypto" and
 * "dpdk-inline-protocol" (rte_security on a DPDK NIC), "dpdk-lookaside"
 * and "dpdk-cpu-crypto" (a DPDK cryptodev), later "xfrm".
 *
 * The registry (ipsec-offload.c) asks the providers, in the configured
 * preference order, once per SA at install time.  A provider that cannot
 * take an SA returns EOPNOTSUPP with a human reason; the registry then asks
 * the next one and, at the end of the list, "sw", which takes every SA the
 * datapath library can create.  Nothing here is called per packet: the
 * datapath reads the outcome (ipsec_offload_sa_kind() and the provider's
 * session) once per SA and dispatches on it per burst.
 *
 * Conventions for every member below:
 *   - Returns 0 or a positive errno.  EOPNOTSUPP means "not me, fall
 *     back": the registry tries the next provider and keeps the reason.
 *     Any other errno is a hard failure and ends the install.
 *   - 'reason' / 'reason_size': on EOPNOTSUPP the provider writes one line
 *     of text (no trailing period, no key bytes; SPIs as 0x%08x) saying
 *     why, starting with "port NAME: " when the port is the cause.  Always
 *     non-null.  Ignored on success.
 *   - Called from the control thread only, serialized by the registry,
 *     except where a member says otherwise.
 */
#ifndef IPSEC_OFFLOAD_PROVIDER_H
#define IPSEC_OFFLOAD_PROVIDER_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "esp.h"
#include "ipsec-offload.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What the registry knows about a port.  Owned by the registry; valid
 * from probe() until the port is removed. */
struct ipsec_offload_port_info {
    const char *name;           /* "dpdk0".  Never null. */
    const char *type;           /* Netdev type: "dpdk", "system", "afxdp",
                                 * "dummy", ...  Never null. */
    int dpdk_port_id;           /* ethdev port id, or -1 if the port is not
                                 * a DPDK ethdev. */
    struct esp_addr local;      /* The address the port's ESP arrives at
                                 * when the datapath knows one (a tunnel
                                 * port's local_ip), for SAs without a
                                 * 'dst'; family 0 if not. */
};

struct ipsec_offload_class {
    /* Name used in preference orders, in "offload=" and in logs, e.g.
     * "dpdk-inline-crypto".  Never null, unique in a registry. */
    const char *name;

    /* What the datapath must do per packet for SAs this provider took. */
    enum ipsec_offload_kind kind;

    /* Probes what 'port' can do for this provider.
     *
     * On success returns 0 and stores in '*capsp' a provider-owned object
     * describing the capabilities (null is allowed and means "nothing to
     * remember"); the registry passes it back to can_take(), sa_install()
     * and caps_format() and frees it with caps_destroy().  Returns
     * EOPNOTSUPP with a reason if the port cannot be offloaded by this
     * provider at all (not a DPDK port, no security context, ...): the
     * provider is then skipped for every SA on the port, and the reason is
     * used as the provider's reason for each of them.
     *
     * May be null: the provider has nothing to probe and '*capsp' is
     * null. */
    int (*probe)(const struct ipsec_offload_port_info *port, void **capsp,
                 char *reason, size_t reason_size);

    /* Frees what probe() stored.  'caps' may be null.  May be null if
     * probe() never stores anything. */
    void (*caps_destroy)(void *caps);

    /* Writes a one-line human summary of 'caps' to 'buf' (always
     * null-terminated, truncated to 'size'), for ipsec/offload-show.
     * 'caps' may be null.  May be null: nothing is shown. */
    void (*caps_format)(const void *caps, char *buf, size_t size);

    /* Whether the provider could take an SA with 'params' on the port
     * whose probe() result is 'caps'.  A pure check: no resources are
     * taken.  'params' is never null; its key pointers are not read.
     * Returns 0 or EOPNOTSUPP with a reason.  Never null. */
    int (*can_take)(const void *caps,
                    const struct ipsec_offload_port_info *port,
                    const struct esp_sa_params *params,
                    char *reason, size_t reason_size);

    /* Installs an SA that can_take() accepted.  'params' includes the
     * keys: the provider copies what it needs (into the NIC, usually) and
     * keeps no pointer into 'params' after returning.  'sa' is the
     * datapath library's SA for the same parameters, created by the
     * caller, or null if the caller has none (tests); the provider may
     * keep the pointer until sa_remove() but must not destroy it.
     *
     * On success returns 0 and stores a provider-owned handle in
     * '*privp' (may be null).  Returns EOPNOTSUPP with a reason when the
     * device refuses after all (SA table full, session creation failed),
     * or another positive errno on a hard failure; either way nothing is
     * left installed.  Never null. */
    int (*sa_install)(void *caps, const struct ipsec_offload_port_info *port,
                      const struct esp_sa_params *params, struct esp_sa *sa,
                      void **privp, char *reason, size_t reason_size);

    /* Removes an installed SA: releases the device session and wipes any
     * key material the provider holds.  'priv' is what sa_install()
     * stored (may be null).  Cannot fail: errors from the device are
     * counted by the provider, not reported.  Never null.
     *
     * The datapath must no longer use the SA on any thread (the caller
     * waits for a grace period first, as for esp_sa_destroy()). */
    void (*sa_remove)(void *caps, void *priv);

    /* Reads counters the provider (or its device) keeps for the SA into
     * '*stats', which the registry zeroed first.  Returns 0, or
     * EOPNOTSUPP if the provider keeps none (the datapath library's own
     * counters are then the only ones).  May be called from any thread.
     * May be null: same as EOPNOTSUPP. */
    int (*sa_get_stats)(void *priv, struct ipsec_offload_stats *stats);

    /* Returns and clears ESP_EV_* bits (esp.h) the provider or device
     * raised for the SA since the last call: soft/hard lifetime expiry and
     * sequence number overflow, for providers whose device keeps the
     * lifetime or the sequence number (inline protocol).  A device that
     * reports asynchronously (a DPDK RTE_ETH_EVENT_IPSEC callback on
     * another thread) has the provider OR the bits into its handle
     * atomically, and this call takes them.  May be called from any
     * thread.  May be null: the provider raises no events of its own. */
    uint32_t (*sa_take_events)(void *priv);

    /* The datapath library SA that carries the SA's traffic, when the
     * provider created its own in sa_install(): providers whose crypto
     * runs through an ESP crypto engine of their own (lookaside, CPU
     * crypto) create an esp_sa with esp_sa_params.engine set to it, which
     * is also where the device sessions are created, so that a refusal
     * falls back at install time.  The provider owns that esp_sa and
     * destroys it in sa_remove().  Returns null to mean the caller's
     * 'sa'.  Any thread, while the SA is installed.  May be null: same as
     * returning null. */
    struct esp_sa *(*sa_esp)(void *priv);
};

/* Built-in "sw" provider: the datapath library's engine.  Always
 * registered, always last in every preference order. */
extern const struct ipsec_offload_class ipsec_offload_sw_class;

/* snprintf() into 'buf' / append to the null-terminated 'buf', truncating:
 * for providers' reason and capability strings. */
void ipsec_offload_fmt(char *buf, size_t size, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
void ipsec_offload_append(char *buf, size_t size, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

#ifdef __cplusplus
}
#endif

#endif /* ipsec-offload-provider.h */
