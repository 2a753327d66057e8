/*
 * The cryptodev engines and the dpdk-lookaside / dpdk-cpu-crypto
 * providers on a real DPDK cryptodev (crypto_aesni_mb vdev), carrying
 * real ESP traffic:
 *
 *   1. Both modes bound to crypto_aesni_mb0; every suite passes the
 *      capability check and the known-answer self-test.
 *   2. Traffic, per mode x suite x ESN: encap with the cryptodev engine
 *      (SA installed through the provider) and decap with the software
 *      engines (ipsec-mb and OpenSSL), and the reverse; UDP payloads of
 *      every size 0..1500 in bursts of 64; one packet per burst with a
 *      flipped ICV bit must be dropped as "auth", every other one must
 *      come back byte for byte.
 *   3. Two threads at once per mode, each with its own SA pair on the
 *      same device (the engines' thread safety: CPU crypto's per-thread
 *      state; lookaside with a queue pair per thread, then with one
 *      queue pair the two threads share under its lock).
 *   4. Sessions: created == freed, none left in the pool, no live key
 *      context, after everything is removed.
 *   5. Fallback: a 3-session pool takes one CBC SA (2 sessions) and
 *      refuses the next with "session mempool of 3 exhausted"; the SA
 *      runs in sw, with the reason.
 *   6. crypto_openssl0 (no CPU crypto, no ChaCha20-Poly1305, no AES-ECB
 *      for outbound CBC IVs) refuses with the device's reasons, and
 *      carries GCM-256 and inbound CBC traffic.
 *   7. crypto_chacha20_poly1305 advertises CPU crypto and fails it: the
 *      self-test keeps that mode off the device.
 *
 * With --bench: cycles per packet of esp_encap_burst() for sw (ipsec-mb)
 * versus lookaside versus CPU crypto on crypto_aesni_mb0, 64 and 1400
 * byte UDP payloads, AES-GCM-128 and AES-CBC-128+HMAC-SHA-256.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <rte_cycles.h>
#include <rte_eal.h>

#include "crypto-cryptodev.h"
#include "esp-crypto.h"
#include "ipsec-offload.h"
#include "ipsec-offload-cryptodev.h"
#include "offload-test.h"

enum {
    BUF_SIZE = 2048,
    HEAD = 128,
    MAX_PAYLOAD = 1500,
};

struct pkt {
    uint8_t buf[BUF_SIZE];
    struct esp_buf b;
};

static const char *const DEV = "crypto_aesni_mb0";
static const char *const DEV_OSSL = "crypto_openssl0";

/* EAL with the cryptodev vdevs (the PMDs are linked in with
 * --no-as-needed, see offload.mk). */
static int
eal_init(const char *name)
{
    static const char *const vdevs[] = {
        "--vdev=crypto_aesni_mb0", "--vdev=crypto_openssl0",
        "--vdev=crypto_chacha20_poly1305", NULL,
    };

    return offload_test_eal_init_args(name, vdevs);
}

static uint16_t
csum(const uint8_t *p, size_t len)
{
    uint32_t sum = 0;

    for (size_t i = 0; i + 1 < len; i += 2) {
        sum += p[i] << 8 | p[i + 1];
    }
    if (len & 1) {
        sum += p[len - 1] << 8;
    }
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return ~sum;
}

/* An inner IPv4/UDP packet with 'payload' bytes of pattern 'seed'. */
static void
make_udp(struct pkt *p, size_t payload, unsigned int seed)
{
    uint8_t *ip = p->buf + HEAD;
    size_t len = 28 + payload;
    uint16_t c;

    memset(ip, 0, len);
    ip[0] = 0x45;
    ip[2] = len >> 8;
    ip[3] = len;
    ip[6] = 0x40;
    ip[8] = 63;
    ip[9] = 17;
    inet_pton(AF_INET, "10.0.0.1", ip + 12);
    inet_pton(AF_INET, "10.0.1.2", ip + 16);
    c = csum(ip, 20);
    ip[10] = c >> 8;
    ip[11] = c;
    ip[20] = 1000 >> 8;
    ip[21] = 1000 & 0xff;
    ip[22] = 2000 >> 8;
    ip[23] = 2000 & 0xff;
    ip[24] = (8 + payload) >> 8;
    ip[25] = 8 + payload;
    for (size_t i = 0; i < payload; i++) {
        ip[28 + i] = i * 7 + seed;
    }
    p->b.base = p->buf;
    p->b.size = sizeof p->buf;
    p->b.off = HEAD;
    p->b.len = len;
}

