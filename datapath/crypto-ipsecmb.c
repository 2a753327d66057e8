/*
 * Crypto engine "ipsec-mb": intel-ipsec-mb (1.3).
 *
 * Key material is expanded once in ctx_create (AES-GCM key data, AES key
 * schedules, HMAC-SHA-256 inner/outer pad digests); the per-burst path
 * only runs the cipher.  Each thread gets its own IMB_MGR, allocated on
 * first use and freed when the thread exits; contexts are read-only after
 * creation and shared between threads.
 *
 * AES-GCM: pairs of ops of the same key go to gcm-x2.c (two packets per
 * 256-bit register, VAES and VPCLMULQDQ) where the CPU has them and
 * intel-ipsec-mb runs its AVX2 code; other AES-GCM ops go through the
 * library's direct API (the aes_gcm_enc/dec functions that
 * init_mb_mgr_auto() selected, one call per packet, what DPDK's
 * CPU-crypto path uses).  ChaCha20-Poly1305 and CBC+HMAC go through the
 * burst job API (IMB_GET_NEXT_BURST / IMB_SUBMIT_BURST /
 * IMB_FLUSH_BURST).  On the machine below init_mb_mgr_auto() picks
 * IMB_ARCH_AVX2 (used_arch 4; ipsec-mb 1.3 has no VAES/VPCLMULQDQ GCM
 * without AVX-512, so its GCM runs aes_gcm_*_avx_gen4).
 *
 * `cd tests && ESP_CRYPTO_BENCH=1 ../build/tests/test-crypto`, encrypt,
 * one thread, burst of 32, ns per packet (best of 5), AMD EPYC Zen 3 at
 * 2.45 GHz (AVX2, VAES, VPCLMULQDQ, SHA-NI, no AVX-512), 2026-11-23:
 * "dflt" = the default (AES-GCM in pairs), "dir" = AES-GCM direct API
 * only, "brst" / "sngl" = every suite through burst / single jobs.
 *
 *                   64 B               512 B              1392 B
 *             dflt  dir brst sngl dflt dir brst sngl dflt  dir brst sngl
 * GCM-128     26.3 43.6 70.3 74.1   95 153  185  189  237  385  417  403
 * GCM-256     26.8 54.7 85.0 85.4  106 169  200  205  266  422  450  460
 * ChaCha20-P     -  298  289  286    - 522  531  531    - 1179 1175 1211
 * CBC128+HMAC    -  251  228  271    - 650  589  633    - 1387 1301 1319
 *
 * (ChaCha20 and CBC take burst jobs in both "dflt" and "dir"; "dir"
 * shows them.)  Pairs save 40 % at 64 B and 38 % at 1392 B over the
 * direct API.  Without pairs, the direct API saves about 25 ns (60
 * cycles, 37%) per packet at 64 B over the job manager; in cycles (TSC) a
 * bare loop of the direct call costs 98 / 348 / 868 at 64 / 512 / 1392
 * B, so the engine adds ~4.  For ChaCha20-Poly1305 the library's direct
 * API (IMB_CHACHA20_POLY1305_INIT / _ENC_UPDATE / _ENC_FINALIZE) measured
 * ~8% slower than jobs at 64 B (711 vs 655 cycles) and ~2% at 1392 B, and
 * OpenSSL EVP costs ~1160 cycles at 64 B, so ChaCha20 stays on burst
 * jobs.  The direct-only, single-job and all-jobs paths stay for the
 * comparison and for the tests (esp_crypto_ipsecmb_set_submit()).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <intel-ipsec-mb.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "esp-crypto.h"
#include "gcm-x2.h"

/* How AEAD work reaches the library (see the table above).  The other
 * paths stay compiled so that the benchmark and the tests can compare
 * them. */
enum mb_submit {
    MB_SUBMIT_DEFAULT,          /* GCM in pairs (gcm-x2.c) where it can,
                                 * else direct; the rest burst jobs. */
    MB_SUBMIT_SINGLE,           /* Everything single jobs. */
    MB_SUBMIT_BURST,            /* Everything burst jobs (GCM too). */
    MB_SUBMIT_DIRECT,           /* Like the default, but every GCM op
                                 * through the direct API, never the
                                 * two-packet code (gcm-x2.c). */
};

/* Exported for tests/unit/test-crypto.c only: 'mode' is an enum
 * mb_submit value (0 restores the default). */
void esp_crypto_ipsecmb_set_submit(int mode);
static enum mb_submit mb_submit_mode = MB_SUBMIT_DEFAULT;

void
esp_crypto_ipsecmb_set_submit(int mode)
{
    mb_submit_mode = (mode == MB_SUBMIT_SINGLE ? MB_SUBMIT_SINGLE
                      : mode == MB_SUBMIT_BURST ? MB_SUBMIT_BURST
                      : mode == MB_SUBMIT_DIRECT ? MB_SUBMIT_DIRECT
                      : MB_SUBMIT_DEFAULT);
}

/* Whether contexts get the two-packet AES-GCM key data: the CPU can run
 * it, intel-ipsec-mb runs its AVX2 code, and the environment variable
 * ESPDP_GCM_X2 is not "0" (so that a benchmark can measure both).
 * Decided at the first ctx_create(); a context keeps what it got. */
