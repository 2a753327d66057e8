/*
 * IPsec offload: who does an SA's crypto, chosen once per SA.
 *
 * A registry holds the providers (ipsec-offload-provider.h), the ports
 * with each provider's probed capabilities, a preference order (global,
 * optionally per port) and the installed SAs.  ipsec_offload_sa_install()
 * walks the preference order for the SA's port and keeps the first
 * provider that takes the SA; "sw" (the datapath library's engine) is
 * always the last resort.  The outcome and a one-line reason are stored on
 * the SA for ipsec/sa-show, e.g.
 *
 *     offload=sw reason="dpdk-inline-crypto: port dpdk0: AES-GCM-256 not in
 *     rte_security capabilities"
 *
 * Selection never happens per packet.  The datapath asks
 * ipsec_offload_sa_kind() once per SA and dispatches on it per burst.
 *
 * Thread safety: everything is control-plane (one thread, or serialized by
 * the caller) except ipsec_offload_sa_get_stats(),
 * ipsec_offload_sa_take_events() and
 * the read-only accessors of an installed SA, which any thread may call
 * while the SA is installed.
 */
#ifndef IPSEC_OFFLOAD_H
#define IPSEC_OFFLOAD_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "esp.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ipsec_offload;
struct ipsec_offload_class;
struct ipsec_offload_sa;

/* What the datapath does per packet for an SA (DPDK vocabulary). */
enum ipsec_offload_kind {
    IPSEC_OFFLOAD_SW,               /* Datapath library does everything. */
    IPSEC_OFFLOAD_INLINE_CRYPTO,    /* Datapath builds/parses ESP, checks
                                     * replay and selectors; the NIC
                                     * encrypts/verifies on the wire. */
    IPSEC_OFFLOAD_INLINE_PROTOCOL,  /* NIC does all of ESP, including
                                     * sequence numbers and replay. */
    IPSEC_OFFLOAD_LOOKASIDE,        /* Crypto on a cryptodev, async. */
    IPSEC_OFFLOAD_CPU_CRYPTO,       /* Crypto by a cryptodev, sync. */
};

/* Counters a provider keeps for an SA (rte_security_ipsec_stats). */
struct ipsec_offload_stats {
    uint64_t ipackets, opackets;
    uint64_t ibytes, obytes;
    uint64_t ierrors, oerrors;
};

enum {
    IPSEC_OFFLOAD_MAX_PROVIDERS = 8,
    IPSEC_OFFLOAD_REASON_SIZE = 512,
};

/* Registry.  ipsec_offload_create() registers "sw" and sets the
 * preference order to "sw". */
struct ipsec_offload *ipsec_offload_create(void);
/* Removes every SA and port, then frees the registry. */
void ipsec_offload_destroy(struct ipsec_offload *);

/* Adds a provider class ('class' is not copied and must outlive the
 * registry).  Ports added earlier are probed for it now.  Returns 0,
 * EEXIST (name taken) or ENOSPC. */
int ipsec_offload_register(struct ipsec_offload *,
                           const struct ipsec_offload_class *);

/* Sets the global preference order, a comma-separated list of provider
 * names, e.g. "dpdk-inline-crypto,dpdk-inline-protocol,sw".  Names not
 * registered are kept (a build without DPDK accepts a configuration that
 * names it) and reported as unavailable when an SA is installed.  "sw" is
 * appended if missing: it is always the fallback.  Returns 0 or EINVAL
 * (empty name, bad character, duplicate, too many), with a message in
 * 'err'.  Applies to SAs installed afterwards. */
int ipsec_offload_set_preference(struct ipsec_offload *, const char *list,
                                 char *err, size_t err_size);
/* Writes the global preference order as a comma-separated list. */
void ipsec_offload_get_preference(const struct ipsec_offload *,
                                  char *buf, size_t size);
/* Globally allows (default) or denies every provider but "sw". */
void ipsec_offload_set_enabled(struct ipsec_offload *, bool enabled);

/* Ports.  'type' is the netdev type ("dpdk", "system", ...);
 * 'dpdk_port_id' the ethdev port id or -1.  Probes every provider.
 * Returns 0, EEXIST or ENOMEM. */
