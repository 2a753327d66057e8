/*
 * espbench baseline (b): DPDK's librte_ipsec doing the same tunnel-mode
 * IPv4 ESP encap/decap, with the crypto done synchronously on this core
 * (RTE_SECURITY_ACTION_TYPE_CPU_CRYPTO) by the intel-ipsec-mb PMDs
 * (crypto_aesni_gcm, crypto_chacha20_poly1305).  Bursts of BENCH_BURST
 * mbufs: rte_ipsec_pkt_cpu_prepare() then rte_ipsec_pkt_process().
 *
 * Each burst does the same per-packet copy as ours: encap restores the
 * 28-byte inner header and the mbuf's data offset and length; decap copies
 * the whole ESP packet from the ring into the mbuf, because rte_ipsec
 * consumes it in place.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_log.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_cryptodev.h>
#include <rte_security.h>
#include <rte_ipsec.h>
#include <rte_ip.h>

#include "bench.h"

enum {
    IV_OFFSET = sizeof(struct rte_crypto_op)
                + sizeof(struct rte_crypto_sym_op),
    MBUF_DATA = RTE_PKTMBUF_HEADROOM + BENCH_BUF_SIZE,
};

struct dpdk_dev {
    const char *name;           /* Device (and --vdev) name. */
    int id;                     /* -1: not usable, see 'why'. */
    char why[160];
};

/* Candidates per suite, in order of preference: the PMD named for the
 * algorithm first; crypto_aesni_mb (the same intel-ipsec-mb library)
 * when that one fails its first burst. */
enum { DEV_GCM, DEV_CHACHA, DEV_MB, N_DEVS };
static struct dpdk_dev devs[N_DEVS] = {
    { "crypto_aesni_gcm0", -1, "" },
    { "crypto_chacha20_poly1305", -1, "" },
    { "crypto_aesni_mb0", -1, "" },
};

static struct rte_mempool *mbuf_pool;
static struct rte_mempool *sess_pool;
static bool eal_up;

struct dpdk_state {
    struct rte_ipsec_session ss;
    struct rte_ipsec_sa *sa;
    struct rte_ipsec_sa_prm prm;
    struct rte_crypto_sym_xform xf;
    struct rte_ipv4_hdr outer;
    void *ses;
    int dev_id;
    bool encap;
    const struct bench_size *size;
    const struct bench_inner *inner;
    const struct bench_ring *ring;
    struct rte_mbuf *mb[BENCH_BURST];
    struct rte_mbuf *work[BENCH_BURST];
    int err;                    /* rte_errno of the last failed burst. */
    char note[256];             /* Device used, and why (fallback). */
};

static void
dev_setup(struct dpdk_dev *d, int socket)
{
    struct rte_cryptodev_info info;
    struct rte_cryptodev_config conf;
    struct rte_cryptodev_qp_conf qp;
    int id;

    id = rte_cryptodev_get_dev_id(d->name);
    if (id < 0) {
        snprintf(d->why, sizeof d->why, "no cryptodev %s (PMD not loaded?)",
                 d->name);
        return;
    }
    rte_cryptodev_info_get(id, &info);
    if (!(info.feature_flags & RTE_CRYPTODEV_FF_SYM_CPU_CRYPTO)) {
        snprintf(d->why, sizeof d->why,
                 "%s has no CPU crypto (RTE_CRYPTODEV_FF_SYM_CPU_CRYPTO)",
                 d->name);
        return;
    }
    memset(&conf, 0, sizeof conf);
    conf.socket_id = socket;
    conf.nb_queue_pairs = 1;
    if (rte_cryptodev_configure(id, &conf) < 0) {
        snprintf(d->why, sizeof d->why, "%s: configure failed", d->name);
        return;
    }
    memset(&qp, 0, sizeof qp);
    qp.nb_descriptors = 128;
    qp.mp_session = sess_pool;
    if (rte_cryptodev_queue_pair_setup(id, 0, &qp, socket) < 0
        || rte_cryptodev_start(id) < 0) {
        snprintf(d->why, sizeof d->why, "%s: queue pair/start failed",
                 d->name);
        return;
    }
    d->id = id;
}

