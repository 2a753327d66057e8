/*
 * espbench: single-core throughput of the ESP engine (tunnel mode, IPv4)
 * against two baselines measured in the same run on the same packets:
 *
 *   ours    esp_encap_burst() / esp_decap_burst() (replay window 1024).
 *   crypto  (a) the AEAD alone through the same engine interface
 *           (esp-crypto.h): the ceiling for ours.
 *   dpdk    (b) DPDK librte_ipsec with CPU crypto (bench-dpdk.c).
 *   copy    the per-burst copy every implementation above also does
 *           (restore the inner header for encap, copy the ESP packet
 *           from the ring for decap), alone.
 *   direct  diagnostic, AES-GCM only: the same AEAD work as (a) calling
 *           intel-ipsec-mb's direct GCM functions (no job manager), the
 *           way DPDK's crypto_aesni_gcm PMD does.
 *
 * Method (docs/performance.md): pinned to one CPU, TSC calibrated against
 * CLOCK_MONOTONIC, bursts of 32, each point run for a fixed time per
 * repetition, repetitions of the implementations interleaved, best
 * repetition kept.  Prints a table, writes JSON and gnuplot data.
 *
 * Usage: espbench [--seconds S] [--reps N] [--cpu N] [--json FILE]
 *                 [--plot-dir DIR] [--command TEXT] [--suite NAME]
 *                 [--size NAME] [--dir encap|decap] [--impl NAME] [--quick]
 *
 * --suite, --size, --dir and --impl restrict the run (for profiling).
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>
#include <arpa/inet.h>
#include <sys/stat.h>

#include <intel-ipsec-mb.h>

#include "bench.h"
#include "esp-crypto.h"
#include "ones-sum.h"

const uint8_t bench_key[36] = {
    0x4c, 0x80, 0xcd, 0xef, 0xbb, 0x5d, 0x10, 0xda,
    0x90, 0x6a, 0xc7, 0x3c, 0x36, 0x13, 0xa6, 0x34,
    0x22, 0x43, 0x3c, 0x64, 0x48, 0x55, 0xec, 0x7d,
    0x3a, 0x23, 0x4b, 0xfd, 0xbb, 0x3c, 0x4b, 0x6c,
    0xca, 0xfe, 0xba, 0xbe,
};

enum impl_id {
    IMPL_OURS,
    IMPL_CRYPTO,
    IMPL_DPDK,
    IMPL_COPY,
    IMPL_DIRECT,
    N_IMPLS
};

static const char *const impl_names[N_IMPLS] = {
    "ours", "crypto", "dpdk", "copy", "direct",
};

static const enum esp_suite suites[] = {
    ESP_SUITE_AES_GCM_128,
    ESP_SUITE_AES_GCM_256,
    ESP_SUITE_CHACHA20_POLY1305,
};
static const char *const suite_names[] = {
    "aes-gcm-128", "aes-gcm-256", "chacha20-poly1305",
};
enum { N_SUITES = sizeof suites / sizeof suites[0] };

/* IMIX: 7:4:1 of 64, 576 and 1500-byte IPv4 packets (the "simple IMIX" of
 * 40/576/1500 with the smallest size raised to the 64 bytes measured
 * alone), interleaved in a fixed 12-packet cycle. */
static const struct bench_size sizes[] = {
    { "64", 1, { 64 } },
    { "512", 1, { 512 } },
    { "1400", 1, { 1400 } },
    { "imix", 12, { 64, 576, 64, 1500, 64, 576, 64, 64, 576, 64, 576, 64 } },
};
enum { N_SIZES = sizeof sizes / sizeof sizes[0] };

struct point {
    bool done;
    char why[256];              /* Not measured: why. */
    double cpp;                 /* TSC cycles per packet (best). */
    double mpps;
    double gbps;
    bool disturbed;             /* No repetition had the CPU to itself. */
};

static struct point results[N_SUITES][N_SIZES][2][N_IMPLS];

static double tsc_hz;
static double opt_seconds = 0.15;
static int opt_reps = 5;
static int opt_cpu = -1;
static const char *opt_json;
static const char *opt_plot_dir;
static const char *opt_command;
static const char *opt_suite;           /* Only this suite. */
static const char *opt_size;            /* Only this size. */
static const char *opt_impl;            /* Time only this implementation. */
static const char *opt_dir;             /* Only "encap" or "decap". */
static bool dpdk_ok;
/* A repetition that had less of the CPU than this is repeated, within a
 * total budget of extra time for the whole run. */
static const double clean_share = 0.97;
static double retry_budget = 60.0;      /* Seconds. */
static unsigned int disturbed_reps;
static char dpdk_notes[N_SUITES][256];
static char dpdk_why[200];

static const struct esp_addr outer_src = {
    .family = AF_INET, .v4 = { .s_addr = 0x010200c0 },  /* 192.0.2.1 */
};
static const struct esp_addr outer_dst = {
    .family = AF_INET, .v4 = { .s_addr = 0x020200c0 },  /* 192.0.2.2 */
};

/* ---- Clock and CPU. ---------------------------------------------------- */

static double
mono_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* TSC frequency from a 200 ms busy-wait against CLOCK_MONOTONIC. */
static double
calibrate_tsc(void)
{
    double t0, t1;
    uint64_t c0, c1;

    t0 = mono_now();
    c0 = __rdtsc();
    do {
        t1 = mono_now();
    } while (t1 - t0 < 0.2);
    c1 = __rdtsc();
    return (c1 - c0) / (t1 - t0);
}

static int
pin_cpu(void)
{
    cpu_set_t set;

    if (opt_cpu < 0) {
        if (sched_getaffinity(0, sizeof set, &set)) {
            return -1;
        }
        for (int i = CPU_SETSIZE - 1; i >= 0; i--) {
            if (CPU_ISSET(i, &set)) {
                opt_cpu = i;
                break;
            }
        }
    }
    CPU_ZERO(&set);
    CPU_SET(opt_cpu, &set);
    return sched_setaffinity(0, sizeof set, &set);
}

static void
cpu_model(char *out, size_t size)
{
    char line[256];
    FILE *f = fopen("/proc/cpuinfo", "r");

    snprintf(out, size, "unknown");
    if (!f) {
        return;
    }
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "model name", 10)) {
            char *p = strchr(line, ':');
            if (p) {
                p += 1 + strspn(p + 1, " \t");
                p[strcspn(p, "\n")] = '\0';
                snprintf(out, size, "%s", p);
            }
            break;
        }
    }
    fclose(f);
}