/* Registry with the cryptodev providers and one port. */
static struct ipsec_offload *
make_reg(const char *pref)
{
    struct ipsec_offload *reg = ipsec_offload_create();
    char err[256];

    CHECK(reg != NULL);
    CHECK_EQ(ipsec_offload_cryptodev_register(reg), 0);
    CHECK_EQ(ipsec_offload_port_add(reg, "dpdk0", "dpdk", 0), 0);
    CHECK_EQ(ipsec_offload_set_preference(reg, pref, err, sizeof err), 0);
    return reg;
}

static const char *
mode_pref(enum crypto_cryptodev_mode mode)
{
    return mode == CRYPTO_CRYPTODEV_CPU ? "dpdk-cpu-crypto"
                                        : "dpdk-lookaside";
}

/* One side of a tunnel: either through the provider (cryptodev engine)
 * or a plain esp_sa with a software engine. */
struct side {
    struct ipsec_offload_sa *osa;
    struct esp_sa *sa;          /* What the datapath uses. */
    bool own;                   /* 'sa' is ours to destroy. */
};

static void
side_create(struct side *s, struct ipsec_offload *reg,
            const struct esp_sa_params *params,
            const struct esp_crypto_engine *sw)
{
    char err[IPSEC_OFFLOAD_REASON_SIZE] = "";
    int error;

    memset(s, 0, sizeof *s);
    if (!sw) {
        error = ipsec_offload_sa_install(reg, "dpdk0", params, NULL,
                                         &s->osa, err, sizeof err);
        CHECK_EQ(error, 0);
        if (error) {
            printf("  install: %s\n", err);
            return;
        }
        if (strcmp(ipsec_offload_sa_reason(s->osa), "")) {
            printf("  unexpected fallback: %s\n",
                   ipsec_offload_sa_reason(s->osa));
        }
        CHECK(!strcmp(ipsec_offload_sa_reason(s->osa), ""));
        s->sa = ipsec_offload_sa_esp(s->osa);
        CHECK(s->sa != NULL);
    } else {
        struct esp_sa_params p = *params;

        p.engine = sw;
        error = esp_sa_create(&p, &s->sa, err, sizeof err);
        CHECK_EQ(error, 0);
        if (error) {
            printf("  esp_sa_create: %s\n", err);
        }
        s->own = true;
    }
}

static void
side_destroy(struct side *s)
{
    if (s->own) {
        esp_sa_destroy(s->sa);
    }
    ipsec_offload_sa_remove(s->osa);
    memset(s, 0, sizeof *s);
}

/* Runs every payload size 0..MAX_PAYLOAD from 'out' to 'in' in bursts
 * of 64, tampering with one ICV per burst.  Returns the number of
 * packets that came back intact. */
static unsigned int
run_traffic(struct esp_sa *out, struct esp_sa *in, unsigned int seed,
            unsigned int max_payload, unsigned int step, bool tamper)
{
    static __thread struct pkt pkts[ESP_BURST_MAX];
    static __thread struct pkt orig[ESP_BURST_MAX];
    struct esp_buf *bufs[ESP_BURST_MAX];
    struct esp_sa *sas[ESP_BURST_MAX];
    enum esp_verdict v[ESP_BURST_MAX];
    struct esp_sad *sad = esp_sad_create();
    unsigned int good = 0, burst = 0;

    if (!sad || esp_sad_add(sad, in)) {
        CHECK(0);
        esp_sad_destroy(sad);
        return 0;
    }
    for (unsigned int size = 0; size <= max_payload; burst++) {
        unsigned int n = 0, ok, bad = ESP_BURST_MAX;

        while (n < ESP_BURST_MAX && size <= max_payload) {
            make_udp(&pkts[n], size, seed + n);
            orig[n] = pkts[n];
            bufs[n] = &pkts[n].b;
            n++;
            size += step;
        }
        ok = esp_encap_burst(out, bufs, v, n, 0);
        CHECK_EQ(ok, n);
        if (tamper) {
            /* Flip a bit of the ICV's last byte. */
            bad = burst % n;
            pkts[bad].buf[pkts[bad].b.off + pkts[bad].b.len - 1] ^= 0x80;
        }
        esp_decap_burst(sad, bufs, v, sas, n, 0);
        for (unsigned int i = 0; i < n; i++) {
            if (i == bad) {
                CHECK_EQ(v[i], ESP_DROP_AUTH);
                continue;
            }
            if (v[i] != ESP_OK || pkts[i].b.len != orig[i].b.len
                || memcmp(pkts[i].buf + pkts[i].b.off,
                          orig[i].buf + orig[i].b.off, orig[i].b.len)) {
                CHECK_EQ(v[i], ESP_OK);
                CHECK(!"decrypted packet differs");
                continue;
            }
            good++;
        }
    }
    esp_sad_remove(sad, esp_sa_spi(in), NULL);
    esp_sad_destroy(sad);
    return good;
}

