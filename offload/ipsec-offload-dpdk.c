/*
 * The "dpdk" providers: rte_security inline crypto and inline protocol.
 * See ipsec-offload-dpdk.h.
 */
#include "ipsec-offload-dpdk.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cryptodev.h>
#include <rte_ethdev.h>
#include <rte_flow.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_security.h>

#include "esp-crypto.h"
#include "ipsec-offload-provider.h"

/* Per port and class: what probe() found. */
struct dpdk_caps {
    const struct ipsec_offload_class *class;
    enum rte_security_session_action_type action;
    uint16_t port_id;
    char port_name[64];
    struct rte_security_ctx *ctx;
    const struct rte_security_capability *caps;     /* Driver-owned. */
    struct rte_mempool *pool;   /* Created on the first install, named
                                 * by 'pool_id'. */
    unsigned int pool_id;       /* Unique among the caps of this process:
                                 * several registry ports (the IPsec
                                 * ports of one offload port) may probe
                                 * one ethdev, each with its own pool. */
    unsigned int n_sessions;    /* Live sessions we created. */
    unsigned int n_flows;       /* Live ingress rte_flow rules. */
    bool cb_registered;
};

enum {
    DPDK_SA_MAGIC = 0x5a1dd9d4,
};

/* Per installed SA. */
struct dpdk_sa {
    uint32_t magic;             /* DPDK_SA_MAGIC while installed. */
    struct dpdk_sa *next;       /* In 'all_sas', under 'sas_mutex'. */
    struct dpdk_caps *caps;
    void *sess;
    struct rte_flow *flows[2];  /* Ingress: the ESP rules (one per IP
                                 * version without a destination). */
    unsigned int n_flows;
    struct esp_addr dst;        /* Ingress: what the rules match, besides */
    bool udp_encap;             /* 'spi'. */
    bool rebind;                /* Rules destroyed for a port restart, to
                                 * be created again after it. */
    uint32_t ol_flags;
    uint32_t spi;
    atomic_uint_least32_t events;       /* ESP_EV_* from the NIC. */

    /* Inline protocol: what the datapath steps still own. */
    bool out;                   /* ESP_DIR_OUT. */
    bool tunnel;                /* ESP_MODE_TUNNEL. */
    struct esp_sa *sa;          /* The caller's (selectors), or null. */
    uint64_t soft_at, hard_at;  /* Time lifetimes, caller's clock; 0 =
                                 * none.  rte_security has no time limit,
                                 * so the NIC is not told. */
    atomic_uint_least32_t time_raised;  /* ESP_EV_* raised for time. */
    atomic_uint_least32_t dead;         /* ESP_EV_HARD_EXPIRED and/or
                                         * ESP_EV_SEQ_OVERFLOW: the SA
                                         * carries nothing more. */
    atomic_uint_least64_t packets, bytes;
    atomic_uint_least64_t drops[ESP_N_VERDICTS];
};

/* Inline-protocol RX drops of packets whose SA is unknown. */
static atomic_uint_least64_t proto_orphan_drops[ESP_N_VERDICTS];

enum {
    ETH_HLEN_ = 14,             /* Ethernet header without VLAN tags. */
};

static pthread_mutex_t sas_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct dpdk_sa *all_sas;

static ipsec_offload_dpdk_sec_ctx_fn *sec_ctx_fn;
static unsigned int pool_size = 1024;

/* --- The seam ------------------------------------------------------------ */

struct rte_security_ctx *
ipsec_offload_dpdk_get_sec_ctx(uint16_t port_id)
{
    if (sec_ctx_fn) {
        return sec_ctx_fn(port_id);
    }
    return rte_eth_dev_get_sec_ctx(port_id);
}

void
ipsec_offload_dpdk_set_sec_ctx_fn(ipsec_offload_dpdk_sec_ctx_fn *fn)
{
    sec_ctx_fn = fn;
}

static const struct ipsec_offload_dpdk_flow_ops rte_flow_ops = {
    rte_flow_validate, rte_flow_create, rte_flow_destroy,
};
static const struct ipsec_offload_dpdk_flow_ops *flow_ops = &rte_flow_ops;

void
ipsec_offload_dpdk_set_flow_ops(const struct ipsec_offload_dpdk_flow_ops *ops)
{
    flow_ops = ops ? ops : &rte_flow_ops;
}

void
ipsec_offload_dpdk_set_pool_size(unsigned int n)
{
    pool_size = n ? n : 1;
}

/* --- Matching an SA against rte_security capabilities ----------------- */

/* What a suite needs from rte_cryptodev capabilities. */
struct suite_need {
    const char *name;           /* In reasons. */
    bool aead;
    enum rte_crypto_aead_algorithm aead_algo;
    enum rte_crypto_cipher_algorithm cipher_algo;
    enum rte_crypto_auth_algorithm auth_algo;
    uint16_t key_len;           /* Cipher key, without the AEAD salt. */
    uint16_t iv_len;
    uint16_t auth_key_len;
};

static const struct suite_need suite_needs[ESP_N_SUITES] = {
    [ESP_SUITE_AES_GCM_128] = {
        "AES-GCM-128", true, RTE_CRYPTO_AEAD_AES_GCM, 0, 0, 16, 12, 0,
    },
    [ESP_SUITE_AES_GCM_256] = {
        "AES-GCM-256", true, RTE_CRYPTO_AEAD_AES_GCM, 0, 0, 32, 12, 0,
    },
    [ESP_SUITE_CHACHA20_POLY1305] = {
        "ChaCha20-Poly1305", true, RTE_CRYPTO_AEAD_CHACHA20_POLY1305, 0, 0,
        32, 12, 0,
    },
    [ESP_SUITE_AES_CBC_128_HMAC_SHA256] = {
        "AES-CBC-128/HMAC-SHA-256", false, 0, RTE_CRYPTO_CIPHER_AES_CBC,
        RTE_CRYPTO_AUTH_SHA256_HMAC, 16, 16, 32,
    },
    [ESP_SUITE_AES_CBC_256_HMAC_SHA256] = {
        "AES-CBC-256/HMAC-SHA-256", false, 0, RTE_CRYPTO_CIPHER_AES_CBC,
        RTE_CRYPTO_AUTH_SHA256_HMAC, 32, 16, 32,
    },
};

static bool
range_has(const struct rte_crypto_param_range *r, uint16_t v)
{
    if (v < r->min || v > r->max) {
        return false;
    }
    if (!r->increment) {
        return v == r->min || v == r->max;
    }
    return (v - r->min) % r->increment == 0;
}

static const struct rte_cryptodev_symmetric_capability *
find_sym(const struct rte_cryptodev_capabilities *c,
         enum rte_crypto_sym_xform_type type, int algo)
{
    for (; c && c->op != RTE_CRYPTO_OP_TYPE_UNDEFINED; c++) {
        const struct rte_cryptodev_symmetric_capability *s = &c->sym;

        if (c->op != RTE_CRYPTO_OP_TYPE_SYMMETRIC || s->xform_type != type) {
            continue;
        }
        if ((type == RTE_CRYPTO_SYM_XFORM_AEAD && (int) s->aead.algo == algo)
            || (type == RTE_CRYPTO_SYM_XFORM_CIPHER
                && (int) s->cipher.algo == algo)
            || (type == RTE_CRYPTO_SYM_XFORM_AUTH
                && (int) s->auth.algo == algo)) {
            return s;
        }
    }
    return NULL;
}