/* ---- Packets. ---------------------------------------------------------- */


static uint8_t
payload_byte(unsigned int j, unsigned int k)
{
    return (uint8_t) (k * 7 + j);
}

/* Inner packet j (length 'len'): IPv4 10.1.0.1 -> 10.2.0.1, UDP. */
static void
make_inner(unsigned int j, uint16_t len, uint8_t *p)
{
    uint16_t csum;

    memset(p, 0, BENCH_HDR_LEN);
    p[0] = 0x45;
    p[2] = len >> 8;
    p[3] = len;
    p[4] = j >> 8;
    p[5] = j;
    p[8] = 64;
    p[9] = IPPROTO_UDP;
    p[12] = 10; p[13] = 1; p[14] = 0; p[15] = 1;
    p[16] = 10; p[17] = 2; p[18] = 0; p[19] = 1;
    csum = ~test_ones_sum(p, 20);
    p[10] = csum >> 8;
    p[11] = csum;
    p[20] = 0x30; p[21] = 0x39;               /* 12345 */
    p[22] = 0x01; p[23] = 0xbb;               /* 443 */
    p[24] = (len - 20) >> 8;
    p[25] = len - 20;
    for (unsigned int k = BENCH_HDR_LEN; k < len; k++) {
        p[k] = payload_byte(j, k);
    }
}

static int
ours_sa(enum esp_suite suite, enum esp_dir dir, struct esp_sa **sap)
{
    struct esp_sa_params p;
    char err[128];
    int error;

    memset(&p, 0, sizeof p);
    p.spi = BENCH_SPI;
    p.dir = dir;
    p.mode = ESP_MODE_TUNNEL;
    p.suite = suite;
    p.src = outer_src;
    p.dst = outer_dst;
    p.key = bench_key;
    p.key_len = esp_suite_key_len(suite);
    p.replay_window = dir == ESP_DIR_IN ? BENCH_WINDOW : 0;
    error = esp_sa_create(&p, sap, err, sizeof err);
    if (error) {
        fprintf(stderr, "espbench: esp_sa_create: %s (%s)\n", err,
                strerror(error));
        return -1;
    }
    return 0;
}

/* Encrypts BENCH_RING inner packets of 'size' with our encap (sequence
 * numbers 1..BENCH_RING) into 'r'. */
static int
make_ring(enum esp_suite suite, const struct bench_size *size,
          struct bench_inner *inner, struct bench_ring *r)
{
    static uint8_t mem[BENCH_BURST][BENCH_BUF_SIZE]
        __attribute__((aligned(64)));
    struct esp_buf bufs[BENCH_BURST], *ptrs[BENCH_BURST];
    enum esp_verdict v[BENCH_BURST];
    struct esp_sa *sa;
    size_t total = 0;

    for (unsigned int j = 0; j < BENCH_RING; j++) {
        total += (bench_len(size, j) + 64 + 63) & ~63u;
    }
    free(r->mem);
    r->mem = aligned_alloc(64, total);
    if (!r->mem || ours_sa(suite, ESP_DIR_OUT, &sa)) {
        return -1;
    }

    size_t off = 0;
    for (unsigned int j = 0; j < BENCH_RING; j += BENCH_BURST) {
        for (unsigned int i = 0; i < BENCH_BURST; i++) {
            uint16_t len = bench_len(size, j + i);

            bufs[i] = (struct esp_buf) {
                .base = mem[i], .size = BENCH_BUF_SIZE,
                .off = ESP_HEADROOM, .len = len,
            };
            ptrs[i] = &bufs[i];
            make_inner(j + i, len, mem[i] + ESP_HEADROOM);
            memcpy(inner->hdr[j + i], mem[i] + ESP_HEADROOM, BENCH_HDR_LEN);
            r->inner_len[j + i] = len;
        }
        if (esp_encap_burst(sa, ptrs, v, BENCH_BURST, 0) != BENCH_BURST) {
            fprintf(stderr, "espbench: ring encap failed: %s\n",
                    esp_verdict_name(v[0]));
            esp_sa_destroy(sa);
            return -1;
        }
        for (unsigned int i = 0; i < BENCH_BURST; i++) {
            r->off[j + i] = off;
            r->len[j + i] = bufs[i].len;
            memcpy(r->mem + off, bufs[i].base + bufs[i].off, bufs[i].len);
            off += (bufs[i].len + 63) & ~63u;
        }
    }
    esp_sa_destroy(sa);
    return 0;
}

/* ---- ours. ------------------------------------------------------------- */

struct work {
    enum esp_suite suite;
    const struct bench_size *size;
    const struct bench_inner *inner;
    const struct bench_ring *ring;
    uint8_t (*mem)[BENCH_BUF_SIZE];
};

struct ours_state {
    struct work w;
    struct esp_sa *sa;          /* Outbound. */
    struct esp_sad *sad;        /* Inbound. */
    struct esp_buf bufs[BENCH_BURST];
    struct esp_buf *ptrs[BENCH_BURST];
    enum esp_verdict v[BENCH_BURST];
    struct esp_sa *sas[BENCH_BURST];
};

static int
ours_encap(void *st_, unsigned int first)
{
    struct ours_state *st = st_;

    for (unsigned int i = 0; i < BENCH_BURST; i++) {
        struct esp_buf *b = &st->bufs[i];

        b->off = ESP_HEADROOM;
        b->len = bench_len(st->w.size, first + i);
        memcpy(b->base + b->off, st->w.inner->hdr[first + i], BENCH_HDR_LEN);
    }
    return esp_encap_burst(st->sa, st->ptrs, st->v, BENCH_BURST, 0)
           == BENCH_BURST ? 0 : -1;
}

static int
ours_decap(void *st_, unsigned int first)
{
    struct ours_state *st = st_;
    const struct bench_ring *r = st->w.ring;

    for (unsigned int i = 0; i < BENCH_BURST; i++) {
        struct esp_buf *b = &st->bufs[i];
        unsigned int j = first + i;

        b->off = ESP_HEADROOM;
        b->len = r->len[j];
        memcpy(b->base + b->off, r->mem + r->off[j], r->len[j]);
    }
    return esp_decap_burst(st->sad, st->ptrs, st->v, st->sas, BENCH_BURST, 0)
           == BENCH_BURST ? 0 : -1;
}

