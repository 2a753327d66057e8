/*
 * Software model of an inline-IPsec-capable NIC: an rte_security context
 * with real rte_security_ops.  See sec-model.h.
 */
/* The model is a driver: it registers the security dynfield as PMDs do
 * (rte_security_dynfield_register() is internal API). */
#define ALLOW_INTERNAL_API 1

#include "sec-model.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <rte_cryptodev.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_flow.h>
#include <rte_mbuf.h>
#include <rte_malloc.h>
#include <rte_mbuf_dyn.h>
#include <rte_security.h>
#include <rte_security_driver.h>

#include "ipsec-offload-dpdk.h"

enum {
    MAX_CAPS = 2 * 2 * 2 + 1,   /* actions x directions x modes + end. */
    MAX_CRYPTO_CAPS = 5 + 1,
    MAX_ATTACH = 16,
    KEY_MAX = 32,
    MAX_PORTS = 4,              /* Ports with RX/TX callbacks. */
    MAX_QUEUES = 4,             /* Per port. */
    ICV_LEN = 16,
    SCRATCH = 65536 + 64,
    WIN_BITS = 4096,            /* Largest inline-protocol replay window. */
    ETH_LEN = 14,
};

/* What set_pkt_metadata() leaves in the mbuf (the model's dynfield). */
/* 16 bytes: the mbuf has 36 bytes of dynamic fields in all, which a
 * net_pcap port's timestamp (8) and the security field (8) share. */
struct model_md {
    void *sess;
    uint64_t seq;               /* Full sequence number, or 0 if none was
                                 * given (ESP never sends number 0). */
};

struct model_port {
    uint16_t port_id;
    uint16_t n_rx, n_tx;
    const struct rte_eth_rxtx_callback *rx[MAX_QUEUES], *tx[MAX_QUEUES];
};

/* An ingress rte_flow rule.  The rte_flow handle the provider gets is a
 * pointer to one of these. */
struct model_flow {
    bool live;
    uint16_t port_id;
    uint8_t family;             /* AF_INET or AF_INET6. */
    bool has_dst;
    uint8_t dst[16];
    bool udp;                   /* ESP in UDP (port 4500). */
    uint32_t spi;
    struct rte_security_session *sess;
};

struct secmodel {
    struct rte_security_ctx ctx;
    struct secmodel_config cfg;
    struct rte_security_capability caps[MAX_CAPS];
    struct rte_cryptodev_capabilities crypto_caps[MAX_CRYPTO_CAPS];
    struct rte_security_session **table;        /* sa_table_size slots. */
    struct model_flow *flows;   /* n_flow_slots rules. */
    unsigned int n_flow_slots;
    struct secmodel_counters c;
    struct model_port ports[MAX_PORTS];
    unsigned int n_ports;
    uint8_t *scratch;           /* SCRATCH bytes for RX decryption. */
};

/* What the model keeps per session: its SA table entry.  The keys are
 * kept for the crypto the RX/TX callbacks will do. */
struct model_sess {
    struct secmodel *model;
    unsigned int slot;
    enum rte_security_session_action_type action;
    enum rte_security_ipsec_sa_direction dir;
    uint32_t spi;
    uint32_t salt;
    uint32_t alg;               /* enum secmodel_alg bit. */
    uint8_t key[KEY_MAX];
    uint8_t auth_key[KEY_MAX];
    bool esn, udp_encap;
    bool tunnel;
    uint8_t dst_family;         /* Ingress tunnel: AF_INET(6), else 0. */
    uint8_t dst[16];
    uint64_t top;               /* Ingress: highest sequence number that
                                 * verified, for the ESN high bits. */
    uint64_t userdata;
    struct rte_security_ipsec_stats stats;

    /* Inline protocol. */
    bool copy_df, copy_dscp, ecn;
    uint8_t tun_family;         /* Egress tunnel: outer AF_INET(6). */
    uint8_t tun_src[16], tun_dst[16];
    uint8_t ttl, dscp;
    bool df;
    uint16_t sport, dport;
    uint16_t ip_id;
    uint64_t next_seq;          /* Egress: next sequence number to send. */
    uint32_t win;               /* Ingress: replay window, 0 = none. */
    uint64_t bits[WIN_BITS / 64];       /* Seen numbers near 'top', bit
                                         * seq % WIN_BITS. */
    struct rte_security_ipsec_lifetime life;
    uint64_t life_packets, life_bytes;
    uint32_t raised;            /* Events already raised (1 << subtype). */
    bool dead;                  /* Hard lifetime or sequence exhausted. */

    /* AEAD: OpenSSL contexts with the key set up, for encryption [1] and
     * decryption [0], made at first use and freed with the session, so
     * that a packet costs only its IV and data (a NIC has its key
     * schedule in the SA table; a context per packet would make the
     * model's footprint on the CPU it shares with the datapath, which
     * benchmarks cannot subtract, far larger than needed). */
    EVP_CIPHER_CTX *aead_ctx[2];
};

static int dynfield_offset = -1;

static struct {
    uint16_t port_id;
    struct secmodel *model;
} attached[MAX_ATTACH];
static unsigned int n_attached;

/* --- rte_security_ops -------------------------------------------------- */

static const struct rte_security_capability *
model_capabilities_get(void *device)
{
    struct secmodel *m = device;

    return m->caps;
}

static unsigned int
model_session_get_size(void *device)
{
    return sizeof(struct model_sess);
}

static bool
advertised(const struct secmodel *m,
           const struct rte_security_session_conf *conf)
{
    const struct rte_security_ipsec_xform *x = &conf->ipsec;

    for (const struct rte_security_capability *c = m->caps;
         c->action != RTE_SECURITY_ACTION_TYPE_NONE; c++) {
        if (c->action == conf->action_type
            && c->protocol == conf->protocol
            && c->ipsec.proto == x->proto
            && c->ipsec.direction == x->direction
            && c->ipsec.mode == x->mode) {
            return true;
        }
    }
    return false;
}

/* Which advertised algorithm the crypto xforms ask for, or 0. */
static uint32_t
xform_alg(const struct secmodel *m, const struct rte_crypto_sym_xform *xf,
          bool egress, const uint8_t **key, size_t *key_len,
          const uint8_t **auth_key)
{
    const struct rte_crypto_sym_xform *cipher, *auth;
    uint32_t alg = 0;

    if (!xf) {
        return 0;
    }
    if (xf->type == RTE_CRYPTO_SYM_XFORM_AEAD) {
        const struct rte_crypto_aead_xform *a = &xf->aead;

        if (xf->next || a->digest_length != 16 || a->iv.length != 12
            || a->op != (egress ? RTE_CRYPTO_AEAD_OP_ENCRYPT
                         : RTE_CRYPTO_AEAD_OP_DECRYPT)) {
            return 0;
        }
        if (a->algo == RTE_CRYPTO_AEAD_AES_GCM && a->key.length == 16) {
            alg = SECMODEL_AES_GCM_128;
        } else if (a->algo == RTE_CRYPTO_AEAD_AES_GCM
                   && a->key.length == 32) {
            alg = SECMODEL_AES_GCM_256;
        } else if (a->algo == RTE_CRYPTO_AEAD_CHACHA20_POLY1305
                   && a->key.length == 32) {
            alg = SECMODEL_CHACHA20_POLY1305;
        }
        *key = a->key.data;
        *key_len = a->key.length;
        *auth_key = NULL;
        return alg & m->cfg.algs;
    }

    /* Encrypt-then-MAC on egress, verify-then-decrypt on ingress. */
    cipher = egress ? xf : xf->next;
    auth = egress ? xf->next : xf;
    if (!cipher || !auth || cipher->type != RTE_CRYPTO_SYM_XFORM_CIPHER
        || auth->type != RTE_CRYPTO_SYM_XFORM_AUTH
        || cipher->cipher.algo != RTE_CRYPTO_CIPHER_AES_CBC
        || auth->auth.algo != RTE_CRYPTO_AUTH_SHA256_HMAC
        || auth->auth.digest_length != 16 || auth->auth.key.length != 32
        || auth->auth.op != (egress ? RTE_CRYPTO_AUTH_OP_GENERATE
                             : RTE_CRYPTO_AUTH_OP_VERIFY)) {
        return 0;
    }
    if (cipher->cipher.key.length == 16) {
        alg = SECMODEL_AES_CBC_128_HMAC_SHA256;
    } else if (cipher->cipher.key.length == 32) {
        alg = SECMODEL_AES_CBC_256_HMAC_SHA256;
    }
    *key = cipher->cipher.key.data;
    *key_len = cipher->cipher.key.length;
    *auth_key = auth->auth.key.data;
    return alg & m->cfg.algs;
}

static int
model_session_create(void *device, struct rte_security_session_conf *conf,
                     struct rte_security_session *sess)
{
    struct secmodel *m = device;
    struct model_sess *ms = SECURITY_GET_SESS_PRIV(sess);
    const struct rte_security_ipsec_xform *x = &conf->ipsec;
    bool egress = x->direction == RTE_SECURITY_IPSEC_SA_DIR_EGRESS;
    bool proto = conf->action_type == RTE_SECURITY_ACTION_TYPE_INLINE_PROTOCOL;
    const uint8_t *key = NULL, *auth_key = NULL;
    size_t key_len = 0;
    uint32_t alg;
    unsigned int slot;

    if (m->cfg.fail_create) {
        m->c.failed++;
        return -EIO;
    }
    alg = xform_alg(m, conf->crypto_xform, egress, &key, &key_len, &auth_key);
    if (!advertised(m, conf) || !alg || !key
        || (x->options.esn && !m->cfg.esn)
        || (x->options.udp_encap && !m->cfg.udp_encap)
        || (proto && x->replay_win_sz > m->cfg.replay_win_max)
        || (proto && x->replay_win_sz > WIN_BITS)
        || (proto && x->options.copy_df && !m->cfg.copy_df)
        || (proto && x->options.copy_dscp && !m->cfg.copy_dscp)
        || (proto && x->options.ecn && !m->cfg.ecn)) {
        m->c.rejected++;
        return -ENOTSUP;
    }
    for (slot = 0; slot < m->cfg.sa_table_size; slot++) {
        if (!m->table[slot]) {
            break;
        }
    }
    if (slot >= m->cfg.sa_table_size) {
        m->c.table_full++;
        return -ENOSPC;
    }