static pthread_once_t x2_once = PTHREAD_ONCE_INIT;
static bool x2_enabled;
/* Whether pairs of small same-size ops run two pairs at a time
 * (gcm_x2_quad()); ESPDP_GCM_QUAD=0 turns that off, for comparisons. */
static bool x2_quads;

static IMB_MGR *get_mgr(void);

/* mb_describe()'s line, written by x2_init(). */
static char mb_line[160];

/* Not where intel-ipsec-mb runs its AVX-512 code: that has VAES GCM of
 * its own, four blocks per instruction, which this machine cannot
 * measure against. */
static void
x2_init(void)
{
    static const char *const archs[] = {
        [IMB_ARCH_NONE] = "no", [IMB_ARCH_NOAESNI] = "no-AESNI",
        [IMB_ARCH_SSE] = "SSE", [IMB_ARCH_AVX] = "AVX",
        [IMB_ARCH_AVX2] = "AVX2", [IMB_ARCH_AVX512] = "AVX-512",
    };
    const char *env = getenv("ESPDP_GCM_X2");
    bool off = env && !strcmp(env, "0");
    const char *quad_env = getenv("ESPDP_GCM_QUAD");
    IMB_MGR *mgr = get_mgr();
    bool avx512 = mgr && mgr->used_arch == IMB_ARCH_AVX512;
    bool cpu = gcm_x2_cpu_ok();
    const char *arch = (mgr && mgr->used_arch < IMB_ARCH_NUM
                        ? archs[mgr->used_arch] : "unknown");

    x2_enabled = cpu && !off && mgr && !avx512;
    x2_quads = !(quad_env && !strcmp(quad_env, "0"));
    snprintf(mb_line, sizeof mb_line,
             "intel-ipsec-mb %s, %s code; AES-GCM %s", imb_get_version_str(),
             arch,
             x2_enabled && x2_quads
             ? "two packets at a time, four if small and of one size (VAES, "
               "VPCLMULQDQ)"
             : x2_enabled
             ? "two packets at a time (VAES, VPCLMULQDQ; ESPDP_GCM_QUAD=0)"
             : off ? "one packet per call (ESPDP_GCM_X2=0)"
             : !cpu ? "one packet per call (no VAES or VPCLMULQDQ)"
             : avx512 ? "one packet per call (intel-ipsec-mb's AVX-512 GCM)"
             : "one packet per call");
}

static const char *
mb_describe(void)
{
    pthread_once(&x2_once, x2_init);
    return mb_line;
}

/* Exported for tests/unit/test-crypto.c only: whether new AES-GCM
 * contexts use gcm-x2.c. */
bool esp_crypto_ipsecmb_x2(void);

bool
esp_crypto_ipsecmb_x2(void)
{
    pthread_once(&x2_once, x2_init);
    return x2_enabled;
}

enum {
    AES_BLOCK = 16,
    AES_SCHED_WORDS = 60,       /* 15 round keys of 4 words (AES-256). */
    SHA256_BLOCK = 64,
    SHA256_LEN = 32,
};

struct mb_ctx {
    union {
        struct gcm_key_data gcm;            /* AES-GCM (64-byte aligned). */
        struct {
            uint32_t enc[AES_SCHED_WORDS] __attribute__((aligned(16)));
            uint32_t dec[AES_SCHED_WORDS] __attribute__((aligned(16)));
            uint8_t ipad[SHA256_LEN] __attribute__((aligned(16)));
            uint8_t opad[SHA256_LEN] __attribute__((aligned(16)));
        } cbc;                              /* AES-CBC + HMAC-SHA-256. */
        uint8_t chacha[32] __attribute__((aligned(16)));
    };
    /* AES-GCM direct API of the architecture init_mb_mgr_auto() chose
     * (the same in every thread); null for the other suites. */
    aes_gcm_enc_dec_t gcm_enc;
    aes_gcm_enc_dec_t gcm_dec;
    /* AES-GCM: the key data of gcm-x2.c, if 'x2'. */
    bool x2;
    struct gcm_x2_key x2_key;
    enum esp_suite suite;
    uint64_t key_len;                       /* AES/ChaCha key bytes. */
};

/* Per-thread manager. */
static __thread IMB_MGR *tls_mgr;
static pthread_key_t mgr_key;
static pthread_once_t mgr_once = PTHREAD_ONCE_INIT;
static int mgr_key_error;

static void
mgr_free(void *mgr)
{
    free_mb_mgr(mgr);
}

static void
mgr_key_init(void)
{
    mgr_key_error = pthread_key_create(&mgr_key, mgr_free);
}

static IMB_MGR *
get_mgr(void)
{
    IMB_MGR *mgr = tls_mgr;

    if (__builtin_expect(mgr != NULL, 1)) {
        return mgr;
    }
    pthread_once(&mgr_once, mgr_key_init);
    if (mgr_key_error) {
        return NULL;
    }
    mgr = alloc_mb_mgr(0);
    if (!mgr) {
        return NULL;
    }
    init_mb_mgr_auto(mgr, NULL);
    if (imb_get_errno(mgr) || pthread_setspecific(mgr_key, mgr)) {
        free_mb_mgr(mgr);
        return NULL;
    }
    tls_mgr = mgr;
    return mgr;
}