/* A fresh SAD and inbound SA: the replay window starts again. */
static int
ours_decap_reset(void *st_)
{
    struct ours_state *st = st_;
    struct esp_sa *sa;

    if (st->sad) {
        esp_sad_destroy(st->sad);
    }
    st->sad = esp_sad_create();
    if (!st->sad || ours_sa(st->w.suite, ESP_DIR_IN, &sa)) {
        return -1;
    }
    if (esp_sad_add(st->sad, sa)) {
        esp_sa_destroy(sa);
        return -1;
    }
    return 0;
}

static int
ours_prepare(const struct work *w, bool encap, struct bench_impl *impl)
{
    struct ours_state *st = calloc(1, sizeof *st);

    if (!st) {
        return -1;
    }
    st->w = *w;
    for (unsigned int i = 0; i < BENCH_BURST; i++) {
        st->bufs[i].base = w->mem[i];
        st->bufs[i].size = BENCH_BUF_SIZE;
        st->ptrs[i] = &st->bufs[i];
    }
    impl->name = "ours";
    impl->state = st;
    if (encap) {
        impl->burst = ours_encap;
        impl->reset = NULL;
        return ours_sa(w->suite, ESP_DIR_OUT, &st->sa);
    }
    impl->burst = ours_decap;
    impl->reset = ours_decap_reset;
    return ours_decap_reset(st);
}

static void
ours_release(struct bench_impl *impl)
{
    struct ours_state *st = impl->state;

    if (st) {
        esp_sa_destroy(st->sa);
        if (st->sad) {
            esp_sad_destroy(st->sad);
        }
        free(st);
        impl->state = NULL;
    }
}

/* ---- (a): the AEAD alone, through the engine interface. ----------------- */

struct crypto_state {
    struct work w;
    const struct esp_crypto_engine *eng;
    void *ctx;
    uint64_t iv;
    struct esp_crypto_op ops[BENCH_BURST];
    struct esp_crypto_op *ptrs[BENCH_BURST];
};

/* Encrypts what our encap encrypts for this packet: the inner packet, pad
 * and trailer (aligned to 4), with the 8-byte ESP header as AAD. */
static int
crypto_encap(void *st_, unsigned int first)
{
    struct crypto_state *st = st_;

    for (unsigned int i = 0; i < BENCH_BURST; i++) {
        struct esp_crypto_op *op = &st->ops[i];
        uint8_t *pkt = st->w.mem[i] + ESP_HEADROOM;
        uint32_t len = bench_len(st->w.size, first + i);
        uint32_t plen = (len + 2 + 3) & ~3u;

        memcpy(pkt, st->w.inner->hdr[first + i], BENCH_HDR_LEN);
        op->data = pkt;
        op->data_len = plen;
        op->aad = pkt - BENCH_IV_LEN - BENCH_ESP_HDR_LEN;
        op->aad_len = BENCH_ESP_HDR_LEN;
        op->icv = pkt + plen;
        st->iv++;
        memcpy(op->nonce + ESP_SALT_LEN, &st->iv, BENCH_IV_LEN);
    }
    st->eng->encrypt_burst(st->ptrs, BENCH_BURST);
    for (unsigned int i = 0; i < BENCH_BURST; i++) {
        if (st->ops[i].status) {
            return -1;
        }
    }
    return 0;
}

static int
crypto_decap(void *st_, unsigned int first)
{
    struct crypto_state *st = st_;
    const struct bench_ring *r = st->w.ring;
    enum { HDRS = BENCH_OUTER_LEN + BENCH_ESP_HDR_LEN + BENCH_IV_LEN };

    for (unsigned int i = 0; i < BENCH_BURST; i++) {
        struct esp_crypto_op *op = &st->ops[i];
        uint8_t *pkt = st->w.mem[i] + ESP_HEADROOM;
        unsigned int j = first + i;
        uint32_t len = r->len[j];

        memcpy(pkt, r->mem + r->off[j], len);
        op->data = pkt + HDRS;
        op->data_len = len - HDRS - ESP_ICV_LEN;
        op->aad = pkt + BENCH_OUTER_LEN;
        op->aad_len = BENCH_ESP_HDR_LEN;
        op->icv = pkt + len - ESP_ICV_LEN;
        memcpy(op->nonce + ESP_SALT_LEN,
               pkt + BENCH_OUTER_LEN + BENCH_ESP_HDR_LEN, BENCH_IV_LEN);
    }
    st->eng->decrypt_burst(st->ptrs, BENCH_BURST);
    for (unsigned int i = 0; i < BENCH_BURST; i++) {
        if (st->ops[i].status) {
            return -1;
        }
    }
    return 0;
}

static int
crypto_prepare(const struct work *w, bool encap, struct bench_impl *impl)
{
    struct crypto_state *st = calloc(1, sizeof *st);
    size_t key_len = esp_suite_key_len(w->suite) - ESP_SALT_LEN;
    int error;

    if (!st) {
        return -1;
    }
    st->w = *w;
    st->eng = esp_crypto_default();
    impl->name = "crypto";
    impl->state = st;
    impl->burst = encap ? crypto_encap : crypto_decap;
    impl->reset = NULL;
    error = st->eng->ctx_create(w->suite, bench_key, key_len, NULL, 0,
                                &st->ctx);
    if (error) {
        fprintf(stderr, "espbench: %s ctx_create: %s\n", st->eng->name,
                strerror(error));
        return -1;
    }
    for (unsigned int i = 0; i < BENCH_BURST; i++) {
        st->ops[i].ctx = st->ctx;
        memcpy(st->ops[i].nonce, bench_key + key_len, ESP_SALT_LEN);
        st->ptrs[i] = &st->ops[i];
    }
    return 0;
}

static void
crypto_release(struct bench_impl *impl)
{
    struct crypto_state *st = impl->state;

    if (st) {
        if (st->ctx) {
            st->eng->ctx_destroy(st->ctx);
        }
        free(st);
        impl->state = NULL;
    }
}

/* ---- The copy alone. --------------------------------------------------- */

static int
copy_encap(void *st_, unsigned int first)
{
    struct work *w = st_;

    for (unsigned int i = 0; i < BENCH_BURST; i++) {
        memcpy(w->mem[i] + ESP_HEADROOM, w->inner->hdr[first + i],
               BENCH_HDR_LEN);
    }
    __asm__ volatile("" : : "r"(w->mem) : "memory");
    return 0;
}

static int
copy_decap(void *st_, unsigned int first)
{
    struct work *w = st_;
    const struct bench_ring *r = w->ring;

    for (unsigned int i = 0; i < BENCH_BURST; i++) {
        unsigned int j = first + i;

        memcpy(w->mem[i] + ESP_HEADROOM, r->mem + r->off[j], r->len[j]);
    }
    __asm__ volatile("" : : "r"(w->mem) : "memory");
    return 0;
}