    memset(ms, 0, sizeof *ms);
    ms->model = m;
    ms->slot = slot;
    ms->action = conf->action_type;
    ms->dir = x->direction;
    ms->spi = x->spi;
    ms->salt = x->salt;
    ms->alg = alg;
    memcpy(ms->key, key, key_len);
    if (auth_key) {
        memcpy(ms->auth_key, auth_key, 32);
    }
    ms->esn = x->options.esn;
    ms->udp_encap = x->options.udp_encap;
    ms->tunnel = x->mode == RTE_SECURITY_IPSEC_SA_MODE_TUNNEL;
    if (ms->tunnel && !egress) {
        if (x->tunnel.type == RTE_SECURITY_IPSEC_TUNNEL_IPV4) {
            ms->dst_family = AF_INET;
            memcpy(ms->dst, &x->tunnel.ipv4.dst_ip, 4);
        } else {
            ms->dst_family = AF_INET6;
            memcpy(ms->dst, &x->tunnel.ipv6.dst_addr, 16);
        }
    }
    ms->top = x->esn.value;
    ms->userdata = (uintptr_t) conf->userdata;
    if (proto) {
        ms->copy_df = x->options.copy_df;
        ms->copy_dscp = x->options.copy_dscp;
        ms->ecn = x->options.ecn;
        ms->sport = x->udp.sport ? x->udp.sport : 4500;
        ms->dport = x->udp.dport ? x->udp.dport : 4500;
        ms->next_seq = x->esn.value;
        ms->win = x->replay_win_sz;
        ms->life = x->life;
        if (ms->tunnel && egress) {
            if (x->tunnel.type == RTE_SECURITY_IPSEC_TUNNEL_IPV4) {
                ms->tun_family = AF_INET;
                memcpy(ms->tun_src, &x->tunnel.ipv4.src_ip, 4);
                memcpy(ms->tun_dst, &x->tunnel.ipv4.dst_ip, 4);
                ms->ttl = x->tunnel.ipv4.ttl;
                ms->dscp = x->tunnel.ipv4.dscp;
                ms->df = x->tunnel.ipv4.df;
            } else {
                ms->tun_family = AF_INET6;
                memcpy(ms->tun_src, &x->tunnel.ipv6.src_addr, 16);
                memcpy(ms->tun_dst, &x->tunnel.ipv6.dst_addr, 16);
                ms->ttl = x->tunnel.ipv6.hlimit;
                ms->dscp = x->tunnel.ipv6.dscp;
            }
        }
    }
    m->table[slot] = sess;
    m->c.live++;
    m->c.created++;
    return 0;
}

static int
model_session_destroy(void *device, struct rte_security_session *sess)
{
    struct secmodel *m = device;
    struct model_sess *ms = SECURITY_GET_SESS_PRIV(sess);

    if (ms->model != m || ms->slot >= m->cfg.sa_table_size
        || m->table[ms->slot] != sess) {
        return -EINVAL;
    }
    for (unsigned int i = 0; i < m->n_flow_slots; i++) {
        struct model_flow *f = &m->flows[i];

        if (f->live && f->sess == sess) {
            f->live = false;
            m->c.flows--;
            m->c.flow_orphaned++;
        }
    }
    m->table[ms->slot] = NULL;
    EVP_CIPHER_CTX_free(ms->aead_ctx[0]);
    EVP_CIPHER_CTX_free(ms->aead_ctx[1]);
    explicit_bzero(ms, sizeof *ms);
    m->c.live--;
    m->c.destroyed++;
    return 0;
}

static int
model_session_stats_get(void *device, struct rte_security_session *sess,
                        struct rte_security_stats *stats)
{
    struct model_sess *ms;

    if (!sess) {
        return -EINVAL;
    }
    ms = SECURITY_GET_SESS_PRIV(sess);
    memset(stats, 0, sizeof *stats);
    stats->protocol = RTE_SECURITY_PROTOCOL_IPSEC;
    stats->ipsec = ms->stats;
    return 0;
}

static int
model_set_pkt_metadata(void *device, struct rte_security_session *sess,
                       struct rte_mbuf *mb, void *params)
{
    struct secmodel *m = device;
    struct model_md *md = RTE_MBUF_DYNFIELD(mb, dynfield_offset,
                                            struct model_md *);

    /* 'params', like iavf's: null or the packet's full 64-bit sequence
     * number (the ESN high half is not on the wire). */
    md->sess = sess;
    md->seq = params ? *(const uint64_t *) params : 0;
    m->c.metadata_set++;
    return 0;
}

static const struct rte_security_ops model_ops = {
    .session_create = model_session_create,
    .session_update = NULL,
    .session_get_size = model_session_get_size,
    .session_stats_get = model_session_stats_get,
    .session_destroy = model_session_destroy,
    .set_pkt_metadata = model_set_pkt_metadata,
    .capabilities_get = model_capabilities_get,
};

/* --- rte_flow ----------------------------------------------------------- */

static int
flow_error(struct rte_flow_error *error, int code,
           enum rte_flow_error_type type, const void *cause,
           const char *message)
{
    return rte_flow_error_set(error, code, type, cause, message);
}

static bool
all_zero(const void *p_, size_t n)
{
    const uint8_t *p = p_;

    for (size_t i = 0; i < n; i++) {
        if (p[i]) {
            return false;
        }
    }
    return true;
}

static bool
all_ones(const void *p_, size_t n)
{
    const uint8_t *p = p_;

    for (size_t i = 0; i < n; i++) {
        if (p[i] != 0xff) {
            return false;
        }
    }
    return true;
}

/* The IP item: no spec (any address of the version), or the destination
 * with a full mask and nothing else masked. */
static int
parse_ip_item(const struct rte_flow_item *it, struct model_flow *f,
              struct rte_flow_error *error)
{
    bool v4 = it->type == RTE_FLOW_ITEM_TYPE_IPV4;

    f->family = v4 ? AF_INET : AF_INET6;
    if (!it->spec) {
        return 0;
    }
    if (v4) {
        const struct rte_flow_item_ipv4 *spec = it->spec;
        const struct rte_flow_item_ipv4 *mask
            = it->mask ? it->mask : &rte_flow_item_ipv4_mask;
        struct rte_flow_item_ipv4 rest = *mask;

        rest.hdr.dst_addr = 0;
        if (!all_zero(&rest, sizeof rest)) {
            return flow_error(error, ENOTSUP, RTE_FLOW_ERROR_TYPE_ITEM_MASK,
                              it, "only the IPv4 destination can be "
                              "matched");
        }
        if (mask->hdr.dst_addr) {
            if (mask->hdr.dst_addr != UINT32_MAX) {
                return flow_error(error, ENOTSUP,
                                  RTE_FLOW_ERROR_TYPE_ITEM_MASK, it,
                                  "the IPv4 destination needs a full mask");
            }
            f->has_dst = true;
            memcpy(f->dst, &spec->hdr.dst_addr, 4);
        }
    } else {
        const struct rte_flow_item_ipv6 *spec = it->spec;
        const struct rte_flow_item_ipv6 *mask
            = it->mask ? it->mask : &rte_flow_item_ipv6_mask;
        struct rte_flow_item_ipv6 rest = *mask;

        memset(rest.hdr.dst_addr, 0, sizeof rest.hdr.dst_addr);
        if (!all_zero(&rest, sizeof rest)) {
            return flow_error(error, ENOTSUP, RTE_FLOW_ERROR_TYPE_ITEM_MASK,
                              it, "only the IPv6 destination can be "
                              "matched");
        }
        if (!all_zero(mask->hdr.dst_addr, 16)) {
            if (!all_ones(mask->hdr.dst_addr, 16)) {
                return flow_error(error, ENOTSUP,
                                  RTE_FLOW_ERROR_TYPE_ITEM_MASK, it,
                                  "the IPv6 destination needs a full mask");
            }
            f->has_dst = true;
            memcpy(f->dst, spec->hdr.dst_addr, 16);
        }
    }
    return 0;
}

/* Parses a rule into 'f' (model 'm', port 'port_id').  Returns 0 or a
 * negative errno with 'error' set. */
static int
parse_flow(struct secmodel *m, uint16_t port_id,
           const struct rte_flow_attr *attr,
           const struct rte_flow_item pattern[],
           const struct rte_flow_action actions[], struct model_flow *f,
           struct rte_flow_error *error)
{
    const struct rte_flow_item *it = pattern;
    const struct rte_flow_action *ac = actions;
    const struct model_sess *ms;
    bool have_esp = false;
    int ret;

    memset(f, 0, sizeof *f);
    f->port_id = port_id;
    if (m->cfg.no_flow_ops) {
        return flow_error(error, ENOSYS, RTE_FLOW_ERROR_TYPE_UNSPECIFIED,
                          NULL, "operation not supported");
    }
    if (!attr || !pattern || !actions) {
        return flow_error(error, EINVAL, RTE_FLOW_ERROR_TYPE_UNSPECIFIED,
                          NULL, "null attr, pattern or actions");
    }
    if (!attr->ingress || attr->egress || attr->transfer || attr->group) {
        return flow_error(error, ENOTSUP, RTE_FLOW_ERROR_TYPE_ATTR, attr,
                          "only ingress rules in group 0");
    }

