/*
 * ESP crypto engines on a DPDK cryptodev: lookaside (enqueue/dequeue on a
 * queue pair) and CPU crypto (rte_cryptodev_sym_cpu_crypto_process()).
 * See crypto-cryptodev.h.
 *
 * Both modes turn a burst of esp_crypto_ops into the same list of jobs
 * (one job = one symmetric operation on one session over one contiguous
 * buffer) and run it in one or two passes:
 *
 *   AEAD encrypt/decrypt      one pass of AEAD jobs (the PMD verifies the
 *                             tag on decrypt);
 *   CBC + HMAC encrypt        AES-ECB of the nonce where the datapath asks
 *                             for a derived IV, then chained
 *                             CBC-encrypt -> HMAC jobs over the ESP header,
 *                             IV and ciphertext (RFC 4303 section 3.3.2);
 *   CBC + HMAC decrypt        HMAC jobs, a constant-time compare here, then
 *                             CBC-decrypt jobs for what verified (section
 *                             3.4.4), so a forged packet is never
 *                             decrypted.
 *
 * Lookaside wraps each job's buffer in one of the queue pair's mbufs (the
 * mbuf's buffer pointer is set to the packet memory; no copy) and one of
 * its crypto ops, both taken from their mempools once when the device is
 * opened.  CPU crypto passes the buffers as rte_crypto_sgl vectors,
 * grouped by session and offsets, which the API fixes per call.
 */
#include "crypto-cryptodev.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cryptodev.h>
#include <rte_crypto.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_spinlock.h>

enum {
    CDEV_MAX_QPS = 8,
    CDEV_QP_DESC = 128,             /* >= 2 passes of a full burst. */
    CDEV_DEFAULT_SESSIONS = 2048,
    AES_BLOCK = 16,
    AEAD_IV_LEN = 12,
    CBC_IV_LEN = 16,
    /* Crypto op private area: the IV the PMD reads (iv.offset), then the
     * job index. */
    OP_IV_OFFSET = sizeof(struct rte_crypto_op)
                   + sizeof(struct rte_crypto_sym_op),
    OP_IDX_OFFSET = OP_IV_OFFSET + 16,
    OP_PRIV_SIZE = 32,
};

struct cdev_qp {
    rte_spinlock_t lock;
    struct rte_crypto_op *ops[ESP_BURST_MAX];
    struct rte_mbuf *mbufs[ESP_BURST_MAX];
    /* The mbufs' own buffer, restored before they go back to the pool. */
    void *orig_addr[ESP_BURST_MAX];
    rte_iova_t orig_iova[ESP_BURST_MAX];
    uint16_t orig_len[ESP_BURST_MAX];
} __attribute__((aligned(64)));

struct cdev {
    int dev_id;                     /* -1: slot unused. */
    unsigned int refs;              /* Modes bound to the device. */
    char name[RTE_CRYPTODEV_NAME_MAX_LEN];
    char driver[64];
    uint64_t features;
    bool need_iova;                 /* Hardware device: real IOVAs. */
    unsigned int n_qps;
    unsigned int n_sessions;
    struct rte_mempool *sess_pool;
    struct rte_mempool *op_pool;
    struct rte_mempool *mbuf_pool;
    struct cdev_qp qps[CDEV_MAX_QPS];

    atomic_uint_fast64_t sessions_created, sessions_freed, sessions_failed;
    atomic_uint_fast64_t ctxs, ops, op_errors, auth_failures;
};

/* Per mode: the device and which suites passed the checks. */
struct cdev_mode {
    struct cdev *dev;
    bool suite_ok[ESP_N_SUITES];    /* Inbound (and outbound if out_ok). */
    bool out_ok[ESP_N_SUITES];      /* Outbound: CBC also needs AES-ECB. */
    char suite_why[ESP_N_SUITES][160];
    char out_why[ESP_N_SUITES][160];
    atomic_uint_fast64_t ctxs;
};

static struct cdev devs[CRYPTO_CRYPTODEV_N_MODES];
static unsigned int max_qps = CDEV_MAX_QPS;
static struct cdev_mode modes[CRYPTO_CRYPTODEV_N_MODES];

enum aead_slot {
    AEAD_ENC_8, AEAD_ENC_12, AEAD_DEC_8, AEAD_DEC_12, AEAD_N_SLOTS
};

struct cdev_ctx {
    struct cdev *dev;
    enum crypto_cryptodev_mode mode;
    enum esp_suite suite;
    bool aead;
    void *aead_sess[AEAD_N_SLOTS];
    void *ecb_sess;                 /* CBC out: IV derivation. */
    void *chain_sess;               /* CBC out: CBC encrypt -> HMAC. */
    void *hmac_sess;                /* CBC in: HMAC generate. */
    void *dec_sess;                 /* CBC in: CBC decrypt. */
};

/* crypto_cryptodev_expect() and the last error, per thread. */
static __thread struct {
    bool set;
    enum esp_dir dir;
    bool esn;
} tls_expect;
static __thread char tls_error[256];

/* Lookaside queue pair of this thread (index modulo the device's). */
static __thread int tls_thread_idx = -1;
static atomic_uint next_thread_idx;

static uint8_t empty_buf[AES_BLOCK] __attribute__((aligned(16)));

static void
set_error(const char *format, ...)
{
    va_list args;

    va_start(args, format);
    vsnprintf(tls_error, sizeof tls_error, format, args);
    va_end(args);
}

static bool
suite_is_aead(enum esp_suite suite)
{
    return (suite == ESP_SUITE_AES_GCM_128
            || suite == ESP_SUITE_AES_GCM_256
            || suite == ESP_SUITE_CHACHA20_POLY1305);
}

static size_t
cipher_key_len(enum esp_suite suite)
{
    return (suite == ESP_SUITE_AES_GCM_128
            || suite == ESP_SUITE_AES_CBC_128_HMAC_SHA256) ? 16 : 32;
}

const struct esp_crypto_engine *
crypto_cryptodev_engine(enum crypto_cryptodev_mode mode)
{
    return (mode == CRYPTO_CRYPTODEV_CPU ? &esp_crypto_cryptodev_cpu
            : &esp_crypto_cryptodev_lookaside);
}

/* Capabilities. */

static const struct rte_cryptodev_symmetric_capability *
sym_cap(const struct cdev *dev, enum rte_crypto_sym_xform_type type,
        int algo)
{
    struct rte_cryptodev_sym_capability_idx idx = { .type = type };

    if (type == RTE_CRYPTO_SYM_XFORM_AEAD) {
        idx.algo.aead = algo;
    } else if (type == RTE_CRYPTO_SYM_XFORM_CIPHER) {
        idx.algo.cipher = algo;
    } else {
        idx.algo.auth = algo;
    }
    return rte_cryptodev_sym_capability_get(dev->dev_id, &idx);
}

/* Whether the device advertises what 'suite' needs; 0 or EOPNOTSUPP with
 * the missing piece in 'why'. */
static int
check_caps(const struct cdev *dev, enum crypto_cryptodev_mode mode,
           enum esp_suite suite, char *why, size_t size)
{
    const struct rte_cryptodev_symmetric_capability *cap;
    uint16_t key_len = cipher_key_len(suite);
    const char *name = esp_suite_name(suite);