/* Whether crypto capabilities 'c' cover 'suite' with the ESP parameters
 * (16-byte ICV, AAD of 8 bytes or 12 with ESN, RFC 4106 5). */
static bool
suite_ok(const struct rte_cryptodev_capabilities *c, enum esp_suite suite,
         bool esn)
{
    const struct suite_need *n = &suite_needs[suite];
    const struct rte_cryptodev_symmetric_capability *s;

    if (n->aead) {
        s = find_sym(c, RTE_CRYPTO_SYM_XFORM_AEAD, n->aead_algo);
        return (s
                && range_has(&s->aead.key_size, n->key_len)
                && range_has(&s->aead.digest_size, ESP_ICV_LEN)
                && range_has(&s->aead.iv_size, n->iv_len)
                && range_has(&s->aead.aad_size, esn ? 12 : 8));
    }
    s = find_sym(c, RTE_CRYPTO_SYM_XFORM_CIPHER, n->cipher_algo);
    if (!s || !range_has(&s->cipher.key_size, n->key_len)
        || !range_has(&s->cipher.iv_size, n->iv_len)) {
        return false;
    }
    s = find_sym(c, RTE_CRYPTO_SYM_XFORM_AUTH, n->auth_algo);
    return (s
            && range_has(&s->auth.key_size, n->auth_key_len)
            && range_has(&s->auth.digest_size, ESP_ICV_LEN));
}

static const char *
action_name(enum rte_security_session_action_type action)
{
    return (action == RTE_SECURITY_ACTION_TYPE_INLINE_CRYPTO
            ? "inline-crypto" : "inline-protocol");
}

static bool
is_ours(const struct dpdk_caps *dc, const struct rte_security_capability *c)
{
    return (c->action == dc->action
            && c->protocol == RTE_SECURITY_PROTOCOL_IPSEC
            && c->ipsec.proto == RTE_SECURITY_IPSEC_SA_PROTO_ESP);
}

/* How far an SA got in matching one capability entry; the furthest entry
 * gives the reason. */
enum match_stage {
    MATCH_DIR,
    MATCH_MODE,
    MATCH_SUITE,
    MATCH_ESN,
    MATCH_UDP,
    MATCH_REPLAY,
    MATCH_DF,
    MATCH_DSCP,
    MATCH_ECN,
    MATCH_OK,
};

static enum match_stage
match_entry(const struct dpdk_caps *dc,
            const struct rte_security_capability *c,
            const struct esp_sa_params *p)
{
    bool proto = dc->action == RTE_SECURITY_ACTION_TYPE_INLINE_PROTOCOL;
    bool tunnel = p->mode == ESP_MODE_TUNNEL;

    if (c->ipsec.direction != (p->dir == ESP_DIR_OUT
                               ? RTE_SECURITY_IPSEC_SA_DIR_EGRESS
                               : RTE_SECURITY_IPSEC_SA_DIR_INGRESS)) {
        return MATCH_DIR;
    }
    if (c->ipsec.mode != (tunnel ? RTE_SECURITY_IPSEC_SA_MODE_TUNNEL
                          : RTE_SECURITY_IPSEC_SA_MODE_TRANSPORT)) {
        return MATCH_MODE;
    }
    if (!suite_ok(c->crypto_capabilities, p->suite, p->esn)) {
        return MATCH_SUITE;
    }
    if (p->esn && !c->ipsec.options.esn) {
        return MATCH_ESN;
    }
    if (p->udp_encap && !c->ipsec.options.udp_encap) {
        return MATCH_UDP;
    }
    /* With inline crypto the datapath keeps the replay window; with inline
     * protocol the NIC must (RFC 4303 3.4.3). */
    if (proto && p->dir == ESP_DIR_IN
        && p->replay_window > c->ipsec.replay_win_sz_max) {
        return MATCH_REPLAY;
    }
    /* Inline protocol builds the outer header: it must do what the SA
     * says (RFC 4301 8.1 DF, RFC 2983 DSCP, RFC 6040 ECN). */
    if (proto && tunnel && p->dir == ESP_DIR_OUT) {
        if (p->df == ESP_DF_COPY && !c->ipsec.options.copy_df) {
            return MATCH_DF;
        }
        if (!p->dscp_fixed && !c->ipsec.options.copy_dscp) {
            return MATCH_DSCP;
        }
        if (p->ecn == ESP_ECN_NORMAL && !c->ipsec.options.ecn) {
            return MATCH_ECN;
        }
    }
    return MATCH_OK;
}

/* Returns the first entry that takes 'p', or null with a reason. */
static const struct rte_security_capability *
match(const struct dpdk_caps *dc, const struct esp_sa_params *p,
      char *reason, size_t size)
{
    enum match_stage best = MATCH_DIR;
    const struct rte_security_capability *best_c = NULL;
    const char *dir = p->dir == ESP_DIR_OUT ? "egress" : "ingress";
    const char *mode = p->mode == ESP_MODE_TUNNEL ? "tunnel" : "transport";

    if ((unsigned int) p->suite >= ESP_N_SUITES) {
        ipsec_offload_fmt(reason, size, "unknown suite %d", (int) p->suite);
        return NULL;
    }
    for (const struct rte_security_capability *c = dc->caps;
         c->action != RTE_SECURITY_ACTION_TYPE_NONE; c++) {
        enum match_stage stage;

        if (!is_ours(dc, c)) {
            continue;
        }
        stage = match_entry(dc, c, p);
        if (stage == MATCH_OK) {
            return c;
        }
        if (stage > best || !best_c) {
            best = stage;
            best_c = c;
        }
    }

    switch (best) {
    case MATCH_DIR:
        ipsec_offload_fmt(reason, size, "port %s: no rte_security %s ESP %s capability",
            dc->port_name, action_name(dc->action), dir);
        break;
    case MATCH_MODE:
        ipsec_offload_fmt(reason, size, "port %s: no rte_security %s ESP %s %s "
            "capability", dc->port_name, action_name(dc->action), dir, mode);
        break;
    case MATCH_SUITE:
        ipsec_offload_fmt(reason, size, "port %s: %s%s not in rte_security capabilities",
            dc->port_name, suite_needs[p->suite].name,
            p->esn ? " with ESN" : "");
        break;
    case MATCH_ESN:
        ipsec_offload_fmt(reason, size, "port %s: ESN not in rte_security capabilities",
            dc->port_name);
        break;
    case MATCH_UDP:
        ipsec_offload_fmt(reason, size, "port %s: UDP encapsulation not in rte_security "
            "capabilities", dc->port_name);
        break;
    case MATCH_REPLAY:
        if (!best_c->ipsec.replay_win_sz_max) {
            ipsec_offload_fmt(reason, size, "port %s: anti-replay not in rte_security "
                "capabilities", dc->port_name);
        } else {
            ipsec_offload_fmt(reason, size, "port %s: replay window %"PRIu32" above "
                "rte_security maximum %"PRIu32, dc->port_name,
                p->replay_window, best_c->ipsec.replay_win_sz_max);
        }
        break;
    case MATCH_DF:
        ipsec_offload_fmt(reason, size, "port %s: DF copy not in rte_security "
            "capabilities", dc->port_name);
        break;
    case MATCH_DSCP:
        ipsec_offload_fmt(reason, size, "port %s: DSCP copy not in rte_security "
            "capabilities", dc->port_name);
        break;
    case MATCH_ECN:
        ipsec_offload_fmt(reason, size, "port %s: ECN not in rte_security capabilities",
            dc->port_name);
        break;
    case MATCH_OK:
        break;
    }
    return NULL;
}