static const struct esp_crypto_engine *
sw_engine(int i)
{
    return i ? &esp_crypto_openssl : &esp_crypto_ipsecmb;
}

/* 2. Traffic through the provider, against both software engines, both
 * ways. */
static void
test_traffic(enum crypto_cryptodev_mode mode)
{
    struct ipsec_offload *reg = make_reg(mode_pref(mode));
    char name[160];
    uint32_t spi = 0x2000;

    for (int s = 0; s < ESP_N_SUITES; s++) {
        for (int esn = 0; esn < 2; esn++) {
            for (int way = 0; way < 4; way++) {
                /* way 0/1: cryptodev -> ipsec-mb/openssl; 2/3: the
                 * reverse. */
                const struct esp_crypto_engine *sw = sw_engine(way & 1);
                bool cd_out = way < 2;
                struct esp_sa_params po, pi;
                struct side out, in;
                unsigned int good, want;

                snprintf(name, sizeof name, "traffic %s %s%s %s %s %s",
                         mode_pref(mode), esp_suite_name(s),
                         esn ? " esn" : "",
                         cd_out ? "cryptodev" : sw->name, "->",
                         cd_out ? sw->name : "cryptodev");
                test_case = name;
                spi++;
                po = offload_test_sa(spi, s, ESP_DIR_OUT, false);
                pi = offload_test_sa(spi, s, ESP_DIR_IN, false);
                po.esn = pi.esn = esn;
                /* Start near a 2^32 boundary so ESN high bits matter. */
                po.seq = pi.seq = esn ? 0xffffffe0ULL : 0;
                pi.replay_window = 128;
                side_create(&out, reg, &po, cd_out ? NULL : sw);
                side_create(&in, reg, &pi, cd_out ? sw : NULL);
                if (out.sa && in.sa) {
                    /* 1501 sizes, 24 bursts, one tampered per burst. */
                    want = MAX_PAYLOAD + 1
                           - (MAX_PAYLOAD + ESP_BURST_MAX) / ESP_BURST_MAX;
                    good = run_traffic(out.sa, in.sa, s * 8 + way,
                                       MAX_PAYLOAD, 1, true);
                    CHECK_EQ(good, want);
                }
                side_destroy(&out);
                side_destroy(&in);
            }
        }
    }
    ipsec_offload_destroy(reg);
}

/* 3. Two threads at once. */
struct thread_arg {
    enum crypto_cryptodev_mode mode;
    enum esp_suite suite;
    struct esp_sa *out, *in;
    unsigned int good;
};

static void *
thread_main(void *arg_)
{
    struct thread_arg *arg = arg_;

    for (int round = 0; round < 20; round++) {
        arg->good += run_traffic(arg->out, arg->in, round, 1400, 7, false);
    }
    return NULL;
}

static void
test_threads(enum crypto_cryptodev_mode mode)
{
    struct ipsec_offload *reg = make_reg(mode_pref(mode));
    struct thread_arg args[2];
    struct side sides[2][2];
    pthread_t th[2];
    char name[128];

    snprintf(name, sizeof name, "two threads %s", mode_pref(mode));
    test_case = name;
    for (int t = 0; t < 2; t++) {
        enum esp_suite suite = t ? ESP_SUITE_AES_CBC_128_HMAC_SHA256
                                 : ESP_SUITE_AES_GCM_128;
        struct esp_sa_params po = offload_test_sa(0x3000 + t, suite,
                                                  ESP_DIR_OUT, false);
        struct esp_sa_params pi = offload_test_sa(0x3000 + t, suite,
                                                  ESP_DIR_IN, false);

        side_create(&sides[t][0], reg, &po, NULL);
        side_create(&sides[t][1], reg, &pi, NULL);
        args[t].mode = mode;
        args[t].suite = suite;
        args[t].out = sides[t][0].sa;
        args[t].in = sides[t][1].sa;
        args[t].good = 0;
    }
    if (args[0].out && args[0].in && args[1].out && args[1].in) {
        for (int t = 0; t < 2; t++) {
            CHECK_EQ(pthread_create(&th[t], NULL, thread_main, &args[t]), 0);
        }
        for (int t = 0; t < 2; t++) {
            pthread_join(th[t], NULL);
            /* 201 sizes (0, 7, ..., 1400) x 20 rounds. */
            CHECK_EQ(args[t].good, 201 * 20);
        }
    }
    for (int t = 0; t < 2; t++) {
        side_destroy(&sides[t][0]);
        side_destroy(&sides[t][1]);
    }
    ipsec_offload_destroy(reg);
}

