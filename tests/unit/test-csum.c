/*
 * IPv4 header checksum updates (RFC 1624): the incremental updates of
 * esp-private.h equal a full recomputation for random headers with and
 * without options, including the 0x0000/0xffff edge cases; and through
 * the engine, transport-mode encap and decap leave exactly the checksum a
 * full recomputation gives.
 */
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>
#include "esp.h"
#include "esp-crypto.h"
#include "esp-private.h"
#include "testlib.h"

enum { BUF_SIZE = 2048, HEAD = 128 };

/* xorshift64*, fixed seed: reproducible. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t
rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (rng_state * 0x2545f4914f6cdd1dull) >> 32;
}

/* The checksum a full recomputation writes. */
static uint16_t
full_csum(const uint8_t *ip)
{
    uint8_t h[60];
    size_t ihl = (ip[0] & 0xf) * 4;

    memcpy(h, ip, ihl);
    h[10] = h[11] = 0;
    return ~test_ones_sum(h, ihl) & 0xffff;
}

/* RFC 1071: a header verifies if its sum, checksum included, is -0. */
static bool
verifies(const uint8_t *ip)
{
    return test_ones_sum(ip, (ip[0] & 0xf) * 4) == 0xffff;
}

static uint16_t
rd16(const uint8_t *p)
{
    return p[0] << 8 | p[1];
}

static void
wr16(uint8_t *p, uint16_t v)
{
    p[0] = v >> 8;
    p[1] = v;
}

/* Checksum forms of the header in 'ip' to start from. */
enum hc_form {
    HC_RANDOM,          /* Random fields, correct checksum. */
    HC_ZERO,            /* ID chosen so that the checksum is 0x0000. */
    HC_FFFF,            /* HC_ZERO written as 0xffff (also verifies). */
    HC_N_FORMS
};

/* A random IPv4 header, IHL 5..15 with random options, no fragment bits
 * (the engine drops fragments), total length 'len', checksum per
 * 'form'. */
static void
random_header(uint8_t *ip, size_t len, enum hc_form form)
{
    unsigned int ihl = 5 + rnd() % 11;

    for (unsigned int i = 0; i < ihl * 4; i++) {
        ip[i] = rnd();
    }
    ip[0] = 0x40 | ihl;
    wr16(ip + 2, len);
    wr16(ip + 6, rnd() & 0x4000);       /* DF or not. */
    do {
        ip[9] = rnd();
    } while (ip[9] == 59);              /* Next header 59: dummy. */
    ip[10] = ip[11] = 0;
    if (form != HC_RANDOM) {
        /* sum + ~sum = 0xffff: the sum of the header is then -0. */
        ip[4] = ip[5] = 0;
        wr16(ip + 4, ~test_ones_sum(ip, ihl * 4));
    }
    wr16(ip + 10, full_csum(ip));
    if (form != HC_RANDOM) {
        CHECK_EQ(rd16(ip + 10), 0);
    }
    if (form == HC_FFFF) {
        wr16(ip + 10, 0xffff);
    }
    CHECK(verifies(ip));
}

/* esp_ipv4_csum_update() and esp_csum_replace16() against a full
 * recomputation. */