/* --- Class members ---------------------------------------------------- */

static int
event_cb(uint16_t port_id, enum rte_eth_event_type event, void *cb_arg,
         void *ret_param)
{
    return ipsec_offload_dpdk_ipsec_event(port_id, event, cb_arg, ret_param);
}

/* The RTE_ETH_EVENT_IPSEC callback of each ethdev, registered once
 * however many caps probe it (DPDK keeps one entry per function and
 * argument, and unregistering removes it): the handler finds the SA by
 * the event's metadata, so one suffices.  Counted per ethdev, so that
 * the last caps of a port unregisters it, not the first. */
static pthread_mutex_t cb_mutex = PTHREAD_MUTEX_INITIALIZER;
static unsigned int cb_refs[RTE_MAX_ETHPORTS];
static unsigned int next_pool_id;

static bool
event_cb_ref(uint16_t port_id)
{
    bool ok = true;

    if (port_id >= RTE_MAX_ETHPORTS) {
        return false;
    }
    pthread_mutex_lock(&cb_mutex);
    if (!cb_refs[port_id]) {
        ok = !rte_eth_dev_callback_register(port_id, RTE_ETH_EVENT_IPSEC,
                                            event_cb, NULL);
    }
    if (ok) {
        cb_refs[port_id]++;
    }
    pthread_mutex_unlock(&cb_mutex);
    return ok;
}

static void
event_cb_unref(uint16_t port_id)
{
    pthread_mutex_lock(&cb_mutex);
    if (!--cb_refs[port_id]) {
        rte_eth_dev_callback_unregister(port_id, RTE_ETH_EVENT_IPSEC,
                                        event_cb, NULL);
    }
    pthread_mutex_unlock(&cb_mutex);
}

static int
dpdk_probe(const struct ipsec_offload_class *class,
           enum rte_security_session_action_type action,
           const struct ipsec_offload_port_info *port, void **capsp,
           char *reason, size_t size)
{
    struct dpdk_caps *dc;
    struct rte_security_ctx *ctx;
    const struct rte_security_capability *caps, *c;

    if (port->dpdk_port_id < 0 || port->dpdk_port_id > UINT16_MAX) {
        ipsec_offload_fmt(reason, size, "port %s: not a DPDK port", port->name);
        return EOPNOTSUPP;
    }
    ctx = ipsec_offload_dpdk_get_sec_ctx(port->dpdk_port_id);
    if (!ctx) {
        ipsec_offload_fmt(reason, size, "port %s: no rte_security context", port->name);
        return EOPNOTSUPP;
    }
    caps = rte_security_capabilities_get(ctx);
    if (!caps) {
        ipsec_offload_fmt(reason, size, "port %s: no rte_security capabilities",
            port->name);
        return EOPNOTSUPP;
    }

    dc = calloc(1, sizeof *dc);
    if (!dc) {
        return ENOMEM;
    }
    dc->class = class;
    dc->action = action;
    dc->port_id = port->dpdk_port_id;
    ipsec_offload_fmt(dc->port_name, sizeof dc->port_name, "%s", port->name);
    dc->ctx = ctx;
    dc->caps = caps;

    for (c = caps; c->action != RTE_SECURITY_ACTION_TYPE_NONE; c++) {
        if (is_ours(dc, c)) {
            break;
        }
    }
    if (c->action == RTE_SECURITY_ACTION_TYPE_NONE) {
        ipsec_offload_fmt(reason, size, "port %s: no rte_security %s ESP capability",
            port->name, action_name(action));
        free(dc);
        return EOPNOTSUPP;
    }

    if (action == RTE_SECURITY_ACTION_TYPE_INLINE_PROTOCOL
        && rte_eth_dev_is_valid_port(dc->port_id)
        && event_cb_ref(dc->port_id)) {
        dc->cb_registered = true;
    }
    pthread_mutex_lock(&cb_mutex);
    dc->pool_id = next_pool_id++;
    pthread_mutex_unlock(&cb_mutex);
    *capsp = dc;
    return 0;
}

static int
inline_crypto_probe(const struct ipsec_offload_port_info *port,
                    void **capsp, char *reason, size_t size)
{
    return dpdk_probe(&ipsec_offload_dpdk_inline_crypto_class,
                      RTE_SECURITY_ACTION_TYPE_INLINE_CRYPTO, port, capsp,
                      reason, size);
}

static int
inline_protocol_probe(const struct ipsec_offload_port_info *port,
                      void **capsp, char *reason, size_t size)
{
    return dpdk_probe(&ipsec_offload_dpdk_inline_protocol_class,
                      RTE_SECURITY_ACTION_TYPE_INLINE_PROTOCOL, port, capsp,
                      reason, size);
}

static void
dpdk_caps_destroy(void *caps_)
{
    struct dpdk_caps *dc = caps_;

    if (!dc) {
        return;
    }
    if (dc->cb_registered) {
        event_cb_unref(dc->port_id);
    }
    /* The registry removes a port only when it has no SAs, so every
     * session is back in the pool. */
    rte_mempool_free(dc->pool);
    free(dc);
}

static void
dpdk_caps_format(const void *caps_, char *buf, size_t size)
{
    const struct dpdk_caps *dc = caps_;

    buf[0] = '\0';
    for (const struct rte_security_capability *c = dc->caps;
         c->action != RTE_SECURITY_ACTION_TYPE_NONE; c++) {
        if (!is_ours(dc, c)) {
            continue;
        }
        ipsec_offload_append(buf, size, "%s%s/%s", buf[0] ? "; " : "",
               c->ipsec.direction == RTE_SECURITY_IPSEC_SA_DIR_EGRESS
               ? "egress" : "ingress",
               c->ipsec.mode == RTE_SECURITY_IPSEC_SA_MODE_TUNNEL
               ? "tunnel" : "transport");
        for (int s = 0; s < ESP_N_SUITES; s++) {
            if (suite_ok(c->crypto_capabilities, s, false)) {
                ipsec_offload_append(buf, size, " %s", suite_needs[s].name);
            }
        }
        if (c->ipsec.options.esn) {
            ipsec_offload_append(buf, size, " esn");
        }
        if (c->ipsec.options.udp_encap) {
            ipsec_offload_append(buf, size, " udp-encap");
        }
        if (dc->action == RTE_SECURITY_ACTION_TYPE_INLINE_PROTOCOL) {
            ipsec_offload_append(buf, size, " replay<=%"PRIu32, c->ipsec.replay_win_sz_max);
        }
    }
    ipsec_offload_append(buf, size, "; %u sessions, %u rte_flow rules",
                         dc->n_sessions, dc->n_flows);
}

static int
dpdk_can_take(const void *caps_, const struct ipsec_offload_port_info *port,
              const struct esp_sa_params *params, char *reason, size_t size)
{
    return match(caps_, params, reason, size) ? 0 : EOPNOTSUPP;
}