static void
check_no_leak(enum crypto_cryptodev_mode mode, const char *when)
{
    struct crypto_cryptodev_stats st;

    test_case = when;
    crypto_cryptodev_get_stats(mode, &st);
    CHECK(st.sessions_created > 0);
    CHECK_EQ(st.sessions_created, st.sessions_freed);
    CHECK_EQ(st.ctxs, 0);
    CHECK_EQ(crypto_cryptodev_sessions_in_use(mode), 0);
    CHECK_EQ(st.op_errors, 0);
    printf("  %s: %s: %llu sessions created, %llu freed, %llu ops, "
           "%llu ICV failures\n", when, crypto_cryptodev_device(mode),
           (unsigned long long) st.sessions_created,
           (unsigned long long) st.sessions_freed,
           (unsigned long long) st.ops,
           (unsigned long long) st.auth_failures);
}

/* 5. A session pool too small: the second SA falls back to sw. */
static void
test_pool_exhausted(void)
{
    struct ipsec_offload *reg;
    struct ipsec_offload_sa *osa[2] = { NULL, NULL };
    struct esp_sa_params p;
    char err[512];

    test_case = "session pool exhausted";
    CHECK_EQ(crypto_cryptodev_open(CRYPTO_CRYPTODEV_LOOKASIDE, DEV, 3,
                                   err, sizeof err), 0);
    reg = make_reg("dpdk-lookaside");
    p = offload_test_sa(0x4001, ESP_SUITE_AES_CBC_128_HMAC_SHA256,
                        ESP_DIR_OUT, false);
    CHECK_EQ(ipsec_offload_sa_install(reg, "dpdk0", &p, NULL, &osa[0],
                                      err, sizeof err), 0);
    /* Outbound CBC: the AES-ECB and the chained sessions. */
    CHECK_EQ(crypto_cryptodev_sessions_in_use(CRYPTO_CRYPTODEV_LOOKASIDE),
             2);
    p.spi++;
    CHECK_EQ(ipsec_offload_sa_install(reg, "dpdk0", &p, NULL, &osa[1],
                                      err, sizeof err), 0);
    if (osa[0] && osa[1]) {
        CHECK(!strcmp(ipsec_offload_sa_provider(osa[0]), "dpdk-lookaside"));
        CHECK_EQ(ipsec_offload_sa_kind(osa[0]), IPSEC_OFFLOAD_LOOKASIDE);
        CHECK(!strcmp(ipsec_offload_sa_provider(osa[1]), "sw"));
        ipsec_offload_sa_format(osa[1], err, sizeof err);
        CHECK(!strcmp(err, "offload=sw reason=\"dpdk-lookaside: cryptodev "
                      "crypto_aesni_mb0: session mempool of 3 "
                      "exhausted\""));
        printf("  %s\n", err);
        /* The sw SA has no esp_sa here (the test passed none). */
        CHECK(ipsec_offload_sa_esp(osa[1]) == NULL);
    }
    ipsec_offload_destroy(reg);
    CHECK_EQ(crypto_cryptodev_sessions_in_use(CRYPTO_CRYPTODEV_LOOKASIDE),
             0);
    CHECK_EQ(crypto_cryptodev_close(CRYPTO_CRYPTODEV_LOOKASIDE), 0);
}