    if (mode == CRYPTO_CRYPTODEV_CPU
        && !(dev->features & RTE_CRYPTODEV_FF_SYM_CPU_CRYPTO)) {
        snprintf(why, size, "CPU crypto not supported by driver %s "
                 "(no RTE_CRYPTODEV_FF_SYM_CPU_CRYPTO)", dev->driver);
        return EOPNOTSUPP;
    }
    if (suite_is_aead(suite)) {
        int algo = (suite == ESP_SUITE_CHACHA20_POLY1305
                    ? RTE_CRYPTO_AEAD_CHACHA20_POLY1305
                    : RTE_CRYPTO_AEAD_AES_GCM);

        cap = sym_cap(dev, RTE_CRYPTO_SYM_XFORM_AEAD, algo);
        if (!cap) {
            snprintf(why, size, "%s not in capabilities", name);
            return EOPNOTSUPP;
        }
        /* RFC 4106 section 5 / RFC 7634 section 2.1: 12-byte nonce,
         * 16-byte ICV, AAD of 8 bytes (12 with ESN). */
        if (rte_cryptodev_sym_capability_check_aead(cap, key_len,
                                                    ESP_ICV_LEN, 8,
                                                    AEAD_IV_LEN)
            || rte_cryptodev_sym_capability_check_aead(cap, key_len,
                                                       ESP_ICV_LEN, 12,
                                                       AEAD_IV_LEN)) {
            snprintf(why, size, "%s with a %u-byte key, 16-byte ICV, "
                     "12-byte IV and 8/12-byte AAD not in capabilities",
                     name, key_len);
            return EOPNOTSUPP;
        }
        return 0;
    }

    cap = sym_cap(dev, RTE_CRYPTO_SYM_XFORM_CIPHER, RTE_CRYPTO_CIPHER_AES_CBC);
    if (!cap || rte_cryptodev_sym_capability_check_cipher(cap, key_len,
                                                          CBC_IV_LEN)) {
        snprintf(why, size, "AES-CBC with a %u-byte key not in capabilities",
                 key_len);
        return EOPNOTSUPP;
    }
    cap = sym_cap(dev, RTE_CRYPTO_SYM_XFORM_AUTH,
                  RTE_CRYPTO_AUTH_SHA256_HMAC);
    if (!cap || rte_cryptodev_sym_capability_check_auth(cap, 32,
                                                        ESP_ICV_LEN, 0)) {
        snprintf(why, size, "HMAC-SHA-256 with a 32-byte key and 16-byte "
                 "digest not in capabilities");
        return EOPNOTSUPP;
    }
    return 0;
}

/* Outbound CBC derives each IV as AES_K(nonce) (NIST SP 800-38A
 * appendix C), an AES-ECB session on the device. */
static int
check_ecb(const struct cdev *dev, enum esp_suite suite, char *why,
          size_t size)
{
    const struct rte_cryptodev_symmetric_capability *cap;
    uint16_t key_len = cipher_key_len(suite);

    if (suite_is_aead(suite)) {
        return 0;
    }
    cap = sym_cap(dev, RTE_CRYPTO_SYM_XFORM_CIPHER, RTE_CRYPTO_CIPHER_AES_ECB);
    if (!cap || rte_cryptodev_sym_capability_check_cipher(cap, key_len, 0)) {
        snprintf(why, size, "outbound %s needs AES-ECB with a %u-byte key "
                 "(IV derivation), not in capabilities",
                 esp_suite_name(suite), key_len);
        return EOPNOTSUPP;
    }
    return 0;
}

/* Sessions. */

static void *
session_create(struct cdev *dev, struct rte_crypto_sym_xform *xf)
{
    void *sess;

    sess = rte_cryptodev_sym_session_create(dev->dev_id, xf, dev->sess_pool);
    if (!sess) {
        atomic_fetch_add_explicit(&dev->sessions_failed, 1,
                                  memory_order_relaxed);
        if (rte_mempool_avail_count(dev->sess_pool) == 0) {
            set_error("cryptodev %s: session mempool of %u exhausted",
                      dev->name, dev->n_sessions);
        } else {
            set_error("cryptodev %s: rte_cryptodev_sym_session_create "
                      "failed (%s)", dev->name, rte_strerror(rte_errno));
        }
        return NULL;
    }
    atomic_fetch_add_explicit(&dev->sessions_created, 1,
                              memory_order_relaxed);
    return sess;
}

static void
session_free(struct cdev *dev, void **sessp)
{
    if (*sessp) {
        /* The PMD wipes its private data (the expanded keys). */
        rte_cryptodev_sym_session_free(dev->dev_id, *sessp);
        atomic_fetch_add_explicit(&dev->sessions_freed, 1,
                                  memory_order_relaxed);
        *sessp = NULL;
    }
}

static void *
aead_session(struct cdev *dev, enum esp_suite suite, const uint8_t *key,
             size_t key_len, bool enc, uint16_t aad_len)
{
    struct rte_crypto_sym_xform xf;
    void *sess;

    memset(&xf, 0, sizeof xf);
    xf.type = RTE_CRYPTO_SYM_XFORM_AEAD;
    xf.aead.op = enc ? RTE_CRYPTO_AEAD_OP_ENCRYPT : RTE_CRYPTO_AEAD_OP_DECRYPT;
    xf.aead.algo = (suite == ESP_SUITE_CHACHA20_POLY1305
                    ? RTE_CRYPTO_AEAD_CHACHA20_POLY1305
                    : RTE_CRYPTO_AEAD_AES_GCM);
    xf.aead.key.data = key;
    xf.aead.key.length = key_len;
    xf.aead.iv.offset = OP_IV_OFFSET;
    xf.aead.iv.length = AEAD_IV_LEN;
    xf.aead.digest_length = ESP_ICV_LEN;
    xf.aead.aad_length = aad_len;
    sess = session_create(dev, &xf);
    explicit_bzero(&xf, sizeof xf);
    return sess;
}

static void
cipher_xform(struct rte_crypto_sym_xform *xf, int algo, bool enc,
             const uint8_t *key, size_t key_len)
{
    memset(xf, 0, sizeof *xf);
    xf->type = RTE_CRYPTO_SYM_XFORM_CIPHER;
    xf->cipher.op = (enc ? RTE_CRYPTO_CIPHER_OP_ENCRYPT
                     : RTE_CRYPTO_CIPHER_OP_DECRYPT);
    xf->cipher.algo = algo;
    xf->cipher.key.data = key;
    xf->cipher.key.length = key_len;
    xf->cipher.iv.offset = OP_IV_OFFSET;
    xf->cipher.iv.length = algo == RTE_CRYPTO_CIPHER_AES_ECB ? 0 : CBC_IV_LEN;
}

static void
hmac_xform(struct rte_crypto_sym_xform *xf, const uint8_t *key,
           size_t key_len)
{
    memset(xf, 0, sizeof *xf);
    xf->type = RTE_CRYPTO_SYM_XFORM_AUTH;
    xf->auth.op = RTE_CRYPTO_AUTH_OP_GENERATE;
    xf->auth.algo = RTE_CRYPTO_AUTH_SHA256_HMAC;
    xf->auth.key.data = key;
    xf->auth.key.length = key_len;
    xf->auth.digest_length = ESP_ICV_LEN;   /* RFC 4868: truncated. */
}