/* ---- Diagnostic: intel-ipsec-mb's direct GCM API. -------------------- */

struct direct_state {
    struct work w;
    IMB_MGR *mgr;
    struct gcm_key_data key;
    bool aes256;
    uint64_t iv;
    uint8_t nonce[12];
    uint8_t tag[ESP_ICV_LEN];
};

static int
direct_encap(void *st_, unsigned int first)
{
    struct direct_state *st = st_;
    struct gcm_context_data ctx;

    for (unsigned int i = 0; i < BENCH_BURST; i++) {
        uint8_t *pkt = st->w.mem[i] + ESP_HEADROOM;
        uint32_t len = bench_len(st->w.size, first + i);
        uint32_t plen = (len + 2 + 3) & ~3u;
        const uint8_t *aad = pkt - BENCH_IV_LEN - BENCH_ESP_HDR_LEN;

        memcpy(pkt, st->w.inner->hdr[first + i], BENCH_HDR_LEN);
        st->iv++;
        memcpy(st->nonce + ESP_SALT_LEN, &st->iv, BENCH_IV_LEN);
        if (st->aes256) {
            IMB_AES256_GCM_ENC(st->mgr, &st->key, &ctx, pkt, pkt, plen,
                               st->nonce, aad, BENCH_ESP_HDR_LEN, pkt + plen,
                               ESP_ICV_LEN);
        } else {
            IMB_AES128_GCM_ENC(st->mgr, &st->key, &ctx, pkt, pkt, plen,
                               st->nonce, aad, BENCH_ESP_HDR_LEN, pkt + plen,
                               ESP_ICV_LEN);
        }
    }
    return 0;
}

static int
direct_decap(void *st_, unsigned int first)
{
    struct direct_state *st = st_;
    const struct bench_ring *r = st->w.ring;
    struct gcm_context_data ctx;
    enum { HDRS = BENCH_OUTER_LEN + BENCH_ESP_HDR_LEN + BENCH_IV_LEN };
    uint8_t bad = 0;

    for (unsigned int i = 0; i < BENCH_BURST; i++) {
        uint8_t *pkt = st->w.mem[i] + ESP_HEADROOM;
        unsigned int j = first + i;
        uint32_t len = r->len[j];
        uint32_t clen = len - HDRS - ESP_ICV_LEN;

        memcpy(pkt, r->mem + r->off[j], len);
        memcpy(st->nonce + ESP_SALT_LEN,
               pkt + BENCH_OUTER_LEN + BENCH_ESP_HDR_LEN, BENCH_IV_LEN);
        if (st->aes256) {
            IMB_AES256_GCM_DEC(st->mgr, &st->key, &ctx, pkt + HDRS,
                               pkt + HDRS, clen, st->nonce,
                               pkt + BENCH_OUTER_LEN, BENCH_ESP_HDR_LEN,
                               st->tag, ESP_ICV_LEN);
        } else {
            IMB_AES128_GCM_DEC(st->mgr, &st->key, &ctx, pkt + HDRS,
                               pkt + HDRS, clen, st->nonce,
                               pkt + BENCH_OUTER_LEN, BENCH_ESP_HDR_LEN,
                               st->tag, ESP_ICV_LEN);
        }
        for (unsigned int k = 0; k < ESP_ICV_LEN; k++) {
            bad |= st->tag[k] ^ pkt[len - ESP_ICV_LEN + k];
        }
    }
    return bad ? -1 : 0;
}

static int
direct_prepare(const struct work *w, bool encap, struct bench_impl *impl)
{
    struct direct_state *st;

    if (w->suite != ESP_SUITE_AES_GCM_128
        && w->suite != ESP_SUITE_AES_GCM_256) {
        return -1;
    }
    st = aligned_alloc(64, (sizeof *st + 63) & ~(size_t) 63);
    if (!st) {
        return -1;
    }
    memset(st, 0, sizeof *st);
    st->w = *w;
    st->mgr = alloc_mb_mgr(0);
    if (!st->mgr) {
        free(st);
        return -1;
    }
    init_mb_mgr_auto(st->mgr, NULL);
    st->aes256 = w->suite == ESP_SUITE_AES_GCM_256;
    if (st->aes256) {
        IMB_AES256_GCM_PRE(st->mgr, bench_key, &st->key);
    } else {
        IMB_AES128_GCM_PRE(st->mgr, bench_key, &st->key);
    }
    memcpy(st->nonce, bench_key + (st->aes256 ? 32 : 16), ESP_SALT_LEN);
    impl->name = "direct";
    impl->state = st;
    impl->burst = encap ? direct_encap : direct_decap;
    impl->reset = NULL;
    return 0;
}

static void
direct_release(struct bench_impl *impl)
{
    struct direct_state *st = impl->state;

    if (st) {
        free_mb_mgr(st->mgr);
        free(st);
        impl->state = NULL;
    }
}

/* ---- Measurement. ------------------------------------------------------ */

static double
thread_cpu_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Runs whole passes over the ring for at least 'seconds'; returns TSC
 * cycles per packet, or a negative value on error.  Only the bursts are
 * timed, not 'reset'.  '*share' is the fraction of the wall time this
 * thread was on the CPU (below 1 when something else ran on our core). */
static double
run(const struct bench_impl *impl, double seconds, double *share)
{
    uint64_t budget = seconds * tsc_hz;
    uint64_t cycles = 0, pkts = 0;
    double wall0 = mono_now(), cpu0 = thread_cpu_now();

    do {
        uint64_t t0;

        if (impl->reset && impl->reset(impl->state)) {
            return -1;
        }
        t0 = __rdtsc();
        for (unsigned int j = 0; j < BENCH_RING; j += BENCH_BURST) {
            if (impl->burst(impl->state, j)) {
                return -1;
            }
        }
        cycles += __rdtsc() - t0;
        pkts += BENCH_RING;
    } while (cycles < budget);
    *share = (thread_cpu_now() - cpu0) / (mono_now() - wall0);
    return (double) cycles / pkts;
}

/* Checks the output of the first burst of a fresh pass: decap must give
 * back the inner packets byte for byte; DPDK's encap output must decap
 * with ours. */