    /* Pattern. */
    while (it->type == RTE_FLOW_ITEM_TYPE_VOID) {
        it++;
    }
    if (it->type == RTE_FLOW_ITEM_TYPE_ETH) {
        if (it->spec || it->last) {
            return flow_error(error, ENOTSUP, RTE_FLOW_ERROR_TYPE_ITEM, it,
                              "Ethernet fields can't be matched");
        }
        it++;
    }
    while (it->type == RTE_FLOW_ITEM_TYPE_VOID) {
        it++;
    }
    if (it->type != RTE_FLOW_ITEM_TYPE_IPV4
        && it->type != RTE_FLOW_ITEM_TYPE_IPV6) {
        return flow_error(error, ENOTSUP, RTE_FLOW_ERROR_TYPE_ITEM, it,
                          "IPv4 or IPv6 item expected");
    }
    if (it->last) {
        return flow_error(error, ENOTSUP, RTE_FLOW_ERROR_TYPE_ITEM_LAST, it,
                          "ranges are not supported");
    }
    ret = parse_ip_item(it, f, error);
    if (ret) {
        return ret;
    }
    if (m->cfg.rule_needs_dst && !f->has_dst) {
        return flow_error(error, ENOTSUP, RTE_FLOW_ERROR_TYPE_ITEM, it,
                          "the RX SA table needs the destination address");
    }
    for (it++; it->type != RTE_FLOW_ITEM_TYPE_END; it++) {
        if (it->type == RTE_FLOW_ITEM_TYPE_VOID) {
            continue;
        }
        if (it->last || have_esp) {
            return flow_error(error, ENOTSUP, RTE_FLOW_ERROR_TYPE_ITEM, it,
                              "unsupported item after ESP, or a range");
        }
        if (it->type == RTE_FLOW_ITEM_TYPE_UDP && !f->udp) {
            const struct rte_flow_item_udp *spec = it->spec;
            const struct rte_flow_item_udp *mask = it->mask;

            if (!spec || !mask || mask->hdr.src_port || mask->hdr.dgram_len
                || mask->hdr.dgram_cksum || mask->hdr.dst_port != UINT16_MAX
                || spec->hdr.dst_port != htons(4500)) {
                return flow_error(error, ENOTSUP,
                                  RTE_FLOW_ERROR_TYPE_ITEM_SPEC, it,
                                  "UDP: only destination port 4500 with a "
                                  "full mask");
            }
            f->udp = true;
        } else if (it->type == RTE_FLOW_ITEM_TYPE_ESP) {
            const struct rte_flow_item_esp *spec = it->spec;
            const struct rte_flow_item_esp *mask = it->mask;

            if (!spec || !mask || mask->hdr.spi != UINT32_MAX
                || mask->hdr.seq) {
                return flow_error(error, ENOTSUP,
                                  RTE_FLOW_ERROR_TYPE_ITEM_MASK, it,
                                  "ESP: the SPI with a full mask, nothing "
                                  "else");
            }
            f->spi = ntohl(spec->hdr.spi);
            have_esp = true;
        } else {
            return flow_error(error, ENOTSUP, RTE_FLOW_ERROR_TYPE_ITEM, it,
                              "unsupported item");
        }
    }
    if (!have_esp) {
        return flow_error(error, ENOTSUP, RTE_FLOW_ERROR_TYPE_ITEM_NUM,
                          NULL, "an ESP item is required");
    }

    /* Actions. */
    while (ac->type == RTE_FLOW_ACTION_TYPE_VOID) {
        ac++;
    }
    if (ac->type != RTE_FLOW_ACTION_TYPE_SECURITY || !ac->conf) {
        return flow_error(error, ENOTSUP, RTE_FLOW_ERROR_TYPE_ACTION, ac,
                          "the first action must be SECURITY");
    }
    f->sess = ((const struct rte_flow_action_security *) ac->conf)
              ->security_session;
    for (ac++; ac->type != RTE_FLOW_ACTION_TYPE_END; ac++) {
        if (ac->type != RTE_FLOW_ACTION_TYPE_VOID
            && ac->type != RTE_FLOW_ACTION_TYPE_PASSTHRU) {
            return flow_error(error, ENOTSUP, RTE_FLOW_ERROR_TYPE_ACTION,
                              ac, "only PASSTHRU may follow SECURITY");
        }
    }

    /* The session: live in this model, ingress, agreeing with the
     * pattern. */
    ms = f->sess ? SECURITY_GET_SESS_PRIV(f->sess) : NULL;
    if (!ms || ms->model != m || ms->slot >= m->cfg.sa_table_size
        || m->table[ms->slot] != f->sess) {
        return flow_error(error, EINVAL, RTE_FLOW_ERROR_TYPE_ACTION_CONF,
                          NULL, "SECURITY: not a live session of this port");
    }
    if (ms->dir != RTE_SECURITY_IPSEC_SA_DIR_INGRESS) {
        return flow_error(error, EINVAL, RTE_FLOW_ERROR_TYPE_ACTION_CONF,
                          NULL, "SECURITY: not an ingress session");
    }
    if (ms->spi != f->spi) {
        return flow_error(error, EINVAL, RTE_FLOW_ERROR_TYPE_ITEM_SPEC,
                          NULL, "ESP: SPI differs from the session's");
    }
    if (ms->udp_encap != f->udp) {
        return flow_error(error, EINVAL, RTE_FLOW_ERROR_TYPE_ITEM, NULL,
                          "UDP item and the session's encapsulation "
                          "disagree");
    }
    if (ms->dst_family && f->has_dst
        && (ms->dst_family != f->family
            || memcmp(ms->dst, f->dst, f->family == AF_INET ? 4 : 16))) {
        return flow_error(error, EINVAL, RTE_FLOW_ERROR_TYPE_ITEM_SPEC,
                          NULL, "destination differs from the session's "
                          "tunnel");
    }
    for (unsigned int i = 0; i < m->n_flow_slots; i++) {
        const struct model_flow *g = &m->flows[i];

        if (g->live && g->port_id == f->port_id && g->family == f->family
            && g->has_dst == f->has_dst && g->udp == f->udp
            && g->spi == f->spi
            && (!f->has_dst || !memcmp(g->dst, f->dst, 16))) {
            return flow_error(error, EEXIST, RTE_FLOW_ERROR_TYPE_ITEM, NULL,
                              "a rule for this SPI and destination exists");
        }
    }
    return 0;
}

static struct secmodel *model_of_port(uint16_t port_id);

static int
model_flow_validate(uint16_t port_id, const struct rte_flow_attr *attr,
                    const struct rte_flow_item pattern[],
                    const struct rte_flow_action actions[],
                    struct rte_flow_error *error)
{
    struct secmodel *m = model_of_port(port_id);
    struct model_flow f;
    int ret;

    if (!m) {
        return rte_flow_validate(port_id, attr, pattern, actions, error);
    }
    ret = parse_flow(m, port_id, attr, pattern, actions, &f, error);
    if (ret) {
        m->c.flow_refused++;
    }
    return ret;
}

static struct rte_flow *
model_flow_create(uint16_t port_id, const struct rte_flow_attr *attr,
                  const struct rte_flow_item pattern[],
                  const struct rte_flow_action actions[],
                  struct rte_flow_error *error)
{
    struct secmodel *m = model_of_port(port_id);
    struct model_flow f;
    unsigned int i;

    if (!m) {
        return rte_flow_create(port_id, attr, pattern, actions, error);
    }
    if (parse_flow(m, port_id, attr, pattern, actions, &f, error)) {
        m->c.flow_refused++;
        return NULL;
    }
    for (i = 0; i < m->n_flow_slots; i++) {
        if (!m->flows[i].live) {
            break;
        }
    }
    if (i >= m->n_flow_slots) {
        m->c.flow_refused++;
        flow_error(error, ENOSPC, RTE_FLOW_ERROR_TYPE_HANDLE, NULL,
                   "ESP rule table full");
        return NULL;
    }
    /* The PMD thread's RX callback reads the table without a lock, as a
     * NIC's parser reads its rule memory: the rule is whole before it is
     * live. */
    m->flows[i] = f;
    __atomic_store_n(&m->flows[i].live, true, __ATOMIC_RELEASE);
    m->c.flows++;
    m->c.flow_created++;
    return (struct rte_flow *) &m->flows[i];
}

static int
model_flow_destroy(uint16_t port_id, struct rte_flow *flow,
                   struct rte_flow_error *error)
{
    struct secmodel *m = model_of_port(port_id);
    struct model_flow *f = (struct model_flow *) flow;

    if (!m) {
        return rte_flow_destroy(port_id, flow, error);
    }
    if (f < m->flows || f >= m->flows + m->n_flow_slots || !f->live
        || f->port_id != port_id) {
        return flow_error(error, EINVAL, RTE_FLOW_ERROR_TYPE_HANDLE, flow,
                          "no such rule");
    }
    __atomic_store_n(&f->live, false, __ATOMIC_RELEASE);
    m->c.flows--;
    m->c.flow_destroyed++;
    return 0;
}

static const struct ipsec_offload_dpdk_flow_ops model_flow_ops = {
    model_flow_validate, model_flow_create, model_flow_destroy,
};

const struct ipsec_offload_dpdk_flow_ops *
secmodel_flow_ops(void)
{
    return &model_flow_ops;
}

void
secmodel_set_no_flow_ops(struct secmodel *m, bool no_flow_ops)
{
    m->cfg.no_flow_ops = no_flow_ops;
}

unsigned int
secmodel_flows_flush(struct secmodel *m, uint16_t port_id)
{
    unsigned int n = 0;

    for (unsigned int i = 0; i < m->n_flow_slots; i++) {
        struct model_flow *f = &m->flows[i];

        if (f->live && f->port_id == port_id) {
            __atomic_store_n(&f->live, false, __ATOMIC_RELEASE);
            m->c.flows--;
            n++;
        }
    }
    return n;
}

