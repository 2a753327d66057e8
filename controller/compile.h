/*
 * Compiler: a validated policy to the desired state of every site, as
 * data: the ports to create, the OpenFlow flows of each bridge, and the
 * SAs of each port, keys included (RFC 9061 IKE-less model: the agent
 * generates the keys and installs both ends of every SA pair).
 *
 * The desired state is what the reconcile loop (next slice) compares with
 * the actual state of each ovs-vswitchd.  Nothing here talks to OVS.
 *
 * Keys: generated with getrandom(), held only in memory allocated for
 * them, wiped with explicit_bzero() when the state is destroyed.  The
 * printers never print them.
 */
#ifndef CTL_COMPILE_H
#define CTL_COMPILE_H 1

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "policy.h"

enum {
    CTL_SPI_MIN = 256,          /* 1..255 are reserved (RFC 4303 2.1). */
};

/* Flow priorities, highest first.  Fail-closed rests on their order:
 * protected traffic matches a steering flow or falls to a drop flow, never
 * to the default NORMAL flow. */
enum ctl_flow_priority {
    CTL_PRIO_BYPASS = 500,          /* ESP, NAT-T and IKE of the WAN. */
    CTL_PRIO_CLEAR_TUNNEL = 450,    /* Clear vxlan/geneve from a peer. */
    CTL_PRIO_STEER = 300,           /* Protected subnet to/from tunnel. */
    CTL_PRIO_TUNNEL_OTHER = 250,    /* Anything else out of a tunnel. */
    CTL_PRIO_FAIL_CLOSED = 100,     /* Protected subnets otherwise. */
    CTL_PRIO_DEFAULT = 0,           /* Unprotected traffic: NORMAL. */
};

enum {
    CTL_TABLE_HOSTS = 1,            /* Learned MACs of the protected hosts. */
    CTL_HOST_IDLE_TIMEOUT = 300,    /* Seconds a learned host MAC lasts. */
};

/* Cookies mark the flows the agent owns: CTL_COOKIE_BASE for a site's
 * own flows, CTL_COOKIE_BASE | FNV-1a(link name) for a link's, so that a
 * link keeps its cookie when other links are added or reordered. */
#define CTL_COOKIE_BASE UINT64_C(0xe5a0000000000000)

struct ctl_port_option {
    char *key;
    char *value;
};

struct ctl_port {
    char *name;
    char *type;                 /* "esp", "vxlan", "geneve". */
    struct ctl_port_option *options;
    size_t n_options;
    size_t link;                /* Index in policy->links. */
};

struct ctl_flow {
    uint64_t cookie;
    unsigned int table;
    unsigned int priority;
    char *match;                /* ovs-ofctl syntax, "" for match-all. */
    char *actions;
};

/* One direction of one SA pair, as installed on one end. */
struct ctl_sa {
    char *port;                 /* NULL on an external gateway. */
    bool inbound;
    uint32_t spi;
    enum ctl_suite suite;
    bool tunnel;                /* Tunnel mode (else transport). */
    struct ctl_addr src, dst;   /* Outer addresses (tunnel mode). */
    bool esn;
    uint32_t replay_window;     /* Inbound only. */
    bool udp_encap;
    uint16_t udp_port;
    bool has_selector;          /* One selector pair (RFC 4301 4.4.1). */
    struct ctl_prefix sel_src, sel_dst;
    struct ctl_lifetime lifetime;
    size_t link;
    bool adopted;               /* Found installed (by the apply step) under
                                 * 'spi', whose key this process does not
                                 * know; 'key' is then unused. */
    bool installed;             /* Seen installed on its site at least once.
                                 * Such an SA is never installed again with
                                 * the same key: its sequence numbers (and
                                 * so its GCM/CBC IVs) and the peer's replay
                                 * window would restart (RFC 4303 3.3.3,
                                 * RFC 4106 3.1); if it goes missing (the
                                 * switch restarted), its link is rekeyed. */

    /* Make-before-break rekey (rekey.h).  A 'retiring' SA belongs to the
     * pair a rekey replaced: the reconcile step keeps it installed (and
     * never reinstalls it) until 'retire_at', then it leaves the state and
     * the next reconcile deletes it. */
    bool retiring;
    long long int retire_at;    /* Monotonic ms; 0 until the new pair is
                                 * installed everywhere. */
    long long int created;      /* Monotonic ms the pair was made or first
                                 * seen installed; 0 not yet known. */
    uint64_t packets, bytes;    /* Last counters read from the site. */