int ipsec_offload_port_add(struct ipsec_offload *, const char *name,
                           const char *type, int dpdk_port_id);
/* Per-port configuration: 'allow' false keeps every SA on the port in
 * "sw"; 'preference' (null: use the global order) as for
 * ipsec_offload_set_preference().  Returns 0, ENOENT or EINVAL. */
int ipsec_offload_port_set_config(struct ipsec_offload *, const char *name,
                                  bool allow, const char *preference,
                                  char *err, size_t err_size);
/* The address the port's ESP arrives at ('local' null or of family 0:
 * unknown), which providers use for SAs that have no 'dst' (the NIC's
 * receive rule of a tunnel port's transport-mode SA).  Applies to SAs
 * installed afterwards.  Returns 0 or ENOENT. */
int ipsec_offload_port_set_local(struct ipsec_offload *, const char *name,
                                 const struct esp_addr *local);
/* Returns 0, ENOENT, or EBUSY while SAs are installed on the port. */
int ipsec_offload_port_remove(struct ipsec_offload *, const char *name);
/* ipsec/offload-show: one line per port (or only 'name' if non-null) and
 * provider with the probed capabilities or the reason there are none.
 * Always null-terminated. */
void ipsec_offload_ports_format(const struct ipsec_offload *,
                                const char *name, char *buf, size_t size);

/* SAs.  Chooses a provider for an SA with 'params' (keys included) that
 * leaves or arrives on 'port' (null or unknown: "sw" only) and installs
 * it.  'sa' is the datapath library's SA for the same parameters (may be
 * null in tests); it must outlive the offload SA.  Returns 0 and stores
 * the offload SA in '*osap', or a positive errno with a message in 'err'
 * (EOPNOTSUPP: not even "sw" could take it; other: a provider failed
 * hard).  The keys in 'params' are not kept. */
int ipsec_offload_sa_install(struct ipsec_offload *, const char *port,
                             const struct esp_sa_params *params,
                             struct esp_sa *sa,
                             struct ipsec_offload_sa **osap,
                             char *err, size_t err_size);
/* Releases the provider's resources (device session) and frees 'osa'.
 * The datapath must be done with it (grace period).  'osa' may be null. */
void ipsec_offload_sa_remove(struct ipsec_offload_sa *osa);

/* The chosen provider's name ("sw", "dpdk-inline-crypto", ...). */
const char *ipsec_offload_sa_provider(const struct ipsec_offload_sa *);
enum ipsec_offload_kind ipsec_offload_sa_kind(const struct ipsec_offload_sa *);
/* Why a more preferred provider was not chosen: "" if the first choice
 * took the SA, otherwise "NAME: reason" per provider that declined,
 * separated by "; ". */
const char *ipsec_offload_sa_reason(const struct ipsec_offload_sa *);
/* The provider's handle (for provider-specific accessors such as
 * ipsec_offload_dpdk_sa_session()). */
void *ipsec_offload_sa_priv(const struct ipsec_offload_sa *);
/* The datapath library SA to use for the SA's packets: the one the
 * provider created with its own crypto engine (dpdk-lookaside,
 * dpdk-cpu-crypto), otherwise the 'sa' given to ipsec_offload_sa_install()
 * (may be null).  The caller adds this one to its SAD and passes it to
 * esp_encap_burst(); it stays valid until ipsec_offload_sa_remove().  Any
 * thread. */
struct esp_sa *ipsec_offload_sa_esp(const struct ipsec_offload_sa *);
/* Writes 'offload=NAME' and, if the reason is not empty,
 * ' reason="..."'. */
void ipsec_offload_sa_format(const struct ipsec_offload_sa *,
                             char *buf, size_t size);
/* Provider counters (zeroed and EOPNOTSUPP if it keeps none). */
int ipsec_offload_sa_get_stats(const struct ipsec_offload_sa *,
                               struct ipsec_offload_stats *);
/* ESP_EV_* bits raised by the provider since the last call (the datapath
 * library's own events come from esp_sa_take_events()). */
uint32_t ipsec_offload_sa_take_events(struct ipsec_offload_sa *);

const char *ipsec_offload_kind_name(enum ipsec_offload_kind);

#ifdef __cplusplus
}
#endif

#endif /* ipsec-offload.h */