static int
validate(enum impl_id id, const struct bench_impl *impl, bool encap,
         const struct work *w, char *why, size_t why_size)
{
    uint8_t expect[BENCH_BUF_SIZE], got[BENCH_BUF_SIZE];

    if (impl->reset && impl->reset(impl->state)) {
        snprintf(why, why_size, "reset failed");
        return -1;
    }
    if (impl->burst(impl->state, 0)) {
        snprintf(why, why_size, "first burst failed");
        return -1;
    }
    if (id == IMPL_COPY || (encap && id != IMPL_DPDK)) {
        return 0;
    }
    if (encap) {
        /* DPDK encap -> our decap. */
        struct bench_impl dec = { 0 };
        struct ours_state *os;
        int rc = -1;

        if (ours_prepare(w, false, &dec)) {
            snprintf(why, why_size, "ours decap setup failed");
            ours_release(&dec);
            return -1;
        }
        os = dec.state;
        for (unsigned int k = 0; k < BENCH_BURST; k++) {
            size_t n = bdpdk_last_packet(impl, k, got, sizeof got);

            os->bufs[k].off = ESP_HEADROOM;
            os->bufs[k].len = n;
            memcpy(os->bufs[k].base + ESP_HEADROOM, got, n);
        }
        if (esp_decap_burst(os->sad, os->ptrs, os->v, os->sas, BENCH_BURST,
                            0) != BENCH_BURST) {
            snprintf(why, why_size, "our decap of DPDK's ESP: %s",
                     esp_verdict_name(os->v[0]));
        } else {
            rc = 0;
            for (unsigned int k = 0; k < BENCH_BURST; k++) {
                const struct esp_buf *b = &os->bufs[k];
                if (b->len != bench_len(w->size, k)
                    || memcmp(b->base + b->off, w->inner->hdr[k],
                              BENCH_HDR_LEN)) {
                    snprintf(why, why_size, "DPDK encap -> our decap: "
                             "packet %u differs", k);
                    rc = -1;
                    break;
                }
            }
        }
        ours_release(&dec);
        return rc;
    }

    for (unsigned int k = 0; k < BENCH_BURST; k++) {
        uint16_t len = w->ring->inner_len[k];
        const uint8_t *p = NULL;
        size_t n = 0;

        make_inner(k, len, expect);
        if (id == IMPL_OURS) {
            const struct ours_state *os = impl->state;
            p = os->bufs[k].base + os->bufs[k].off;
            n = os->bufs[k].len;
        } else if (id == IMPL_CRYPTO) {
            const struct crypto_state *cs = impl->state;
            p = cs->ops[k].data;
            n = len;
        } else if (id == IMPL_DIRECT) {
            const struct direct_state *ds = impl->state;
            p = ds->w.mem[k] + ESP_HEADROOM + BENCH_OUTER_LEN
                + BENCH_ESP_HDR_LEN + BENCH_IV_LEN;
            n = len;
        } else if (id == IMPL_DPDK) {
            n = bdpdk_last_packet(impl, k, got, sizeof got);
            p = got;
        }
        if (n != len || memcmp(p, expect, len)) {
            snprintf(why, why_size, "decap output of packet %u differs "
                     "from the original (len %zu, want %u)", k, n, len);
            return -1;
        }
    }
    return 0;
}

static double
size_avg(const struct bench_size *s)
{
    double sum = 0;

    for (unsigned int i = 0; i < s->n; i++) {
        sum += s->lens[i];
    }
    return sum / s->n;
}

/* Measures one (suite, size, direction) point for all implementations.
 * Returns -1 on an error (not for a skipped baseline). */
static int
measure_point(int si, int zi, bool encap, const struct work *w)
{
    struct bench_impl impls[N_IMPLS];
    struct point *pts = results[si][zi][encap ? 0 : 1];
    bool active[N_IMPLS] = { false };
    bool skip[N_IMPLS] = { false };
    int rc = -1;

    memset(impls, 0, sizeof impls);
    if (ours_prepare(w, encap, &impls[IMPL_OURS])) {
        fprintf(stderr, "espbench: ours setup failed\n");
        goto out;
    }
    active[IMPL_OURS] = true;
    if (crypto_prepare(w, encap, &impls[IMPL_CRYPTO])) {
        goto out;
    }
    active[IMPL_CRYPTO] = true;
    if (!dpdk_ok) {
        snprintf(pts[IMPL_DPDK].why, sizeof pts[IMPL_DPDK].why, "%s",
                 dpdk_why);
    } else if (bdpdk_prepare(suites[si], encap, w->size, w->inner, w->ring,
                             &impls[IMPL_DPDK], pts[IMPL_DPDK].why,
                             sizeof pts[IMPL_DPDK].why) == 0) {
        active[IMPL_DPDK] = true;
        snprintf(dpdk_notes[si], sizeof dpdk_notes[si], "%s",
                 bdpdk_note(&impls[IMPL_DPDK]));
    }
    impls[IMPL_COPY] = (struct bench_impl) {
        .name = "copy", .state = (void *) w,
        .burst = encap ? copy_encap : copy_decap,
    };
    active[IMPL_COPY] = true;
    if (direct_prepare(w, encap, &impls[IMPL_DIRECT]) == 0) {
        active[IMPL_DIRECT] = true;
    } else {
        snprintf(pts[IMPL_DIRECT].why, sizeof pts[IMPL_DIRECT].why,
                 "diagnostic measured for AES-GCM only");
    }

    for (int i = 0; i < N_IMPLS; i++) {
        if (active[i] && validate(i, &impls[i], encap, w, pts[i].why,
                                  sizeof pts[i].why)) {
            fprintf(stderr, "espbench: %s %s %s %s: %s\n", suite_names[si],
                    sizes[zi].name, encap ? "encap" : "decap",
                    impl_names[i], pts[i].why);
            goto out;
        }
    }

    /* For profiling: time only one implementation. */
    for (int i = 0; i < N_IMPLS; i++) {
        if (opt_impl && strcmp(opt_impl, impl_names[i])) {
            skip[i] = true;
        }
    }

    /* Warm up, then interleave the repetitions; keep the best. */
    for (int i = 0; i < N_IMPLS; i++) {
        double share;

        if (active[i] && !skip[i]
            && run(&impls[i], opt_seconds / 5, &share) < 0) {
            fprintf(stderr, "espbench: %s: warm-up failed\n", impl_names[i]);
            goto out;
        }
    }
    bool clean[N_IMPLS] = { false };
    for (int r = 0; r < opt_reps; r++) {
        for (int i = 0; i < N_IMPLS; i++) {
            double cpp, share;

            if (!active[i] || skip[i]) {
                continue;
            }
            for (;;) {
                cpp = run(&impls[i], opt_seconds, &share);
                if (cpp < 0 || share >= clean_share || retry_budget <= 0) {
                    break;
                }
                retry_budget -= opt_seconds;
                disturbed_reps++;
            }
            if (cpp < 0) {
                fprintf(stderr, "espbench: %s %s %s %s: burst failed\n",
                        suite_names[si], sizes[zi].name,
                        encap ? "encap" : "decap", impl_names[i]);
                goto out;
            }
            /* Best of the clean repetitions; of all if none was. */
            if (share >= clean_share && !clean[i]) {
                clean[i] = true;
                pts[i].done = false;
            }
            if (share >= clean_share || !clean[i]) {
                if (!pts[i].done || cpp < pts[i].cpp) {
                    pts[i].cpp = cpp;
                }
                pts[i].done = true;
            }
        }
    }
    for (int i = 0; i < N_IMPLS; i++) {
        pts[i].disturbed = pts[i].done && !clean[i];
    }
    for (int i = 0; i < N_IMPLS; i++) {
        if (pts[i].done) {
            pts[i].mpps = tsc_hz / pts[i].cpp / 1e6;
            pts[i].gbps = pts[i].mpps * size_avg(&sizes[zi]) * 8 / 1e3;
        }
    }
    rc = 0;

out:
    if (active[IMPL_OURS] || impls[IMPL_OURS].state) {
        ours_release(&impls[IMPL_OURS]);
    }
    if (impls[IMPL_CRYPTO].state) {
        crypto_release(&impls[IMPL_CRYPTO]);
    }
    if (active[IMPL_DPDK]) {
        bdpdk_release(&impls[IMPL_DPDK]);
    }
    if (active[IMPL_DIRECT]) {
        direct_release(&impls[IMPL_DIRECT]);
    }
    return rc;
}