static void
fill_tunnel(const struct esp_sa_params *p,
            struct rte_security_ipsec_tunnel_param *t)
{
    uint8_t ttl = p->ttl ? p->ttl : 64;

    if (p->dst.family == AF_INET6) {
        t->type = RTE_SECURITY_IPSEC_TUNNEL_IPV6;
        memcpy(&t->ipv6.src_addr, &p->src.v6, sizeof t->ipv6.src_addr);
        memcpy(&t->ipv6.dst_addr, &p->dst.v6, sizeof t->ipv6.dst_addr);
        t->ipv6.dscp = p->dscp;
        t->ipv6.hlimit = ttl;
    } else {
        t->type = RTE_SECURITY_IPSEC_TUNNEL_IPV4;
        t->ipv4.src_ip = p->src.v4;
        t->ipv4.dst_ip = p->dst.v4;
        t->ipv4.dscp = p->dscp;
        t->ipv4.df = p->df == ESP_DF_SET;
        t->ipv4.ttl = ttl;
    }
}

static struct rte_mempool *
get_pool(struct dpdk_caps *dc)
{
    if (!dc->pool) {
        char name[RTE_MEMPOOL_NAMESIZE];
        /* Since DPDK 22.11 this includes the rte_security_session
         * header. */
        unsigned int elt = rte_security_session_get_size(dc->ctx);

        ipsec_offload_fmt(name, sizeof name, "ipsec_%s_%u_%u",
            dc->action == RTE_SECURITY_ACTION_TYPE_INLINE_CRYPTO
            ? "ic" : "ip", dc->port_id, dc->pool_id);
        dc->pool = rte_mempool_create(name, pool_size, elt, 0, 0,
                                      NULL, NULL, NULL, NULL,
                                      SOCKET_ID_ANY, 0);
    }
    return dc->pool;
}

/* --- Ingress rte_flow rules -------------------------------------------- */

static void
unbind_ingress(struct dpdk_sa *ds)
{
    while (ds->n_flows) {
        struct rte_flow_error err;

        memset(&err, 0, sizeof err);
        flow_ops->destroy(ds->caps->port_id, ds->flows[--ds->n_flows], &err);
        ds->caps->n_flows--;
    }
}

/* Creates the ESP rule of ingress SA 'ds' for IP version 'family'.
 * Returns 0, or EOPNOTSUPP with a reason. */
static int
bind_one(struct dpdk_sa *ds, int family, char *reason, size_t size)
{
    struct dpdk_caps *dc = ds->caps;
    struct rte_flow_attr attr = { .ingress = 1 };
    struct rte_flow_item_ipv4 ip4, ip4_mask;
    struct rte_flow_item_ipv6 ip6, ip6_mask;
    struct rte_flow_item_udp udp, udp_mask;
    struct rte_flow_item_esp esp, esp_mask;
    struct rte_flow_action_security sec = { .security_session = ds->sess };
    struct rte_flow_item items[5];
    struct rte_flow_action actions[3];
    struct rte_flow_error err;
    struct rte_flow *flow;
    int n = 0, ret;

    memset(items, 0, sizeof items);
    memset(actions, 0, sizeof actions);
    memset(&ip4, 0, sizeof ip4);
    memset(&ip4_mask, 0, sizeof ip4_mask);
    memset(&ip6, 0, sizeof ip6);
    memset(&ip6_mask, 0, sizeof ip6_mask);
    memset(&udp, 0, sizeof udp);
    memset(&udp_mask, 0, sizeof udp_mask);
    memset(&esp, 0, sizeof esp);
    memset(&esp_mask, 0, sizeof esp_mask);

    items[n++].type = RTE_FLOW_ITEM_TYPE_ETH;
    if (family == AF_INET) {
        items[n].type = RTE_FLOW_ITEM_TYPE_IPV4;
        if (ds->dst.family == AF_INET) {
            ip4.hdr.dst_addr = ds->dst.v4.s_addr;
            ip4_mask.hdr.dst_addr = UINT32_MAX;
            items[n].spec = &ip4;
            items[n].mask = &ip4_mask;
        }
    } else {
        items[n].type = RTE_FLOW_ITEM_TYPE_IPV6;
        if (ds->dst.family == AF_INET6) {
            memcpy(ip6.hdr.dst_addr, &ds->dst.v6, sizeof ip6.hdr.dst_addr);
            memset(ip6_mask.hdr.dst_addr, 0xff,
                   sizeof ip6_mask.hdr.dst_addr);
            items[n].spec = &ip6;
            items[n].mask = &ip6_mask;
        }
    }
    n++;
    if (ds->udp_encap) {
        /* The NAT-T port ESP in UDP arrives on (RFC 3948 2). */
        udp.hdr.dst_port = htons(ESP_NATT_PORT);
        udp_mask.hdr.dst_port = UINT16_MAX;
        items[n].type = RTE_FLOW_ITEM_TYPE_UDP;
        items[n].spec = &udp;
        items[n++].mask = &udp_mask;
    }
    esp.hdr.spi = htonl(ds->spi);
    esp_mask.hdr.spi = UINT32_MAX;
    items[n].type = RTE_FLOW_ITEM_TYPE_ESP;
    items[n].spec = &esp;
    items[n++].mask = &esp_mask;
    items[n].type = RTE_FLOW_ITEM_TYPE_END;

    actions[0].type = RTE_FLOW_ACTION_TYPE_SECURITY;
    actions[0].conf = &sec;
    actions[1].type = RTE_FLOW_ACTION_TYPE_END;
    memset(&err, 0, sizeof err);
    ret = flow_ops->validate(dc->port_id, &attr, items, actions, &err);
    if (ret) {
        /* Some PMDs want a fate after SECURITY: leave the packet to the
         * port's usual RSS. */
        struct rte_flow_error err2;

        actions[1].type = RTE_FLOW_ACTION_TYPE_PASSTHRU;
        actions[2].type = RTE_FLOW_ACTION_TYPE_END;
        memset(&err2, 0, sizeof err2);
        if (flow_ops->validate(dc->port_id, &attr, items, actions, &err2)) {
            actions[1].type = RTE_FLOW_ACTION_TYPE_END;
        }
    }
    memset(&err, 0, sizeof err);
    flow = flow_ops->create(dc->port_id, &attr, items, actions, &err);
    if (!flow) {
        ipsec_offload_fmt(reason, size, "port %s: rte_flow ESP rule for SPI "
            "0x%08"PRIx32" over %s refused: %s (%s)", dc->port_name, ds->spi,
            family == AF_INET ? "IPv4" : "IPv6",
            err.message ? err.message : "no message",
            rte_strerror(rte_errno));
        return EOPNOTSUPP;
    }
    ds->flows[ds->n_flows++] = flow;
    dc->n_flows++;
    return 0;
}

/* Binds ingress SA 'ds' to the NIC's receive path: without its rule the
 * NIC never looks the SA up.  Returns 0, or EOPNOTSUPP with a reason and
 * no rule left behind. */
static int
bind_ingress(struct dpdk_sa *ds, char *reason, size_t size)
{
    int families[2], n = 0;

    if (ds->dst.family) {
        families[n++] = ds->dst.family;
    } else {
        families[n++] = AF_INET;
        families[n++] = AF_INET6;
    }
    for (int i = 0; i < n; i++) {
        if (bind_one(ds, families[i], reason, size)) {
            unbind_ingress(ds);
            return EOPNOTSUPP;
        }
    }
    return 0;
}