static void
test_update_random(void)
{
    unsigned int n = test_quick() ? 20000 : 1000000, zeros = 0, ffff = 0;

    test_case = "random headers";
    for (unsigned int t = 0; t < n; t++) {
        enum hc_form form = t % HC_N_FORMS;
        uint8_t ip[60], ref[60];
        uint16_t old_len, new_len, hc, got;
        uint8_t old_proto, new_proto;
        unsigned int ihl;

        random_header(ip, 20 + rnd() % 65516, form);
        ihl = (ip[0] & 0xf) * 4;
        old_len = rd16(ip + 2);
        old_proto = ip[9];
        hc = rd16(ip + 10);

        /* Total length and protocol, as encap and decap change them.
         * Every 7th: a new length that makes the new checksum 0x0000 (the
         * result must not be its -0 form 0xffff), when in range. */
        new_proto = t % 5 == 0 ? old_proto : (uint8_t) rnd();
        memcpy(ref, ip, ihl);
        ref[9] = new_proto;
        new_len = t % 4 == 1 ? old_len : ihl + rnd() % (65536 - ihl);
        if (t % 7 == 3) {
            uint16_t want;

            wr16(ref + 2, 0);
            ref[10] = ref[11] = 0;
            want = ~test_ones_sum(ref, ihl);
            if (want >= ihl) {
                new_len = want;
            }
        }
        wr16(ref + 2, new_len);
        wr16(ref + 10, full_csum(ref));
        got = esp_ipv4_csum_update(hc, old_len, new_len, old_proto,
                                   new_proto);
        CHECK_EQ(got, rd16(ref + 10));
        zeros += got == 0;
        ffff += got == 0xffff;

        /* One word anywhere but the checksum, m == m' included (RFC 1624
         * erratum 4782's case: HC 0x0000, m unchanged). */
        unsigned int w = 2 * (rnd() % (ihl / 2));

        if (w == 10) {
            w = 0;
        }
        uint16_t old_w = rd16(ip + w);
        uint16_t new_w = t % 3 ? (uint16_t) rnd() : old_w;

        if (w == 0) {
            new_w = (new_w & 0x00ff) | (ip[0] << 8);   /* Keep version. */
        }
        memcpy(ref, ip, ihl);
        wr16(ref + w, new_w);
        wr16(ref + 10, full_csum(ref));
        got = esp_csum_replace16(hc, old_w, new_w);
        CHECK_EQ(got, rd16(ref + 10));
        zeros += got == 0;
        ffff += got == 0xffff;
    }
    /* The edge cases did occur, and a computed checksum is never -0. */
    printf("test-csum: %u updates, %u gave 0x0000, %u gave 0xffff\n",
           2 * n, zeros, ffff);
    CHECK(zeros > n / 50);
    CHECK_EQ(ffff, 0);
}

/* RFC 1624 section 4's worked example, and a checksum that did not
 * verify stays wrong. */
static void
test_update_fixed(void)
{
    test_case = "fixed cases";
    /* Section 4: HC 0xdd2f, m 0x5555 -> m' 0x3285 gives 0x0000. */
    CHECK_EQ(esp_csum_replace16(0xdd2f, 0x5555, 0x3285), 0x0000);
    /* Erratum 4782's case: HC 0x0000, m unchanged: stays 0x0000 (one's
     * complement -0 + -0 is -0, not +0). */
    CHECK_EQ(esp_csum_replace16(0x0000, 0x5555, 0x5555), 0x0000);
    for (int t = 0; t < 1000; t++) {
        uint8_t ip[60];
        uint16_t hc, got;

        random_header(ip, 1000, HC_RANDOM);
        hc = rd16(ip + 10) ^ (1 + rnd() % 0xfffe);
        wr16(ip + 10, hc);
        if (verifies(ip)) {
            continue;       /* Flipped into the other form of zero. */
        }
        got = esp_ipv4_csum_update(hc, 1000, 1100, ip[9], 50);
        wr16(ip + 2, 1100);
        ip[9] = 50;
        wr16(ip + 10, got);
        CHECK(!verifies(ip));
    }
}

static const uint8_t key[36] = {
    0x4c, 0x80, 0xcd, 0xef, 0xbb, 0x5d, 0x10, 0xda, 0x90, 0x6a, 0xc7, 0x3c,
    0x36, 0x13, 0xa6, 0x34, 0x2c, 0xfa, 0xb5, 0x2b, 0xd4, 0x17, 0x3a, 0x01,
    0x99, 0x0e, 0x51, 0xc2, 0x7a, 0x6d, 0x44, 0x38, 0xca, 0xfe, 0xba, 0xbe,
};
static const uint8_t auth_key[32] = { 1, 2, 3, 4, 5, 6, 7, 8 };