static void
mkdir_p(const char *path)
{
    char buf[512];

    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(buf, 0777);
            *p = '/';
        }
    }
    mkdir(buf, 0777);
}

/* ---- Report. ----------------------------------------------------------- */

struct target {
    const char *size;
    enum impl_id base;
    double min;
};

static const struct target targets[] = {
    { "1400", IMPL_CRYPTO, 0.90 },
    { "64", IMPL_DPDK, 1.2 },
    { "1400", IMPL_DPDK, 1.0 },
};
enum { N_TARGETS = sizeof targets / sizeof targets[0] };

static double
ratio(const struct point *pts, enum impl_id base)
{
    return pts[IMPL_OURS].done && pts[base].done
           ? pts[IMPL_OURS].mpps / pts[base].mpps : 0;
}

/* "PASS", "FAIL", "skip" or null (no target at this size) for target t. */
static const char *
verdict(const struct point *pts, const char *size, const struct target *t)
{
    if (strcmp(t->size, size)) {
        return NULL;
    }
    if (!pts[t->base].done || !pts[IMPL_OURS].done) {
        return "skip";
    }
    return ratio(pts, t->base) >= t->min ? "PASS" : "FAIL";
}

static void
fmt_num(char *buf, size_t size, const struct point *p, int what)
{
    if (!p->done) {
        snprintf(buf, size, "-");
    } else if (what == 0) {
        snprintf(buf, size, "%.2f%s", p->mpps, p->disturbed ? "*" : "");
    } else if (what == 1) {
        snprintf(buf, size, "%.2f", p->gbps);
    } else {
        snprintf(buf, size, "%.0f", p->cpp);
    }
}

static void
fmt_ratio(char *buf, size_t size, const struct point *pts, enum impl_id b)
{
    double r = ratio(pts, b);

    if (r > 0) {
        snprintf(buf, size, "%.3f", r);
    } else {
        snprintf(buf, size, "-");
    }
}

enum { N_COLS = 15 };

static void
print_row(FILE *f, bool md, const char *const col[N_COLS])
{
    static const int width[N_COLS] = {
        -17, -4, -5, 7, 7, 6, 7, 6, 7, 6, 5, 6, 6, 6, 0,
    };

    for (int i = 0; i < N_COLS; i++) {
        if (md) {
            fprintf(f, "| %s ", col[i]);
        } else {
            fprintf(f, "%s%*s", i ? (i == N_COLS - 1 ? "  " : " ") : "",
                    width[i], col[i]);
        }
    }
    fprintf(f, md ? "|\n" : "\n");
}

/* One table: plain text (md == false) or Markdown. */
static void
print_table(FILE *f, bool md, int *pass, int *fail)
{
    static const char *const head1[N_COLS] = {
        "suite", "size", "dir", "ours", "ours", "ours", "(a)", "(a)",
        "(b)", "(b)", "copy", "direct", "ours/", "ours/", "targets",
    };
    static const char *const head2[N_COLS] = {
        "", "", "", "Mpps", "Gbit/s", "cyc/p", "Mpps", "cyc/p", "Mpps",
        "cyc/p", "cyc/p", "cyc/p", "(a)", "(b)", "",
    };
    static const char *const head_md[N_COLS] = {
        "suite", "size", "dir", "ours Mpps", "ours Gbit/s", "ours cyc/pkt",
        "(a) Mpps", "(a) cyc/pkt", "(b) Mpps", "(b) cyc/pkt",
        "copy cyc/pkt", "direct cyc/pkt", "ours/(a)", "ours/(b)",
        "targets",
    };

    if (md) {
        print_row(f, md, head_md);
        fprintf(f, "|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
                "--:|---|\n");
    } else {
        print_row(f, md, head1);
        print_row(f, md, head2);
    }
    for (int si = 0; si < N_SUITES; si++) {
        for (int zi = 0; zi < N_SIZES; zi++) {
            for (int d = 0; d < 2; d++) {
                const struct point *pts = results[si][zi][d];
                char c[11][32], tgt[128] = "";
                size_t tl = 0;

                if (!pts[IMPL_OURS].done && !pts[IMPL_CRYPTO].done) {
                    continue;           /* Not run (--suite, --size...). */
                }

                fmt_num(c[0], 32, &pts[IMPL_OURS], 0);
                fmt_num(c[1], 32, &pts[IMPL_OURS], 1);
                fmt_num(c[2], 32, &pts[IMPL_OURS], 2);
                fmt_num(c[3], 32, &pts[IMPL_CRYPTO], 0);
                fmt_num(c[4], 32, &pts[IMPL_CRYPTO], 2);
                fmt_num(c[5], 32, &pts[IMPL_DPDK], 0);
                fmt_num(c[6], 32, &pts[IMPL_DPDK], 2);
                fmt_num(c[7], 32, &pts[IMPL_COPY], 2);
                fmt_ratio(c[8], 32, pts, IMPL_CRYPTO);
                fmt_ratio(c[9], 32, pts, IMPL_DPDK);
                fmt_num(c[10], 32, &pts[IMPL_DIRECT], 2);
                for (int t = 0; t < N_TARGETS; t++) {
                    const char *v = verdict(pts, sizes[zi].name, &targets[t]);
                    if (v) {
                        tl += snprintf(tgt + tl, sizeof tgt - tl,
                                       "%s%s>=%.2f %s", tl ? ", " : "",
                                       targets[t].base == IMPL_CRYPTO
                                       ? "(a)" : "(b)",
                                       targets[t].min, v);
                        if (pass && !strcmp(v, "PASS")) {
                            (*pass)++;
                        } else if (fail && !strcmp(v, "FAIL")) {
                            (*fail)++;
                        }
                    }
                }
                const char *const row[N_COLS] = {
                    suite_names[si], sizes[zi].name, d ? "decap" : "encap",
                    c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[10],
                    c[8], c[9], tgt,
                };
                print_row(f, md, row);
            }
        }
    }
}