static bool
mb_supports(enum esp_suite suite)
{
    return suite < ESP_N_SUITES;
}

static bool
is_cbc(enum esp_suite suite)
{
    return (suite == ESP_SUITE_AES_CBC_128_HMAC_SHA256
            || suite == ESP_SUITE_AES_CBC_256_HMAC_SHA256);
}

/* HMAC (RFC 2104) inner and outer states: one SHA-256 compression of
 * (key ^ pad), which is what the job API's HMAC fields expect. */
static void
hmac_pads(IMB_MGR *mgr, const uint8_t *key, size_t key_len,
          uint8_t ipad[SHA256_LEN], uint8_t opad[SHA256_LEN])
{
    uint8_t block[SHA256_BLOCK];

    memset(block, 0x36, sizeof block);
    for (size_t i = 0; i < key_len; i++) {
        block[i] ^= key[i];
    }
    IMB_SHA256_ONE_BLOCK(mgr, block, ipad);

    memset(block, 0x5c, sizeof block);
    for (size_t i = 0; i < key_len; i++) {
        block[i] ^= key[i];
    }
    IMB_SHA256_ONE_BLOCK(mgr, block, opad);
    explicit_bzero(block, sizeof block);
}

static int
mb_ctx_create(enum esp_suite suite, const uint8_t *key, size_t key_len,
              const uint8_t *auth_key, size_t auth_key_len, void **ctxp)
{
    /* The AES decryption schedule that the key expansion also writes,
     * unused by gcm-x2.c. */
    uint8_t dec_sched[15 * 16] __attribute__((aligned(16)));
    struct mb_ctx *ctx;
    IMB_MGR *mgr;
    void *mem;

    *ctxp = NULL;
    if (!mb_supports(suite)) {
        return EOPNOTSUPP;
    }
    switch (suite) {
    case ESP_SUITE_AES_GCM_128:
    case ESP_SUITE_AES_CBC_128_HMAC_SHA256:
        if (key_len != 16) {
            return EINVAL;
        }
        break;
    case ESP_SUITE_AES_GCM_256:
    case ESP_SUITE_CHACHA20_POLY1305:
    case ESP_SUITE_AES_CBC_256_HMAC_SHA256:
        if (key_len != 32) {
            return EINVAL;
        }
        break;
    case ESP_N_SUITES:
    default:
        return EOPNOTSUPP;
    }
    if (!key) {
        return EINVAL;
    }
    if (is_cbc(suite) ? !auth_key || auth_key_len != 32 : auth_key_len) {
        return EINVAL;
    }

    mgr = get_mgr();
    if (!mgr) {
        return ENOMEM;
    }
    if (posix_memalign(&mem, 64, sizeof *ctx)) {
        return ENOMEM;
    }
    ctx = mem;
    memset(ctx, 0, sizeof *ctx);
    ctx->suite = suite;
    ctx->key_len = key_len;

    pthread_once(&x2_once, x2_init);
    switch (suite) {
    case ESP_SUITE_AES_GCM_128:
        IMB_AES128_GCM_PRE(mgr, key, &ctx->gcm);
        ctx->gcm_enc = mgr->gcm128_enc;
        ctx->gcm_dec = mgr->gcm128_dec;
        if (x2_enabled) {
            IMB_AES_KEYEXP_128(mgr, key, ctx->x2_key.rk, dec_sched);
            gcm_x2_key_init(&ctx->x2_key, 10);
            ctx->x2 = true;
        }
        break;
    case ESP_SUITE_AES_GCM_256:
        IMB_AES256_GCM_PRE(mgr, key, &ctx->gcm);
        ctx->gcm_enc = mgr->gcm256_enc;
        ctx->gcm_dec = mgr->gcm256_dec;
        if (x2_enabled) {
            IMB_AES_KEYEXP_256(mgr, key, ctx->x2_key.rk, dec_sched);
            gcm_x2_key_init(&ctx->x2_key, 14);
            ctx->x2 = true;
        }
        break;
    case ESP_SUITE_CHACHA20_POLY1305:
        memcpy(ctx->chacha, key, 32);
        break;
    case ESP_SUITE_AES_CBC_128_HMAC_SHA256:
        IMB_AES_KEYEXP_128(mgr, key, ctx->cbc.enc, ctx->cbc.dec);
        hmac_pads(mgr, auth_key, auth_key_len, ctx->cbc.ipad, ctx->cbc.opad);
        break;
    case ESP_SUITE_AES_CBC_256_HMAC_SHA256:
        IMB_AES_KEYEXP_256(mgr, key, ctx->cbc.enc, ctx->cbc.dec);
        hmac_pads(mgr, auth_key, auth_key_len, ctx->cbc.ipad, ctx->cbc.opad);
        break;
    case ESP_N_SUITES:
    default:
        explicit_bzero(ctx, sizeof *ctx);
        free(ctx);
        return EOPNOTSUPP;
    }
    explicit_bzero(dec_sched, sizeof dec_sched);
    *ctxp = ctx;
    return 0;
}

static void
mb_ctx_destroy(void *ctx_)
{
    struct mb_ctx *ctx = ctx_;

    if (ctx) {
        explicit_bzero(ctx, sizeof *ctx);
        free(ctx);
    }
}