/* 6. A device without CPU crypto and without ChaCha20-Poly1305. */
static void
test_openssl_device(void)
{
    char err[512], why[256];
    struct ipsec_offload *reg;
    struct ipsec_offload_sa *osa = NULL;
    struct esp_sa_params p;

    test_case = "crypto_openssl0";
    CHECK_EQ(crypto_cryptodev_open(CRYPTO_CRYPTODEV_LOOKASIDE, DEV_OSSL, 0,
                                   err, sizeof err), 0);
    CHECK_EQ(crypto_cryptodev_open(CRYPTO_CRYPTODEV_CPU, DEV_OSSL, 0,
                                   err, sizeof err), 0);
    crypto_cryptodev_format(CRYPTO_CRYPTODEV_LOOKASIDE, why, sizeof why);
    printf("  lookaside: %s\n", why);
    CHECK_EQ(crypto_cryptodev_check(CRYPTO_CRYPTODEV_LOOKASIDE,
                                    ESP_SUITE_AES_GCM_256, ESP_DIR_OUT,
                                    false, why, sizeof why), 0);
    CHECK_EQ(crypto_cryptodev_check(CRYPTO_CRYPTODEV_LOOKASIDE,
                                    ESP_SUITE_CHACHA20_POLY1305, ESP_DIR_IN,
                                    false, why, sizeof why), EOPNOTSUPP);
    CHECK(!strcmp(why, "cryptodev crypto_openssl0: chacha20-poly1305 not "
                  "in capabilities"));

    reg = make_reg("dpdk-cpu-crypto,dpdk-lookaside,sw");
    p = offload_test_sa(0x5001, ESP_SUITE_CHACHA20_POLY1305, ESP_DIR_IN,
                        false);
    CHECK_EQ(ipsec_offload_sa_install(reg, "dpdk0", &p, NULL, &osa,
                                      err, sizeof err), 0);
    if (osa) {
        ipsec_offload_sa_format(osa, err, sizeof err);
        printf("  %s\n", err);
        CHECK(!strcmp(err, "offload=sw reason=\"dpdk-cpu-crypto: cryptodev "
                      "crypto_openssl0: CPU crypto not supported by driver "
                      "crypto_openssl (no RTE_CRYPTODEV_FF_SYM_CPU_CRYPTO); "
                      "dpdk-lookaside: cryptodev crypto_openssl0: "
                      "chacha20-poly1305 not in capabilities\""));
    }
    ipsec_offload_sa_remove(osa);
    osa = NULL;

    /* GCM-256 goes to the openssl PMD and still interoperates. */
    CHECK_EQ(ipsec_offload_set_preference(reg, "dpdk-lookaside", err,
                                          sizeof err), 0);
    {
        struct esp_sa_params po = offload_test_sa(0x5002,
                                                  ESP_SUITE_AES_GCM_256,
                                                  ESP_DIR_OUT, false);
        struct esp_sa_params pi = offload_test_sa(0x5002,
                                                  ESP_SUITE_AES_GCM_256,
                                                  ESP_DIR_IN, false);
        struct side out, in;

        side_create(&out, reg, &po, NULL);
        side_create(&in, reg, &pi, &esp_crypto_ipsecmb);
        if (out.osa) {
            CHECK(!strcmp(ipsec_offload_sa_provider(out.osa),
                          "dpdk-lookaside"));
        }
        if (out.sa && in.sa) {
            CHECK_EQ(run_traffic(out.sa, in.sa, 3, 1500, 13, false), 116);
        }
        side_destroy(&out);
        side_destroy(&in);
    }

    /* CBC: inbound works (verify and decrypt), outbound needs AES-ECB,
     * which the openssl PMD lacks. */
    {
        struct esp_sa_params po = offload_test_sa(
            0x5003, ESP_SUITE_AES_CBC_128_HMAC_SHA256, ESP_DIR_OUT, false);
        struct esp_sa_params pi = offload_test_sa(
            0x5003, ESP_SUITE_AES_CBC_128_HMAC_SHA256, ESP_DIR_IN, false);
        struct side out, in;

        side_create(&out, reg, &po, &esp_crypto_ipsecmb);
        side_create(&in, reg, &pi, NULL);
        if (out.sa && in.sa) {
            CHECK_EQ(run_traffic(out.sa, in.sa, 5, 1500, 13, true),
                     116 - 2);
        }
        side_destroy(&out);
        side_destroy(&in);

        CHECK_EQ(ipsec_offload_sa_install(reg, "dpdk0", &po, NULL, &osa,
                                          err, sizeof err), 0);
        if (osa) {
            CHECK(!strcmp(ipsec_offload_sa_reason(osa),
                          "dpdk-lookaside: cryptodev crypto_openssl0: "
                          "outbound aes-cbc-128-hmac-sha256-128 needs "
                          "AES-ECB with a 16-byte key (IV derivation), not "
                          "in capabilities"));
            printf("  %s\n", ipsec_offload_sa_reason(osa));
        }
        ipsec_offload_sa_remove(osa);
    }
    ipsec_offload_destroy(reg);
    check_no_leak(CRYPTO_CRYPTODEV_LOOKASIDE, "crypto_openssl0 lookaside");
    CHECK_EQ(crypto_cryptodev_close(CRYPTO_CRYPTODEV_CPU), 0);
    CHECK_EQ(crypto_cryptodev_close(CRYPTO_CRYPTODEV_LOOKASIDE), 0);
}