static void
ctx_free(struct cdev_ctx *ctx)
{
    for (int i = 0; i < AEAD_N_SLOTS; i++) {
        session_free(ctx->dev, &ctx->aead_sess[i]);
    }
    session_free(ctx->dev, &ctx->ecb_sess);
    session_free(ctx->dev, &ctx->chain_sess);
    session_free(ctx->dev, &ctx->hmac_sess);
    session_free(ctx->dev, &ctx->dec_sess);
    free(ctx);
}

static int
cd_ctx_create(enum crypto_cryptodev_mode mode, enum esp_suite suite,
              const uint8_t *key, size_t key_len,
              const uint8_t *auth_key, size_t auth_key_len, void **ctxp)
{
    struct cdev_mode *m = &modes[mode];
    bool want_out = true, want_in = true, want_8 = true, want_12 = true;
    struct rte_crypto_sym_xform xf[2];
    struct cdev_ctx *ctx;

    *ctxp = NULL;
    tls_error[0] = '\0';
    if (tls_expect.set) {
        want_out = tls_expect.dir == ESP_DIR_OUT;
        want_in = !want_out;
        want_8 = !tls_expect.esn;
        want_12 = tls_expect.esn;
        tls_expect.set = false;
    }
    if (!m->dev) {
        set_error("no cryptodev open for %s", mode == CRYPTO_CRYPTODEV_CPU
                  ? "CPU crypto" : "lookaside");
        return EOPNOTSUPP;
    }
    if ((unsigned int) suite >= ESP_N_SUITES || !m->suite_ok[suite]) {
        set_error("cryptodev %s: %s", m->dev->name,
                  (unsigned int) suite < ESP_N_SUITES
                  ? m->suite_why[suite] : "unknown suite");
        return EOPNOTSUPP;
    }
    if (!key || key_len != cipher_key_len(suite)) {
        return EINVAL;
    }
    if (suite_is_aead(suite) ? auth_key_len != 0
        : !auth_key || auth_key_len != 32) {
        return EINVAL;
    }

    ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        return ENOMEM;
    }
    ctx->dev = m->dev;
    ctx->mode = mode;
    ctx->suite = suite;
    ctx->aead = suite_is_aead(suite);

    if (ctx->aead) {
        static const struct {
            enum aead_slot slot;
            bool enc;
            uint16_t aad_len;
        } slots[] = {
            { AEAD_ENC_8, true, 8 }, { AEAD_ENC_12, true, 12 },
            { AEAD_DEC_8, false, 8 }, { AEAD_DEC_12, false, 12 },
        };

        for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++) {
            if ((slots[i].enc ? !want_out : !want_in)
                || (slots[i].aad_len == 8 ? !want_8 : !want_12)) {
                continue;
            }
            ctx->aead_sess[slots[i].slot]
                = aead_session(ctx->dev, suite, key, key_len, slots[i].enc,
                               slots[i].aad_len);
            if (!ctx->aead_sess[slots[i].slot]) {
                goto fail;
            }
        }
    } else {
        if (want_out && m->out_ok[suite]) {
            cipher_xform(&xf[0], RTE_CRYPTO_CIPHER_AES_ECB, true,
                         key, key_len);
            ctx->ecb_sess = session_create(ctx->dev, &xf[0]);
            explicit_bzero(xf, sizeof xf);
            if (!ctx->ecb_sess) {
                goto fail;
            }
        }
        if (want_out) {
            /* RFC 4303 section 3.3.2: encrypt, then the ICV over the
             * ciphertext.  Without the ECB session only ops with a given
             * IV (no 'iv_out') can be encrypted. */
            cipher_xform(&xf[0], RTE_CRYPTO_CIPHER_AES_CBC, true,
                         key, key_len);
            hmac_xform(&xf[1], auth_key, auth_key_len);
            xf[0].next = &xf[1];
            ctx->chain_sess = session_create(ctx->dev, &xf[0]);
            explicit_bzero(xf, sizeof xf);
            if (!ctx->chain_sess) {
                goto fail;
            }
        }
        if (want_in) {
            hmac_xform(&xf[0], auth_key, auth_key_len);
            ctx->hmac_sess = session_create(ctx->dev, &xf[0]);
            cipher_xform(&xf[0], RTE_CRYPTO_CIPHER_AES_CBC, false,
                         key, key_len);
            ctx->dec_sess = (ctx->hmac_sess
                             ? session_create(ctx->dev, &xf[0]) : NULL);
            explicit_bzero(xf, sizeof xf);
            if (!ctx->dec_sess) {
                goto fail;
            }
        }
    }
    atomic_fetch_add_explicit(&ctx->dev->ctxs, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->ctxs, 1, memory_order_relaxed);
    *ctxp = ctx;
    return 0;

fail:
    explicit_bzero(xf, sizeof xf);
    ctx_free(ctx);
    return EOPNOTSUPP;
}

static void
cd_ctx_destroy(void *ctx_)
{
    struct cdev_ctx *ctx = ctx_;

    if (ctx) {
        atomic_fetch_sub_explicit(&ctx->dev->ctxs, 1, memory_order_relaxed);
        atomic_fetch_sub_explicit(&modes[ctx->mode].ctxs, 1,
                                  memory_order_relaxed);
        ctx_free(ctx);
    }
}

/* Jobs: one symmetric operation over one contiguous buffer. */

enum job_kind {
    JOB_AEAD,
    JOB_CIPHER,             /* AES-ECB (IV derivation) or CBC decrypt. */
    JOB_CHAIN,              /* CBC encrypt then HMAC. */
    JOB_HMAC,
};

struct job {
    enum job_kind kind;
    void *sess;
    uint8_t *buf;
    uint32_t buf_len;
    uint32_t c_off, c_len;          /* Cipher / AEAD region in 'buf'. */
    uint32_t a_off, a_len;          /* Auth region in 'buf'. */
    uint8_t iv[16];
    uint8_t iv_len;
    const uint8_t *aad;
    uint8_t *digest;
    int status;                     /* 0, EBADMSG, or another errno. */
};

static inline rte_iova_t
iova_of(const struct cdev *dev, const void *va)
{
    if (!va) {
        return RTE_BAD_IOVA;
    }
    /* Software PMDs use virtual addresses only; a hardware device needs
     * the buffers in DPDK memory (OVS's mbufs are). */
    return (dev->need_iova && rte_eal_iova_mode() != RTE_IOVA_VA
            ? rte_mem_virt2iova(va) : (rte_iova_t) (uintptr_t) va);
}

static void
count_results(struct cdev *dev, const struct job jobs[], unsigned int n)
{
    uint64_t errors = 0, auth = 0;

    for (unsigned int i = 0; i < n; i++) {
        if (jobs[i].status == EBADMSG) {
            auth++;
        } else if (jobs[i].status) {
            errors++;
        }
    }
    atomic_fetch_add_explicit(&dev->ops, n, memory_order_relaxed);
    if (errors) {
        atomic_fetch_add_explicit(&dev->op_errors, errors,
                                  memory_order_relaxed);
    }
    if (auth) {
        atomic_fetch_add_explicit(&dev->auth_failures, auth,
                                  memory_order_relaxed);
    }
}

static unsigned int
thread_qp(const struct cdev *dev)
{
    if (tls_thread_idx < 0) {
        tls_thread_idx = atomic_fetch_add(&next_thread_idx, 1);
    }
    return (unsigned int) tls_thread_idx % dev->n_qps;
}

