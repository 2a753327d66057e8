/*
 * Software model of an inline-IPsec-capable NIC: an rte_security context
 * with real rte_security_ops.  See sec-model.h.
 */
#include "sec-model.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cryptodev.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_security.h>
#include <rte_security_driver.h>

#include "ipsec-offload-dpdk.h"

enum {
    MAX_CAPS = 2 * 2 * 2 + 1,   /* actions x directions x modes + end. */
    MAX_CRYPTO_CAPS = 5 + 1,
    MAX_ATTACH = 16,
    KEY_MAX = 32,
};

struct secmodel {
    struct rte_security_ctx ctx;
    struct secmodel_config cfg;
    struct rte_security_capability caps[MAX_CAPS];
    struct rte_cryptodev_capabilities crypto_caps[MAX_CRYPTO_CAPS];
    struct rte_security_session **table;        /* sa_table_size slots. */
    struct secmodel_counters c;
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
    uint64_t userdata;
    struct rte_security_ipsec_stats stats;
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
    ms->userdata = (uintptr_t) conf->userdata;
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
    m->table[ms->slot] = NULL;
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

    *RTE_MBUF_DYNFIELD(mb, dynfield_offset, void **) = sess;
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
                /* Like ixgbe: the TX path needs per-packet metadata. */
                c->ol_flags = (!a && !d ? RTE_SECURITY_TX_OLOAD_NEED_MDATA
                               : 0);
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
        .name = "secmodel_session",
        .size = sizeof(void *),
        .align = __alignof__(void *),
    };
    struct secmodel *m;

    if (dynfield_offset < 0) {
        dynfield_offset = rte_mbuf_dynfield_register(&field);
        if (dynfield_offset < 0) {
            return NULL;
        }
    }
    m = calloc(1, sizeof *m);
    if (!m) {
        return NULL;
    }
    m->cfg = *cfg;
    m->table = calloc(cfg->sa_table_size ? cfg->sa_table_size : 1,
                      sizeof *m->table);
    if (!m->table) {
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
    for (unsigned int i = 0; i < n_attached; i++) {
        if (attached[i].model == m) {
            attached[i] = attached[--n_attached];
            i--;
        }
    }
    free(m->table);
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

static struct rte_security_ctx *
model_get_sec_ctx(uint16_t port_id)
{
    for (unsigned int i = 0; i < n_attached; i++) {
        if (attached[i].port_id == port_id) {
            return &attached[i].model->ctx;
        }
    }
    return rte_eth_dev_get_sec_ctx(port_id);
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
    return 0;
}

void
secmodel_detach_all(void)
{
    n_attached = 0;
    ipsec_offload_dpdk_set_sec_ctx_fn(NULL);
}

void *
secmodel_mbuf_session(const struct rte_mbuf *m)
{
    if (dynfield_offset < 0) {
        return NULL;
    }
    return *RTE_MBUF_DYNFIELD(m, dynfield_offset, void *const *);
}

int
secmodel_raise_event(struct secmodel *m, uint16_t port_id, void *sess,
                     int subtype)
{
    struct model_sess *ms = SECURITY_GET_SESS_PRIV(sess);
    struct rte_eth_event_ipsec_desc desc = {
        .subtype = subtype,
        .metadata = ms->userdata,
    };

    return ipsec_offload_dpdk_ipsec_event(port_id, RTE_ETH_EVENT_IPSEC, NULL,
                                          &desc);
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