/* --- Building the advertised capabilities ------------------------------ */

static struct rte_crypto_param_range
key_range(bool k16, bool k32)
{
    struct rte_crypto_param_range r = { 16, 32, 16 };

    if (!k32) {
        r.max = 16;
        r.increment = 0;
    } else if (!k16) {
        r.min = 32;
        r.increment = 0;
    }
    return r;
}

static void
build_caps(struct secmodel *m)
{
    const struct secmodel_config *cfg = &m->cfg;
    struct rte_cryptodev_capabilities *cc = m->crypto_caps;
    struct rte_security_capability *c = m->caps;
    const struct rte_crypto_param_range r16 = { 16, 16, 0 };
    const struct rte_crypto_param_range r12 = { 12, 12, 0 };
    const struct rte_crypto_param_range aad = { 8, 12, 4 };
    bool g128 = cfg->algs & SECMODEL_AES_GCM_128;
    bool g256 = cfg->algs & SECMODEL_AES_GCM_256;
    bool c128 = cfg->algs & SECMODEL_AES_CBC_128_HMAC_SHA256;
    bool c256 = cfg->algs & SECMODEL_AES_CBC_256_HMAC_SHA256;

    if (g128 || g256) {
        cc->op = RTE_CRYPTO_OP_TYPE_SYMMETRIC;
        cc->sym.xform_type = RTE_CRYPTO_SYM_XFORM_AEAD;
        cc->sym.aead.algo = RTE_CRYPTO_AEAD_AES_GCM;
        cc->sym.aead.block_size = 16;
        cc->sym.aead.key_size = key_range(g128, g256);
        cc->sym.aead.digest_size = r16;
        cc->sym.aead.aad_size = aad;
        cc->sym.aead.iv_size = r12;
        cc++;
    }
    if (cfg->algs & SECMODEL_CHACHA20_POLY1305) {
        cc->op = RTE_CRYPTO_OP_TYPE_SYMMETRIC;
        cc->sym.xform_type = RTE_CRYPTO_SYM_XFORM_AEAD;
        cc->sym.aead.algo = RTE_CRYPTO_AEAD_CHACHA20_POLY1305;
        cc->sym.aead.block_size = 64;
        cc->sym.aead.key_size = key_range(false, true);
        cc->sym.aead.digest_size = r16;
        cc->sym.aead.aad_size = aad;
        cc->sym.aead.iv_size = r12;
        cc++;
    }
    if (c128 || c256) {
        cc->op = RTE_CRYPTO_OP_TYPE_SYMMETRIC;
        cc->sym.xform_type = RTE_CRYPTO_SYM_XFORM_CIPHER;
        cc->sym.cipher.algo = RTE_CRYPTO_CIPHER_AES_CBC;
        cc->sym.cipher.block_size = 16;
        cc->sym.cipher.key_size = key_range(c128, c256);
        cc->sym.cipher.iv_size = r16;
        cc++;
        cc->op = RTE_CRYPTO_OP_TYPE_SYMMETRIC;
        cc->sym.xform_type = RTE_CRYPTO_SYM_XFORM_AUTH;
        cc->sym.auth.algo = RTE_CRYPTO_AUTH_SHA256_HMAC;
        cc->sym.auth.block_size = 64;
        cc->sym.auth.key_size = key_range(false, true);
        cc->sym.auth.digest_size = r16;
        cc++;
    }
    cc->op = RTE_CRYPTO_OP_TYPE_UNDEFINED;

    for (int a = 0; a < 2; a++) {
        enum rte_security_session_action_type action
            = (a ? RTE_SECURITY_ACTION_TYPE_INLINE_PROTOCOL
               : RTE_SECURITY_ACTION_TYPE_INLINE_CRYPTO);

        if (!(cfg->actions & (a ? SECMODEL_INLINE_PROTOCOL
                              : SECMODEL_INLINE_CRYPTO))) {
            continue;
        }
        for (int d = 0; d < 2; d++) {
            if (!(d ? cfg->ingress : cfg->egress)) {
                continue;
            }
            for (int t = 0; t < 2; t++) {
                if (!(t ? cfg->tunnel : cfg->transport)) {
                    continue;
                }
                memset(c, 0, sizeof *c);
                c->action = action;
                c->protocol = RTE_SECURITY_PROTOCOL_IPSEC;
                c->ipsec.proto = RTE_SECURITY_IPSEC_SA_PROTO_ESP;
                c->ipsec.mode = (t ? RTE_SECURITY_IPSEC_SA_MODE_TUNNEL
                                 : RTE_SECURITY_IPSEC_SA_MODE_TRANSPORT);
                c->ipsec.direction = (d ? RTE_SECURITY_IPSEC_SA_DIR_INGRESS
                                      : RTE_SECURITY_IPSEC_SA_DIR_EGRESS);
                c->ipsec.options.esn = cfg->esn;
                c->ipsec.options.udp_encap = cfg->udp_encap;
                if (a) {
                    c->ipsec.replay_win_sz_max = cfg->replay_win_max;
                    c->ipsec.options.copy_df = cfg->copy_df;
                    c->ipsec.options.copy_dscp = cfg->copy_dscp;
                    c->ipsec.options.ecn = cfg->ecn;
                    c->ipsec.options.stats = 1;
                }
                c->crypto_capabilities = m->crypto_caps;
                /* Like ixgbe: the TX path needs per-packet metadata (for
                 * inline protocol too: it finds the session there). */
                c->ol_flags = (!d ? RTE_SECURITY_TX_OLOAD_NEED_MDATA : 0);
                c++;
            }
        }
    }
    c->action = RTE_SECURITY_ACTION_TYPE_NONE;
}

/* --- Public API -------------------------------------------------------- */

struct secmodel *
secmodel_create(const struct secmodel_config *cfg)
{
    static const struct rte_mbuf_dynfield field = {
        .name = "secmodel_metadata",
        .size = sizeof(struct model_md),
        .align = __alignof__(struct model_md),
    };
    struct secmodel *m;

    if (dynfield_offset < 0) {
        dynfield_offset = rte_mbuf_dynfield_register(&field);
        if (dynfield_offset < 0) {
            return NULL;
        }
    }
    /* Where inline protocol RX leaves the session's userdata, as PMDs
     * that do inline protocol register it at probe time. */
    if (cfg->actions & SECMODEL_INLINE_PROTOCOL
        && rte_security_dynfield_register() < 0) {
        return NULL;
    }
    m = calloc(1, sizeof *m);
    if (!m) {
        return NULL;
    }
    m->cfg = *cfg;
    m->table = calloc(cfg->sa_table_size ? cfg->sa_table_size : 1,
                      sizeof *m->table);
    m->n_flow_slots = (cfg->flow_table_size ? cfg->flow_table_size
                       : 2 * cfg->sa_table_size);
    m->flows = calloc(m->n_flow_slots ? m->n_flow_slots : 1,
                      sizeof *m->flows);
    m->scratch = malloc(SCRATCH);
    if (!m->table || !m->flows || !m->scratch) {
        free(m->table);
        free(m->flows);
        free(m->scratch);
        free(m);
        return NULL;
    }
    build_caps(m);
    m->ctx.device = m;
    m->ctx.ops = &model_ops;
    m->ctx.sess_cnt = 0;
    m->ctx.flags = 0;           /* No fast metadata: use the callback. */
    return m;
}

unsigned int
secmodel_destroy(struct secmodel *m)
{
    unsigned int live;

    if (!m) {
        return 0;
    }
    live = m->c.live;
    while (m->n_ports) {
        secmodel_port_detach(m, m->ports[0].port_id);
    }
    for (unsigned int i = 0; i < n_attached; i++) {
        if (attached[i].model == m) {
            attached[i] = attached[--n_attached];
            i--;
        }
    }
    free(m->table);
    free(m->flows);
    free(m->scratch);
    free(m);
    return live;
}

struct rte_security_ctx *
secmodel_ctx(struct secmodel *m)
{
    return &m->ctx;
}

void
secmodel_get_counters(const struct secmodel *m, struct secmodel_counters *c)
{
    *c = m->c;
}

static struct secmodel *
model_of_port(uint16_t port_id)
{
    for (unsigned int i = 0; i < n_attached; i++) {
        if (attached[i].port_id == port_id) {
            return attached[i].model;
        }
    }
    return NULL;
}

static struct rte_security_ctx *
model_get_sec_ctx(uint16_t port_id)
{
    struct secmodel *m = model_of_port(port_id);

    return m ? &m->ctx : rte_eth_dev_get_sec_ctx(port_id);
}

int
secmodel_attach(struct secmodel *m, uint16_t port_id)
{
    for (unsigned int i = 0; i < n_attached; i++) {
        if (attached[i].port_id == port_id) {
            attached[i].model = m;
            return 0;
        }
    }
    if (n_attached >= MAX_ATTACH) {
        return ENOSPC;
    }
    attached[n_attached].port_id = port_id;
    attached[n_attached].model = m;
    n_attached++;
    ipsec_offload_dpdk_set_sec_ctx_fn(model_get_sec_ctx);
    ipsec_offload_dpdk_set_flow_ops(&model_flow_ops);
    return 0;
}

void
secmodel_detach_all(void)
{
    n_attached = 0;
    ipsec_offload_dpdk_set_sec_ctx_fn(NULL);
    ipsec_offload_dpdk_set_flow_ops(NULL);
}

void *
secmodel_mbuf_session(const struct rte_mbuf *m)
{
    if (dynfield_offset < 0) {
        return NULL;
    }
    return RTE_MBUF_DYNFIELD(m, dynfield_offset,
                             const struct model_md *)->sess;
}

/* What a PMD does with rte_eth_dev_callback_process(): here straight to
 * the dpdk provider's handler (ethdev_driver.h is not installed). */