static int
dpdk_sa_install(void *caps_, const struct ipsec_offload_port_info *port,
                const struct esp_sa_params *p, struct esp_sa *sa,
                void **privp, char *reason, size_t size)
{
    struct dpdk_caps *dc = caps_;
    const struct rte_security_capability *c = match(dc, p, reason, size);
    const struct suite_need *n;
    struct rte_security_session_conf conf;
    struct rte_crypto_sym_xform xf[2];
    struct rte_mempool *pool;
    struct dpdk_sa *ds;
    bool out = p->dir == ESP_DIR_OUT;
    bool proto = dc->action == RTE_SECURITY_ACTION_TYPE_INLINE_PROTOCOL;

    if (!c) {
        return EOPNOTSUPP;
    }
    n = &suite_needs[p->suite];
    if (p->key_len != (size_t) n->key_len + (n->aead ? ESP_SALT_LEN : 0)
        || (!n->aead && p->auth_key_len != n->auth_key_len)) {
        ipsec_offload_fmt(reason, size, "bad key length for %s", n->name);
        return EINVAL;
    }
    pool = get_pool(dc);
    if (!pool) {
        ipsec_offload_fmt(reason, size, "port %s: cannot create session mempool (%s)",
            dc->port_name, rte_strerror(rte_errno));
        return EOPNOTSUPP;
    }
    if (!rte_mempool_avail_count(pool)) {
        ipsec_offload_fmt(reason, size, "port %s: session mempool of %u exhausted",
            dc->port_name, pool->size);
        return EOPNOTSUPP;
    }
    ds = calloc(1, sizeof *ds);
    if (!ds) {
        return ENOMEM;
    }

    memset(xf, 0, sizeof xf);
    if (n->aead) {
        xf[0].type = RTE_CRYPTO_SYM_XFORM_AEAD;
        xf[0].aead.op = (out ? RTE_CRYPTO_AEAD_OP_ENCRYPT
                         : RTE_CRYPTO_AEAD_OP_DECRYPT);
        xf[0].aead.algo = n->aead_algo;
        xf[0].aead.key.data = p->key;
        xf[0].aead.key.length = n->key_len;
        xf[0].aead.iv.length = n->iv_len;
        xf[0].aead.digest_length = ESP_ICV_LEN;
        xf[0].aead.aad_length = p->esn ? 12 : 8;
    } else {
        struct rte_crypto_sym_xform *cipher = &xf[out ? 0 : 1];
        struct rte_crypto_sym_xform *auth = &xf[out ? 1 : 0];

        /* Encrypt-then-MAC out, verify-then-decrypt in (RFC 4303 3.4.4). */
        xf[0].next = &xf[1];
        cipher->type = RTE_CRYPTO_SYM_XFORM_CIPHER;
        cipher->cipher.op = (out ? RTE_CRYPTO_CIPHER_OP_ENCRYPT
                             : RTE_CRYPTO_CIPHER_OP_DECRYPT);
        cipher->cipher.algo = n->cipher_algo;
        cipher->cipher.key.data = p->key;
        cipher->cipher.key.length = n->key_len;
        cipher->cipher.iv.length = n->iv_len;
        auth->type = RTE_CRYPTO_SYM_XFORM_AUTH;
        auth->auth.op = (out ? RTE_CRYPTO_AUTH_OP_GENERATE
                         : RTE_CRYPTO_AUTH_OP_VERIFY);
        auth->auth.algo = n->auth_algo;
        auth->auth.key.data = p->auth_key;
        auth->auth.key.length = n->auth_key_len;
        auth->auth.digest_length = ESP_ICV_LEN;
    }

    memset(&conf, 0, sizeof conf);
    conf.action_type = dc->action;
    conf.protocol = RTE_SECURITY_PROTOCOL_IPSEC;
    conf.ipsec.spi = p->spi;
    if (n->aead) {
        /* The salt is the last 4 key bytes, in wire order (RFC 4106 4). */
        memcpy(&conf.ipsec.salt, p->key + n->key_len, ESP_SALT_LEN);
    }
    conf.ipsec.options.esn = p->esn;
    conf.ipsec.options.udp_encap = p->udp_encap;
    if (proto) {
        conf.ipsec.options.copy_df = p->df == ESP_DF_COPY;
        conf.ipsec.options.copy_dscp = !p->dscp_fixed;
        conf.ipsec.options.ecn = p->ecn == ESP_ECN_NORMAL;
        conf.ipsec.options.stats = c->ipsec.options.stats;
        conf.ipsec.replay_win_sz = out ? 0 : p->replay_window;
        conf.ipsec.life.packets_soft_limit = p->soft.packets;
        conf.ipsec.life.bytes_soft_limit = p->soft.bytes;
        conf.ipsec.life.packets_hard_limit = p->hard.packets;
        conf.ipsec.life.bytes_hard_limit = p->hard.bytes;
    }
    conf.ipsec.direction = (out ? RTE_SECURITY_IPSEC_SA_DIR_EGRESS
                            : RTE_SECURITY_IPSEC_SA_DIR_INGRESS);
    conf.ipsec.proto = RTE_SECURITY_IPSEC_SA_PROTO_ESP;
    if (p->mode == ESP_MODE_TUNNEL) {
        conf.ipsec.mode = RTE_SECURITY_IPSEC_SA_MODE_TUNNEL;
        fill_tunnel(p, &conf.ipsec.tunnel);
    } else {
        conf.ipsec.mode = RTE_SECURITY_IPSEC_SA_MODE_TRANSPORT;
    }
    /* Outbound: the next sequence number to send; inbound: the highest
     * seen so far. */
    conf.ipsec.esn.value = out ? p->seq + 1 : p->seq;
    conf.ipsec.udp.sport = p->sport ? p->sport : ESP_NATT_PORT;
    conf.ipsec.udp.dport = p->dport ? p->dport : ESP_NATT_PORT;
    conf.crypto_xform = xf;
    conf.userdata = ds;

    ds->sess = rte_security_session_create(dc->ctx, &conf, pool);
    /* The xforms only point at the caller's keys, but 'conf' holds the
     * salt. */
    explicit_bzero(&conf, sizeof conf);
    explicit_bzero(xf, sizeof xf);
    if (!ds->sess) {
        ipsec_offload_fmt(reason, size, "port %s: rte_security_session_create failed "
            "with %u sessions on the port (SA table full?)",
            dc->port_name, (unsigned int) dc->ctx->sess_cnt);
        free(ds);
        return EOPNOTSUPP;
    }

    ds->caps = dc;
    ds->spi = p->spi;
    /* The rule matches what ESP of the SA arrives at: its own 'dst', or
     * the port's address (a NIC such as ixgbe keys its RX SA table on
     * the destination). */
    ds->dst = p->dst.family ? p->dst : port->local;
    ds->udp_encap = p->udp_encap;
    if (!out && bind_ingress(ds, reason, size)) {
        rte_security_session_destroy(dc->ctx, ds->sess);
        free(ds);
        return EOPNOTSUPP;
    }
    ds->ol_flags = c->ol_flags;
    atomic_init(&ds->events, 0);
    ds->out = out;
    ds->tunnel = p->mode == ESP_MODE_TUNNEL;
    ds->sa = sa;
    ds->soft_at = p->soft.seconds ? p->now + p->soft.seconds : 0;
    ds->hard_at = p->hard.seconds ? p->now + p->hard.seconds : 0;
    ds->magic = DPDK_SA_MAGIC;
    dc->n_sessions++;
    pthread_mutex_lock(&sas_mutex);
    ds->next = all_sas;
    all_sas = ds;
    pthread_mutex_unlock(&sas_mutex);
    *privp = ds;
    return 0;
}