static void
fill_op(struct cdev *dev, struct rte_crypto_op *op, struct rte_mbuf *m,
        struct job *job, uint32_t idx)
{
    struct rte_crypto_sym_op *sym = op->sym;
    uint8_t *buf = job->buf_len ? job->buf : empty_buf;

    op->status = RTE_CRYPTO_OP_STATUS_NOT_PROCESSED;
    rte_crypto_op_attach_sym_session(op, job->sess);

    /* The mbuf points at the packet memory: no copy. */
    m->buf_addr = buf;
    m->buf_iova = iova_of(dev, buf);
    m->buf_len = job->buf_len;
    m->data_off = 0;
    m->data_len = job->buf_len;
    m->pkt_len = job->buf_len;
    m->nb_segs = 1;
    m->next = NULL;
    sym->m_src = m;
    sym->m_dst = NULL;

    memcpy(rte_crypto_op_ctod_offset(op, uint8_t *, OP_IV_OFFSET), job->iv,
           job->iv_len);
    *rte_crypto_op_ctod_offset(op, uint32_t *, OP_IDX_OFFSET) = idx;

    switch (job->kind) {
    case JOB_AEAD:
        sym->aead.data.offset = job->c_off;
        sym->aead.data.length = job->c_len;
        sym->aead.digest.data = job->digest;
        sym->aead.digest.phys_addr = iova_of(dev, job->digest);
        sym->aead.aad.data = (uint8_t *) job->aad;
        sym->aead.aad.phys_addr = iova_of(dev, job->aad);
        break;
    case JOB_CHAIN:
    case JOB_CIPHER:
    case JOB_HMAC:
        sym->cipher.data.offset = job->c_off;
        sym->cipher.data.length = job->c_len;
        sym->auth.data.offset = job->a_off;
        sym->auth.data.length = job->a_len;
        sym->auth.digest.data = job->digest;
        sym->auth.digest.phys_addr = iova_of(dev, job->digest);
        break;
    }
}

static int
op_status(const struct rte_crypto_op *op)
{
    switch (op->status) {
    case RTE_CRYPTO_OP_STATUS_SUCCESS:
        return 0;
    case RTE_CRYPTO_OP_STATUS_AUTH_FAILED:
        return EBADMSG;
    default:
        return EIO;
    }
}

/* Lookaside: enqueue every job on this thread's queue pair and wait for
 * all of them. */
static void
run_lookaside(struct cdev *dev, struct job jobs[], unsigned int n)
{
    unsigned int qp_id = thread_qp(dev);
    struct cdev_qp *qp = &dev->qps[qp_id];
    struct rte_crypto_op *done[ESP_BURST_MAX];
    unsigned int enq = 0, deq = 0;

    rte_spinlock_lock(&qp->lock);
    for (unsigned int i = 0; i < n; i++) {
        fill_op(dev, qp->ops[i], qp->mbufs[i], &jobs[i], i);
    }
    while (deq < n) {
        unsigned int k = 0;

        if (enq < n) {
            k = rte_cryptodev_enqueue_burst(dev->dev_id, qp_id,
                                            qp->ops + enq, n - enq);
            enq += k;
        }
        if (enq > deq) {
            unsigned int got = rte_cryptodev_dequeue_burst(dev->dev_id,
                                                           qp_id, done,
                                                           enq - deq);

            for (unsigned int j = 0; j < got; j++) {
                uint32_t idx = *rte_crypto_op_ctod_offset(done[j],
                                                          uint32_t *,
                                                          OP_IDX_OFFSET);

                jobs[idx].status = op_status(done[j]);
            }
            deq += got;
            k += got;
        }
        if (!k && enq == deq) {
            /* The device takes nothing and holds nothing: give up on
             * the rest rather than spin forever. */
            for (unsigned int i = enq; i < n; i++) {
                jobs[i].status = EBUSY;
            }
            break;
        }
    }
    rte_spinlock_unlock(&qp->lock);
    count_results(dev, jobs, n);
}

/* CPU crypto: one rte_cryptodev_sym_cpu_crypto_process() call per run of
 * jobs with the same session and offsets (the API takes one of each per
 * call). */
static void
run_cpu(struct cdev *dev, struct job jobs[], unsigned int n)
{
    struct rte_crypto_vec vecs[ESP_BURST_MAX];
    struct rte_crypto_sgl sgl[ESP_BURST_MAX];
    struct rte_crypto_va_iova_ptr iv[ESP_BURST_MAX];
    struct rte_crypto_va_iova_ptr digest[ESP_BURST_MAX];
    struct rte_crypto_va_iova_ptr aad[ESP_BURST_MAX];
    int32_t status[ESP_BURST_MAX];

    for (unsigned int i = 0; i < n; ) {
        union rte_crypto_sym_ofs ofs;
        struct rte_crypto_sym_vec vec;
        unsigned int k = 0;

        ofs.raw = 0;
        ofs.ofs.cipher.head = jobs[i].c_off;
        ofs.ofs.cipher.tail = jobs[i].buf_len - jobs[i].c_off - jobs[i].c_len;
        ofs.ofs.auth.head = jobs[i].a_off;
        ofs.ofs.auth.tail = jobs[i].buf_len - jobs[i].a_off - jobs[i].a_len;
        for (unsigned int j = i; j < n; j++) {
            struct job *job = &jobs[j];

            if (job->sess != jobs[i].sess
                || job->c_off != ofs.ofs.cipher.head
                || job->buf_len - job->c_off - job->c_len
                   != ofs.ofs.cipher.tail
                || job->a_off != ofs.ofs.auth.head
                || job->buf_len - job->a_off - job->a_len
                   != ofs.ofs.auth.tail) {
                break;
            }
            vecs[k].base = job->buf_len ? job->buf : empty_buf;
            vecs[k].iova = iova_of(dev, vecs[k].base);
            vecs[k].len = job->buf_len;
            vecs[k].tot_len = job->buf_len;
            sgl[k].vec = &vecs[k];
            sgl[k].num = 1;
            iv[k].va = job->iv;
            iv[k].iova = RTE_BAD_IOVA;
            digest[k].va = job->digest;
            digest[k].iova = iova_of(dev, job->digest);
            aad[k].va = (void *) job->aad;
            aad[k].iova = iova_of(dev, job->aad);
            status[k] = 0;
            k++;
        }
        memset(&vec, 0, sizeof vec);
        vec.num = k;
        vec.src_sgl = sgl;
        vec.iv = iv;
        vec.digest = digest;
        vec.aad = aad;
        vec.status = status;
        rte_cryptodev_sym_cpu_crypto_process(dev->dev_id, jobs[i].sess, ofs,
                                             &vec);
        for (unsigned int j = 0; j < k; j++) {
            jobs[i + j].status = (status[j] == 0 ? 0
                                  : status[j] == EBADMSG ? EBADMSG
                                  : status[j] > 0 ? status[j] : EIO);
        }
        i += k;
    }
    count_results(dev, jobs, n);
}

static void
run_jobs(enum crypto_cryptodev_mode mode, struct cdev *dev,
         struct job jobs[], unsigned int n)
{
    if (!n) {
        return;
    }
    if (mode == CRYPTO_CRYPTODEV_CPU) {
        run_cpu(dev, jobs, n);
    } else {
        run_lookaside(dev, jobs, n);
    }
}