/* 7. DPDK 22.11's crypto_chacha20_poly1305 PMD advertises CPU crypto
 * but refuses it at run time: the self-test keeps it out, lookaside on
 * the same device works. */
static void
test_chacha_pmd(void)
{
    const char *dev = "crypto_chacha20_poly1305";
    char err[256], why[256];

    test_case = dev;
    for (int m = 0; m < CRYPTO_CRYPTODEV_N_MODES; m++) {
        CHECK_EQ(crypto_cryptodev_open(m, dev, 0, err, sizeof err), 0);
    }
    CHECK_EQ(crypto_cryptodev_check(CRYPTO_CRYPTODEV_LOOKASIDE,
                                    ESP_SUITE_CHACHA20_POLY1305, ESP_DIR_OUT,
                                    false, why, sizeof why), 0);
    CHECK_EQ(crypto_cryptodev_check(CRYPTO_CRYPTODEV_CPU,
                                    ESP_SUITE_CHACHA20_POLY1305, ESP_DIR_OUT,
                                    false, why, sizeof why), EOPNOTSUPP);
    printf("  %s\n", why);
    CHECK(!strcmp(why, "cryptodev crypto_chacha20_poly1305: self-test: "
                  "encrypt failed (Operation not supported)"));
    for (int m = 0; m < CRYPTO_CRYPTODEV_N_MODES; m++) {
        CHECK_EQ(crypto_cryptodev_sessions_in_use(m), 0);
        CHECK_EQ(crypto_cryptodev_close(m), 0);
    }
}

/* --bench: cycles per packet of esp_encap_burst(). */
static void
bench(void)
{
    static struct pkt pkts[ESP_BURST_MAX], orig[ESP_BURST_MAX];
    static const unsigned int sizes[] = { 64, 1400 };
    static const enum esp_suite suites[] = {
        ESP_SUITE_AES_GCM_128, ESP_SUITE_AES_CBC_128_HMAC_SHA256,
    };
    const struct esp_crypto_engine *engines[] = {
        &esp_crypto_ipsecmb, &esp_crypto_cryptodev_lookaside,
        &esp_crypto_cryptodev_cpu,
    };
    const char *names[] = { "sw (ipsec-mb)", "lookaside", "cpu-crypto" };
    struct esp_buf *bufs[ESP_BURST_MAX];
    enum esp_verdict v[ESP_BURST_MAX];
    unsigned int bursts = test_quick() ? 200 : 2000;

    printf("cycles/packet, esp_encap_burst, burst %d, %s, TSC %.2f GHz\n",
           ESP_BURST_MAX, DEV, rte_get_tsc_hz() / 1e9);
    printf("%-28s %-14s %8s %8s\n", "suite", "engine", "64 B", "1400 B");
    for (size_t s = 0; s < sizeof suites / sizeof suites[0]; s++) {
        for (size_t e = 0; e < 3; e++) {
            struct esp_sa_params p = offload_test_sa(0x6000, suites[s],
                                                     ESP_DIR_OUT, false);
            struct esp_sa *sa = NULL;
            char err[256];
            double cpp[2];

            p.engine = engines[e];
            if (esp_sa_create(&p, &sa, err, sizeof err)) {
                printf("%-28s %-14s skipped: %s\n", esp_suite_name(suites[s]),
                       names[e], err);
                continue;
            }
            for (size_t z = 0; z < 2; z++) {
                uint64_t best = UINT64_MAX;

                for (int i = 0; i < ESP_BURST_MAX; i++) {
                    make_udp(&orig[i], sizes[z], i);
                }
                for (int rep = 0; rep < 3; rep++) {
                    uint64_t total = 0;

                    for (unsigned int b = 0; b < bursts; b++) {
                        uint64_t t0;

                        for (int i = 0; i < ESP_BURST_MAX; i++) {
                            pkts[i].b = orig[i].b;
                            pkts[i].b.base = pkts[i].buf;
                            memcpy(pkts[i].buf + HEAD, orig[i].buf + HEAD,
                                   orig[i].b.len);
                            bufs[i] = &pkts[i].b;
                        }
                        t0 = rte_rdtsc_precise();
                        esp_encap_burst(sa, bufs, v, ESP_BURST_MAX, 0);
                        total += rte_rdtsc_precise() - t0;
                    }
                    if (total < best) {
                        best = total;
                    }
                }
                cpp[z] = (double) best / bursts / ESP_BURST_MAX;
            }
            printf("%-28s %-14s %8.0f %8.0f\n", esp_suite_name(suites[s]),
                   names[e], cpp[0], cpp[1]);
            esp_sa_destroy(sa);
        }
    }
}