static void
json_point(FILE *f, const struct point *p)
{
    if (p->done) {
        fprintf(f, "{\"mpps\": %.4f, \"gbps\": %.4f, "
                "\"cycles_per_packet\": %.1f, \"disturbed\": %s}", p->mpps,
                p->gbps, p->cpp, p->disturbed ? "true" : "false");
    } else {
        fprintf(f, "{\"skipped\": \"");
        for (const char *s = p->why; *s; s++) {
            if (*s == '"' || *s == '\\') {
                fputc('\\', f);
            }
            fputc(*s, f);
        }
        fprintf(f, "\"}");
    }
}

static int
write_json(const char *path, const char *date, const char *model)
{
    FILE *f = fopen(path, "w");

    if (!f) {
        fprintf(stderr, "espbench: %s: %s\n", path, strerror(errno));
        return -1;
    }
    fprintf(f, "{\n  \"date\": \"%s\",\n", date);
    fprintf(f, "  \"command\": \"%s\",\n", opt_command ? opt_command : "");
    fprintf(f, "  \"machine\": {\"cpu_model\": \"%s\", \"online_cpus\": %ld, "
            "\"bench_cpu\": %d, \"tsc_hz\": %.0f},\n", model,
            sysconf(_SC_NPROCESSORS_ONLN), opt_cpu, tsc_hz);
    fprintf(f, "  \"config\": {\"mode\": \"tunnel\", \"outer\": \"ipv4\", "
            "\"inner\": \"ipv4/udp\", \"burst\": %d, \"ring\": %d, "
            "\"replay_window\": %d, \"seconds_per_rep\": %.3f, "
            "\"reps\": %d, \"disturbed_reps_repeated\": %u, "
            "\"size_is\": \"inner IPv4 packet length\", "
            "\"gbps_is\": \"inner IPv4 bytes * 8\", "
            "\"cycles_are\": \"TSC cycles\", "
            "\"imix\": \"7:4:1 of 64/576/1500, mean %.2f\"},\n",
            BENCH_BURST, BENCH_RING, BENCH_WINDOW, opt_seconds, opt_reps,
            disturbed_reps, size_avg(&sizes[N_SIZES - 1]));
    fprintf(f, "  \"dpdk\": {\"status\": \"%s\"", dpdk_ok ? "ok" : dpdk_why);
    for (int si = 0; si < N_SUITES; si++) {
        fprintf(f, ", \"%s\": \"%s\"", suite_names[si], dpdk_notes[si]);
    }
    fprintf(f, "},\n");
    fprintf(f, "  \"results\": [\n");
    bool first = true;
    for (int si = 0; si < N_SUITES; si++) {
        for (int zi = 0; zi < N_SIZES; zi++) {
            for (int d = 0; d < 2; d++) {
                const struct point *pts = results[si][zi][d];

                fprintf(f, "%s    {\"suite\": \"%s\", \"size\": \"%s\", "
                        "\"avg_len\": %.2f, \"dir\": \"%s\",\n",
                        first ? "" : ",\n", suite_names[si], sizes[zi].name,
                        size_avg(&sizes[zi]), d ? "decap" : "encap");
                first = false;
                for (int i = 0; i < N_IMPLS; i++) {
                    fprintf(f, "     \"%s\": ", impl_names[i]);
                    json_point(f, &pts[i]);
                    fprintf(f, ",\n");
                }
                fprintf(f, "     \"ours_over_crypto\": %.4f, "
                        "\"ours_over_dpdk\": %.4f, \"targets\": [",
                        ratio(pts, IMPL_CRYPTO), ratio(pts, IMPL_DPDK));
                bool tf = true;
                for (int t = 0; t < N_TARGETS; t++) {
                    const char *v = verdict(pts, sizes[zi].name,
                                            &targets[t]);
                    if (v) {
                        fprintf(f, "%s{\"baseline\": \"%s\", \"min\": %.2f, "
                                "\"ratio\": %.4f, \"result\": \"%s\"}",
                                tf ? "" : ", ", impl_names[targets[t].base],
                                targets[t].min, ratio(pts, targets[t].base),
                                v);
                        tf = false;
                    }
                }
                fprintf(f, "]}");
            }
        }
    }
    fprintf(f, "\n  ]\n}\n");
    return fclose(f) ? -1 : 0;
}

/* gnuplot data: one file per suite and direction, one row per size. */
static int
write_plot_data(const char *dir)
{
    for (int si = 0; si < N_SUITES; si++) {
        for (int d = 0; d < 2; d++) {
            char path[512];
            FILE *f;

            snprintf(path, sizeof path, "%s/plot-%s-%s.dat", dir,
                     suite_names[si], d ? "decap" : "encap");
            f = fopen(path, "w");
            if (!f) {
                fprintf(stderr, "espbench: %s: %s\n", path, strerror(errno));
                return -1;
            }
            fprintf(f, "# idx size ours_gbps crypto_gbps dpdk_gbps\n");
            for (int zi = 0; zi < N_SIZES; zi++) {
                const struct point *pts = results[si][zi][d];

                fprintf(f, "%d %s", zi, sizes[zi].name);
                for (int i = IMPL_OURS; i <= IMPL_DPDK; i++) {
                    if (pts[i].done) {
                        fprintf(f, " %.3f", pts[i].gbps);
                    } else {
                        fprintf(f, " ?");
                    }
                }
                fprintf(f, "\n");
            }
            fclose(f);
        }
    }
    return 0;
}