/* Constant-time comparison of two ICVs: 0 if equal. */
static inline int
icv_diff(const uint8_t *a, const uint8_t *b)
{
    uint8_t d = 0;

    for (int i = 0; i < ESP_ICV_LEN; i++) {
        d |= a[i] ^ b[i];
    }
    return d;
}

static bool
op_ok(const struct esp_crypto_op *op, bool aead)
{
    const struct cdev_ctx *ctx = op->ctx;

    if (!ctx || ctx->aead != aead || !op->icv
        || (!op->data && op->data_len)) {
        return false;
    }
    if (aead) {
        return (op->aad_len == 8 || op->aad_len == 12) && op->aad;
    }
    return (op->auth && op->auth_len && op->data_len % AES_BLOCK == 0
            && op->data_len <= UINT16_MAX && op->auth_len <= UINT16_MAX);
}

/* CBC encrypt needs 'data' inside 'auth' (one chained op). */
static bool
data_in_auth(const struct esp_crypto_op *op)
{
    uintptr_t d = (uintptr_t) op->data, a = (uintptr_t) op->auth;

    return (op->data && d >= a && d - a <= op->auth_len
            && op->data_len <= op->auth_len - (d - a));
}

static void
cd_burst(enum crypto_cryptodev_mode mode, struct esp_crypto_op *ops[],
         unsigned int n, bool enc)
{
    struct job jobs[ESP_BURST_MAX];
    uint8_t idx[ESP_BURST_MAX];
    uint8_t tags[ESP_BURST_MAX][ESP_ICV_LEN];
    uint8_t blocks[ESP_BURST_MAX][AES_BLOCK];
    struct cdev *dev = modes[mode].dev;
    unsigned int m = 0;
    bool aead;

    if (!n) {
        return;
    }
    if (n > ESP_BURST_MAX || !ops[0]->ctx || !dev) {
        for (unsigned int i = 0; i < n; i++) {
            ops[i]->status = n > ESP_BURST_MAX ? EINVAL : ENODEV;
        }
        return;
    }
    aead = ((const struct cdev_ctx *) ops[0]->ctx)->aead;
    for (unsigned int i = 0; i < n; i++) {
        ops[i]->status = op_ok(ops[i], aead) ? 0 : EINVAL;
    }

    if (aead) {
        /* RFC 4106 / RFC 7634: nonce = salt || IV, AAD = SPI || seq. */
        for (unsigned int i = 0; i < n; i++) {
            struct esp_crypto_op *op = ops[i];
            const struct cdev_ctx *ctx = op->ctx;
            struct job *job = &jobs[m];
            int slot = ((enc ? AEAD_ENC_8 : AEAD_DEC_8)
                        + (op->aad_len == 12));

            if (op->status) {
                continue;
            }
            if (!ctx->aead_sess[slot]) {
                op->status = EOPNOTSUPP;
                continue;
            }
            job->kind = JOB_AEAD;
            job->sess = ctx->aead_sess[slot];
            job->buf = op->data;
            job->buf_len = op->data_len;
            job->c_off = 0;
            job->c_len = op->data_len;
            job->a_off = 0;
            job->a_len = op->data_len;
            memcpy(job->iv, op->nonce, AEAD_IV_LEN);
            job->iv_len = AEAD_IV_LEN;
            job->aad = op->aad;
            job->digest = op->icv;
            job->status = 0;
            idx[m++] = i;
        }
        run_jobs(mode, dev, jobs, m);
        for (unsigned int j = 0; j < m; j++) {
            ops[idx[j]]->status = jobs[j].status;
        }
        return;
    }

    if (enc) {
        /* NIST SP 800-38A appendix C: IV = AES_K(nonce), where asked. */
        for (unsigned int i = 0; i < n; i++) {
            struct esp_crypto_op *op = ops[i];
            const struct cdev_ctx *ctx = op->ctx;
            struct job *job = &jobs[m];

            if (op->status || !op->iv_out) {
                continue;
            }
            if (!ctx->ecb_sess || !ctx->chain_sess) {
                op->status = EOPNOTSUPP;
                continue;
            }
            memcpy(blocks[i], op->iv, AES_BLOCK);
            memset(job, 0, sizeof *job);
            job->kind = JOB_CIPHER;
            job->sess = ctx->ecb_sess;
            job->buf = blocks[i];
            job->buf_len = job->c_len = AES_BLOCK;
            idx[m++] = i;
        }
        run_jobs(mode, dev, jobs, m);
        for (unsigned int j = 0; j < m; j++) {
            struct esp_crypto_op *op = ops[idx[j]];

            op->status = jobs[j].status;
            if (!op->status) {
                memcpy(op->iv_out, blocks[idx[j]], AES_BLOCK);
            }
        }

        /* Chained CBC encrypt -> HMAC over ESP header || IV ||
         * ciphertext [|| ESN high bits] (RFC 4303 section 3.3.2, RFC
         * 4868).  The tag goes through 'tags': the ICV may overlap the
         * end of the authenticated region. */
        m = 0;
        for (unsigned int i = 0; i < n; i++) {
            struct esp_crypto_op *op = ops[i];
            const struct cdev_ctx *ctx = op->ctx;
            struct job *job = &jobs[m];

            if (op->status) {
                continue;
            }
            if (!ctx->chain_sess) {
                op->status = EOPNOTSUPP;
                continue;
            }
            if (!data_in_auth(op)) {
                op->status = EINVAL;
                continue;
            }
            job->kind = JOB_CHAIN;
            job->sess = ctx->chain_sess;
            job->buf = (uint8_t *) op->auth;
            job->buf_len = op->auth_len;
            job->c_off = op->data - op->auth;
            job->c_len = op->data_len;
            job->a_off = 0;
            job->a_len = op->auth_len;
            memcpy(job->iv, op->iv_out ? op->iv_out : op->iv, CBC_IV_LEN);
            job->iv_len = CBC_IV_LEN;
            job->aad = NULL;
            job->digest = tags[i];
            job->status = 0;
            idx[m++] = i;
        }
        run_jobs(mode, dev, jobs, m);
        for (unsigned int j = 0; j < m; j++) {
            struct esp_crypto_op *op = ops[idx[j]];

            op->status = jobs[j].status;
            if (!op->status) {
                memcpy(op->icv, tags[idx[j]], ESP_ICV_LEN);
            }
        }
        return;
    }

    /* Decrypt: HMAC first, compared here in constant time; only what
     * verified is decrypted (RFC 4303 section 3.4.4). */
    for (unsigned int i = 0; i < n; i++) {
        struct esp_crypto_op *op = ops[i];
        const struct cdev_ctx *ctx = op->ctx;
        struct job *job = &jobs[m];

        if (op->status) {
            continue;
        }
        if (!ctx->hmac_sess || !ctx->dec_sess) {
            op->status = EOPNOTSUPP;
            continue;
        }
        memset(job, 0, sizeof *job);
        job->kind = JOB_HMAC;
        job->sess = ctx->hmac_sess;
        job->buf = (uint8_t *) op->auth;
        job->buf_len = job->a_len = op->auth_len;
        job->digest = tags[i];
        idx[m++] = i;
    }
    run_jobs(mode, dev, jobs, m);
    {
        unsigned int m2 = 0;
        uint8_t idx2[ESP_BURST_MAX];

        for (unsigned int j = 0; j < m; j++) {
            struct esp_crypto_op *op = ops[idx[j]];

            op->status = jobs[j].status;
            if (op->status) {
                continue;
            }
            if (icv_diff(op->icv, tags[idx[j]])) {
                op->status = EBADMSG;
                atomic_fetch_add_explicit(&dev->auth_failures, 1,
                                          memory_order_relaxed);
            } else if (op->data_len) {
                idx2[m2++] = idx[j];
            }
        }
        for (unsigned int j = 0; j < m2; j++) {
            struct esp_crypto_op *op = ops[idx2[j]];
            const struct cdev_ctx *ctx = op->ctx;
            struct job *job = &jobs[j];

            memset(job, 0, sizeof *job);
            job->kind = JOB_CIPHER;
            job->sess = ctx->dec_sess;
            job->buf = op->data;
            job->buf_len = job->c_len = op->data_len;
            memcpy(job->iv, op->iv, CBC_IV_LEN);
            job->iv_len = CBC_IV_LEN;
        }
        run_jobs(mode, dev, jobs, m2);
        for (unsigned int j = 0; j < m2; j++) {
            ops[idx2[j]]->status = jobs[j].status;
        }
    }
}