int
bdpdk_init(int cpu, char *why, size_t why_size)
{
    char lcore[32], prefix[64];
    char *argv[16];
    int argc = 0;
    unsigned int max_priv = 0;
    size_t i;

    snprintf(lcore, sizeof lcore, "%d", cpu);
    snprintf(prefix, sizeof prefix, "--file-prefix=espbench%ld",
             (long) getpid());
    argv[argc++] = "espbench";
    argv[argc++] = "--no-huge";
    argv[argc++] = "--no-shconf";
    argv[argc++] = "--no-pci";
    argv[argc++] = "--no-telemetry";
    argv[argc++] = prefix;
    argv[argc++] = "-m";
    argv[argc++] = "256";
    argv[argc++] = "-l";
    argv[argc++] = lcore;
    argv[argc++] = "--log-level=4";     /* RTE_LOG_ERR */
    argv[argc++] = "--vdev=crypto_aesni_gcm0";
    argv[argc++] = "--vdev=crypto_chacha20_poly1305";
    argv[argc++] = "--vdev=crypto_aesni_mb0";
    argv[argc] = NULL;

    if (rte_eal_init(argc, argv) < 0) {
        snprintf(why, why_size, "rte_eal_init failed: %s",
                 rte_strerror(rte_errno));
        return -1;
    }
    eal_up = true;

    mbuf_pool = rte_pktmbuf_pool_create("bench_mbuf", 255, 0, 0, MBUF_DATA,
                                        SOCKET_ID_ANY);
    for (i = 0; i < sizeof devs / sizeof devs[0]; i++) {
        int id = rte_cryptodev_get_dev_id(devs[i].name);
        if (id >= 0) {
            unsigned int sz = rte_cryptodev_sym_get_private_session_size(id);
            if (sz > max_priv) {
                max_priv = sz;
            }
        }
    }
    sess_pool = max_priv
        ? rte_cryptodev_sym_session_pool_create("bench_sess", 64, max_priv,
                                                0, 0, SOCKET_ID_ANY)
        : NULL;
    if (!mbuf_pool || !sess_pool) {
        snprintf(why, why_size, "mempool creation failed (%s)",
                 max_priv ? rte_strerror(rte_errno)
                 : "no crypto_ipsec_mb vdev: PMD not loaded");
        return -1;
    }
    for (i = 0; i < sizeof devs / sizeof devs[0]; i++) {
        dev_setup(&devs[i], SOCKET_ID_ANY);
    }
    return 0;
}

void
bdpdk_fini(void)
{
    size_t i;

    if (!eal_up) {
        return;
    }
    for (i = 0; i < sizeof devs / sizeof devs[0]; i++) {
        if (devs[i].id >= 0) {
            rte_cryptodev_stop(devs[i].id);
            rte_cryptodev_close(devs[i].id);
        }
    }
    rte_eal_cleanup();
    eal_up = false;
}

static int
encap_burst(void *state_, unsigned int first)
{
    struct dpdk_state *st = state_;
    unsigned int i;
    uint16_t k;

    for (i = 0; i < BENCH_BURST; i++) {
        struct rte_mbuf *m = st->work[i];
        uint16_t len = bench_len(st->size, first + i);

        m->data_off = RTE_PKTMBUF_HEADROOM;
        m->data_len = len;
        m->pkt_len = len;
        m->l2_len = 0;
        m->l3_len = sizeof(struct rte_ipv4_hdr);
        memcpy(rte_pktmbuf_mtod(m, uint8_t *), st->inner->hdr[first + i],
               BENCH_HDR_LEN);
        st->mb[i] = m;
    }
    k = rte_ipsec_pkt_cpu_prepare(&st->ss, st->mb, BENCH_BURST);
    k = rte_ipsec_pkt_process(&st->ss, st->mb, k);
    if (k != BENCH_BURST) {
        st->err = rte_errno;
        return -1;
    }
    return 0;
}

static int
decap_burst(void *state_, unsigned int first)
{
    struct dpdk_state *st = state_;
    const struct bench_ring *r = st->ring;
    unsigned int i;
    uint16_t k;

    for (i = 0; i < BENCH_BURST; i++) {
        struct rte_mbuf *m = st->work[i];
        unsigned int j = first + i;

        m->data_off = RTE_PKTMBUF_HEADROOM;
        m->data_len = r->len[j];
        m->pkt_len = r->len[j];
        m->l2_len = 0;
        m->l3_len = sizeof(struct rte_ipv4_hdr);
        m->ol_flags = 0;
        m->packet_type = 0;
        memcpy(rte_pktmbuf_mtod(m, uint8_t *), r->mem + r->off[j], r->len[j]);
        st->mb[i] = m;
    }
    k = rte_ipsec_pkt_cpu_prepare(&st->ss, st->mb, BENCH_BURST);
    k = rte_ipsec_pkt_process(&st->ss, st->mb, k);
    if (k != BENCH_BURST) {
        st->err = rte_errno;
        return -1;
    }
    return 0;
}