static struct esp_sa *
make_sa(enum esp_suite suite, enum esp_dir dir, bool udp, bool inl)
{
    struct esp_sa_params p;
    struct esp_sa *sa;
    char err[128];

    memset(&p, 0, sizeof p);
    p.spi = 0x5eed;
    p.dir = dir;
    p.mode = ESP_MODE_TRANSPORT;
    p.suite = suite;
    p.key = key;
    p.key_len = esp_suite_key_len(suite);
    if (esp_suite_auth_key_len(suite)) {
        p.auth_key = auth_key;
        p.auth_key_len = sizeof auth_key;
    }
    p.udp_encap = udp;
    p.inline_crypto = inl;
    if (esp_sa_create(&p, &sa, err, sizeof err)) {
        printf("esp_sa_create: %s\n", err);
        abort();
    }
    return sa;
}

/* Transport mode through the engine: random headers with options and
 * edge-case checksums; encap leaves the checksum a full recomputation
 * gives, decap gives back the original header (with the 0xffff form of
 * zero, its full recomputation 0x0000). */
static void
test_transport(void)
{
    static const enum esp_suite suites[] = {
        ESP_SUITE_AES_GCM_128, ESP_SUITE_AES_CBC_128_HMAC_SHA256,
    };
    unsigned int rounds = test_quick() ? 100 : 1000;

    for (size_t s = 0; s < sizeof suites / sizeof suites[0]; s++)
    for (int udp = 0; udp < 2; udp++) {
        struct esp_sa *out = make_sa(suites[s], ESP_DIR_OUT, udp, false);
        struct esp_sa *in = make_sa(suites[s], ESP_DIR_IN, udp, false);
        struct esp_sad *sad = esp_sad_create();
        char name[80];

        snprintf(name, sizeof name, "transport %s udp%d",
                 esp_suite_name(suites[s]), udp);
        test_case = name;
        CHECK_EQ(esp_sad_add(sad, in), 0);
        for (unsigned int t = 0; t < rounds; t++) {
            static uint8_t buf[BUF_SIZE];
            uint8_t orig[60 + 600];
            size_t payload = rnd() % 600, ihl, len;
            struct esp_buf b, *bp = &b;
            enum esp_verdict v;
            uint8_t *ip = buf + HEAD;

            memset(buf, 0, sizeof buf);
            /* The length is known only with the header's IHL. */
            random_header(ip, 0, t % HC_N_FORMS);
            ihl = (ip[0] & 0xf) * 4;
            len = ihl + payload;
            wr16(ip + 2, len);
            if (ip[9] == 6 || ip[9] == 17) {
                ip[9] = 47;     /* Keep NAT-T's L4 checksum fix out. */
            }
            ip[10] = ip[11] = 0;
            if (t % HC_N_FORMS != HC_RANDOM) {
                ip[4] = ip[5] = 0;
                wr16(ip + 4, ~test_ones_sum(ip, ihl));
            }
            wr16(ip + 10, full_csum(ip));
            if (t % HC_N_FORMS == HC_FFFF) {
                wr16(ip + 10, 0xffff);
            }
            CHECK(verifies(ip));
            for (size_t i = 0; i < payload; i++) {
                ip[ihl + i] = rnd();
            }
            memcpy(orig, ip, len);
            b = (struct esp_buf) { .base = buf, .size = sizeof buf,
                                   .off = HEAD, .len = len };
            CHECK_EQ(esp_encap_burst(out, &bp, &v, 1, 0), 1);
            ip = buf + b.off;
            CHECK_EQ(ip[9], udp ? 17 : 50);
            CHECK_EQ(rd16(ip + 2), b.len);
            CHECK_EQ(rd16(ip + 10), full_csum(ip));
            CHECK(verifies(ip));
            CHECK(!memcmp(ip + 12, orig + 12, ihl - 12));

            CHECK_EQ(esp_decap_burst(sad, &bp, &v, NULL, 1, 0), 1);
            ip = buf + b.off;
            CHECK_EQ(b.len, len);
            CHECK_EQ(rd16(ip + 10), full_csum(ip));
            if (t % HC_N_FORMS == HC_FFFF) {
                CHECK_EQ(rd16(ip + 10), 0);
                wr16(ip + 10, 0xffff);
            }
            CHECK(!memcmp(ip, orig, len));
        }
        esp_sa_destroy(out);
        esp_sad_destroy(sad);
    }
}

int
main(void)
{
    test_update_fixed();
    test_update_random();
    test_transport();
    return test_summary("test-csum");
}