int
main(int argc, char *argv[])
{
    bool do_bench = argc > 1 && !strcmp(argv[1], "--bench");
    char err[512], line[512];

    if (eal_init("test-offload-cryptodev")) {
        return 1;
    }

    /* 1. Both modes on one device. */
    test_case = "open";
    CHECK_EQ(crypto_cryptodev_open(CRYPTO_CRYPTODEV_LOOKASIDE, DEV, 0,
                                   err, sizeof err), 0);
    CHECK_EQ(crypto_cryptodev_open(CRYPTO_CRYPTODEV_CPU, DEV, 0,
                                   err, sizeof err), 0);
    CHECK_EQ(crypto_cryptodev_open(CRYPTO_CRYPTODEV_CPU, DEV, 0,
                                   err, sizeof err), EBUSY);
    CHECK_EQ(crypto_cryptodev_open(CRYPTO_CRYPTODEV_LOOKASIDE + 5, DEV, 0,
                                   err, sizeof err), EINVAL);
    for (int m = 0; m < CRYPTO_CRYPTODEV_N_MODES; m++) {
        crypto_cryptodev_format(m, line, sizeof line);
        printf("  %s: %s\n", mode_pref(m), line);
        for (int s = 0; s < ESP_N_SUITES; s++) {
            char why[256] = "";

            CHECK_EQ(crypto_cryptodev_check(m, s, ESP_DIR_OUT, true, why,
                                            sizeof why), 0);
            if (why[0]) {
                printf("  %s %s: %s\n", mode_pref(m), esp_suite_name(s),
                       why);
            }
        }
    }

    if (do_bench) {
        bench();
    } else {
        for (int m = 0; m < CRYPTO_CRYPTODEV_N_MODES; m++) {
            test_traffic(m);
            test_threads(m);
        }
        check_no_leak(CRYPTO_CRYPTODEV_LOOKASIDE, "crypto_aesni_mb0");
    }
    test_case = "close";
    CHECK_EQ(crypto_cryptodev_close(CRYPTO_CRYPTODEV_LOOKASIDE), 0);
    CHECK_EQ(crypto_cryptodev_close(CRYPTO_CRYPTODEV_CPU), 0);
    CHECK(crypto_cryptodev_device(CRYPTO_CRYPTODEV_CPU) == NULL);

    if (!do_bench) {
        /* 3 again with one queue pair: both threads share it, under its
         * lock. */
        crypto_cryptodev_set_queue_pairs(1);
        test_case = "one queue pair";
        CHECK_EQ(crypto_cryptodev_open(CRYPTO_CRYPTODEV_LOOKASIDE, DEV, 0,
                                       err, sizeof err), 0);
        crypto_cryptodev_format(CRYPTO_CRYPTODEV_LOOKASIDE, line,
                                sizeof line);
        CHECK(strstr(line, "(driver crypto_aesni_mb, 1 queue pairs)")
              != NULL);
        test_threads(CRYPTO_CRYPTODEV_LOOKASIDE);
        check_no_leak(CRYPTO_CRYPTODEV_LOOKASIDE, "one queue pair");
        CHECK_EQ(crypto_cryptodev_close(CRYPTO_CRYPTODEV_LOOKASIDE), 0);
        crypto_cryptodev_set_queue_pairs(8);

        test_pool_exhausted();
        test_openssl_device();
        test_chacha_pmd();
    }
    offload_test_eal_fini();
    return test_summary("test-offload-cryptodev");
}