static int
sa_init(struct dpdk_state *st)
{
    int size = rte_ipsec_sa_size(&st->prm);
    int rc;

    if (size < 0) {
        return -1;
    }
    if (!st->sa) {
        st->sa = rte_zmalloc("bench_sa", size, RTE_CACHE_LINE_SIZE);
        if (!st->sa) {
            return -1;
        }
    }
    rc = rte_ipsec_sa_init(st->sa, &st->prm, size);
    if (rc < 0) {
        return -1;
    }
    memset(&st->ss, 0, sizeof st->ss);
    st->ss.sa = st->sa;
    st->ss.type = RTE_SECURITY_ACTION_TYPE_CPU_CRYPTO;
    st->ss.crypto.ses = st->ses;
    st->ss.crypto.dev_id = st->dev_id;
    return rte_ipsec_session_prepare(&st->ss) == 0 ? 0 : -1;
}

/* A fresh inbound SA (replay window back to zero) for the next pass over
 * the ring. */
static int
decap_reset(void *state_)
{
    return sa_init(state_);
}

static void
state_free(struct dpdk_state *st)
{
    if (st->work[0]) {
        rte_pktmbuf_free_bulk(st->work, BENCH_BURST);
    }
    if (st->ses) {
        rte_cryptodev_sym_session_free(st->dev_id, st->ses);
    }
    rte_free(st->sa);
    rte_free(st);
}

/* Sets up an SA on device 'd' and runs one burst through it (then starts
 * the replay window again).  Returns null with a reason in 'why'. */
static struct dpdk_state *
try_dev(const struct dpdk_dev *d, enum esp_suite suite, bool encap,
        const struct bench_size *size, const struct bench_inner *inner,
        const struct bench_ring *ring, char *why, size_t why_size)
{
    struct dpdk_state *st;
    size_t key_len;
    uint32_t salt;

    if (d->id < 0) {
        snprintf(why, why_size, "%s", d->why);
        return NULL;
    }
    st = rte_zmalloc("bench_state", sizeof *st, RTE_CACHE_LINE_SIZE);
    if (!st) {
        snprintf(why, why_size, "out of memory");
        return NULL;
    }
    st->dev_id = d->id;
    st->encap = encap;
    st->size = size;
    st->inner = inner;
    st->ring = ring;

    key_len = esp_suite_key_len(suite) - 4;
    st->xf.type = RTE_CRYPTO_SYM_XFORM_AEAD;
    st->xf.aead.op = encap ? RTE_CRYPTO_AEAD_OP_ENCRYPT
                           : RTE_CRYPTO_AEAD_OP_DECRYPT;
    st->xf.aead.algo = suite == ESP_SUITE_CHACHA20_POLY1305
                       ? RTE_CRYPTO_AEAD_CHACHA20_POLY1305
                       : RTE_CRYPTO_AEAD_AES_GCM;
    st->xf.aead.key.data = bench_key;
    st->xf.aead.key.length = key_len;
    st->xf.aead.iv.offset = IV_OFFSET;
    st->xf.aead.iv.length = 12;
    st->xf.aead.digest_length = 16;
    st->xf.aead.aad_length = 8;
    st->ses = rte_cryptodev_sym_session_create(d->id, &st->xf, sess_pool);
    if (!st->ses) {
        snprintf(why, why_size, "%s: session create failed: %s", d->name,
                 rte_strerror(rte_errno));
        goto error;
    }

    st->outer.version_ihl = 0x45;
    st->outer.time_to_live = 64;
    st->outer.next_proto_id = IPPROTO_ESP;
    st->outer.src_addr = htonl(0xc0000201);     /* 192.0.2.1 */
    st->outer.dst_addr = htonl(0xc0000202);     /* 192.0.2.2 */

    memcpy(&salt, bench_key + key_len, sizeof salt);
    st->prm.ipsec_xform.spi = BENCH_SPI;
    st->prm.ipsec_xform.salt = salt;
    st->prm.ipsec_xform.direction = encap ? RTE_SECURITY_IPSEC_SA_DIR_EGRESS
                                          : RTE_SECURITY_IPSEC_SA_DIR_INGRESS;
    st->prm.ipsec_xform.proto = RTE_SECURITY_IPSEC_SA_PROTO_ESP;
    st->prm.ipsec_xform.mode = RTE_SECURITY_IPSEC_SA_MODE_TUNNEL;
    st->prm.ipsec_xform.tunnel.type = RTE_SECURITY_IPSEC_TUNNEL_IPV4;
    st->prm.ipsec_xform.replay_win_sz = encap ? 0 : BENCH_WINDOW;
    st->prm.crypto_xform = &st->xf;
    st->prm.tun.hdr_len = sizeof st->outer;
    st->prm.tun.hdr_l3_off = 0;
    st->prm.tun.next_proto = IPPROTO_IPIP;
    st->prm.tun.hdr = &st->outer;
    if (sa_init(st) < 0) {
        snprintf(why, why_size, "%s: rte_ipsec SA/session setup failed",
                 d->name);
        goto error;
    }
    if (rte_pktmbuf_alloc_bulk(mbuf_pool, st->work, BENCH_BURST) < 0) {
        st->work[0] = NULL;
        snprintf(why, why_size, "mbuf allocation failed");
        goto error;
    }

    if ((encap ? encap_burst(st, 0) : decap_burst(st, 0))
        || (!encap && sa_init(st))) {
        snprintf(why, why_size, "%s: first CPU-crypto burst failed (%s)",
                 d->name, rte_strerror(st->err));
        goto error;
    }
    return st;

error:
    state_free(st);
    return NULL;
}