/* What one job does. */
enum job_kind {
    JOB_AEAD_ENC,
    JOB_AEAD_DEC,
    JOB_IV_DERIVE,          /* AES-ECB of op->iv into op->iv_out. */
    JOB_CBC_ENC_HMAC,       /* Chained: encrypt 'data', then HMAC 'auth'. */
    JOB_CBC_ENC,            /* Cipher only. */
    JOB_CBC_DEC,            /* Cipher only. */
    JOB_HMAC,               /* HMAC of 'auth' only. */
};

/* Scratch for one burst: a tag per op, written by the engine, copied to
 * (or compared with) op->icv afterwards so that an 'icv' that overlaps
 * the authenticated region is never written while it is still read. */
struct burst_scratch {
    uint8_t tag[ESP_BURST_MAX][ESP_ICV_LEN];
};

static uint8_t empty_buf[AES_BLOCK];

static inline void
fill_job(IMB_JOB *job, enum job_kind kind, struct esp_crypto_op *op,
         uint8_t *tag)
{
    const struct mb_ctx *ctx = op->ctx;
    /* An IV derivation reads only op->iv: the inline encap path that asks
     * for it fills in nothing else (data_len is not set there). */
    uint8_t *data = kind != JOB_IV_DERIVE && op->data_len
                    ? op->data : empty_buf;

    job->user_data = op;
    job->user_data2 = NULL;
    switch (kind) {
    case JOB_AEAD_ENC:
    case JOB_AEAD_DEC:
        job->src = data;
        job->dst = data;
        job->cipher_start_src_offset_in_bytes = 0;
        job->msg_len_to_cipher_in_bytes = op->data_len;
        job->hash_start_src_offset_in_bytes = 0;
        job->msg_len_to_hash_in_bytes = op->data_len;
        job->iv = op->nonce;
        job->iv_len_in_bytes = 12;
        job->auth_tag_output = tag;
        job->auth_tag_output_len_in_bytes = ESP_ICV_LEN;
        job->key_len_in_bytes = ctx->key_len;
        if (kind == JOB_AEAD_ENC) {
            job->cipher_direction = IMB_DIR_ENCRYPT;
            job->chain_order = IMB_ORDER_CIPHER_HASH;
        } else {
            job->cipher_direction = IMB_DIR_DECRYPT;
            job->chain_order = IMB_ORDER_HASH_CIPHER;
        }
        if (ctx->suite == ESP_SUITE_CHACHA20_POLY1305) {
            job->enc_keys = ctx->chacha;
            job->dec_keys = ctx->chacha;
            job->cipher_mode = IMB_CIPHER_CHACHA20_POLY1305;
            job->hash_alg = IMB_AUTH_CHACHA20_POLY1305;
            job->u.CHACHA20_POLY1305.aad = op->aad;
            job->u.CHACHA20_POLY1305.aad_len_in_bytes = op->aad_len;
        } else {
            job->enc_keys = &ctx->gcm;
            job->dec_keys = &ctx->gcm;
            job->cipher_mode = IMB_CIPHER_GCM;
            job->hash_alg = IMB_AUTH_AES_GMAC;
            job->u.GCM.aad = op->aad;
            job->u.GCM.aad_len_in_bytes = op->aad_len;
        }
        break;

    case JOB_IV_DERIVE:
        job->src = op->iv;
        job->dst = op->iv_out;
        job->cipher_start_src_offset_in_bytes = 0;
        job->msg_len_to_cipher_in_bytes = AES_BLOCK;
        job->iv = NULL;
        job->iv_len_in_bytes = 0;
        job->enc_keys = ctx->cbc.enc;
        job->dec_keys = ctx->cbc.dec;
        job->key_len_in_bytes = ctx->key_len;
        job->cipher_mode = IMB_CIPHER_ECB;
        job->cipher_direction = IMB_DIR_ENCRYPT;
        job->chain_order = IMB_ORDER_CIPHER_HASH;
        job->hash_alg = IMB_AUTH_NULL;
        break;

    case JOB_CBC_ENC_HMAC:
    case JOB_CBC_ENC:
    case JOB_CBC_DEC:
        job->iv = op->iv_out ? op->iv_out : op->iv;
        job->iv_len_in_bytes = AES_BLOCK;
        job->enc_keys = ctx->cbc.enc;
        job->dec_keys = ctx->cbc.dec;
        job->key_len_in_bytes = ctx->key_len;
        job->cipher_mode = IMB_CIPHER_CBC;
        job->msg_len_to_cipher_in_bytes = op->data_len;
        job->dst = op->data;
        if (kind == JOB_CBC_ENC_HMAC) {
            /* 'data' lies inside 'auth' (checked by the caller). */
            job->src = op->auth;
            job->cipher_start_src_offset_in_bytes = op->data - op->auth;
            job->hash_start_src_offset_in_bytes = 0;
            job->msg_len_to_hash_in_bytes = op->auth_len;
            job->hash_alg = IMB_AUTH_HMAC_SHA_256;
            job->u.HMAC._hashed_auth_key_xor_ipad = ctx->cbc.ipad;
            job->u.HMAC._hashed_auth_key_xor_opad = ctx->cbc.opad;
            job->auth_tag_output = tag;
            job->auth_tag_output_len_in_bytes = ESP_ICV_LEN;
        } else {
            job->src = op->data;
            job->cipher_start_src_offset_in_bytes = 0;
            job->hash_alg = IMB_AUTH_NULL;
        }
        if (kind == JOB_CBC_DEC) {
            job->cipher_direction = IMB_DIR_DECRYPT;
            job->chain_order = IMB_ORDER_HASH_CIPHER;
        } else {
            job->cipher_direction = IMB_DIR_ENCRYPT;
            job->chain_order = IMB_ORDER_CIPHER_HASH;
        }
        break;

    case JOB_HMAC:
    default:
        job->src = op->auth_len ? op->auth : empty_buf;
        job->dst = NULL;
        job->cipher_start_src_offset_in_bytes = 0;
        job->msg_len_to_cipher_in_bytes = 0;
        job->iv = NULL;
        job->iv_len_in_bytes = 0;
        job->cipher_mode = IMB_CIPHER_NULL;
        job->cipher_direction = IMB_DIR_ENCRYPT;
        job->chain_order = IMB_ORDER_CIPHER_HASH;
        job->hash_alg = IMB_AUTH_HMAC_SHA_256;
        job->hash_start_src_offset_in_bytes = 0;
        job->msg_len_to_hash_in_bytes = op->auth_len;
        job->u.HMAC._hashed_auth_key_xor_ipad = ctx->cbc.ipad;
        job->u.HMAC._hashed_auth_key_xor_opad = ctx->cbc.opad;
        job->auth_tag_output = tag;
        job->auth_tag_output_len_in_bytes = ESP_ICV_LEN;
        break;
    }
}