static int
raise_event(uint16_t port_id, const struct model_sess *ms, int subtype)
{
    struct rte_eth_event_ipsec_desc desc = {
        .subtype = subtype,
        .metadata = ms->userdata,
    };

    return ipsec_offload_dpdk_ipsec_event(port_id, RTE_ETH_EVENT_IPSEC, NULL,
                                          &desc);
}

int
secmodel_raise_event(struct secmodel *m, uint16_t port_id, void *sess,
                     int subtype)
{
    return raise_event(port_id, SECURITY_GET_SESS_PRIV(sess), subtype);
}

void
secmodel_account(void *sess, bool egress, uint64_t packets, uint64_t bytes,
                 uint64_t errors)
{
    struct model_sess *ms = SECURITY_GET_SESS_PRIV(sess);

    if (egress) {
        ms->stats.opackets += packets;
        ms->stats.obytes += bytes;
        ms->stats.oerrors += errors;
    } else {
        ms->stats.ipackets += packets;
        ms->stats.ibytes += bytes;
        ms->stats.ierrors += errors;
    }
}

/* --- The NIC's crypto: ethdev RX/TX callbacks ------------------------- */

/* Where ESP sits in an Ethernet frame. */
struct model_pkt {
    uint8_t *ip;
    uint8_t *esp;
    uint8_t *end;               /* End of the IP packet (the ICV's end). */
    uint8_t family;
    const uint8_t *dst;         /* Outer destination address. */
    bool udp;
};

/* Finds ESP in the frame in 'mb': Ethernet, then IPv4 (no fragment) or
 * IPv6 without extension headers, then ESP or UDP 4500 + non-zero SPI.
 * A NIC's parser does about as much. */
static bool
parse_esp(struct rte_mbuf *mb, struct model_pkt *p)
{
    uint8_t *f = rte_pktmbuf_mtod(mb, uint8_t *);
    uint32_t len = rte_pktmbuf_data_len(mb), l3, tot;
    uint16_t ethertype;
    uint8_t proto;

    if (!rte_pktmbuf_is_contiguous(mb) || len < 14 + 20) {
        return false;
    }
    ethertype = f[12] << 8 | f[13];
    p->ip = f + 14;
    len -= 14;
    if (ethertype == 0x0800 && p->ip[0] >> 4 == 4) {
        l3 = (p->ip[0] & 0xf) * 4;
        tot = p->ip[2] << 8 | p->ip[3];
        if (l3 < 20 || tot < l3 || tot > len
            || ((p->ip[6] << 8 | p->ip[7]) & 0x3fff)) {
            return false;
        }
        proto = p->ip[9];
        p->family = AF_INET;
        p->dst = p->ip + 16;
    } else if (ethertype == 0x86dd && p->ip[0] >> 4 == 6 && len >= 40) {
        l3 = 40;
        tot = 40 + (p->ip[4] << 8 | p->ip[5]);
        if (tot > len) {
            return false;
        }
        proto = p->ip[6];
        p->family = AF_INET6;
        p->dst = p->ip + 24;
    } else {
        return false;
    }
    p->udp = proto == IPPROTO_UDP;
    if (p->udp) {
        const uint8_t *u = p->ip + l3;

        if (tot < l3 + 8 + 8 || (u[2] << 8 | u[3]) != 4500
            || !(u[8] | u[9] | u[10] | u[11])) {
            return false;
        }
        l3 += 8;
    } else if (proto != 50) {
        return false;
    }
    p->esp = p->ip + l3;
    p->end = p->ip + tot;
    return p->end - p->esp >= 8 + 8 + ICV_LEN;
}

static bool
is_aead(uint32_t alg)
{
    return alg & (SECMODEL_AES_GCM_128 | SECMODEL_AES_GCM_256
                  | SECMODEL_CHACHA20_POLY1305);
}

static const EVP_CIPHER *
evp_cipher(uint32_t alg)
{
    switch (alg) {
    case SECMODEL_AES_GCM_128:
        return EVP_aes_128_gcm();
    case SECMODEL_AES_GCM_256:
        return EVP_aes_256_gcm();
    case SECMODEL_CHACHA20_POLY1305:
        return EVP_chacha20_poly1305();
    case SECMODEL_AES_CBC_128_HMAC_SHA256:
        return EVP_aes_128_cbc();
    case SECMODEL_AES_CBC_256_HMAC_SHA256:
        return EVP_aes_256_cbc();
    default:
        return NULL;
    }
}

static void
wr32(uint8_t *p, uint32_t v)
{
    p[0] = v >> 24;
    p[1] = v >> 16;
    p[2] = v >> 8;
    p[3] = v;
}

static uint32_t
rd32(const uint8_t *p)
{
    return (uint32_t) p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

/* RFC 4106 section 5 / RFC 7634 section 2.1: SPI || [seq hi] || seq lo. */
static int
make_aad(uint8_t aad[12], const uint8_t *esp, uint64_t seq, bool esn)
{
    memcpy(aad, esp, 4);
    if (!esn) {
        memcpy(aad + 4, esp + 4, 4);
        return 8;
    }
    wr32(aad + 4, seq >> 32);
    wr32(aad + 8, seq);
    return 12;
}

/* AEAD: encrypt or decrypt 'in' to 'out' (may be equal); the tag is
 * written (encrypt) or checked (decrypt).  Returns 0, or -1 on a bad tag
 * or an OpenSSL failure. */
static int
aead(const struct model_sess *ms_, bool enc, const uint8_t *esp,
     uint64_t seq, const uint8_t *in, uint8_t *out, int len, uint8_t *tag)
{
    /* The contexts are a cache, not part of the session's state. */
    struct model_sess *ms = (struct model_sess *) ms_;
    EVP_CIPHER_CTX *c = ms->aead_ctx[enc];
    uint8_t nonce[12], aad[12];
    int n, aad_len = make_aad(aad, esp, seq, ms->esn);

    if (!c) {
        c = EVP_CIPHER_CTX_new();
        if (!c
            || !EVP_CipherInit_ex(c, evp_cipher(ms->alg), NULL, NULL, NULL,
                                  enc)
            || !EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL)
            || !EVP_CipherInit_ex(c, NULL, NULL, ms->key, NULL, enc)) {
            EVP_CIPHER_CTX_free(c);
            return -1;
        }
        ms->aead_ctx[enc] = c;
    }
    memcpy(nonce, &ms->salt, 4);        /* Wire order (the provider). */
    memcpy(nonce + 4, esp + 8, 8);
    return (EVP_CipherInit_ex(c, NULL, NULL, NULL, nonce, enc)
            && (enc || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, ICV_LEN,
                                           tag))
            && EVP_CipherUpdate(c, NULL, &n, aad, aad_len)
            && (len == 0 || EVP_CipherUpdate(c, out, &n, in, len))
            && EVP_CipherFinal_ex(c, out + len, &n)
            && (!enc || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, ICV_LEN,
                                            tag))) ? 0 : -1;
}

/* AES-CBC without padding, from 'in' to 'out' (may be equal). */
static int
cbc_to(const struct model_sess *ms, bool enc, const uint8_t *iv,
       const uint8_t *in, uint8_t *out, int len)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n, ok;

    ok = (c
          && EVP_CipherInit_ex(c, evp_cipher(ms->alg), NULL, ms->key, iv,
                               enc)
          && EVP_CIPHER_CTX_set_padding(c, 0)
          && (len == 0 || EVP_CipherUpdate(c, out, &n, in, len))
          && EVP_CipherFinal_ex(c, out + len, &n));
    EVP_CIPHER_CTX_free(c);
    return ok ? 0 : -1;
}

/* AES-CBC without padding, in place. */
static int
cbc(const struct model_sess *ms, bool enc, const uint8_t *iv, uint8_t *data,
    int len)
{
    return cbc_to(ms, enc, iv, data, data, len);
}

/* HMAC-SHA-256-128 (RFC 4868) over ESP header .. ciphertext end, and the
 * ESN high bits (RFC 4303 section 3.3.2.1), which are not on the wire. */
static int
hmac(const struct model_sess *ms, uint8_t *scratch, const uint8_t *esp,
     const uint8_t *end, uint64_t seq, uint8_t icv[ICV_LEN])
{
    size_t len = end - esp;
    uint8_t md[32];
    unsigned int md_len = 0;

    memcpy(scratch, esp, len);
    if (ms->esn) {
        wr32(scratch + len, seq >> 32);
        len += 4;
    }
    if (!HMAC(EVP_sha256(), ms->auth_key, 32, scratch, len, md, &md_len)) {
        return -1;
    }
    memcpy(icv, md, ICV_LEN);
    explicit_bzero(md, sizeof md);
    return 0;
}

/* UDP checksum over IPv6: it covers the ciphertext, so the NIC fills it
 * in (esp.h, inline crypto). */
static void
udp6_csum(uint8_t *ip, uint8_t *end)
{
    uint8_t *u = ip + 40;
    uint32_t len = end - u, sum = IPPROTO_UDP + len;
    uint16_t c;

    u[6] = u[7] = 0;
    for (int i = 8; i < 40; i += 2) {
        sum += ip[i] << 8 | ip[i + 1];
    }
    for (uint32_t i = 0; i + 1 < len; i += 2) {
        sum += u[i] << 8 | u[i + 1];
    }
    if (len & 1) {
        sum += u[len - 1] << 8;
    }
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    c = ~sum;
    c = c ? c : 0xffff;
    u[6] = c >> 8;
    u[7] = c;
}

/* The live session 'sess' of model 'm', or null. */
static struct model_sess *
live_sess(struct secmodel *m, void *sess)
{
    struct model_sess *ms;

    if (!sess) {
        return NULL;
    }
    ms = SECURITY_GET_SESS_PRIV(sess);
    if (ms->model != m || ms->slot >= m->cfg.sa_table_size
        || m->table[ms->slot] != sess) {
        return NULL;
    }
    return ms;
}