static void
dpdk_sa_remove(void *caps_, void *priv)
{
    struct dpdk_sa *ds = priv;

    if (!ds) {
        return;
    }
    pthread_mutex_lock(&sas_mutex);
    for (struct dpdk_sa **pp = &all_sas; *pp; pp = &(*pp)->next) {
        if (*pp == ds) {
            *pp = ds->next;
            break;
        }
    }
    pthread_mutex_unlock(&sas_mutex);

    /* The rule goes first: the NIC must not look up a session that is
     * gone.  The driver wipes its copy of the key; the session memory goes
     * back to the pool. */
    unbind_ingress(ds);
    rte_security_session_destroy(ds->caps->ctx, ds->sess);
    ds->caps->n_sessions--;
    ds->magic = 0;
    free(ds);
}

/* Whether ethdev 'port_id' keeps its rte_flow rules across a restart.  A
 * port id that is not an ethdev (a test's) does not. */
static bool
keeps_rules(uint16_t port_id)
{
    struct rte_eth_dev_info info;

    return (rte_eth_dev_is_valid_port(port_id)
            && !rte_eth_dev_info_get(port_id, &info)
            && info.dev_capa & RTE_ETH_DEV_CAPA_FLOW_RULE_KEEP);
}

unsigned int
ipsec_offload_dpdk_port_stopping(uint16_t port_id)
{
    unsigned int n = 0;

    if (keeps_rules(port_id)) {
        return 0;
    }
    pthread_mutex_lock(&sas_mutex);
    for (struct dpdk_sa *ds = all_sas; ds; ds = ds->next) {
        if (ds->caps->port_id == port_id && ds->n_flows) {
            n += ds->n_flows;
            unbind_ingress(ds);
            ds->rebind = true;
        }
    }
    pthread_mutex_unlock(&sas_mutex);
    return n;
}

unsigned int
ipsec_offload_dpdk_port_started(uint16_t port_id, unsigned int *n_failed,
                                char *reason, size_t size)
{
    unsigned int n = 0, failed = 0;

    if (size) {
        reason[0] = '\0';
    }
    pthread_mutex_lock(&sas_mutex);
    for (struct dpdk_sa *ds = all_sas; ds; ds = ds->next) {
        char why[256];

        if (ds->caps->port_id != port_id || !ds->rebind) {
            continue;
        }
        ds->rebind = false;
        if (bind_ingress(ds, why, sizeof why)) {
            if (!failed++ && size) {
                ipsec_offload_fmt(reason, size, "%s", why);
            }
        } else {
            n += ds->n_flows;
        }
    }
    pthread_mutex_unlock(&sas_mutex);
    if (n_failed) {
        *n_failed = failed;
    }
    return n;
}

static int
dpdk_sa_get_stats(void *priv, struct ipsec_offload_stats *stats)
{
    struct dpdk_sa *ds = priv;
    struct rte_security_stats s;

    memset(&s, 0, sizeof s);
    if (rte_security_session_stats_get(ds->caps->ctx, ds->sess, &s)) {
        return EOPNOTSUPP;
    }
    stats->ipackets = s.ipsec.ipackets;
    stats->opackets = s.ipsec.opackets;
    stats->ibytes = s.ipsec.ibytes;
    stats->obytes = s.ipsec.obytes;
    stats->ierrors = s.ipsec.ierrors;
    stats->oerrors = s.ipsec.oerrors;
    return 0;
}

static uint32_t
dpdk_sa_take_events(void *priv)
{
    struct dpdk_sa *ds = priv;

    return atomic_exchange_explicit(&ds->events, 0, memory_order_relaxed);
}

int
ipsec_offload_dpdk_ipsec_event(uint16_t port_id, int event, void *cb_arg,
                               void *ret_param)
{
    const struct rte_eth_event_ipsec_desc *desc = ret_param;
    uint32_t bits;
    int ret = -1;

    if (event != RTE_ETH_EVENT_IPSEC || !desc) {
        return -1;
    }
    switch (desc->subtype) {
    case RTE_ETH_EVENT_IPSEC_ESN_OVERFLOW:
        bits = ESP_EV_SEQ_OVERFLOW;
        break;
    case RTE_ETH_EVENT_IPSEC_SA_TIME_EXPIRY:
    case RTE_ETH_EVENT_IPSEC_SA_BYTE_EXPIRY:
    case RTE_ETH_EVENT_IPSEC_SA_PKT_EXPIRY:
        bits = ESP_EV_SOFT_EXPIRED;
        break;
    case RTE_ETH_EVENT_IPSEC_SA_BYTE_HARD_EXPIRY:
    case RTE_ETH_EVENT_IPSEC_SA_PKT_HARD_EXPIRY:
        bits = ESP_EV_HARD_EXPIRED;
        break;
    case RTE_ETH_EVENT_IPSEC_UNKNOWN:
    case RTE_ETH_EVENT_IPSEC_MAX:
    default:
        return -1;
    }

    /* The metadata is the userdata we gave the session; trust it only if
     * it is a live SA on this port. */
    pthread_mutex_lock(&sas_mutex);
    for (struct dpdk_sa *ds = all_sas; ds; ds = ds->next) {
        if ((uintptr_t) ds == (uintptr_t) desc->metadata
            && ds->caps->port_id == port_id) {
            atomic_fetch_or_explicit(&ds->events, bits,
                                     memory_order_relaxed);
            /* The NIC stopped the SA: the datapath stops using it. */
            if (bits & (ESP_EV_HARD_EXPIRED | ESP_EV_SEQ_OVERFLOW)) {
                atomic_fetch_or_explicit(&ds->dead, bits,
                                         memory_order_relaxed);
            }
            ret = 0;
            break;
        }
    }
    pthread_mutex_unlock(&sas_mutex);
    return ret;
}

int
ipsec_offload_dpdk_sa_rules(const struct ipsec_offload_sa *osa)
{
    const struct dpdk_sa *ds;

    if (ipsec_offload_dpdk_sa_session(osa, NULL, NULL, NULL)) {
        return -1;
    }
    ds = ipsec_offload_sa_priv(osa);
    return ds->out ? -1 : (int) ds->n_flows;
}

int
ipsec_offload_dpdk_sa_session(const struct ipsec_offload_sa *osa,
                              struct rte_security_ctx **ctxp, void **sessp,
                              uint32_t *ol_flagsp)
{
    const struct ipsec_offload_class *class = NULL;
    const struct dpdk_sa *ds = ipsec_offload_sa_priv(osa);
    const char *name = ipsec_offload_sa_provider(osa);

    if (!strcmp(name, ipsec_offload_dpdk_inline_crypto_class.name)) {
        class = &ipsec_offload_dpdk_inline_crypto_class;
    } else if (!strcmp(name, ipsec_offload_dpdk_inline_protocol_class.name)) {
        class = &ipsec_offload_dpdk_inline_protocol_class;
    }
    if (!class || !ds) {
        return EINVAL;
    }
    if (ctxp) {
        *ctxp = ds->caps->ctx;
    }
    if (sessp) {
        *sessp = ds->sess;
    }
    if (ol_flagsp) {
        *ol_flagsp = ds->ol_flags;
    }
    return 0;
}