/* The two engines: the same functions, each for its mode (the engine
 * interface passes no engine to supports() and the bursts). */

static bool
cd_supports(enum crypto_cryptodev_mode mode, enum esp_suite suite)
{
    const struct cdev_mode *m = &modes[mode];

    return m->dev && (unsigned int) suite < ESP_N_SUITES
           && m->suite_ok[suite];
}

#define CD_ENGINE(NAME, MODE, STR)                                          \
    static bool                                                             \
    NAME##_supports(enum esp_suite suite)                                   \
    {                                                                       \
        return cd_supports(MODE, suite);                                    \
    }                                                                       \
                                                                            \
    static int                                                              \
    NAME##_ctx_create(enum esp_suite suite, const uint8_t *key,             \
                      size_t key_len, const uint8_t *auth_key,              \
                      size_t auth_key_len, void **ctxp)                     \
    {                                                                       \
        return cd_ctx_create(MODE, suite, key, key_len, auth_key,           \
                             auth_key_len, ctxp);                           \
    }                                                                       \
                                                                            \
    static void                                                             \
    NAME##_encrypt_burst(struct esp_crypto_op *ops[], unsigned int n)       \
    {                                                                       \
        cd_burst(MODE, ops, n, true);                                       \
    }                                                                       \
                                                                            \
    static void                                                             \
    NAME##_decrypt_burst(struct esp_crypto_op *ops[], unsigned int n)       \
    {                                                                       \
        cd_burst(MODE, ops, n, false);                                      \
    }                                                                       \
                                                                            \
    const struct esp_crypto_engine esp_crypto_cryptodev_##NAME = {          \
        .name = STR,                                                        \
        .supports = NAME##_supports,                                        \
        .ctx_create = NAME##_ctx_create,                                    \
        .ctx_destroy = cd_ctx_destroy,                                      \
        .encrypt_burst = NAME##_encrypt_burst,                              \
        .decrypt_burst = NAME##_decrypt_burst,                              \
    }

CD_ENGINE(lookaside, CRYPTO_CRYPTODEV_LOOKASIDE, "cryptodev-lookaside");
CD_ENGINE(cpu, CRYPTO_CRYPTODEV_CPU, "cryptodev-cpu");

/* Device setup. */

static struct cdev *
find_dev(int dev_id)
{
    for (int i = 0; i < CRYPTO_CRYPTODEV_N_MODES; i++) {
        if (devs[i].refs && devs[i].dev_id == dev_id) {
            return &devs[i];
        }
    }
    return NULL;
}

static void
dev_teardown(struct cdev *dev, bool started)
{
    for (unsigned int q = 0; q < dev->n_qps; q++) {
        struct cdev_qp *qp = &dev->qps[q];

        for (int i = 0; i < ESP_BURST_MAX; i++) {
            if (qp->mbufs[i]) {
                qp->mbufs[i]->buf_addr = qp->orig_addr[i];
                qp->mbufs[i]->buf_iova = qp->orig_iova[i];
                qp->mbufs[i]->buf_len = qp->orig_len[i];
                rte_pktmbuf_reset(qp->mbufs[i]);
                rte_pktmbuf_free(qp->mbufs[i]);
                qp->mbufs[i] = NULL;
            }
            if (qp->ops[i]) {
                rte_crypto_op_free(qp->ops[i]);
                qp->ops[i] = NULL;
            }
        }
    }
    if (started) {
        rte_cryptodev_stop(dev->dev_id);
    }
    rte_mempool_free(dev->mbuf_pool);
    rte_mempool_free(dev->op_pool);
    rte_mempool_free(dev->sess_pool);
    memset(dev, 0, sizeof *dev);
    dev->dev_id = -1;
}

static int
dev_setup(struct cdev *dev, int dev_id, unsigned int n_sessions,
          char *err, size_t err_size)
{
    struct rte_cryptodev_info info;
    struct rte_cryptodev_config conf;
    struct rte_cryptodev_qp_conf qp_conf;
    char pool[RTE_MEMPOOL_NAMESIZE];
    int socket = rte_cryptodev_socket_id(dev_id);
    unsigned int priv;

    memset(dev, 0, sizeof *dev);
    dev->dev_id = dev_id;
    snprintf(dev->name, sizeof dev->name, "%s",
             rte_cryptodev_name_get(dev_id));
    rte_cryptodev_info_get(dev_id, &info);
    snprintf(dev->driver, sizeof dev->driver, "%s",
             info.driver_name ? info.driver_name : "?");
    dev->features = info.feature_flags;
    dev->need_iova = (info.feature_flags
                      & RTE_CRYPTODEV_FF_HW_ACCELERATED) != 0;
    dev->n_sessions = n_sessions ? n_sessions : CDEV_DEFAULT_SESSIONS;
    dev->n_qps = info.max_nb_queue_pairs < max_qps
                 ? info.max_nb_queue_pairs : max_qps;
    if (socket < 0) {
        socket = SOCKET_ID_ANY;
    }
    if (!dev->n_qps) {
        snprintf(err, err_size, "cryptodev %s: no queue pairs", dev->name);
        dev->dev_id = -1;
        return ENODEV;
    }

    priv = rte_cryptodev_sym_get_private_session_size(dev_id);
    snprintf(pool, sizeof pool, "cdev_sess_%d", dev_id);
    dev->sess_pool = rte_cryptodev_sym_session_pool_create(
        pool, dev->n_sessions, priv, 0, 0, socket);
    snprintf(pool, sizeof pool, "cdev_op_%d", dev_id);
    dev->op_pool = rte_crypto_op_pool_create(
        pool, RTE_CRYPTO_OP_TYPE_SYMMETRIC, dev->n_qps * ESP_BURST_MAX, 0,
        OP_PRIV_SIZE, socket);
    snprintf(pool, sizeof pool, "cdev_mbuf_%d", dev_id);
    dev->mbuf_pool = rte_pktmbuf_pool_create(
        pool, dev->n_qps * ESP_BURST_MAX, 0, 0, 0, socket);
    if (!dev->sess_pool || !dev->op_pool || !dev->mbuf_pool) {
        snprintf(err, err_size, "cryptodev %s: mempool creation failed (%s)",
                 dev->name, rte_strerror(rte_errno));
        dev_teardown(dev, false);
        return ENOMEM;
    }

    memset(&conf, 0, sizeof conf);
    conf.socket_id = socket;
    conf.nb_queue_pairs = dev->n_qps;
    if (rte_cryptodev_configure(dev_id, &conf) < 0) {
        snprintf(err, err_size, "cryptodev %s: rte_cryptodev_configure "
                 "failed (already started by someone else?)", dev->name);
        dev_teardown(dev, false);
        return EBUSY;
    }
    memset(&qp_conf, 0, sizeof qp_conf);
    qp_conf.nb_descriptors = CDEV_QP_DESC;
    for (unsigned int q = 0; q < dev->n_qps; q++) {
        struct cdev_qp *qp = &dev->qps[q];

        rte_spinlock_init(&qp->lock);
        if (rte_cryptodev_queue_pair_setup(dev_id, q, &qp_conf, socket) < 0
            || rte_crypto_op_bulk_alloc(dev->op_pool,
                                        RTE_CRYPTO_OP_TYPE_SYMMETRIC,
                                        qp->ops, ESP_BURST_MAX)
               != ESP_BURST_MAX
            || rte_pktmbuf_alloc_bulk(dev->mbuf_pool, qp->mbufs,
                                      ESP_BURST_MAX)) {
            snprintf(err, err_size, "cryptodev %s: queue pair %u setup "
                     "failed", dev->name, q);
            memset(qp->ops, 0, sizeof qp->ops);
            memset(qp->mbufs, 0, sizeof qp->mbufs);
            dev_teardown(dev, false);
            return EIO;
        }
        for (int i = 0; i < ESP_BURST_MAX; i++) {
            qp->orig_addr[i] = qp->mbufs[i]->buf_addr;
            qp->orig_iova[i] = qp->mbufs[i]->buf_iova;
            qp->orig_len[i] = qp->mbufs[i]->buf_len;
        }
    }
    if (rte_cryptodev_start(dev_id) < 0) {
        snprintf(err, err_size, "cryptodev %s: rte_cryptodev_start failed",
                 dev->name);
        dev_teardown(dev, false);
        return EIO;
    }
    return 0;
}