/* Encrypts one packet the datapath built (esp.h, inline crypto).  Returns
 * 0 or -1 (nothing the NIC can use). */
static int
tx_one(struct secmodel *m, struct rte_mbuf *mb, struct model_sess **msp)
{
    const struct model_md *md = RTE_MBUF_DYNFIELD(mb, dynfield_offset,
                                                  const struct model_md *);
    struct model_sess *ms = live_sess(m, md->sess);
    struct model_pkt p;
    uint8_t *data, *icv;
    uint64_t seq;
    int iv_len, len;

    *msp = ms;
    if (!ms || ms->dir != RTE_SECURITY_IPSEC_SA_DIR_EGRESS
        || ms->action != RTE_SECURITY_ACTION_TYPE_INLINE_CRYPTO
        || !parse_esp(mb, &p) || rd32(p.esp) != ms->spi
        || p.udp != ms->udp_encap) {
        return -1;
    }
    seq = rd32(p.esp + 4);
    if (md->seq) {
        if ((uint32_t) md->seq != seq) {
            return -1;
        }
        seq = md->seq;
    } else if (ms->esn) {
        return -1;              /* The high half is not in the packet. */
    }
    iv_len = is_aead(ms->alg) ? 8 : 16;
    data = p.esp + 8 + iv_len;
    icv = p.end - ICV_LEN;
    len = icv - data;
    if (len < 0 || (!is_aead(ms->alg) && len % 16)) {
        return -1;
    }
    if (is_aead(ms->alg)) {
        if (aead(ms, true, p.esp, seq, data, data, len, icv)) {
            return -1;
        }
    } else if (cbc(ms, true, p.esp + 8, data, len)
               || hmac(ms, m->scratch, p.esp, icv, seq, icv)) {
        return -1;
    }
    if (p.udp && p.family == AF_INET6) {
        udp6_csum(p.ip, p.end);
    }
    return 0;
}

/* --- Inline protocol -------------------------------------------------- */

static uint64_t infer_seq(uint64_t top, uint32_t lo);

/* Internet checksum (RFC 1071) of an IPv4 header, 'hl' bytes. */
static void
ip4_csum(uint8_t *ip, unsigned int hl)
{
    uint32_t sum = 0;
    uint16_t c;

    ip[10] = ip[11] = 0;
    for (unsigned int i = 0; i < hl; i += 2) {
        sum += ip[i] << 8 | ip[i + 1];
    }
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    c = ~sum;
    ip[10] = c >> 8;
    ip[11] = c;
}

static void
wr16(uint8_t *p, uint16_t v)
{
    p[0] = v >> 8;
    p[1] = v;
}

/* Raises event 'subtype' for 'ms' once in the session's life. */
static void
proto_event(struct secmodel *m, uint16_t port_id, struct model_sess *ms,
            int subtype)
{
    if (!(ms->raised & (1u << subtype))) {
        ms->raised |= 1u << subtype;
        m->c.proto_events++;
        raise_event(port_id, ms, subtype);
    }
}

/* Counts one packet of 'bytes' cleartext bytes against the lifetime and
 * raises what it crossed. */
static void
proto_life(struct secmodel *m, uint16_t port_id, struct model_sess *ms,
           uint64_t bytes)
{
    const struct rte_security_ipsec_lifetime *l = &ms->life;

    ms->life_packets++;
    ms->life_bytes += bytes;
    if (l->packets_soft_limit && ms->life_packets >= l->packets_soft_limit) {
        proto_event(m, port_id, ms, RTE_ETH_EVENT_IPSEC_SA_PKT_EXPIRY);
    }
    if (l->bytes_soft_limit && ms->life_bytes >= l->bytes_soft_limit) {
        proto_event(m, port_id, ms, RTE_ETH_EVENT_IPSEC_SA_BYTE_EXPIRY);
    }
    if (l->packets_hard_limit && ms->life_packets >= l->packets_hard_limit) {
        proto_event(m, port_id, ms, RTE_ETH_EVENT_IPSEC_SA_PKT_HARD_EXPIRY);
        ms->dead = true;
    }
    if (l->bytes_hard_limit && ms->life_bytes >= l->bytes_hard_limit) {
        proto_event(m, port_id, ms, RTE_ETH_EVENT_IPSEC_SA_BYTE_HARD_EXPIRY);
        ms->dead = true;
    }
}

/* The IP packet in an Ethernet frame: its length from its own header
 * ('*hl': the IP header's length, IPv6 without extension headers), or 0
 * if the frame does not hold a sane one. */
static uint32_t
frame_ip(const uint8_t *f, uint32_t len, uint32_t *hl)
{
    const uint8_t *ip = f + ETH_LEN;
    uint16_t ethertype;
    uint32_t tot;

    if (len < ETH_LEN + 20) {
        return 0;
    }
    ethertype = f[12] << 8 | f[13];
    len -= ETH_LEN;
    if (ethertype == 0x0800 && ip[0] >> 4 == 4) {
        *hl = (ip[0] & 0xf) * 4;
        tot = ip[2] << 8 | ip[3];
        return *hl >= 20 && tot >= *hl && tot <= len ? tot : 0;
    }
    if (ethertype == 0x86dd && ip[0] >> 4 == 6 && len >= 40) {
        *hl = 40;
        tot = 40 + (ip[4] << 8 | ip[5]);
        return tot <= len ? tot : 0;
    }
    return 0;
}

/* The live egress inline-protocol session in 'mb''s metadata, or null. */
static struct model_sess *
proto_tx_sess(struct secmodel *m, struct rte_mbuf *mb)
{
    const struct model_md *md = RTE_MBUF_DYNFIELD(mb, dynfield_offset,
                                                  const struct model_md *);
    struct model_sess *ms = live_sess(m, md->sess);

    return (ms && ms->action == RTE_SECURITY_ACTION_TYPE_INLINE_PROTOCOL
            && ms->dir == RTE_SECURITY_IPSEC_SA_DIR_EGRESS ? ms : NULL);
}

enum proto_result {
    PROTO_OK,
    PROTO_BAD,                  /* Unusable packet. */
    PROTO_EXPIRED,              /* Session may not send or receive. */
    PROTO_AUTH,                 /* ICV. */
    PROTO_REPLAY,               /* Duplicate or left of the window. */
};

/* Builds ESP around the packet in 'mb' for 'ms' (RFC 4303 3.3). */
static enum proto_result
proto_tx_one(struct secmodel *m, uint16_t port_id, struct model_sess *ms,
             struct rte_mbuf *mb)
{
    uint8_t *f = rte_pktmbuf_mtod(mb, uint8_t *), *ip = f + ETH_LEN;
    uint8_t eth[ETH_LEN], hdr[60];
    uint32_t hl, ip_len, pay_len, pad, ct_len, l3, front, tail, tot;
    bool aead_alg = is_aead(ms->alg), v6_out;
    uint32_t iv_len = aead_alg ? 8 : 16, udp = ms->udp_encap ? 8 : 0;
    uint8_t nh, tos = 0, *nip, *esp, *data;
    bool inner_df = false;
    uint64_t seq;

    if (!rte_pktmbuf_is_contiguous(mb)) {
        return PROTO_BAD;
    }
    ip_len = frame_ip(f, rte_pktmbuf_data_len(mb), &hl);
    if (!ip_len) {
        return PROTO_BAD;
    }
    if (ip[0] >> 4 == 4) {
        tos = ip[1];
        inner_df = ip[6] & 0x40;
    } else {
        tos = (ip[0] << 4 | ip[1] >> 4) & 0xff;
    }
    if (ms->tunnel) {
        nh = ip[0] >> 4 == 4 ? 4 : 41;
        v6_out = ms->tun_family == AF_INET6;
        l3 = v6_out ? 40 : 20;
        pay_len = ip_len;
        front = l3 + udp + 8 + iv_len;
    } else {
        nh = ip[0] >> 4 == 4 ? ip[9] : ip[6];
        v6_out = ip[0] >> 4 == 6;
        l3 = hl;
        pay_len = ip_len - hl;
        front = udp + 8 + iv_len;
        /* Fragments and IPv6 extension headers are not for ESP to cut. */
        if ((!v6_out && ((ip[6] << 8 | ip[7]) & 0x3fff))
            || (v6_out && (nh == 0 || nh == 43 || nh == 44 || nh == 60))) {
            return PROTO_BAD;
        }
    }
    /* Padding: to 4 bytes for the AEAD suites, the AES block for CBC
     * (RFC 4303 2.4). */
    pad = (aead_alg ? 4 : 16) - (pay_len + 2) % (aead_alg ? 4 : 16);
    pad %= aead_alg ? 4 : 16;
    ct_len = pay_len + pad + 2;
    tail = pad + 2 + ICV_LEN;
    tot = l3 + udp + 8 + iv_len + ct_len + ICV_LEN;
    if (rte_pktmbuf_data_len(mb) > ETH_LEN + ip_len) {
        rte_pktmbuf_trim(mb, rte_pktmbuf_data_len(mb) - ETH_LEN - ip_len);
    }
    if (tot > 65535 || rte_pktmbuf_headroom(mb) < front
        || rte_pktmbuf_tailroom(mb) < tail) {
        return PROTO_BAD;
    }

    /* The session may send this one (RFC 4303 3.3.3: never cycle). */
    if (ms->dead) {
        return PROTO_EXPIRED;
    }
    seq = ms->next_seq;
    if ((!ms->esn && seq > UINT32_MAX) || (ms->esn && seq == 0)) {
        proto_event(m, port_id, ms, RTE_ETH_EVENT_IPSEC_ESN_OVERFLOW);
        ms->dead = true;
        return PROTO_EXPIRED;
    }