int
ipsec_offload_dpdk_tx_prepare(struct rte_security_ctx *ctx, void *sess,
                              uint32_t ol_flags, void *m_, uint64_t seq)
{
    struct rte_mbuf *m = m_;

    m->ol_flags |= RTE_MBUF_F_TX_SEC_OFFLOAD;
    if (ol_flags & RTE_SECURITY_TX_OLOAD_NEED_MDATA) {
        /* The parameter is only read during the call. */
        return rte_security_set_pkt_metadata(ctx, sess, m, &seq);
    }
    return 0;
}

uint8_t
ipsec_offload_dpdk_rx_flags(uint64_t ol_flags)
{
    uint8_t flags = 0;

    if (ol_flags & RTE_MBUF_F_RX_SEC_OFFLOAD_FAILED) {
        flags |= ESP_RX_CRYPTO_FAILED;
    } else if (ol_flags & RTE_MBUF_F_RX_SEC_OFFLOAD) {
        flags |= ESP_RX_CRYPTO_DONE;
    }
    return flags;
}

/* --- Inline protocol: the datapath's steps ---------------------------- */

static bool
is_proto_sa(const struct dpdk_sa *ds)
{
    return (ds && ds->magic == DPDK_SA_MAGIC
            && ds->caps->action == RTE_SECURITY_ACTION_TYPE_INLINE_PROTOCOL);
}

/* The dpdk-inline-protocol handle of 'osa', or null. */
static struct dpdk_sa *
proto_sa(const struct ipsec_offload_sa *osa)
{
    struct dpdk_sa *ds;

    if (!osa || ipsec_offload_sa_provider(osa)
                != ipsec_offload_dpdk_inline_protocol_class.name) {
        return NULL;
    }
    ds = ipsec_offload_sa_priv(osa);
    return is_proto_sa(ds) ? ds : NULL;
}

/* Raises the time lifetimes 'now' crossed (once each) and returns the
 * verdict for every packet of the SA: ESP_OK or why it is dead. */
static enum esp_verdict
proto_state(struct dpdk_sa *ds, uint64_t now)
{
    uint32_t want = 0, dead;

    if (ds->soft_at && now >= ds->soft_at) {
        want |= ESP_EV_SOFT_EXPIRED;
    }
    if (ds->hard_at && now >= ds->hard_at) {
        want |= ESP_EV_HARD_EXPIRED;
    }
    if (want & ~atomic_load_explicit(&ds->time_raised,
                                     memory_order_relaxed)) {
        uint32_t old = atomic_fetch_or_explicit(&ds->time_raised, want,
                                                memory_order_relaxed);
        uint32_t new = want & ~old;

        atomic_fetch_or_explicit(&ds->events, new, memory_order_relaxed);
        if (new & ESP_EV_HARD_EXPIRED) {
            atomic_fetch_or_explicit(&ds->dead, ESP_EV_HARD_EXPIRED,
                                     memory_order_relaxed);
        }
    }
    dead = atomic_load_explicit(&ds->dead, memory_order_relaxed);
    return (dead & ESP_EV_SEQ_OVERFLOW ? ESP_DROP_SEQ_OVERFLOW
            : dead & ESP_EV_HARD_EXPIRED ? ESP_DROP_LIFETIME : ESP_OK);
}

/* The IP packet after the Ethernet header of 'm': its length from its own
 * header, which must agree with the Ethernet type and fit in the frame;
 * 0 if it does not.  IPv6: the fixed header's payload length. */
static uint32_t
proto_ip_len(const struct rte_mbuf *m)
{
    const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *), *ip;
    uint32_t len = rte_pktmbuf_data_len(m), tot;
    uint16_t ethertype;

    if (!rte_pktmbuf_is_contiguous(m) || len < ETH_HLEN_ + 20) {
        return 0;
    }
    ethertype = f[12] << 8 | f[13];
    ip = f + ETH_HLEN_;
    len -= ETH_HLEN_;
    if (ethertype == RTE_ETHER_TYPE_IPV4 && ip[0] >> 4 == 4) {
        uint32_t hl = (ip[0] & 0xf) * 4;

        tot = ip[2] << 8 | ip[3];
        return hl >= 20 && tot >= hl && tot <= len ? tot : 0;
    }
    if (ethertype == RTE_ETHER_TYPE_IPV6 && ip[0] >> 4 == 6 && len >= 40) {
        tot = 40 + (ip[4] << 8 | ip[5]);
        return tot <= len ? tot : 0;
    }
    return 0;
}

static void
proto_count(struct dpdk_sa *ds, uint64_t packets, uint64_t bytes,
            const uint64_t drops[ESP_N_VERDICTS])
{
    atomic_uint_least64_t *d = ds ? ds->drops : proto_orphan_drops;

    if (ds && packets) {
        atomic_fetch_add_explicit(&ds->packets, packets,
                                  memory_order_relaxed);
        atomic_fetch_add_explicit(&ds->bytes, bytes, memory_order_relaxed);
    }
    for (int v = 0; v < ESP_N_VERDICTS; v++) {
        if (drops[v]) {
            atomic_fetch_add_explicit(&d[v], drops[v], memory_order_relaxed);
        }
    }
}

unsigned int
ipsec_offload_dpdk_proto_tx(const struct ipsec_offload_sa *osa,
                            struct rte_mbuf *pkts[],
                            enum esp_verdict verdicts[], unsigned int n,
                            uint64_t now)
{
    struct dpdk_sa *ds = proto_sa(osa);
    uint64_t drops[ESP_N_VERDICTS] = { 0 }, bytes = 0;
    enum esp_verdict all = ESP_OK;
    unsigned int ok = 0;

    if (!is_proto_sa(ds)) {
        /* Not an inline-protocol SA: nothing to count it on. */
        for (unsigned int i = 0; i < n; i++) {
            verdicts[i] = ESP_DROP_OFFLOAD_MISMATCH;
        }
        drops[ESP_DROP_OFFLOAD_MISMATCH] = n;
        proto_count(NULL, 0, 0, drops);
        return 0;
    }
    if (!ds->out) {
        all = ESP_DROP_WRONG_DIR;
    } else {
        all = proto_state(ds, now);
    }
    for (unsigned int i = 0; i < n; i++) {
        struct rte_mbuf *m = pkts[i];
        enum esp_verdict v = all;
        uint32_t len = 0;

        if (v == ESP_OK) {
            len = proto_ip_len(m);
            v = len ? ESP_OK : ESP_DROP_MALFORMED;
        }
        if (v == ESP_OK) {
            m->ol_flags |= RTE_MBUF_F_TX_SEC_OFFLOAD;
            if ((ds->ol_flags & RTE_SECURITY_TX_OLOAD_NEED_MDATA)
                && rte_security_set_pkt_metadata(ds->caps->ctx, ds->sess, m,
                                                 NULL)) {
                m->ol_flags &= ~RTE_MBUF_F_TX_SEC_OFFLOAD;
                v = ESP_DROP_CRYPTO;
            }
        }
        verdicts[i] = v;
        if (v == ESP_OK) {
            ok++;
            bytes += len;
        } else {
            drops[v]++;
        }
    }
    proto_count(ds, ok, bytes, drops);
    return ok;
}