/* Known-answer self-test of one suite in 'mode': a 61-byte payload (48
 * for CBC, which needs whole blocks) encrypted by the mode and by the
 * ipsec-mb engine must match byte for byte, decrypt back, and a flipped
 * ICV bit must be refused. */
static int
self_test(enum crypto_cryptodev_mode mode, enum esp_suite suite,
          bool derive_iv, char *why, size_t size)
{
    static const uint8_t key[32] = {
        0x4c, 0x80, 0xcd, 0xef, 0xbb, 0x5d, 0x10, 0xda,
        0x90, 0x6a, 0xc7, 0x3c, 0x36, 0x13, 0xa6, 0x34,
        0x2e, 0x43, 0x3c, 0x5c, 0x74, 0x15, 0xde, 0xaa,
        0x8b, 0x3b, 0xa2, 0x0a, 0x3c, 0x8e, 0x7b, 0x01,
    };
    static const uint8_t auth_key[32] = { 0x11, 0x22, 0x33 };
    const struct esp_crypto_engine *ref = &esp_crypto_ipsecmb;
    const struct esp_crypto_engine *eng = crypto_cryptodev_engine(mode);
    bool aead = suite_is_aead(suite);
    size_t key_len = cipher_key_len(suite);
    uint8_t pkt[2][128], orig[128], aad[8] = { 0, 0, 0x10, 0x01, 0, 0, 0, 7 };
    void *ctx[2] = { NULL, NULL };
    uint32_t data_len = aead ? 61 : 48;
    int error = 0;

    if (!ref->supports(suite)) {
        return 0;           /* Nothing to compare with. */
    }
    for (int e = 0; e < 2; e++) {
        const struct esp_crypto_engine *x = e ? eng : ref;

        /* Outbound sessions only, so that the test needs no more than one
         * SA's worth of the session pool. */
        crypto_cryptodev_expect(ESP_DIR_OUT, false);
        error = x->ctx_create(suite, key, key_len,
                              aead ? NULL : auth_key, aead ? 0 : 32, &ctx[e]);
        tls_expect.set = false;
        if (error) {
            snprintf(why, size, "self-test: key context failed (%s%s%.100s)",
                     strerror(error), tls_error[0] ? ": " : "", tls_error);
            goto out;
        }
    }
    for (int i = 0; i < (int) sizeof orig; i++) {
        orig[i] = i * 13 + 5;
    }
    for (int e = 0; e < 2; e++) {
        struct esp_crypto_op op, *opp = &op;

        memcpy(pkt[e], orig, sizeof orig);
        memset(&op, 0, sizeof op);
        op.ctx = ctx[e];
        /* ESP header (8) and IV (16) first, as the datapath lays out. */
        op.data = pkt[e] + 24;
        op.data_len = data_len;
        op.icv = op.data + data_len;
        if (aead) {
            memcpy(op.nonce, "\xca\xfe\xba\xbe\0\0\0\0\0\0\0\7", 12);
            op.aad = aad;
            op.aad_len = sizeof aad;
        } else {
            memset(op.iv, 0, sizeof op.iv);
            op.iv[7] = 7;
            if (derive_iv) {
                op.iv_out = pkt[e] + 8;
            } else {
                memcpy(pkt[e] + 8, op.iv, 16);
            }
            op.auth = pkt[e];
            op.auth_len = 24 + data_len;
        }
        (e ? eng : ref)->encrypt_burst(&opp, 1);
        if (op.status) {
            snprintf(why, size, "self-test: encrypt failed (%s)",
                     strerror(op.status));
            error = EIO;
            goto out;
        }
    }
    if (memcmp(pkt[0], pkt[1], 24 + data_len + ESP_ICV_LEN)) {
        snprintf(why, size, "self-test: output differs from ipsec-mb");
        error = EIO;
        goto out;
    }
    eng->ctx_destroy(ctx[1]);
    crypto_cryptodev_expect(ESP_DIR_IN, false);
    error = eng->ctx_create(suite, key, key_len, aead ? NULL : auth_key,
                            aead ? 0 : 32, &ctx[1]);
    tls_expect.set = false;
    if (error) {
        snprintf(why, size, "self-test: key context failed (%s%s%.100s)",
                 strerror(error), tls_error[0] ? ": " : "", tls_error);
        goto out;
    }
    for (int tamper = 1; tamper >= 0; tamper--) {
        uint8_t buf[128];
        struct esp_crypto_op op, *opp = &op;

        memcpy(buf, pkt[1], sizeof buf);
        buf[24 + data_len + 3] ^= tamper;
        memset(&op, 0, sizeof op);
        op.ctx = ctx[1];
        op.data = buf + 24;
        op.data_len = data_len;
        op.icv = op.data + data_len;
        if (aead) {
            memcpy(op.nonce, "\xca\xfe\xba\xbe\0\0\0\0\0\0\0\7", 12);
            op.aad = aad;
            op.aad_len = sizeof aad;
        } else {
            memcpy(op.iv, buf + 8, 16);
            op.auth = buf;
            op.auth_len = 24 + data_len;
        }
        eng->decrypt_burst(&opp, 1);
        if (tamper ? op.status != EBADMSG
            : op.status || memcmp(buf + 24, orig + 24, data_len)) {
            snprintf(why, size, "self-test: %s", tamper
                     ? "tampered ICV not refused" : "decrypt failed");
            error = EIO;
            goto out;
        }
    }
out:
    ref->ctx_destroy(ctx[0]);
    eng->ctx_destroy(ctx[1]);
    return error;
}