int
bdpdk_prepare(enum esp_suite suite, bool encap, const struct bench_size *size,
              const struct bench_inner *inner, const struct bench_ring *ring,
              struct bench_impl *impl, char *why, size_t why_size)
{
    static const int gcm[] = { DEV_GCM, -1 };
    static const int chacha[] = { DEV_CHACHA, DEV_MB, -1 };
    char fail[256] = "";
    const int *cand;

    memset(impl, 0, sizeof *impl);
    if (!eal_up) {
        snprintf(why, why_size, "DPDK EAL not initialized");
        return -1;
    }
    switch (suite) {
    case ESP_SUITE_AES_GCM_128:
    case ESP_SUITE_AES_GCM_256:
        cand = gcm;
        break;
    case ESP_SUITE_CHACHA20_POLY1305:
        cand = chacha;
        break;
    default:
        snprintf(why, why_size, "suite not benchmarked");
        return -1;
    }
    for (; *cand >= 0; cand++) {
        const struct dpdk_dev *d = &devs[*cand];
        char reason[200];
        struct dpdk_state *st = try_dev(d, suite, encap, size, inner, ring,
                                        reason, sizeof reason);

        if (st) {
            snprintf(st->note, sizeof st->note, "%s%s%s", d->name,
                     fail[0] ? ", because " : "", fail);
            impl->name = "dpdk";
            impl->state = st;
            impl->burst = encap ? encap_burst : decap_burst;
            impl->reset = encap ? NULL : decap_reset;
            return 0;
        }
        snprintf(fail + strlen(fail), sizeof fail - strlen(fail), "%s%s",
                 fail[0] ? "; " : "", reason);
    }
    snprintf(why, why_size, "%s", fail);
    return -1;
}

const char *
bdpdk_note(const struct bench_impl *impl)
{
    const struct dpdk_state *st = impl->state;

    return st ? st->note : "";
}

size_t
bdpdk_last_packet(const struct bench_impl *impl, unsigned int k,
                  uint8_t *out, size_t size)
{
    const struct dpdk_state *st = impl->state;
    const struct rte_mbuf *m = st->mb[k];
    size_t len = rte_pktmbuf_pkt_len(m);

    if (len > size || m->nb_segs != 1) {
        return 0;
    }
    memcpy(out, rte_pktmbuf_mtod(m, const uint8_t *), len);
    return len;
}

void
bdpdk_release(struct bench_impl *impl)
{
    if (impl->state) {
        state_free(impl->state);
        impl->state = NULL;
    }
}