static inline void
job_done(const IMB_JOB *job)
{
    struct esp_crypto_op *op = job->user_data;

    if (job->status != IMB_STATUS_COMPLETED && !op->status) {
        op->status = EIO;
    }
}

/* Runs one job of 'kind' for each of ops[idx[0..m-1]] (m <= ESP_BURST_MAX)
 * and waits for all of them.  A job that fails sets its op's status to
 * EIO.  'tags' is indexed like 'ops'. */
static void
run_jobs(IMB_MGR *mgr, enum job_kind kind, struct esp_crypto_op *ops[],
         const uint8_t idx[], unsigned int m, struct burst_scratch *s)
{
    if (!m) {
        return;
    }
    if (mb_submit_mode != MB_SUBMIT_SINGLE) {
        IMB_JOB *jobs[ESP_BURST_MAX];
        unsigned int got, done;

        got = IMB_GET_NEXT_BURST(mgr, m, jobs);
        if (got < m) {
            /* Cannot happen with an empty queue (room for IMB_MAX_JOBS);
             * drain it and try once more. */
            while (IMB_FLUSH_BURST(mgr, ESP_BURST_MAX, jobs)) {
                continue;
            }
            got = IMB_GET_NEXT_BURST(mgr, m, jobs);
            if (got < m) {
                for (unsigned int i = 0; i < m; i++) {
                    ops[idx[i]]->status = ENOBUFS;
                }
                return;
            }
        }
        for (unsigned int i = 0; i < m; i++) {
            fill_job(jobs[i], kind, ops[idx[i]], s->tag[idx[i]]);
        }
        done = IMB_SUBMIT_BURST(mgr, m, jobs);
        if (!done && imb_get_errno(mgr)) {
            /* A job failed validation; nothing was submitted. */
            for (unsigned int i = 0; i < m; i++) {
                ops[idx[i]]->status = EINVAL;
            }
            return;
        }
        for (unsigned int i = 0; i < done; i++) {
            job_done(jobs[i]);
        }
        while (done < m) {
            unsigned int k = IMB_FLUSH_BURST(mgr, m - done, jobs);

            if (!k) {
                break;
            }
            for (unsigned int i = 0; i < k; i++) {
                job_done(jobs[i]);
            }
            done += k;
        }
    } else {
        IMB_JOB *job;

        for (unsigned int i = 0; i < m; i++) {
            job = IMB_GET_NEXT_JOB(mgr);
            fill_job(job, kind, ops[idx[i]], s->tag[idx[i]]);
            for (job = IMB_SUBMIT_JOB(mgr); job;
                 job = IMB_GET_COMPLETED_JOB(mgr)) {
                job_done(job);
            }
        }
        while ((job = IMB_FLUSH_JOB(mgr)) != NULL) {
            job_done(job);
        }
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

/* AES-GCM of one op through the direct API (RFC 4106: 12-byte nonce,
 * 16-byte ICV), in place.  The tag goes through a local buffer, so an
 * 'icv' next to the data is never written while the data is read.  No
 * job manager: per packet this is about two thirds of a burst job at
 * 64 bytes (see the table above).  The parameters were checked by
 * aead_op_ok(), so the library's own checks cannot reject them. */
static inline void
gcm_direct(struct esp_crypto_op *op, bool enc)
{
    const struct mb_ctx *ctx = op->ctx;
    struct gcm_context_data gctx;
    uint8_t tag[ESP_ICV_LEN];
    uint8_t *data = op->data_len ? op->data : empty_buf;
    const uint8_t *aad = op->aad_len ? op->aad : empty_buf;

    if (enc) {
        ctx->gcm_enc(&ctx->gcm, &gctx, data, data, op->data_len, op->nonce,
                     aad, op->aad_len, tag, sizeof tag);
        memcpy(op->icv, tag, ESP_ICV_LEN);
    } else {
        ctx->gcm_dec(&ctx->gcm, &gctx, data, data, op->data_len, op->nonce,
                     aad, op->aad_len, tag, sizeof tag);
        if (icv_diff(op->icv, tag)) {
            op->status = EBADMSG;
        }
    }
}

/* An AES-GCM op that found no partner for gcm_x2_pair(): alone with an
 * idle second lane if small, through the direct API if not (alone, the
 * two-lane code would spend as much as on a pair). */
static void
x2_alone(struct esp_crypto_op *op, bool enc)
{
    const struct mb_ctx *ctx = op->ctx;

    if (op->data_len <= GCM_X2_TAIL) {
        gcm_x2_pair(&ctx->x2_key, op, NULL, enc);
    } else {
        gcm_direct(op, enc);
    }
}

/* AES-GCM ops waiting for a partner within one burst.  Partners need the
 * same key and must fit (gcm_x2_fits()): any two ops of up to
 * GCM_X2_TAIL bytes do, larger ones only with ops of about their size.
 * So that mixed sizes (IMIX) still find partners, a small op waits in
 * 'small' and up to X2_WAIT_LARGE larger ones in 'large'; an op that
 * finds no partner waits, and when its slot is taken or 'large' is full,
 * the op it replaces runs alone.  A pair of small ops of one size (the
 * common burst: one flow's packets) waits in 'quad' for a second such
 * pair, and the two run together (gcm_x2_quad()); a pair that cannot
 * join it runs at once. */
enum { X2_WAIT_LARGE = 4 };

struct x2_waiting {
    struct esp_crypto_op *small;
    struct esp_crypto_op *large[X2_WAIT_LARGE];
    unsigned int n_large;
    struct esp_crypto_op *quad[4];      /* [0] and [1]: a waiting pair. */
};

static void
x2_waiting_init(struct x2_waiting *w)
{
    w->small = NULL;
    w->n_large = 0;
    w->quad[0] = NULL;
}

/* Runs the small ops 'a' and 'b' (same key) as a pair, or with the
 * waiting pair as a quad, or makes them the waiting pair. */
static void
x2_small_pair(struct x2_waiting *w, struct esp_crypto_op *a,
              struct esp_crypto_op *b, bool enc)
{
    const struct mb_ctx *ctx = a->ctx;
    struct esp_crypto_op **q = w->quad;

    if (!x2_quads || !gcm_x2_quad_fits(a, b)) {
        gcm_x2_pair(&ctx->x2_key, a, b, enc);
    } else if (!q[0]) {
        q[0] = a;
        q[1] = b;
    } else if (q[0]->ctx == ctx && gcm_x2_quad_fits(q[0], a)) {
        q[2] = a;
        q[3] = b;
        gcm_x2_quad(&ctx->x2_key, q, enc);
        q[0] = NULL;
    } else {
        gcm_x2_pair(&ctx->x2_key, a, b, enc);
    }
}

static void
x2_add(struct x2_waiting *w, struct esp_crypto_op *op, bool enc)
{
    const struct mb_ctx *ctx = op->ctx;

    if (op->data_len <= GCM_X2_TAIL) {
        if (w->small && w->small->ctx == ctx) {
            x2_small_pair(w, w->small, op, enc);
            w->small = NULL;
            return;
        }
        if (w->small) {
            x2_alone(w->small, enc);
        }
        w->small = op;
        return;
    }
    for (unsigned int j = 0; j < w->n_large; j++) {
        struct esp_crypto_op *other = w->large[j];

        if (other->ctx == ctx && gcm_x2_fits(other, op)) {
            gcm_x2_pair(&ctx->x2_key, other, op, enc);
            w->large[j] = w->large[--w->n_large];
            return;
        }
    }
    if (w->n_large == X2_WAIT_LARGE) {
        x2_alone(w->large[0], enc);
        w->large[0] = w->large[--w->n_large];
    }
    w->large[w->n_large++] = op;
}

static void
x2_flush(struct x2_waiting *w, bool enc)
{
    if (w->quad[0]) {
        gcm_x2_pair(&((const struct mb_ctx *) w->quad[0]->ctx)->x2_key,
                    w->quad[0], w->quad[1], enc);
    }
    if (w->small) {
        x2_alone(w->small, enc);
    }
    for (unsigned int j = 0; j < w->n_large; j++) {
        x2_alone(w->large[j], enc);
    }
    x2_waiting_init(w);
}

static bool
aead_op_ok(const struct esp_crypto_op *op)
{
    return (op->ctx && !is_cbc(((const struct mb_ctx *) op->ctx)->suite)
            && op->icv && (op->data || !op->data_len)
            && (op->aad || !op->aad_len));
}

static bool
cbc_op_ok(const struct esp_crypto_op *op)
{
    return (op->ctx && is_cbc(((const struct mb_ctx *) op->ctx)->suite)
            && op->icv && (op->data || !op->data_len)
            && (op->auth || !op->auth_len)
            && op->data_len % AES_BLOCK == 0);
}

/* Whether 'data' lies inside 'auth', so that one chained job can do
 * both. */
static bool
data_in_auth(const struct esp_crypto_op *op)
{
    uintptr_t d = (uintptr_t) op->data, a = (uintptr_t) op->auth;

    return (op->data_len && op->auth_len && d >= a
            && d - a <= op->auth_len
            && op->data_len <= op->auth_len - (d - a));
}

/* Tags of AEAD jobs: written to the ICV (encrypt) or compared with it in
 * constant time (decrypt). */
static void
aead_job_results(struct esp_crypto_op *ops[], const uint8_t idx[],
                 unsigned int m, const struct burst_scratch *s, bool enc)
{
    for (unsigned int j = 0; j < m; j++) {
        struct esp_crypto_op *op = ops[idx[j]];

        if (op->status) {
            continue;
        }
        if (enc) {
            memcpy(op->icv, s->tag[idx[j]], ESP_ICV_LEN);
        } else if (icv_diff(op->icv, s->tag[idx[j]])) {
            op->status = EBADMSG;
        }
    }
}

static void
mb_burst(struct esp_crypto_op *ops[], unsigned int n, bool enc)
{
    struct burst_scratch s;
    uint8_t idx[ESP_BURST_MAX], idx2[ESP_BURST_MAX];
    unsigned int m = 0, m2 = 0;
    IMB_MGR *mgr;
    bool cbc;

    if (n > ESP_BURST_MAX) {
        for (unsigned int i = 0; i < n; i++) {
            ops[i]->status = EINVAL;
        }
        return;
    }
    if (!n) {
        return;
    }
    cbc = ops[0]->ctx && is_cbc(((const struct mb_ctx *) ops[0]->ctx)->suite);
    if (!cbc && (mb_submit_mode == MB_SUBMIT_DEFAULT
                 || mb_submit_mode == MB_SUBMIT_DIRECT)) {
        /* The common case, one pass: AES-GCM ops two at a time
         * (gcm-x2.c), the rest of AES-GCM straight to the direct
         * functions, which need no manager; anything else (ChaCha20-
         * Poly1305) collected for jobs. */
        bool x2 = mb_submit_mode == MB_SUBMIT_DEFAULT;
        struct x2_waiting w;

        x2_waiting_init(&w);
        for (unsigned int i = 0; i < n; i++) {
            struct esp_crypto_op *op = ops[i];
            const struct mb_ctx *ctx = op->ctx;

            if (!aead_op_ok(op)) {
                op->status = EINVAL;
            } else if (ctx->x2 && x2 && gcm_x2_op_ok(op)) {
                op->status = 0;
                x2_add(&w, op, enc);
            } else if (ctx->gcm_enc) {
                op->status = 0;
                gcm_direct(op, enc);
            } else {
                op->status = 0;
                idx[m++] = i;
            }
        }
        x2_flush(&w, enc);
        if (!m) {
            return;
        }
        mgr = get_mgr();
        if (!mgr) {
            for (unsigned int j = 0; j < m; j++) {
                ops[idx[j]]->status = ENOMEM;
            }
            return;
        }
        run_jobs(mgr, enc ? JOB_AEAD_ENC : JOB_AEAD_DEC, ops, idx, m, &s);
        aead_job_results(ops, idx, m, &s, enc);
        return;
    }
    mgr = get_mgr();
    for (unsigned int i = 0; i < n; i++) {
        struct esp_crypto_op *op = ops[i];

        if (!mgr) {
            op->status = ENOMEM;
        } else if (cbc ? !cbc_op_ok(op) : !aead_op_ok(op)) {
            op->status = EINVAL;
        } else {
            op->status = 0;
        }
    }
    if (!mgr) {
        return;
    }

    if (!cbc) {
        /* AEAD: AES-GCM through the direct API, the rest (ChaCha20-
         * Poly1305) one job per op; the library computes the tag over the
         * ciphertext in both directions. */
        bool direct = mb_submit_mode == MB_SUBMIT_DEFAULT;

        for (unsigned int i = 0; i < n; i++) {
            struct esp_crypto_op *op = ops[i];

            if (op->status) {
                continue;
            }
            if (direct && ((const struct mb_ctx *) op->ctx)->gcm_enc) {
                gcm_direct(op, enc);
            } else {
                idx[m++] = i;
            }
        }
        run_jobs(mgr, enc ? JOB_AEAD_ENC : JOB_AEAD_DEC, ops, idx, m, &s);
        aead_job_results(ops, idx, m, &s, enc);
        return;
    }

    /* CBC: derive IVs first where asked (NIST SP 800-38A appendix C). */
    for (unsigned int i = 0; i < n; i++) {
        if (!ops[i]->status && ops[i]->iv_out) {
            idx[m++] = i;
        }
    }
    run_jobs(mgr, JOB_IV_DERIVE, ops, idx, m, &s);

    if (enc) {
        /* RFC 4303 section 3.3.2: encrypt, then compute the ICV over the
         * ESP header, IV and ciphertext.  Ops whose 'data' is not inside
         * 'auth' (or is empty) take a cipher job and then an HMAC job. */
        m = 0;
        for (unsigned int i = 0; i < n; i++) {
            if (!ops[i]->status) {
                if (data_in_auth(ops[i])) {
                    idx[m++] = i;
                } else {
                    idx2[m2++] = i;
                }
            }
        }
        run_jobs(mgr, JOB_CBC_ENC_HMAC, ops, idx, m, &s);
        if (m2) {
            unsigned int k = 0;
            uint8_t idx3[ESP_BURST_MAX];

            for (unsigned int j = 0; j < m2; j++) {
                if (ops[idx2[j]]->data_len) {
                    idx3[k++] = idx2[j];
                }
            }
            run_jobs(mgr, JOB_CBC_ENC, ops, idx3, k, &s);
            k = 0;
            for (unsigned int j = 0; j < m2; j++) {
                if (!ops[idx2[j]]->status) {
                    idx3[k++] = idx2[j];
                }
            }
            run_jobs(mgr, JOB_HMAC, ops, idx3, k, &s);
        }
        for (unsigned int i = 0; i < n; i++) {
            if (!ops[i]->status) {
                memcpy(ops[i]->icv, s.tag[i], ESP_ICV_LEN);
            }
        }
        return;
    }

    /* Decrypt: verify the ICV, then decrypt only what verified (RFC 4303
     * section 3.4.4). */
    m = 0;
    for (unsigned int i = 0; i < n; i++) {
        if (!ops[i]->status) {
            idx[m++] = i;
        }
    }
    run_jobs(mgr, JOB_HMAC, ops, idx, m, &s);
    for (unsigned int j = 0; j < m; j++) {
        struct esp_crypto_op *op = ops[idx[j]];

        if (op->status) {
            continue;
        }
        if (icv_diff(op->icv, s.tag[idx[j]])) {
            op->status = EBADMSG;
        } else if (op->data_len) {
            idx2[m2++] = idx[j];
        }
    }
    run_jobs(mgr, JOB_CBC_DEC, ops, idx2, m2, &s);
}

static void
mb_encrypt_burst(struct esp_crypto_op *ops[], unsigned int n)
{
    mb_burst(ops, n, true);
}

static void
mb_decrypt_burst(struct esp_crypto_op *ops[], unsigned int n)
{
    mb_burst(ops, n, false);
}

#if defined(__x86_64__)
/* AES_K(op->iv) into op->iv_out for ops[idx[0..m-1]], straight on the
 * AES-NI instructions with the key schedule IMB_AES_KEYEXP_* wrote (the
 * round keys in order, the layout the library's own AESENC code reads).
 * The blocks are independent, so the out-of-order core overlaps them:
 * inline CBC encap measured about 20 cycles per packet for the IV this
 * way against about 85 through ECB jobs and 140 for getrandom() (burst
 * of 32, 64-byte payload, AMD EPYC Zen 3). */
__attribute__((target("aes,sse2")))
static void
derive_iv_aesni(struct esp_crypto_op *ops[], const uint8_t idx[],
                unsigned int m)
{
    for (unsigned int j = 0; j < m; j++) {
        struct esp_crypto_op *op = ops[idx[j]];
        const struct mb_ctx *ctx = op->ctx;
        const __m128i *rk = (const __m128i *) ctx->cbc.enc;
        unsigned int rounds = ctx->key_len == 16 ? 10 : 14;
        __m128i x = _mm_loadu_si128((const __m128i *) op->iv);

        x = _mm_xor_si128(x, _mm_load_si128(&rk[0]));
        for (unsigned int r = 1; r < rounds; r++) {
            x = _mm_aesenc_si128(x, _mm_load_si128(&rk[r]));
        }
        x = _mm_aesenclast_si128(x, _mm_load_si128(&rk[rounds]));
        _mm_storeu_si128((__m128i *) op->iv_out, x);
    }
}
#endif

static void
mb_derive_iv(struct esp_crypto_op *ops[], unsigned int n)
{
    struct burst_scratch s;
    uint8_t idx[ESP_BURST_MAX];
    unsigned int m = 0;
    IMB_MGR *mgr;

    for (unsigned int i = 0; i < n; i++) {
        struct esp_crypto_op *op = ops[i];

        if (n > ESP_BURST_MAX || !op->ctx || !op->iv_out
            || !is_cbc(((const struct mb_ctx *) op->ctx)->suite)) {
            op->status = EINVAL;
        } else {
            op->status = 0;
            idx[m++] = i;
        }
    }
    if (!m) {
        return;
    }
    /* NIST SP 800-38A appendix C, as in mb_burst(): one block of AES-ECB
     * each.  The other submit modes keep the job path testable. */
#if defined(__x86_64__)
    if (mb_submit_mode == MB_SUBMIT_DEFAULT
        && __builtin_cpu_supports("aes")) {
        derive_iv_aesni(ops, idx, m);
        return;
    }
#endif
    mgr = get_mgr();
    if (!mgr) {
        for (unsigned int j = 0; j < m; j++) {
            ops[idx[j]]->status = ENOMEM;
        }
        return;
    }
    run_jobs(mgr, JOB_IV_DERIVE, ops, idx, m, &s);
}

const struct esp_crypto_engine esp_crypto_ipsecmb = {
    .name = "ipsec-mb",
    .supports = mb_supports,
    .ctx_create = mb_ctx_create,
    .ctx_destroy = mb_ctx_destroy,
    .encrypt_burst = mb_encrypt_burst,
    .decrypt_burst = mb_decrypt_burst,
    .derive_iv = mb_derive_iv,
    .describe = mb_describe,
};