    /* Secret.  For the CBC suites 'key' is the encryption key followed by
     * the HMAC key ('auth_key_len' bytes). */
    uint8_t *key;
    size_t key_len;
    size_t auth_key_len;
};

/* The desired state of one site (or, with 'gateway', of one external
 * gateway: SAs only, to be configured out of band). */
struct ctl_site_state {
    const char *name;
    bool gateway;
    const struct ctl_site *site;        /* NULL for a gateway. */
    struct ctl_port *ports;
    size_t n_ports;
    struct ctl_flow *flows;
    size_t n_flows;
    struct ctl_sa *sas;
    size_t n_sas;
};

/* What the agent remembers of a link, for `esp-agent/status`. */
struct ctl_link_info {
    size_t rekeys;                      /* Rekeys started, restores too. */
    long long int last_rekey;           /* Monotonic ms; 0 never. */
    long long int last_rekey_wall;      /* Wall clock ms; 0 never. */
    bool frozen;                        /* An end's site failed at the last
                                         * apply: nothing of the link is
                                         * changed anywhere, no rekey. */
};

struct ctl_state {
    const struct ctl_policy *policy;
    struct ctl_site_state *sites;       /* Sites, then gateways. */
    size_t n_sites;
    struct ctl_link_info *links;        /* One per policy->links. */
};

struct ctl_compile_options {
    bool seeded;                /* Deterministic SPIs from 'seed' (tests). */
    uint64_t seed;
};

/* Compiles 'policy' into '*statep'.  Returns 0 or a positive errno
 * (getrandom() failing).  '*statep' refers to 'policy', which must
 * outlive it. */
int ctl_compile(const struct ctl_policy *policy,
                const struct ctl_compile_options *,
                struct ctl_state **statep);

/* Destroys 'state', wiping every key first. */
void ctl_state_destroy(struct ctl_state *state);

/* Wipes and frees what 'sa' holds (its key first), not 'sa' itself. */
void ctl_sa_destroy(struct ctl_sa *sa);

/* Copies 'src' into 'dst', with a copy of its key (wiped in turn by
 * ctl_sa_destroy()). */
void ctl_sa_clone(struct ctl_sa *dst, const struct ctl_sa *src);

/* Does 'a' have the parameters of 'b' (port, direction, suite, key size,
 * mode, addresses, selectors, ESN, replay window, encapsulation,
 * lifetimes), SPI, key and bookkeeping aside? */
bool ctl_sa_same_params(const struct ctl_sa *a, const struct ctl_sa *b);

/* Moves into 'new' what 'old' (compiled from the policy before a reload)
 * holds that is still wanted: each SA pair of a link (by name) whose
 * parameters did not change replaces the freshly compiled pair, keys, SPIs
 * and age included, so that an unchanged link sees no change at all; the
 * old pair of a link whose parameters changed stays, 'retiring', until its
 * successor is installed everywhere (make-before-break).  Link counters
 * follow their link.  'old' keeps its own copies (destroy it after). */
void ctl_state_carry_over(struct ctl_state *new, const struct ctl_state *old);

/* Fills 'buf' with 'len' bytes from the kernel CSPRNG (getrandom()).
 * Returns 0 or a positive errno value. */
int ctl_random_bytes(void *buf, size_t len);

/* Writes the SA spec of 'sa' in the syntax of `ovs-appctl ipsec/sa-add`
 * (datapath/esp-spec.h) into 'buf', with every key shown as
 * "<redacted>". */
void ctl_sa_format(const struct ctl_sa *, char *buf, size_t size);

/* The same with the keys in hex: the argument the apply step hands to
 * ovs-vswitchd's unixctl server (a sensitive command, never logged), and
 * nothing else.  The caller wipes 'buf' with explicit_bzero() right after
 * use.  Returns false (with 'buf' wiped) if 'size' is too small. */
bool ctl_sa_format_secret(const struct ctl_sa *, char *buf, size_t size);

/* Prints the whole desired state, as the commands that would create it,
 * keys redacted: what `esp-agent --check` shows. */
void ctl_state_print(const struct ctl_state *, FILE *);

/* For tests only: when set, called by ctl_state_destroy() for each key
 * after it has been wiped and before its memory is freed. */
extern void (*ctl_key_free_hook)(const uint8_t *key, size_t len);

#endif /* compile.h */