int
crypto_cryptodev_open(enum crypto_cryptodev_mode mode, const char *dev_name,
                      unsigned int n_sessions, char *err, size_t err_size)
{
    struct cdev_mode *m;
    struct cdev *dev;
    int dev_id, error;

    if ((unsigned int) mode >= CRYPTO_CRYPTODEV_N_MODES) {
        snprintf(err, err_size, "bad mode");
        return EINVAL;
    }
    m = &modes[mode];
    if (m->dev) {
        snprintf(err, err_size, "%s already bound to cryptodev %s",
                 crypto_cryptodev_engine(mode)->name, m->dev->name);
        return EBUSY;
    }
    dev_id = dev_name ? rte_cryptodev_get_dev_id(dev_name) : -1;
    if (dev_id < 0) {
        snprintf(err, err_size, "no cryptodev named %s (is the PMD linked "
                 "and --vdev given?)", dev_name ? dev_name : "(null)");
        return ENODEV;
    }
    dev = find_dev(dev_id);
    if (!dev) {
        dev = devs[0].refs ? &devs[1] : &devs[0];
        error = dev_setup(dev, dev_id, n_sessions, err, err_size);
        if (error) {
            return error;
        }
    }
    dev->refs++;

    memset(m, 0, sizeof *m);
    m->dev = dev;
    for (int s = 0; s < ESP_N_SUITES; s++) {
        char why[160];

        /* The self-test runs through the engine, so mark the suite
         * first. */
        error = check_caps(dev, mode, s, why, sizeof why);
        m->suite_ok[s] = !error;
        if (!error) {
            m->out_ok[s] = !check_ecb(dev, s, m->out_why[s],
                                      sizeof m->out_why[s]);
            error = self_test(mode, s, m->out_ok[s], why, sizeof why);
            m->suite_ok[s] = !error;
        }
        if (error) {
            m->out_ok[s] = false;
            snprintf(m->suite_why[s], sizeof m->suite_why[s], "%s", why);
            snprintf(m->out_why[s], sizeof m->out_why[s], "%s", why);
        }
    }
    return 0;
}

int
crypto_cryptodev_close(enum crypto_cryptodev_mode mode)
{
    struct cdev_mode *m;
    struct cdev *dev;

    if ((unsigned int) mode >= CRYPTO_CRYPTODEV_N_MODES) {
        return EINVAL;
    }
    m = &modes[mode];
    dev = m->dev;
    if (!dev) {
        return 0;
    }
    if (atomic_load(&m->ctxs)) {
        return EBUSY;
    }
    memset(m, 0, sizeof *m);
    if (!--dev->refs) {
        dev_teardown(dev, true);
    }
    return 0;
}

const char *
crypto_cryptodev_device(enum crypto_cryptodev_mode mode)
{
    return ((unsigned int) mode < CRYPTO_CRYPTODEV_N_MODES
            && modes[mode].dev ? modes[mode].dev->name : NULL);
}

static const char *
mode_name(enum crypto_cryptodev_mode mode)
{
    return mode == CRYPTO_CRYPTODEV_CPU ? "CPU crypto" : "lookaside";
}

int
crypto_cryptodev_check(enum crypto_cryptodev_mode mode,
                       enum esp_suite suite, enum esp_dir dir, bool esn,
                       char *reason, size_t reason_size)
{
    const struct cdev_mode *m = &modes[mode];

    (void) esn;                 /* Both AAD lengths were checked. */
    if (!m->dev) {
        snprintf(reason, reason_size, "no cryptodev open for %s",
                 mode_name(mode));
        return EOPNOTSUPP;
    }
    if ((unsigned int) suite >= ESP_N_SUITES) {
        snprintf(reason, reason_size, "cryptodev %s: unknown suite",
                 m->dev->name);
        return EOPNOTSUPP;
    }
    if (!m->suite_ok[suite]) {
        snprintf(reason, reason_size, "cryptodev %s: %s", m->dev->name,
                 m->suite_why[suite]);
        return EOPNOTSUPP;
    }
    if (dir == ESP_DIR_OUT && !m->out_ok[suite]) {
        snprintf(reason, reason_size, "cryptodev %s: %s", m->dev->name,
                 m->out_why[suite]);
        return EOPNOTSUPP;
    }
    return 0;
}

void
crypto_cryptodev_format(enum crypto_cryptodev_mode mode,
                        char *buf, size_t size)
{
    const struct cdev_mode *m = &modes[mode];
    size_t len;
    bool any = false;

    if (!m->dev) {
        snprintf(buf, size, "no cryptodev open for %s", mode_name(mode));
        return;
    }
    snprintf(buf, size, "cryptodev %s (driver %s, %u queue pairs):",
             m->dev->name, m->dev->driver, m->dev->n_qps);
    for (int s = 0; s < ESP_N_SUITES; s++) {
        if (m->suite_ok[s]) {
            len = strnlen(buf, size);
            snprintf(buf + len, size - len, " %s%s", esp_suite_name(s),
                     m->out_ok[s] ? "" : "(in)");
            any = true;
        }
    }
    len = strnlen(buf, size);
    snprintf(buf + len, size - len, "%s; %u sessions", any ? "" : " none",
             crypto_cryptodev_sessions_in_use(mode));
}

void
crypto_cryptodev_expect(enum esp_dir dir, bool esn)
{
    tls_expect.set = true;
    tls_expect.dir = dir;
    tls_expect.esn = esn;
}

void
crypto_cryptodev_set_queue_pairs(unsigned int n)
{
    max_qps = n < 1 ? 1 : n > CDEV_MAX_QPS ? CDEV_MAX_QPS : n;
}

void
crypto_cryptodev_expect_clear(void)
{
    tls_expect.set = false;
}

const char *
crypto_cryptodev_last_error(void)
{
    return tls_error;
}

void
crypto_cryptodev_get_stats(enum crypto_cryptodev_mode mode,
                           struct crypto_cryptodev_stats *s)
{
    const struct cdev *dev = ((unsigned int) mode < CRYPTO_CRYPTODEV_N_MODES
                              ? modes[mode].dev : NULL);

    memset(s, 0, sizeof *s);
    if (!dev) {
        return;
    }
    s->sessions_created = atomic_load_explicit(&dev->sessions_created,
                                               memory_order_relaxed);
    s->sessions_freed = atomic_load_explicit(&dev->sessions_freed,
                                             memory_order_relaxed);
    s->sessions_failed = atomic_load_explicit(&dev->sessions_failed,
                                              memory_order_relaxed);
    s->ctxs = atomic_load_explicit(&dev->ctxs, memory_order_relaxed);
    s->ops = atomic_load_explicit(&dev->ops, memory_order_relaxed);
    s->op_errors = atomic_load_explicit(&dev->op_errors,
                                        memory_order_relaxed);
    s->auth_failures = atomic_load_explicit(&dev->auth_failures,
                                            memory_order_relaxed);
}

unsigned int
crypto_cryptodev_sessions_in_use(enum crypto_cryptodev_mode mode)
{
    const struct cdev *dev = ((unsigned int) mode < CRYPTO_CRYPTODEV_N_MODES
                              ? modes[mode].dev : NULL);

    return dev ? rte_mempool_in_use_count(dev->sess_pool) : 0;
}
