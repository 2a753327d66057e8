/*
 * Policy: the operator's description of what to protect, read from YAML
 * (docs/policy.md is the reference) and validated before anything is
 * applied.
 *
 * ctl_policy_load() parses and validates in one step.  It either returns
 * a policy that the compiler (compile.h) can turn into desired state
 * without any further check failing, or it returns the list of every
 * problem found, each as "FILE:LINE:COLUMN: message".
 */
#ifndef CTL_POLICY_H
#define CTL_POLICY_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A position in the policy file, 1-based (libyaml's marks are 0-based). */
struct ctl_mark {
    unsigned int line;
    unsigned int col;
};

struct ctl_addr {
    int family;                 /* AF_INET or AF_INET6. */
    uint8_t bytes[16];          /* Network order; IPv4 in the first 4. */
};

/* An IP prefix used as a traffic selector (RFC 4301 section 4.4.1.1). */
struct ctl_prefix {
    struct ctl_addr addr;
    unsigned int plen;
    struct ctl_mark mark;
};

enum ctl_mode {
    CTL_MODE_ESP_TUNNEL,        /* ESP tunnel-mode port (L3). */
    CTL_MODE_VXLAN_ESP,         /* vxlan port, outer packets ESP transport. */
    CTL_MODE_GENEVE_ESP,        /* geneve port, outer packets ESP transport. */
};

enum ctl_suite {
    CTL_SUITE_AES_GCM_128,
    CTL_SUITE_AES_GCM_256,
    CTL_SUITE_CHACHA20_POLY1305,
    CTL_SUITE_AES_CBC_128_HMAC_SHA256,
    CTL_SUITE_AES_CBC_256_HMAC_SHA256,
};

enum ctl_lt_kind {
    CTL_LT_BYTES,
    CTL_LT_PACKETS,
    CTL_LT_SECONDS,
    CTL_LT_N
};

/* SA lifetimes (RFC 4301 section 4.4.2.1).  0 means "no limit".  A soft
 * limit is where the agent starts a make-before-break rekey; the hard limit
 * is where the datapath stops using the SA. */
struct ctl_lifetime {
    uint64_t hard[CTL_LT_N];
    uint64_t soft[CTL_LT_N];
};

/* Parameters a link takes from 'defaults' unless it sets them itself. */
struct ctl_link_params {
    enum ctl_mode mode;
    enum ctl_suite suite;
    bool udp_encap;
    uint16_t udp_port;          /* Outer UDP port with udp_encap. */
    uint32_t replay_window;     /* Packets; 0 disables the replay check. */
    bool esn;
    struct ctl_lifetime lifetime;
};

/* The Ethernet source address a site gives the packets it decrypts (it is
 * the L3 gateway of its protected subnets for esp-tunnel links) unless the
 * policy sets 'router-mac'. */
#define CTL_ROUTER_MAC_DEFAULT { 0x02, 0xe5, 0xa0, 0x00, 0x00, 0x01 }

struct ctl_site {
    char *name;
    char *unixctl;              /* ovs-vswitchd unixctl socket path. */
    char *ovsdb;                /* OVSDB remote, e.g. "unix:/run/db.sock". */
    char *bridge;
    char *wan_port;             /* OVS port facing the WAN, or NULL. */
    char *lan_port;             /* OVS port facing the hosts, or NULL. */
    uint8_t router_mac[6];      /* Source MAC of decrypted packets. */
    struct ctl_addr wan;
    struct ctl_mark mark;
};

struct ctl_gateway {
    char *name;
    struct ctl_addr addr;
    struct ctl_mark mark;
};

struct ctl_endpoint {
    char *ref;                  /* The site or gateway name as written. */
    int site;                   /* Index into policy->sites, or -1. */
    int gateway;                /* Index into policy->gateways, or -1. */
    struct ctl_prefix *subnets;
    size_t n_subnets;
    struct ctl_mark mark;
};

struct ctl_link {
    char *name;
    char *port;                 /* OVS port name on every site of the link. */
    struct ctl_endpoint ep[2];
    struct ctl_link_params params;
    uint32_t vni;               /* vxlan VNI / geneve VNI. */
    struct ctl_mark mark;
};

struct ctl_policy {
    char *file;                 /* As given on the command line. */
    struct ctl_link_params defaults;
    struct ctl_site *sites;
    size_t n_sites;
    struct ctl_gateway *gateways;
    size_t n_gateways;
    struct ctl_link *links;
    size_t n_links;
};

/* Problems found in a policy, each one "FILE:LINE:COLUMN: message", sorted
 * by position. */
struct ctl_errors {
    char **msgs;
    size_t n;
};

/* Reads, parses and validates the policy in 'file'.  Returns 0 and stores
 * a new policy in '*policyp' on success.  On failure returns a positive
 * errno (EINVAL for a policy with problems, otherwise the error reading
 * the file), leaves '*policyp' NULL and stores every problem found in
 * 'errors' (which the caller frees with ctl_errors_destroy()).
 *
 * With 'check_perms', the file is refused (EPERM) unless it is a regular
 * file that neither its group nor others may write. */
int ctl_policy_load(const char *file, bool check_perms,
                    struct ctl_policy **policyp, struct ctl_errors *errors);
void ctl_policy_destroy(struct ctl_policy *);

void ctl_errors_init(struct ctl_errors *);
void ctl_errors_destroy(struct ctl_errors *);

const char *ctl_mode_name(enum ctl_mode);
const char *ctl_suite_name(enum ctl_suite);

/* Key length in bytes for 'suite' (for the AEADs including the 4-byte
 * salt, RFC 4106 section 8.1, RFC 7634 section 2); for CBC suites the
 * encryption key, with 'auth_len' set to the HMAC key length. */
size_t ctl_suite_key_len(enum ctl_suite, size_t *auth_len);

/* Formats 'a' into 'buf' (INET6_ADDRSTRLEN bytes at least). */
const char *ctl_addr_format(const struct ctl_addr *, char *buf, size_t);
/* Formats 'p' as "ADDR/PLEN" into 'buf' (at least 50 bytes). */
const char *ctl_prefix_format(const struct ctl_prefix *, char *buf, size_t);
bool ctl_prefix_overlap(const struct ctl_prefix *, const struct ctl_prefix *);
bool ctl_prefix_contains(const struct ctl_prefix *, const struct ctl_addr *);

#endif /* policy.h */