    memcpy(eth, f, ETH_LEN);
    if (!ms->tunnel) {
        memcpy(hdr, ip, hl);
    }
    f = (uint8_t *) rte_pktmbuf_prepend(mb, front);
    rte_pktmbuf_append(mb, tail);
    memcpy(f, eth, ETH_LEN);
    wr16(f + 12, v6_out ? 0x86dd : 0x0800);
    nip = f + ETH_LEN;

    if (ms->tunnel && !v6_out) {
        /* RFC 4301 5.1.2.1 / 8.1, RFC 2983, RFC 6040 4.1. */
        uint8_t dscp = ms->copy_dscp ? tos >> 2 : ms->dscp;
        bool df = (ms->copy_df ? (nh == 41 || inner_df) : ms->df);

        memset(nip, 0, 20);
        nip[0] = 0x45;
        nip[1] = dscp << 2 | (ms->ecn ? (tos & 3) : 0);
        wr16(nip + 2, tot);
        wr16(nip + 4, ms->ip_id++);
        nip[6] = df ? 0x40 : 0;
        nip[8] = ms->ttl ? ms->ttl : 64;
        nip[9] = udp ? IPPROTO_UDP : IPPROTO_ESP;
        memcpy(nip + 12, ms->tun_src, 4);
        memcpy(nip + 16, ms->tun_dst, 4);
        ip4_csum(nip, 20);
    } else if (ms->tunnel) {
        uint8_t tc = ((ms->copy_dscp ? tos >> 2 : ms->dscp) << 2
                      | (ms->ecn ? (tos & 3) : 0));

        memset(nip, 0, 40);
        nip[0] = 0x60 | tc >> 4;
        nip[1] = tc << 4;
        wr16(nip + 4, tot - 40);
        nip[6] = udp ? IPPROTO_UDP : IPPROTO_ESP;
        nip[7] = ms->ttl ? ms->ttl : 64;
        memcpy(nip + 8, ms->tun_src, 16);
        memcpy(nip + 24, ms->tun_dst, 16);
    } else {
        /* Transport (RFC 4303 3.1.1): ESP after the IP header. */
        memcpy(nip, hdr, hl);
        if (!v6_out) {
            wr16(nip + 2, tot);
            nip[9] = udp ? IPPROTO_UDP : IPPROTO_ESP;
            ip4_csum(nip, hl);
        } else {
            wr16(nip + 4, tot - 40);
            nip[6] = udp ? IPPROTO_UDP : IPPROTO_ESP;
        }
    }
    if (udp) {
        uint8_t *u = nip + l3;

        /* RFC 3948 2.1: IPv4 checksum 0; IPv6 below, over the
         * ciphertext. */
        wr16(u, ms->sport);
        wr16(u + 2, ms->dport);
        wr16(u + 4, tot - l3);
        u[6] = u[7] = 0;
    }
    esp = nip + l3 + udp;
    wr32(esp, ms->spi);
    wr32(esp + 4, seq);
    if (aead_alg) {
        /* RFC 4106 3.1: the IV must not repeat; the counter does not. */
        wr32(esp + 8, seq >> 32);
        wr32(esp + 12, seq);
    } else if (RAND_bytes(esp + 8, 16) != 1) {
        return PROTO_BAD;
    }
    data = esp + 8 + iv_len;    /* The payload is already here. */
    for (uint32_t i = 0; i < pad; i++) {
        data[pay_len + i] = i + 1;
    }
    data[pay_len + pad] = pad;
    data[pay_len + pad + 1] = nh;
    if (aead_alg) {
        if (aead(ms, true, esp, seq, data, data, ct_len, data + ct_len)) {
            return PROTO_BAD;
        }
    } else if (cbc(ms, true, esp + 8, data, ct_len)
               || hmac(ms, m->scratch, esp, data + ct_len, seq,
                       data + ct_len)) {
        return PROTO_BAD;
    }
    if (udp && v6_out) {
        udp6_csum(nip, nip + tot);
    }
    ms->next_seq++;
    ms->stats.opackets++;
    ms->stats.obytes += ip_len;
    proto_life(m, port_id, ms, ip_len);
    return PROTO_OK;
}

static void
proto_tx(struct secmodel *m, uint16_t port_id, struct rte_mbuf *mb)
{
    struct model_sess *ms = proto_tx_sess(m, mb);
    enum proto_result r = proto_tx_one(m, port_id, ms, mb);

    if (r == PROTO_OK) {
        m->c.proto_tx++;
        return;
    }
    /* Never the cleartext on the wire: a real NIC would drop it. */
    if (rte_pktmbuf_is_contiguous(mb)
        && rte_pktmbuf_data_len(mb) > ETH_LEN) {
        memset(rte_pktmbuf_mtod_offset(mb, uint8_t *, ETH_LEN), 0,
               rte_pktmbuf_data_len(mb) - ETH_LEN);
    }
    ms->stats.oerrors++;
    if (r == PROTO_EXPIRED) {
        m->c.proto_tx_expired++;
    } else {
        m->c.proto_tx_errors++;
    }
}

/* Anti-replay (RFC 4303 3.4.3): whether 'seq' may still be accepted. */
static bool
replay_ok(const struct model_sess *ms, uint64_t seq)
{
    if (!ms->win || seq > ms->top) {
        return true;
    }
    if (ms->top - seq >= ms->win) {
        return false;                   /* Left of the window. */
    }
    return !(ms->bits[(seq % WIN_BITS) / 64] >> (seq % 64) & 1);
}

/* After the ICV verified: the window moves and 'seq' is marked seen. */
static void
replay_commit(struct model_sess *ms, uint64_t seq)
{
    if (seq > ms->top) {
        if (seq - ms->top >= WIN_BITS) {
            memset(ms->bits, 0, sizeof ms->bits);
        } else {
            for (uint64_t s = ms->top + 1; s <= seq; s++) {
                ms->bits[(s % WIN_BITS) / 64] &= ~(1ull << (s % 64));
            }
        }
        ms->top = seq;
    }
    ms->bits[(seq % WIN_BITS) / 64] |= 1ull << (seq % 64);
}

/* Verifies, decrypts and decapsulates one packet (RFC 4303 3.4), leaving
 * it untouched unless the result is PROTO_OK. */
static enum proto_result
proto_rx_one(struct secmodel *m, uint16_t port_id, struct model_sess *ms,
             struct rte_mbuf *mb, const struct model_pkt *p)
{
    uint8_t *f = rte_pktmbuf_mtod(mb, uint8_t *), *sc = m->scratch;
    bool aead_alg = is_aead(ms->alg);
    int iv_len = aead_alg ? 8 : 16;
    uint8_t *data = p->esp + 8 + iv_len, *icv = p->end - ICV_LEN, *start;
    int len = icv - data, pay_len;
    uint32_t hl = p->family == AF_INET ? (p->ip[0] & 0xf) * 4u : 40u;
    uint64_t seq = rd32(p->esp + 4);
    uint8_t pad, nh;

    if (ms->dead) {
        return PROTO_EXPIRED;
    }
    if (len < 2 || (!aead_alg && len % 16) || len > SCRATCH - 64) {
        return PROTO_BAD;
    }
    if (ms->esn) {
        seq = infer_seq(ms->top, seq);
    }
    if (!replay_ok(ms, seq)) {
        return PROTO_REPLAY;
    }
    if (aead_alg) {
        if (aead(ms, false, p->esp, seq, data, sc, len, icv)) {
            return PROTO_AUTH;
        }
    } else {
        uint8_t want[ICV_LEN];

        if (hmac(ms, sc, p->esp, icv, seq, want)
            || CRYPTO_memcmp(want, icv, ICV_LEN)) {
            return PROTO_AUTH;
        }
        if (cbc_to(ms, false, p->esp + 8, data, sc, len)) {
            return PROTO_BAD;
        }
    }
    /* RFC 4303 2.4-2.6: padding 1, 2, 3, ...; the next header fits the
     * mode; 59 (a dummy packet) is not delivered. */
    pad = sc[len - 2];
    nh = sc[len - 1];
    pay_len = len - 2 - pad;
    if (pay_len < 0) {
        return PROTO_BAD;
    }
    for (int i = 0; i < pad; i++) {
        if (sc[pay_len + i] != i + 1) {
            return PROTO_BAD;
        }
    }
    if (ms->tunnel ? !((nh == 4 && pay_len >= 20 && sc[0] >> 4 == 4)
                       || (nh == 41 && pay_len >= 40 && sc[0] >> 4 == 6))
        : nh == 59) {
        return PROTO_BAD;
    }
    replay_commit(ms, seq);

    /* Decapsulate: Ethernet + inner packet (tunnel), or the IP header
     * moved up to the payload (transport, RFC 4303 3.4.4.1). */
    memcpy(data, sc, pay_len);
    if (ms->tunnel) {
        start = data - ETH_LEN;
        memmove(start, f, 12);
        wr16(start + 12, nh == 4 ? 0x0800 : 0x86dd);
    } else {
        uint8_t *ip = data - hl;

        memmove(ip, p->ip, hl);
        start = ip - ETH_LEN;
        memmove(start, f, ETH_LEN);
        if (p->family == AF_INET) {
            wr16(ip + 2, hl + pay_len);
            ip[9] = nh;
            ip4_csum(ip, hl);
        } else {
            wr16(ip + 4, pay_len);
            ip[6] = nh;
        }
        pay_len += hl;
    }
    rte_pktmbuf_adj(mb, start - f);
    rte_pktmbuf_trim(mb, rte_pktmbuf_data_len(mb) - ETH_LEN - pay_len);
    ms->stats.ipackets++;
    ms->stats.ibytes += pay_len;
    proto_life(m, port_id, ms, pay_len);
    return PROTO_OK;
}

static void
proto_rx(struct secmodel *m, uint16_t port_id, struct model_sess *ms,
         struct rte_mbuf *mb, const struct model_pkt *p)
{
    enum proto_result r = proto_rx_one(m, port_id, ms, mb, p);