int
main(int argc, char *argv[])
{
    static uint8_t mem[BENCH_BURST][BENCH_BUF_SIZE]
        __attribute__((aligned(64)));
    static struct bench_inner inner;
    static struct bench_ring ring;
    char model[128], date[64];
    time_t now = time(NULL);
    int pass = 0, fail = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (!strcmp(a, "--quick")) {
            opt_seconds = 0.02;
            opt_reps = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "usage: espbench [--seconds S] [--reps N] "
                    "[--cpu N] [--json FILE] [--plot-dir DIR] "
                    "[--command TEXT] [--suite NAME] [--size NAME] "
                    "[--dir encap|decap] [--impl NAME] "
                    "[--quick]\n");
            return 2;
        }
        if (!strcmp(a, "--seconds")) {
            opt_seconds = atof(v);
        } else if (!strcmp(a, "--reps")) {
            opt_reps = atoi(v);
        } else if (!strcmp(a, "--cpu")) {
            opt_cpu = atoi(v);
        } else if (!strcmp(a, "--json")) {
            opt_json = v;
        } else if (!strcmp(a, "--plot-dir")) {
            opt_plot_dir = v;
        } else if (!strcmp(a, "--impl")) {
            opt_impl = v;
        } else if (!strcmp(a, "--dir")) {
            opt_dir = v;
        } else if (!strcmp(a, "--suite")) {
            opt_suite = v;
        } else if (!strcmp(a, "--size")) {
            opt_size = v;
        } else if (!strcmp(a, "--command")) {
            opt_command = v;
        } else {
            fprintf(stderr, "espbench: unknown option %s\n", a);
            return 2;
        }
        i++;
    }
    if (opt_seconds <= 0 || opt_reps < 1) {
        fprintf(stderr, "espbench: bad --seconds or --reps\n");
        return 2;
    }

    if (pin_cpu()) {
        fprintf(stderr, "espbench: sched_setaffinity(%d): %s\n", opt_cpu,
                strerror(errno));
        return 1;
    }
    tsc_hz = calibrate_tsc();
    cpu_model(model, sizeof model);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    printf("espbench: %s, cpu %d of %ld online, TSC %.3f GHz "
           "(calibrated against CLOCK_MONOTONIC)\n", model, opt_cpu,
           sysconf(_SC_NPROCESSORS_ONLN), tsc_hz / 1e9);
    printf("espbench: tunnel mode IPv4, burst %d, replay window %d, "
           "%.2f s x %d reps per point, best kept\n", BENCH_BURST,
           BENCH_WINDOW, opt_seconds, opt_reps);

    dpdk_ok = bdpdk_init(opt_cpu, dpdk_why, sizeof dpdk_why) == 0;
    if (!dpdk_ok) {
        printf("espbench: baseline (b) DPDK skipped: %s\n", dpdk_why);
    }
    /* The EAL re-pins to its lcore; make sure we stay on ours. */
    if (pin_cpu()) {
        fprintf(stderr, "espbench: sched_setaffinity: %s\n", strerror(errno));
        return 1;
    }

    for (int si = 0; si < N_SUITES; si++) {
        for (int zi = 0; zi < N_SIZES; zi++) {
            struct work w = {
                .suite = suites[si], .size = &sizes[zi], .inner = &inner,
                .ring = &ring, .mem = mem,
            };

            if ((opt_suite && strcmp(opt_suite, suite_names[si]))
                || (opt_size && strcmp(opt_size, sizes[zi].name))) {
                continue;
            }
            if (make_ring(suites[si], &sizes[zi], &inner, &ring)) {
                fprintf(stderr, "espbench: cannot build the packet ring\n");
                return 1;
            }
            for (int d = 0; d < 2; d++) {
                if (opt_dir && strcmp(opt_dir, d ? "decap" : "encap")) {
                    continue;
                }
                if (measure_point(si, zi, d == 0, &w)) {
                    return 1;
                }
            }
            fprintf(stderr, ".");
        }
    }
    fprintf(stderr, "\n");
    for (int si = 0; si < N_SUITES; si++) {
        for (int zi = 0; zi < N_SIZES; zi++) {
            const char *why = results[si][zi][0][IMPL_DPDK].why;
            if (!results[si][zi][0][IMPL_DPDK].done && why[0]) {
                printf("espbench: %s: baseline (b) skipped: %s\n",
                       suite_names[si], why);
                break;
            }
        }
    }

    for (int si = 0; si < N_SUITES; si++) {
        if (dpdk_notes[si][0]) {
            printf("espbench: %s: baseline (b) on %s\n", suite_names[si],
                   dpdk_notes[si]);
        }
    }
    printf("\n(a) = AEAD alone through esp-crypto.h (same engine); "
           "(b) = DPDK rte_ipsec, CPU crypto;\ncopy = the per-burst copy "
           "included in all three; direct = (a) through intel-ipsec-mb's\n"
           "direct GCM API instead of our engine (diagnostic); "
           "cyc/p = TSC cycles per packet\n\n");
    print_table(stdout, false, &pass, &fail);
    printf("\ntargets: %d passed, %d failed (not an error)\n", pass, fail);
    printf("repetitions repeated because another task shared the CPU: %u%s\n",
           disturbed_reps, retry_budget <= 0
           ? " (retry budget exhausted: * marks numbers measured while "
             "sharing the CPU)" : "");

    /* The build tree may have been cleaned while we ran. */
    if (opt_plot_dir) {
        mkdir_p(opt_plot_dir);
    }
    if (opt_json) {
        char dir[512];
        char *slash;

        snprintf(dir, sizeof dir, "%s", opt_json);
        slash = strrchr(dir, '/');
        if (slash) {
            *slash = '\0';
            mkdir_p(dir);
        }
    }
    if (opt_json && write_json(opt_json, date, model)) {
        return 1;
    }
    if (opt_plot_dir) {
        char path[512];
        FILE *f;

        if (write_plot_data(opt_plot_dir)) {
            return 1;
        }
        snprintf(path, sizeof path, "%s/results.md", opt_plot_dir);
        f = fopen(path, "w");
        if (!f) {
            fprintf(stderr, "espbench: %s: %s\n", path, strerror(errno));
            return 1;
        }
        print_table(f, true, NULL, NULL);
        fclose(f);
    }
    free(ring.mem);
    bdpdk_fini();
    return 0;
}