unsigned int
ipsec_offload_dpdk_proto_rx(struct rte_mbuf *pkts[],
                            enum esp_verdict verdicts[], struct esp_sa *sas[],
                            unsigned int n, uint64_t now)
{
    uint64_t drops[ESP_N_VERDICTS] = { 0 }, orphan[ESP_N_VERDICTS] = { 0 };
    struct dpdk_sa *cur = NULL;     /* SA whose counts are pending. */
    uint64_t packets = 0, bytes = 0;
    unsigned int ok = 0;
    bool have_field = rte_security_dynfield_is_registered();

    for (unsigned int i = 0; i < n; i++) {
        struct rte_mbuf *m = pkts[i];
        struct dpdk_sa *ds = NULL;
        enum esp_verdict v = ESP_OK;
        uint32_t len = 0;

        if (sas) {
            sas[i] = NULL;
        }
        if (!(m->ol_flags & RTE_MBUF_F_RX_SEC_OFFLOAD)) {
            /* Not the NIC's: the caller's software path. */
            v = ESP_DROP_OFFLOAD_MISMATCH;
        } else if (have_field) {
            ds = (struct dpdk_sa *) (uintptr_t) *rte_security_dynfield(m);
        }
        if (v == ESP_OK && (!is_proto_sa(ds) || ds->out)) {
            ds = NULL;
            v = ESP_DROP_NO_SA;
        }
        if (ds != cur) {
            if (cur) {
                proto_count(cur, packets, bytes, drops);
            }
            memset(drops, 0, sizeof drops);
            packets = bytes = 0;
            cur = ds;
        }
        if (v == ESP_OK && (m->ol_flags & RTE_MBUF_F_RX_SEC_OFFLOAD_FAILED)) {
            /* ICV, replay window or the NIC's own lifetime. */
            v = ESP_DROP_OFFLOAD_AUTH;
        }
        if (v == ESP_OK) {
            v = proto_state(ds, now);
        }
        if (v == ESP_OK) {
            len = proto_ip_len(m);
            v = len ? ESP_OK : ESP_DROP_MALFORMED;
        }
        if (v == ESP_OK && ds->sa
            && !esp_sa_match(ds->sa, rte_pktmbuf_mtod_offset(
                                 m, const uint8_t *, ETH_HLEN_), len)) {
            /* RFC 4301 5.2 step 4: the inner packet must fit the SA. */
            v = ESP_DROP_SELECTOR;
        }
        verdicts[i] = v;
        if (v != ESP_OK) {
            if (ds) {
                drops[v]++;
            } else {
                orphan[v]++;
            }
            continue;
        }
        /* Ethernet padding after a short inner packet. */
        if (rte_pktmbuf_data_len(m) > ETH_HLEN_ + len) {
            rte_pktmbuf_trim(m, rte_pktmbuf_data_len(m) - ETH_HLEN_ - len);
        }
        if (sas) {
            sas[i] = ds->sa;
        }
        packets++;
        bytes += len;
        ok++;
    }
    if (cur) {
        proto_count(cur, packets, bytes, drops);
    }
    proto_count(NULL, 0, 0, orphan);
    return ok;
}

int
ipsec_offload_dpdk_proto_get_stats(const struct ipsec_offload_sa *osa,
                                   struct esp_sa_stats *st)
{
    const struct dpdk_sa *ds = proto_sa(osa);

    memset(st, 0, sizeof *st);
    if (!is_proto_sa(ds)) {
        return EINVAL;
    }
    st->packets = atomic_load_explicit(&ds->packets, memory_order_relaxed);
    st->bytes = atomic_load_explicit(&ds->bytes, memory_order_relaxed);
    for (int v = 0; v < ESP_N_VERDICTS; v++) {
        st->drops[v] = atomic_load_explicit(&ds->drops[v],
                                            memory_order_relaxed);
    }
    return 0;
}

void
ipsec_offload_dpdk_proto_get_drops(uint64_t drops[ESP_N_VERDICTS])
{
    for (int v = 0; v < ESP_N_VERDICTS; v++) {
        drops[v] = atomic_load_explicit(&proto_orphan_drops[v],
                                        memory_order_relaxed);
    }
}

void
ipsec_offload_dpdk_proto_format(const struct ipsec_offload_sa *osa,
                                char *buf, size_t size)
{
    struct ipsec_offload_stats nic;
    struct esp_sa_stats dp;

    ipsec_offload_fmt(buf, size, "%s", "");
    if (ipsec_offload_dpdk_proto_get_stats(osa, &dp)) {
        return;
    }
    ipsec_offload_append(buf, size, "datapath: packets=%"PRIu64
                         " bytes=%"PRIu64, dp.packets, dp.bytes);
    for (int v = 0; v < ESP_N_VERDICTS; v++) {
        if (dp.drops[v]) {
            ipsec_offload_append(buf, size, " %s=%"PRIu64,
                                 esp_verdict_name(v), dp.drops[v]);
        }
    }
    if (!ipsec_offload_sa_get_stats(osa, &nic)) {
        ipsec_offload_append(buf, size, "; nic: ipackets=%"PRIu64
                             " ibytes=%"PRIu64" ierrors=%"PRIu64
                             " opackets=%"PRIu64" obytes=%"PRIu64
                             " oerrors=%"PRIu64, nic.ipackets, nic.ibytes,
                             nic.ierrors, nic.opackets, nic.obytes,
                             nic.oerrors);
    }
}

int
ipsec_offload_dpdk_register(struct ipsec_offload *reg)
{
    int error;

    error = ipsec_offload_register(reg,
                                   &ipsec_offload_dpdk_inline_crypto_class);

    if (!error) {
        error = ipsec_offload_register(
            reg, &ipsec_offload_dpdk_inline_protocol_class);
    }
    return error;
}

const struct ipsec_offload_class ipsec_offload_dpdk_inline_crypto_class = {
    .name = "dpdk-inline-crypto",
    .kind = IPSEC_OFFLOAD_INLINE_CRYPTO,
    .probe = inline_crypto_probe,
    .caps_destroy = dpdk_caps_destroy,
    .caps_format = dpdk_caps_format,
    .can_take = dpdk_can_take,
    .sa_install = dpdk_sa_install,
    .sa_remove = dpdk_sa_remove,
    .sa_get_stats = dpdk_sa_get_stats,
    .sa_take_events = NULL,     /* The datapath keeps lifetimes and the
                                 * sequence number. */
};

const struct ipsec_offload_class ipsec_offload_dpdk_inline_protocol_class = {
    .name = "dpdk-inline-protocol",
    .kind = IPSEC_OFFLOAD_INLINE_PROTOCOL,
    .probe = inline_protocol_probe,
    .caps_destroy = dpdk_caps_destroy,
    .caps_format = dpdk_caps_format,
    .can_take = dpdk_can_take,
    .sa_install = dpdk_sa_install,
    .sa_remove = dpdk_sa_remove,
    .sa_get_stats = dpdk_sa_get_stats,
    .sa_take_events = dpdk_sa_take_events,
};