    *rte_security_dynfield(mb) = ms->userdata;
    mb->ol_flags |= RTE_MBUF_F_RX_SEC_OFFLOAD;
    if (r == PROTO_OK) {
        m->c.proto_rx++;
        return;
    }
    mb->ol_flags |= RTE_MBUF_F_RX_SEC_OFFLOAD_FAILED;
    ms->stats.ierrors++;
    switch (r) {
    case PROTO_AUTH:
        m->c.proto_rx_auth++;
        break;
    case PROTO_REPLAY:
        m->c.proto_replay++;
        break;
    case PROTO_EXPIRED:
        m->c.proto_rx_expired++;
        break;
    case PROTO_BAD:
    case PROTO_OK:
    default:
        m->c.proto_rx_bad++;
        break;
    }
}

static uint16_t
tx_callback(uint16_t port_id, uint16_t queue, struct rte_mbuf *pkts[],
            uint16_t n, void *m_)
{
    struct secmodel *m = m_;
    uint64_t start = rte_rdtsc();

    for (uint16_t i = 0; i < n; i++) {
        struct rte_mbuf *mb = pkts[i];
        struct model_sess *ms;

        if (!(mb->ol_flags & RTE_MBUF_F_TX_SEC_OFFLOAD)) {
            continue;
        }
        if (proto_tx_sess(m, mb)) {
            proto_tx(m, port_id, mb);
        } else if (!tx_one(m, mb, &ms)) {
            m->c.tx_encrypted++;
            ms->stats.opackets++;
            ms->stats.obytes += rte_pktmbuf_pkt_len(mb);
        } else {
            /* A real NIC would send garbage; the model never puts the
             * cleartext the datapath left for it on the wire. */
            uint8_t *f = rte_pktmbuf_mtod(mb, uint8_t *);
            uint32_t len = rte_pktmbuf_data_len(mb);

            if (len > 14 + 20) {
                memset(f + 14 + 20, 0, len - 14 - 20);
            }
            m->c.tx_errors++;
            if (ms) {
                ms->stats.oerrors++;
            }
        }
        /* On the wire the packet has no offload request any more. */
        mb->ol_flags &= ~RTE_MBUF_F_TX_SEC_OFFLOAD;
        memset(RTE_MBUF_DYNFIELD(mb, dynfield_offset, struct model_md *), 0,
               sizeof(struct model_md));
    }
    m->c.tx_cycles += rte_rdtsc() - start;
    return n;
}

/* The ingress session (inline crypto or protocol) that a live rte_flow
 * rule of port 'port_id' binds 'p' to, or null.  Counts rx_no_flow for
 * ESP that has a live ingress session with its SPI but no rule. */
static struct model_sess *
rx_session(struct secmodel *m, uint16_t port_id, const struct model_pkt *p)
{
    uint32_t spi = rd32(p->esp);
    int alen = p->family == AF_INET ? 4 : 16;

    for (unsigned int i = 0; i < m->n_flow_slots; i++) {
        const struct model_flow *f = &m->flows[i];

        if (__atomic_load_n(&f->live, __ATOMIC_ACQUIRE)
            && f->spi == spi && f->port_id == port_id
            && f->family == p->family && f->udp == p->udp
            && (!f->has_dst || !memcmp(f->dst, p->dst, alen))) {
            return SECURITY_GET_SESS_PRIV(f->sess);
        }
    }
    for (unsigned int i = 0; i < m->cfg.sa_table_size; i++) {
        const struct model_sess *ms;

        if (m->table[i]) {
            ms = SECURITY_GET_SESS_PRIV(m->table[i]);
            if (ms->spi == spi
                && ms->dir == RTE_SECURITY_IPSEC_SA_DIR_INGRESS) {
                m->c.rx_no_flow++;
                return NULL;
            }
        }
    }
    m->c.rx_no_session++;
    return NULL;
}

/* RFC 4303 appendix A2.2, with the model's own highest verified number:
 * the 64-bit sequence number nearest to it with these low 32 bits. */
static uint64_t
infer_seq(uint64_t top, uint32_t lo)
{
    uint64_t hi = top >> 32, best = hi << 32 | lo;

    if (lo > (uint32_t) top && hi && lo - (uint32_t) top > UINT32_MAX / 2) {
        best = (hi - 1) << 32 | lo;
    } else if (lo < (uint32_t) top && (uint32_t) top - lo > UINT32_MAX / 2
               && hi < UINT32_MAX) {
        best = (hi + 1) << 32 | lo;
    }
    return best;
}

/* Verifies and decrypts one packet in place.  Returns 0, or -1 if the
 * ICV did not verify (the packet is left as received). */
static int
rx_one(struct secmodel *m, struct model_sess *ms, const struct model_pkt *p)
{
    int iv_len = is_aead(ms->alg) ? 8 : 16;
    uint8_t *data = p->esp + 8 + iv_len, *icv = p->end - ICV_LEN;
    int len = icv - data;
    uint64_t seq = rd32(p->esp + 4);

    if (len < 0 || (!is_aead(ms->alg) && len % 16) || len > SCRATCH - 64) {
        return -1;
    }
    if (ms->esn) {
        seq = infer_seq(ms->top, seq);
    }
    if (is_aead(ms->alg)) {
        /* Into scratch first: OpenSSL writes plaintext before it checks
         * the tag. */
        if (aead(ms, false, p->esp, seq, data, m->scratch, len, icv)) {
            return -1;
        }
        memcpy(data, m->scratch, len);
    } else {
        uint8_t want[ICV_LEN];

        if (hmac(ms, m->scratch, p->esp, icv, seq, want)
            || CRYPTO_memcmp(want, icv, ICV_LEN)
            || cbc(ms, false, p->esp + 8, data, len)) {
            return -1;
        }
    }
    if (seq > ms->top) {
        ms->top = seq;
    }
    return 0;
}

static uint16_t
rx_callback(uint16_t port_id, uint16_t queue, struct rte_mbuf *pkts[],
            uint16_t n, uint16_t max_pkts, void *m_)
{
    struct secmodel *m = m_;
    uint64_t start = rte_rdtsc();

    for (uint16_t i = 0; i < n; i++) {
        struct rte_mbuf *mb = pkts[i];
        struct model_sess *ms;
        struct model_pkt p;

        mb->ol_flags &= ~(RTE_MBUF_F_RX_SEC_OFFLOAD
                          | RTE_MBUF_F_RX_SEC_OFFLOAD_FAILED);
        if (rte_security_dynfield_offset >= 0) {
            *rte_security_dynfield(mb) = 0;
        }
        if (!parse_esp(mb, &p)) {
            continue;
        }
        ms = rx_session(m, port_id, &p);
        if (!ms) {
            continue;
        }
        if (ms->action == RTE_SECURITY_ACTION_TYPE_INLINE_PROTOCOL) {
            proto_rx(m, port_id, ms, mb, &p);
        } else if (!rx_one(m, ms, &p)) {
            mb->ol_flags |= RTE_MBUF_F_RX_SEC_OFFLOAD;
            m->c.rx_decrypted++;
            ms->stats.ipackets++;
            ms->stats.ibytes += rte_pktmbuf_pkt_len(mb);
        } else {
            mb->ol_flags |= (RTE_MBUF_F_RX_SEC_OFFLOAD
                             | RTE_MBUF_F_RX_SEC_OFFLOAD_FAILED);
            m->c.rx_failed++;
            ms->stats.ierrors++;
        }
    }
    m->c.rx_cycles += rte_rdtsc() - start;
    return n;
}

int
secmodel_port_attach(struct secmodel *m, uint16_t port_id)
{
    struct rte_eth_dev_info info;
    struct model_port *mp;

    if (m->n_ports >= MAX_PORTS) {
        return ENOSPC;
    }
    if (rte_eth_dev_info_get(port_id, &info)) {
        return ENODEV;
    }
    mp = &m->ports[m->n_ports];
    memset(mp, 0, sizeof *mp);
    mp->port_id = port_id;
    mp->n_rx = RTE_MIN(info.nb_rx_queues, (uint16_t) MAX_QUEUES);
    mp->n_tx = RTE_MIN(info.nb_tx_queues, (uint16_t) MAX_QUEUES);
    for (uint16_t q = 0; q < mp->n_rx; q++) {
        mp->rx[q] = rte_eth_add_rx_callback(port_id, q, rx_callback, m);
    }
    for (uint16_t q = 0; q < mp->n_tx; q++) {
        mp->tx[q] = rte_eth_add_tx_callback(port_id, q, tx_callback, m);
    }
    m->n_ports++;
    for (uint16_t q = 0; q < mp->n_rx; q++) {
        if (!mp->rx[q]) {
            secmodel_port_detach(m, port_id);
            return EINVAL;
        }
    }
    for (uint16_t q = 0; q < mp->n_tx; q++) {
        if (!mp->tx[q]) {
            secmodel_port_detach(m, port_id);
            return EINVAL;
        }
    }
    return 0;
}

void
secmodel_port_detach(struct secmodel *m, uint16_t port_id)
{
    for (unsigned int i = 0; i < m->n_ports; i++) {
        struct model_port *mp = &m->ports[i];

        if (mp->port_id != port_id) {
            continue;
        }
        /* Single-threaded callers (the tests): nothing can still be in a
         * callback, so the memory goes back at once. */
        for (uint16_t q = 0; q < mp->n_rx; q++) {
            if (mp->rx[q]
                && !rte_eth_remove_rx_callback(port_id, q, mp->rx[q])) {
                rte_free((void *) mp->rx[q]);
            }
        }
        for (uint16_t q = 0; q < mp->n_tx; q++) {
            if (mp->tx[q]
                && !rte_eth_remove_tx_callback(port_id, q, mp->tx[q])) {
                rte_free((void *) mp->tx[q]);
            }
        }
        m->ports[i] = m->ports[--m->n_ports];
        return;
    }
}
