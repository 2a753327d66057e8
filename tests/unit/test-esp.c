/*
 * ESP engine unit tests: round trips over every suite, mode, family, ESN
 * and encapsulation with both engines crossed; header fields; drops and
 * their counters; lifetimes and sequence overflow; selectors; threads.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include "esp.h"
#include "esp-crypto.h"
#include "testlib.h"

enum { BUF_SIZE = 2048, HEAD = 128 };

static const uint8_t key_material[36] = {
    0x4c, 0x80, 0xcd, 0xef, 0xbb, 0x5d, 0x10, 0xda, 0x90, 0x6a, 0xc7, 0x3c,
    0x36, 0x13, 0xa6, 0x34, 0x2c, 0xfa, 0xb5, 0x2b, 0xd4, 0x17, 0x3a, 0x01,
    0x99, 0x0e, 0x51, 0xc2, 0x7a, 0x6d, 0x44, 0x38, 0xca, 0xfe, 0xba, 0xbe,
};
static const uint8_t auth_key[32] = {
    0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x10, 0x32, 0x54, 0x76,
    0x98, 0xba, 0xdc, 0xfe, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
    0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00,
};

static uint32_t
rd32(const uint8_t *p)
{
    return (uint32_t) p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

struct pkt {
    uint8_t buf[BUF_SIZE];
    struct esp_buf b;
};

static void
set_addr(struct esp_addr *a, const char *s)
{
    memset(a, 0, sizeof *a);
    if (inet_pton(AF_INET, s, &a->v4) == 1) {
        a->family = AF_INET;
    } else if (inet_pton(AF_INET6, s, &a->v6) == 1) {
        a->family = AF_INET6;
    } else {
        abort();
    }
}

static uint16_t
csum(const uint8_t *p, size_t len, uint32_t sum)
{
    for (; len >= 2; p += 2, len -= 2) {
        sum += p[0] << 8 | p[1];
    }
    if (len) {
        sum += p[0] << 8;
    }
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return ~sum & 0xffff;
}

/* A UDP packet 10.0.0.1:1000 -> 10.0.1.2:2000 (or fd00::1 -> fd01::2)
 * with 'payload' bytes, written at HEAD. */
static void
make_udp(struct pkt *p, int family, size_t payload, uint8_t tos)
{
    uint8_t *ip = p->buf + HEAD;
    size_t l3 = family == AF_INET ? 20 : 40, len = l3 + 8 + payload;

    memset(p->buf, 0xee, sizeof p->buf);
    memset(ip, 0, len);
    if (family == AF_INET) {
        ip[0] = 0x45;
        ip[1] = tos;
        ip[2] = len >> 8;
        ip[3] = len;
        ip[6] = 0x40;           /* DF */
        ip[8] = 63;
        ip[9] = 17;
        inet_pton(AF_INET, "10.0.0.1", ip + 12);
        inet_pton(AF_INET, "10.0.1.2", ip + 16);
        uint16_t c = csum(ip, 20, 0);
        ip[10] = c >> 8;
        ip[11] = c;
    } else {
        ip[0] = 0x60 | tos >> 4;
        ip[1] = tos << 4;
        ip[4] = (len - 40) >> 8;
        ip[5] = len - 40;
        ip[6] = 17;
        ip[7] = 63;
        inet_pton(AF_INET6, "fd00::1", ip + 8);
        inet_pton(AF_INET6, "fd01::2", ip + 24);
    }
    uint8_t *udp = ip + l3;
    udp[0] = 1000 >> 8;
    udp[1] = 1000 & 0xff;
    udp[2] = 2000 >> 8;
    udp[3] = 2000 & 0xff;
    udp[4] = (8 + payload) >> 8;
    udp[5] = 8 + payload;
    for (size_t i = 0; i < payload; i++) {
        udp[8 + i] = i * 7 + 3;
    }
    p->b.base = p->buf;
    p->b.size = sizeof p->buf;
    p->b.off = HEAD;
    p->b.len = len;
}

struct sa_cfg {
    enum esp_suite suite;
    enum esp_mode mode;
    int inner, outer;           /* AF_INET or AF_INET6. */
    bool esn, udp;
    uint64_t seq;
    uint32_t window;
    const struct esp_crypto_engine *engine;
};

static void
fill_params(struct esp_sa_params *p, const struct sa_cfg *c,
            enum esp_dir dir)
{
    memset(p, 0, sizeof *p);
    p->spi = 0x1234abcd;
    p->dir = dir;
    p->mode = c->mode;
    p->suite = c->suite;
    if (c->mode == ESP_MODE_TUNNEL) {
        set_addr(&p->src, c->outer == AF_INET ? "192.0.2.1" : "2001:db8::1");
        set_addr(&p->dst, c->outer == AF_INET ? "192.0.2.2" : "2001:db8::2");
    }
    p->key = key_material;
    p->key_len = esp_suite_key_len(c->suite);
    if (esp_suite_auth_key_len(c->suite)) {
        p->auth_key = auth_key;
        p->auth_key_len = 32;
    }
    p->esn = c->esn;
    p->seq = c->seq;
    p->replay_window = c->window;
    p->udp_encap = c->udp;
    p->engine = c->engine;
}

static struct esp_sa *
make_sa(const struct sa_cfg *c, enum esp_dir dir)
{
    struct esp_sa_params p;
    struct esp_sa *sa;
    char err[128];

    fill_params(&p, c, dir);
    int error = esp_sa_create(&p, &sa, err, sizeof err);
    if (error) {
        printf("esp_sa_create: %s\n", err);
        return NULL;
    }
    return sa;
}

static struct esp_sad *
make_sad(const struct sa_cfg *c, struct esp_sa **sap)
{
    struct esp_sad *sad = esp_sad_create();
    struct esp_sa *sa = make_sa(c, ESP_DIR_IN);

    if (!sa || esp_sad_add(sad, sa)) {
        abort();
    }
    if (sap) {
        *sap = sa;
    }
    return sad;
}

static enum esp_verdict
encap1(struct esp_sa *sa, struct pkt *p, uint64_t now)
{
    struct esp_buf *bp = &p->b;
    enum esp_verdict v;

    esp_encap_burst(sa, &bp, &v, 1, now);
    return v;
}

static enum esp_verdict
decap1(struct esp_sad *sad, struct pkt *p, uint64_t now)
{
    struct esp_buf *bp = &p->b;
    enum esp_verdict v;

    esp_decap_burst(sad, &bp, &v, NULL, 1, now);
    return v;
}

/* 1. Round trips: every combination, engines crossed, several sizes. */
static void
test_round_trips(void)
{
    static const int fams[] = { AF_INET, AF_INET6 };
    static const size_t sizes[] = { 0, 1, 2, 3, 13, 14, 15, 16, 17, 100,
                                    1400 };
    const struct esp_crypto_engine *engines[] = {
        &esp_crypto_ipsecmb, &esp_crypto_openssl,
    };
    unsigned int combos = 0;

    for (int s = 0; s < ESP_N_SUITES; s++)
    for (int m = 0; m < 2; m++)
    for (int in = 0; in < 2; in++)
    for (int out = 0; out < 2; out++)
    for (int esn = 0; esn < 2; esn++)
    for (int udp = 0; udp < 2; udp++)
    for (int e = 0; e < 2; e++) {
        struct sa_cfg c = {
            .suite = s, .mode = m ? ESP_MODE_TRANSPORT : ESP_MODE_TUNNEL,
            .inner = fams[in], .outer = fams[out], .esn = esn, .udp = udp,
            .seq = esn ? 0xfffffff0ull : 0, .window = 64,
            .engine = engines[e],
        };
        struct sa_cfg d = c;
        struct esp_sa *out_sa, *in_sa;
        struct esp_sad *sad;
        char name[160];

        if (c.mode == ESP_MODE_TRANSPORT && out) {
            continue;           /* Outer is the packet's own header. */
        }
        d.engine = engines[!e];
        snprintf(name, sizeof name, "%s %s in%d out%d esn%d udp%d %s",
                 esp_suite_name(s), m ? "transport" : "tunnel",
                 fams[in] == AF_INET ? 4 : 6, fams[out] == AF_INET ? 4 : 6,
                 esn, udp, engines[e]->name);
        test_case = name;
        out_sa = make_sa(&c, ESP_DIR_OUT);
        sad = make_sad(&d, &in_sa);
        CHECK(out_sa != NULL);
        if (!out_sa) {
            esp_sad_destroy(sad);
            continue;
        }
        combos++;
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            struct pkt p, orig;

            make_udp(&p, fams[in], sizes[k], 0);
            orig = p;
            CHECK_EQ(encap1(out_sa, &p, 0), ESP_OK);

            const uint8_t *ip = p.buf + p.b.off;
            size_t ct_off, l3 = (ip[0] >> 4 == 4) ? (ip[0] & 0xf) * 4 : 40;
            ct_off = l3 + (udp ? 8 : 0) + 8
                     + (esp_suite_auth_key_len(s) ? 16 : 8);
            size_t ct_len = p.b.len - ct_off - 16;
            CHECK_EQ(ct_len % (esp_suite_auth_key_len(s) ? 16 : 4), 0);
            if (ip[0] >> 4 == 4) {
                CHECK_EQ(csum(ip, 20, 0), 0);
                CHECK_EQ(ip[9], udp ? 17 : 50);
                CHECK_EQ(ip[2] << 8 | ip[3], p.b.len);
            } else {
                CHECK_EQ(ip[6], udp ? 17 : 50);
                CHECK_EQ((ip[4] << 8 | ip[5]) + 40, p.b.len);
            }
            if (udp) {
                const uint8_t *u = ip + l3;
                CHECK_EQ(u[0] << 8 | u[1], 4500);
                CHECK_EQ(u[2] << 8 | u[3], 4500);
                CHECK_EQ(u[4] << 8 | u[5], p.b.len - l3);
                if (ip[0] >> 4 == 4) {
                    CHECK_EQ(u[6] << 8 | u[7], 0);
                } else {
                    uint32_t sum = 17 + (p.b.len - l3);
                    for (int i = 8; i < 40; i += 2) {
                        sum += ip[i] << 8 | ip[i + 1];
                    }
                    CHECK_EQ(csum(u, p.b.len - l3, sum), 0);
                }
            }
            /* Plaintext never visible past the ESP header. */
            if (sizes[k] >= 16) {
                CHECK(!memmem(ip, p.b.len, orig.buf + HEAD + 28 + 4, 12));
            }
            CHECK_EQ(decap1(sad, &p, 0), ESP_OK);
            CHECK_EQ(p.b.len, orig.b.len);
            CHECK(!memcmp(p.buf + p.b.off, orig.buf + HEAD, orig.b.len));
        }
        struct esp_sa_stats st;
        esp_sa_get_stats(in_sa, &st);
        CHECK_EQ(st.packets, sizeof sizes / sizeof sizes[0]);
        esp_sa_get_stats(out_sa, &st);
        CHECK_EQ(st.seq, c.seq + sizeof sizes / sizeof sizes[0]);
        esp_sa_destroy(out_sa);
        esp_sad_destroy(sad);
    }
    test_case = "round trips";
    /* Tunnel: 2 inner x 2 outer; transport: 2; x ESN x UDP x engine. */
    CHECK_EQ(combos, ESP_N_SUITES * (4 + 2) * 2 * 2 * 2);
}

static struct sa_cfg
gcm_cfg(void)
{
    struct sa_cfg c = {
        .suite = ESP_SUITE_AES_GCM_128, .mode = ESP_MODE_TUNNEL,
        .inner = AF_INET, .outer = AF_INET, .window = 64,
    };
    return c;
}

/* 2. Tunnel outer header: DSCP and ECN copied (RFC 6040 normal mode),
 * DF copied, TTL, IPv6 flow label from the inner flow. */
static void
test_outer_header(void)
{
    struct sa_cfg c = gcm_cfg();
    struct esp_sa *sa = make_sa(&c, ESP_DIR_OUT);
    struct pkt p;

    test_case = "outer v4";
    make_udp(&p, AF_INET, 40, 0xb8 | 2);   /* EF, ECT(0) */
    CHECK_EQ(encap1(sa, &p, 0), ESP_OK);
    CHECK_EQ(p.buf[p.b.off + 1], 0xb8 | 2);
    CHECK_EQ(p.buf[p.b.off + 6] & 0x40, 0x40);
    CHECK_EQ(p.buf[p.b.off + 8], 64);
    esp_sa_destroy(sa);

    test_case = "outer v6 from v4";
    c.outer = AF_INET6;
    sa = make_sa(&c, ESP_DIR_OUT);
    make_udp(&p, AF_INET, 40, 0x28 | 1);
    CHECK_EQ(encap1(sa, &p, 0), ESP_OK);
    const uint8_t *ip = p.buf + p.b.off;
    CHECK_EQ(ip[0] >> 4, 6);
    CHECK_EQ((ip[0] & 0xf) << 4 | ip[1] >> 4, 0x28 | 1);
    uint32_t fl = (ip[1] & 0xf) << 16 | ip[2] << 8 | ip[3];
    CHECK(fl != 0);
    /* Same flow, same label. */
    make_udp(&p, AF_INET, 80, 0);
    encap1(sa, &p, 0);
    ip = p.buf + p.b.off;
    CHECK_EQ((uint32_t) ((ip[1] & 0xf) << 16 | ip[2] << 8 | ip[3]), fl);
    esp_sa_destroy(sa);

    test_case = "df clear, dscp fixed, ecn compat";
    struct esp_sa_params prm;
    char err[128];
    c.outer = AF_INET;
    fill_params(&prm, &c, ESP_DIR_OUT);
    prm.df = ESP_DF_CLEAR;
    prm.dscp_fixed = true;
    prm.dscp = 10;
    prm.ecn = ESP_ECN_COMPAT;
    prm.ttl = 9;
    CHECK_EQ(esp_sa_create(&prm, &sa, err, sizeof err), 0);
    make_udp(&p, AF_INET, 40, 0xb8 | 3);
    CHECK_EQ(encap1(sa, &p, 0), ESP_OK);
    CHECK_EQ(p.buf[p.b.off + 1], 10 << 2);
    CHECK_EQ(p.buf[p.b.off + 6] & 0x40, 0);
    CHECK_EQ(p.buf[p.b.off + 8], 9);
    esp_sa_destroy(sa);
}

/* 3. Sequence numbers never cycle (RFC 4303 section 3.3.3). */
static void
test_seq_overflow(void)
{
    static const struct {
        bool esn;
        uint64_t seq;
        unsigned int n, ok;
    } cases[] = {
        { false, 0xfffffffdull, 5, 2 },     /* 2^32-2, 2^32-1 sent. */
        { false, 0xffffffffull, 3, 0 },
        { false, 0, 3, 3 },
        { true, 0xfffffffdull, 5, 5 },      /* ESN crosses 2^32. */
        { true, UINT64_MAX - 1, 3, 1 },
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sa_cfg c = gcm_cfg();
        struct pkt p[8];
        struct esp_buf *bp[8];
        enum esp_verdict v[8];
        char name[64];

        snprintf(name, sizeof name, "seq overflow case %zu", i);
        test_case = name;
        c.esn = cases[i].esn;
        c.seq = cases[i].seq;
        struct esp_sa *sa = make_sa(&c, ESP_DIR_OUT);
        for (unsigned int k = 0; k < cases[i].n; k++) {
            make_udp(&p[k], AF_INET, 10, 0);
            bp[k] = &p[k].b;
        }
        CHECK_EQ(esp_encap_burst(sa, bp, v, cases[i].n, 0), cases[i].ok);
        for (unsigned int k = 0; k < cases[i].n; k++) {
            CHECK_EQ(v[k], k < cases[i].ok ? ESP_OK : ESP_DROP_SEQ_OVERFLOW);
            if (k < cases[i].ok) {
                const uint8_t *esp = p[k].buf + p[k].b.off + 20;
                uint32_t s = rd32(esp + 4);
                CHECK_EQ(s, (uint32_t) (cases[i].seq + 1 + k));
            }
        }
        uint32_t ev = esp_sa_take_events(sa);
        CHECK_EQ(!!(ev & ESP_EV_SEQ_OVERFLOW), cases[i].ok < cases[i].n);
        /* Raised once: a second refused burst raises nothing new. */
        make_udp(&p[0], AF_INET, 10, 0);
        esp_encap_burst(sa, bp, v, 1, 0);
        CHECK_EQ(esp_sa_take_events(sa) & ESP_EV_SEQ_OVERFLOW, 0);
        struct esp_sa_stats st;
        esp_sa_get_stats(sa, &st);
        CHECK_EQ(st.drops[ESP_DROP_SEQ_OVERFLOW],
                 cases[i].n - cases[i].ok + (v[0] != ESP_OK));
        esp_sa_destroy(sa);
    }
}

/* 4. ESN across 2^32 end to end, and the receiver inferring high bits. */
static void
test_esn_wrap(void)
{
    struct sa_cfg c = gcm_cfg();

    test_case = "esn wrap";
    c.esn = true;
    c.seq = 0xfffffff0ull;
    c.window = 128;
    for (int s = 0; s < ESP_N_SUITES; s++) {
        c.suite = s;
        struct esp_sa *sa = make_sa(&c, ESP_DIR_OUT);
        struct esp_sad *sad = make_sad(&c, NULL);
        struct pkt keep[40];

        for (int i = 0; i < 40; i++) {
            make_udp(&keep[i], AF_INET, 33, 0);
            CHECK_EQ(encap1(sa, &keep[i], 0), ESP_OK);
        }
        /* Deliver out of order across the wrap: odd ones, then even. */
        for (int pass = 1; pass >= 0; pass--) {
            for (int i = pass; i < 40; i += 2) {
                struct pkt q = keep[i];
                q.b.base = q.buf;
                CHECK_EQ(decap1(sad, &q, 0), ESP_OK);
            }
        }
        /* Everything again: all duplicates. */
        for (int i = 0; i < 40; i++) {
            struct pkt q = keep[i];
            q.b.base = q.buf;
            CHECK_EQ(decap1(sad, &q, 0), ESP_DROP_REPLAY);
        }
        esp_sa_destroy(sa);
        esp_sad_destroy(sad);
    }
}

/* 5. Drops with named reasons and counters. */
static void
test_drops(void)
{
    struct sa_cfg c = gcm_cfg();
    struct esp_sa *sa = make_sa(&c, ESP_DIR_OUT), *in_sa;
    struct esp_sad *sad = make_sad(&c, &in_sa);
    struct esp_sa_stats st;
    uint64_t sad_drops[ESP_N_VERDICTS];
    struct pkt p, q;

    test_case = "auth: every byte after the SPI";
    make_udp(&p, AF_INET, 64, 0);
    encap1(sa, &p, 0);
    unsigned int flipped = 0;
    for (uint32_t at = 24; at < p.b.len; at++) {
        q = p;
        q.b.base = q.buf;
        q.buf[q.b.off + at] ^= 0x80;   /* Sequence 1 stays non-zero. */
        CHECK_EQ(decap1(sad, &q, 0), ESP_DROP_AUTH);
        flipped++;
    }
    esp_sa_get_stats(in_sa, &st);
    CHECK_EQ(st.drops[ESP_DROP_AUTH], flipped);
    CHECK_EQ(st.packets, 0);

    test_case = "replay and stale";
    q = p;
    q.b.base = q.buf;
    CHECK_EQ(decap1(sad, &q, 0), ESP_OK);
    q = p;
    q.b.base = q.buf;
    CHECK_EQ(decap1(sad, &q, 0), ESP_DROP_REPLAY);
    for (int i = 0; i < 70; i++) {
        make_udp(&q, AF_INET, 10, 0);
        encap1(sa, &q, 0);
        CHECK_EQ(decap1(sad, &q, 0), ESP_OK);
    }
    q = p;
    q.b.base = q.buf;
    CHECK_EQ(decap1(sad, &q, 0), ESP_DROP_STALE);
    esp_sa_get_stats(in_sa, &st);
    CHECK_EQ(st.drops[ESP_DROP_REPLAY], 1);
    CHECK_EQ(st.drops[ESP_DROP_STALE], 1);
    CHECK_EQ(st.packets, 71);
    CHECK_EQ(st.seq, 71);

    test_case = "no sa";
    make_udp(&q, AF_INET, 10, 0);
    encap1(sa, &q, 0);
    q.buf[q.b.off + 20] ^= 0x80;
    CHECK_EQ(decap1(sad, &q, 0), ESP_DROP_NO_SA);
    esp_sad_get_drops(sad, sad_drops);
    CHECK_EQ(sad_drops[ESP_DROP_NO_SA], 1);

    test_case = "encapsulation mismatch";
    {
        struct sa_cfg u = c;
        struct esp_sa *usa;
        struct pkt e;

        u.udp = true;
        usa = make_sa(&u, ESP_DIR_OUT);
        make_udp(&e, AF_INET, 10, 0);
        encap1(usa, &e, 0);
        CHECK_EQ(decap1(sad, &e, 0), ESP_DROP_ENCAP);
        esp_sa_get_stats(in_sa, &st);
        CHECK_EQ(st.drops[ESP_DROP_ENCAP], 1);
        esp_sa_destroy(usa);
    }

    test_case = "short, malformed, fragment";
    make_udp(&q, AF_INET, 10, 0);
    encap1(sa, &q, 0);
    struct pkt r = q;
    r.b.base = r.buf;
    r.b.len = 30;               /* Truncated below the IP length. */
    CHECK_EQ(decap1(sad, &r, 0), ESP_DROP_SHORT);
    r = q;
    r.b.base = r.buf;
    r.buf[r.b.off + 6] |= 0x20;  /* MF */
    CHECK_EQ(decap1(sad, &r, 0), ESP_DROP_FRAGMENT);
    r = q;
    r.b.base = r.buf;
    r.buf[r.b.off] = 0x55;
    CHECK_EQ(decap1(sad, &r, 0), ESP_DROP_MALFORMED);
    r = q;                      /* ESP too short for IV + ICV. */
    r.b.base = r.buf;
    r.buf[r.b.off + 2] = 0;
    r.buf[r.b.off + 3] = 20 + 8 + 8 + 10;
    CHECK_EQ(decap1(sad, &r, 0), ESP_DROP_SHORT);

    test_case = "nat-t keepalive and non-esp marker";
    uint8_t *ip = q.buf + HEAD;
    make_udp(&q, AF_INET, 1, 0);
    ip[9] = 17;
    ip[20 + 8] = 0xff;
    CHECK_EQ(decap1(sad, &q, 0), ESP_PASS_KEEPALIVE);
    make_udp(&q, AF_INET, 40, 0);
    memset(ip + 28, 0, 4);
    CHECK_EQ(decap1(sad, &q, 0), ESP_PASS_NON_ESP);

    test_case = "no room, wrong dir";
    make_udp(&q, AF_INET, 10, 0);
    q.b.off = 10;
    memmove(q.buf + 10, q.buf + HEAD, q.b.len);
    CHECK_EQ(encap1(sa, &q, 0), ESP_DROP_NO_ROOM);
    make_udp(&q, AF_INET, 10, 0);
    q.b.size = HEAD + q.b.len + 10;
    CHECK_EQ(encap1(sa, &q, 0), ESP_DROP_NO_ROOM);
    make_udp(&q, AF_INET, 10, 0);
    CHECK_EQ(encap1(in_sa, &q, 0), ESP_DROP_WRONG_DIR);
    esp_sa_get_stats(sa, &st);
    CHECK_EQ(st.drops[ESP_DROP_NO_ROOM], 2);

    test_case = "too big";
    {
        static uint8_t big[70000];
        struct esp_buf b = { big, sizeof big, 200, 65535 };
        struct esp_buf *bp = &b;
        enum esp_verdict v;

        memset(big, 0, sizeof big);
        big[200] = 0x45;
        big[202] = 0xff;
        big[203] = 0xff;
        esp_encap_burst(sa, &bp, &v, 1, 0);
        CHECK_EQ(v, ESP_DROP_TOO_BIG);
    }
    esp_sa_destroy(sa);
    esp_sad_destroy(sad);
}

/* Re-seals an AES-GCM-128 tunnel ESP packet after 'edit' changed its
 * plaintext (payload + trailer): a valid ICV around a bad inside. */
static void
reseal(struct pkt *p, void (*edit)(uint8_t *pt, uint32_t len))
{
    const struct esp_crypto_engine *e = &esp_crypto_openssl;
    uint8_t *esp = p->buf + p->b.off + 20;
    uint32_t ct_len = p->b.len - 20 - 8 - 8 - 16;
    struct esp_crypto_op op, *opp = &op;
    void *ctx;

    e->ctx_create(ESP_SUITE_AES_GCM_128, key_material, 16, NULL, 0, &ctx);
    memset(&op, 0, sizeof op);
    op.ctx = ctx;
    op.data = esp + 16;
    op.data_len = ct_len;
    op.aad = esp;
    op.aad_len = 8;
    op.icv = esp + 16 + ct_len;
    memcpy(op.nonce, key_material + 16, 4);
    memcpy(op.nonce + 4, esp + 8, 8);
    e->decrypt_burst(&opp, 1);
    CHECK_EQ(op.status, 0);
    edit(op.data, ct_len);
    e->encrypt_burst(&opp, 1);
    CHECK_EQ(op.status, 0);
    e->ctx_destroy(ctx);
}

static void
bad_pad(uint8_t *pt, uint32_t len)
{
    pt[len - 2] = 2;            /* Claims 2 pad bytes... */
    pt[len - 3] = 7;            /* ...that are not 1, 2. */
}

static void
dummy(uint8_t *pt, uint32_t len)
{
    pt[len - 1] = 59;
}

static void
bad_next(uint8_t *pt, uint32_t len)
{
    pt[len - 1] = 6;
}

static void
pad_too_long(uint8_t *pt, uint32_t len)
{
    pt[len - 2] = 250;
}

/* 6. Trailer checks behind a valid ICV. */
static void
test_trailer(void)
{
    static const struct {
        const char *name;
        void (*edit)(uint8_t *, uint32_t);
        enum esp_verdict v;
    } cases[] = {
        { "bad pad bytes", bad_pad, ESP_DROP_PAD },
        { "pad longer than payload", pad_too_long, ESP_DROP_PAD },
        { "dummy packet", dummy, ESP_DROP_DUMMY },
        { "next header tcp in tunnel mode", bad_next,
          ESP_DROP_NEXT_HEADER },
    };
    struct sa_cfg c = gcm_cfg();

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct esp_sa *sa = make_sa(&c, ESP_DIR_OUT), *in_sa;
        struct esp_sad *sad = make_sad(&c, &in_sa);
        struct esp_sa_stats st;
        struct pkt p;

        test_case = cases[i].name;
        make_udp(&p, AF_INET, 7, 0);  /* 35 + 2 -> 3 pad bytes. */
        encap1(sa, &p, 0);
        reseal(&p, cases[i].edit);
        CHECK_EQ(decap1(sad, &p, 0), cases[i].v);
        esp_sa_get_stats(in_sa, &st);
        CHECK_EQ(st.drops[cases[i].v], 1);
        esp_sa_destroy(sa);
        esp_sad_destroy(sad);
    }
}

/* 7. Lifetimes: soft raises an event once, hard refuses. */
static void
test_lifetimes(void)
{
    struct sa_cfg c = gcm_cfg();
    struct esp_sa_params prm;
    struct esp_sa *sa;
    char err[128];
    struct pkt p;

    test_case = "packet lifetimes out";
    fill_params(&prm, &c, ESP_DIR_OUT);
    prm.soft.packets = 5;
    prm.hard.packets = 8;
    CHECK_EQ(esp_sa_create(&prm, &sa, err, sizeof err), 0);
    for (int i = 1; i <= 10; i++) {
        make_udp(&p, AF_INET, 10, 0);
        CHECK_EQ(encap1(sa, &p, 0), i <= 8 ? ESP_OK : ESP_DROP_LIFETIME);
        uint32_t ev = esp_sa_take_events(sa);
        CHECK_EQ(!!(ev & ESP_EV_SOFT_EXPIRED), i == 5);
        CHECK_EQ(!!(ev & ESP_EV_HARD_EXPIRED), i == 9);
    }
    esp_sa_destroy(sa);

    test_case = "byte lifetimes out, in one burst";
    fill_params(&prm, &c, ESP_DIR_OUT);
    prm.hard.bytes = 3 * 46 + 1;    /* 4 packets of 46 bytes fit. */
    CHECK_EQ(esp_sa_create(&prm, &sa, err, sizeof err), 0);
    {
        struct pkt q[6];
        struct esp_buf *bp[6];
        enum esp_verdict v[6];

        for (int i = 0; i < 6; i++) {
            make_udp(&q[i], AF_INET, 18, 0);
            bp[i] = &q[i].b;
        }
        CHECK_EQ(esp_encap_burst(sa, bp, v, 6, 0), 4);
        CHECK_EQ(v[4], ESP_DROP_LIFETIME);
        CHECK(esp_sa_take_events(sa) & ESP_EV_HARD_EXPIRED);
    }
    esp_sa_destroy(sa);

    test_case = "time lifetimes, inbound";
    struct esp_sa *out;
    fill_params(&prm, &c, ESP_DIR_OUT);
    CHECK_EQ(esp_sa_create(&prm, &out, err, sizeof err), 0);
    fill_params(&prm, &c, ESP_DIR_IN);
    prm.now = 1000;
    prm.soft.seconds = 10;
    prm.hard.seconds = 20;
    CHECK_EQ(esp_sa_create(&prm, &sa, err, sizeof err), 0);
    struct esp_sad *sad = esp_sad_create();
    CHECK_EQ(esp_sad_add(sad, sa), 0);
    make_udp(&p, AF_INET, 10, 0);
    encap1(out, &p, 0);
    CHECK_EQ(decap1(sad, &p, 1005), ESP_OK);
    CHECK_EQ(esp_sa_take_events(sa), 0);
    esp_sa_tick(sa, 1010);
    CHECK_EQ(esp_sa_take_events(sa), ESP_EV_SOFT_EXPIRED);
    make_udp(&p, AF_INET, 10, 0);
    encap1(out, &p, 0);
    CHECK_EQ(decap1(sad, &p, 1019), ESP_OK);
    make_udp(&p, AF_INET, 10, 0);
    encap1(out, &p, 0);
    CHECK_EQ(decap1(sad, &p, 1020), ESP_DROP_LIFETIME);
    CHECK_EQ(esp_sa_take_events(sa), ESP_EV_HARD_EXPIRED);
    esp_sa_destroy(out);
    esp_sad_destroy(sad);
}

static void
set_sel(struct esp_selector *s, const char *src, int splen, const char *dst,
        int dplen, uint8_t proto, uint16_t dlo, uint16_t dhi)
{
    memset(s, 0, sizeof *s);
    if (src) {
        set_addr(&s->src, src);
        s->src_plen = splen;
    }
    if (dst) {
        set_addr(&s->dst, dst);
        s->dst_plen = dplen;
    }
    s->proto = proto;
    s->dport_lo = dlo;
    s->dport_hi = dhi;
}

/* 8. Selectors (RFC 4301 section 5.2 inbound check, fail closed). */
static void
test_selectors(void)
{
    static const struct {
        const char *src;
        int splen;
        const char *dst;
        int dplen;
        uint8_t proto;
        uint16_t dlo, dhi;
        bool match;
    } cases[] = {
        { "10.0.0.0", 24, "10.0.1.0", 24, 0, 0, 0, true },
        { "10.0.0.0", 24, "10.0.2.0", 24, 0, 0, 0, false },
        { "10.0.0.1", 32, NULL, 0, 17, 0, 0, true },
        { "10.0.0.1", 32, NULL, 0, 6, 0, 0, false },
        { NULL, 0, NULL, 0, 17, 2000, 2000, true },
        { NULL, 0, NULL, 0, 17, 2001, 3000, false },
        { NULL, 0, "10.0.1.2", 31, 17, 1, 65535, true },
        { "0.0.0.0", 0, "0.0.0.0", 0, 0, 0, 0, true },
        { "fd00::", 8, NULL, 0, 0, 0, 0, false },     /* Wrong family. */
        { "10.0.0.0", 25, "10.0.1.0", 23, 0, 0, 0, true },
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sa_cfg c = gcm_cfg();
        struct esp_sa_params prm;
        struct esp_sa *out, *in;
        struct esp_sad *sad = esp_sad_create();
        char err[128], name[40];
        struct pkt p;

        snprintf(name, sizeof name, "selector case %zu", i);
        test_case = name;
        fill_params(&prm, &c, ESP_DIR_OUT);
        CHECK_EQ(esp_sa_create(&prm, &out, err, sizeof err), 0);
        fill_params(&prm, &c, ESP_DIR_IN);
        set_sel(&prm.sel[0], cases[i].src, cases[i].splen, cases[i].dst,
                cases[i].dplen, cases[i].proto, cases[i].dlo, cases[i].dhi);
        prm.n_sel = 1;
        CHECK_EQ(esp_sa_create(&prm, &in, err, sizeof err), 0);
        esp_sad_add(sad, in);
        make_udp(&p, AF_INET, 10, 0);
        CHECK_EQ(esp_sa_match(in, p.buf + HEAD, p.b.len), cases[i].match);
        encap1(out, &p, 0);
        CHECK_EQ(decap1(sad, &p, 0),
                 cases[i].match ? ESP_OK : ESP_DROP_SELECTOR);
        esp_sa_destroy(out);
        esp_sad_destroy(sad);
    }
}

/* 9. RFC 6040 decapsulation: outer CE onto the inner header. */
static void
test_ecn_decap(void)
{
    static const struct {
        uint8_t inner, outer, result;
        bool drop;
    } cases[] = {
        { 0, 0, 0, false }, { 0, 3, 0, true }, { 2, 3, 3, false },
        { 1, 3, 3, false }, { 2, 1, 1, false }, { 1, 2, 1, false },
        { 3, 0, 3, false }, { 2, 2, 2, false },
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sa_cfg c = gcm_cfg();
        struct esp_sa *out = make_sa(&c, ESP_DIR_OUT);
        struct esp_sad *sad = make_sad(&c, NULL);
        char name[40];
        struct pkt p;

        snprintf(name, sizeof name, "ecn case %zu", i);
        test_case = name;
        make_udp(&p, AF_INET, 10, cases[i].inner);
        encap1(out, &p, 0);
        uint8_t *ip = p.buf + p.b.off;
        ip[1] = (ip[1] & ~3) | cases[i].outer;     /* Not covered by ICV. */
        CHECK_EQ(decap1(sad, &p, 0),
                 cases[i].drop ? ESP_DROP_ECN : ESP_OK);
        if (!cases[i].drop) {
            CHECK_EQ(p.buf[p.b.off + 1] & 3, cases[i].result);
            CHECK_EQ(csum(p.buf + p.b.off, 20, 0), 0);
        }
        esp_sa_destroy(out);
        esp_sad_destroy(sad);
    }
}

/* 10. Control-plane errors name the field and create nothing. */
static void
test_errors(void)
{
    struct sa_cfg c = gcm_cfg();
    struct esp_sa_params prm;
    struct esp_sa *sa = (void *) 1;
    char err[160];

    test_case = "short key";
    fill_params(&prm, &c, ESP_DIR_OUT);
    prm.key_len = 16;
    CHECK_EQ(esp_sa_create(&prm, &sa, err, sizeof err), EINVAL);
    CHECK(sa == NULL);
    CHECK(strstr(err, "key: aes-gcm-128 needs 20 bytes") != NULL);

    test_case = "reserved spi";
    fill_params(&prm, &c, ESP_DIR_OUT);
    prm.spi = 255;
    CHECK_EQ(esp_sa_create(&prm, &sa, err, sizeof err), EINVAL);
    CHECK(strstr(err, "spi 0x000000ff") != NULL);

    test_case = "window too big";
    fill_params(&prm, &c, ESP_DIR_IN);
    prm.replay_window = ESP_REPLAY_WINDOW_MAX + 1;
    CHECK_EQ(esp_sa_create(&prm, &sa, err, sizeof err), EINVAL);
    CHECK(strstr(err, "replay-window") != NULL);

    test_case = "cbc without auth key";
    c.suite = ESP_SUITE_AES_CBC_128_HMAC_SHA256;
    fill_params(&prm, &c, ESP_DIR_OUT);
    prm.auth_key = NULL;
    CHECK_EQ(esp_sa_create(&prm, &sa, err, sizeof err), EINVAL);
    CHECK(strstr(err, "auth-key") != NULL);

    test_case = "tunnel without endpoints";
    c = gcm_cfg();
    fill_params(&prm, &c, ESP_DIR_OUT);
    prm.src.family = 0;
    CHECK_EQ(esp_sa_create(&prm, &sa, err, sizeof err), EINVAL);

    test_case = "seq over 32 bits without esn";
    fill_params(&prm, &c, ESP_DIR_OUT);
    prm.seq = 1ull << 32;
    CHECK_EQ(esp_sa_create(&prm, &sa, err, sizeof err), EINVAL);

    test_case = "sad: duplicate spi, outbound sa";
    struct esp_sad *sad = esp_sad_create();
    struct esp_sa *a = make_sa(&c, ESP_DIR_IN), *b = make_sa(&c, ESP_DIR_IN);
    struct esp_sa *o = make_sa(&c, ESP_DIR_OUT);
    CHECK_EQ(esp_sad_add(sad, a), 0);
    CHECK_EQ(esp_sad_add(sad, b), EEXIST);
    CHECK_EQ(esp_sad_add(sad, o), EINVAL);
    CHECK(esp_sad_lookup(sad, 0x1234abcd, NULL) == a);
    CHECK(esp_sad_remove(sad, 0x1234abcd, NULL) == a);
    CHECK(esp_sad_lookup(sad, 0x1234abcd, NULL) == NULL);
    CHECK_EQ(esp_sad_add(sad, b), 0);
    esp_sa_destroy(a);
    esp_sa_destroy(o);
    esp_sad_destroy(sad);
}

/* 11. Threads: two encapsulating on one SA get unique sequence numbers;
 * two decapsulating the same packets accept each exactly once. */
enum { THREAD_PKTS = 4096 };
static struct pkt *thread_pkts;

struct thread_arg {
    struct esp_sa *sa;
    struct esp_sad *sad;
    int first;
    unsigned int ok;
};

static void *
encap_thread(void *arg_)
{
    struct thread_arg *arg = arg_;

    for (int i = arg->first; i < THREAD_PKTS; i += 2 * 32) {
        struct esp_buf *bp[32];
        enum esp_verdict v[32];

        for (int k = 0; k < 32; k++) {
            make_udp(&thread_pkts[i + k], AF_INET, 20, 0);
            bp[k] = &thread_pkts[i + k].b;
        }
        arg->ok += esp_encap_burst(arg->sa, bp, v, 32, 0);
    }
    return NULL;
}

static void *
decap_thread(void *arg_)
{
    struct thread_arg *arg = arg_;
    static struct pkt copies[2][32];
    int t = arg->first;

    for (int i = 0; i < THREAD_PKTS; i += 32) {
        struct esp_buf *bp[32];
        enum esp_verdict v[32];

        for (int k = 0; k < 32; k++) {
            copies[t][k] = thread_pkts[i + k];
            copies[t][k].b.base = copies[t][k].buf;
            bp[k] = &copies[t][k].b;
        }
        arg->ok += esp_decap_burst(arg->sad, bp, v, NULL, 32, 0);
    }
    return NULL;
}

static void
test_threads(void)
{
    struct sa_cfg c = gcm_cfg();
    struct esp_sa *sa = make_sa(&c, ESP_DIR_OUT), *in_sa;
    struct thread_arg args[2] = { { .sa = sa, .first = 0 },
                                  { .sa = sa, .first = 32 } };
    pthread_t th[2];
    static uint8_t seen[THREAD_PKTS + 1];

    test_case = "threads";
    c.window = 4096;
    struct esp_sad *sad = make_sad(&c, &in_sa);
    thread_pkts = calloc(THREAD_PKTS, sizeof *thread_pkts);
    for (int t = 0; t < 2; t++) {
        pthread_create(&th[t], NULL, encap_thread, &args[t]);
    }
    for (int t = 0; t < 2; t++) {
        pthread_join(th[t], NULL);
    }
    CHECK_EQ(args[0].ok + args[1].ok, THREAD_PKTS);
    memset(seen, 0, sizeof seen);
    unsigned int unique = 0;
    for (int i = 0; i < THREAD_PKTS; i++) {
        const uint8_t *esp = thread_pkts[i].buf + thread_pkts[i].b.off + 20;
        uint32_t s = rd32(esp + 4);
        if (s >= 1 && s <= THREAD_PKTS && !seen[s]++) {
            unique++;
        }
    }
    CHECK_EQ(unique, THREAD_PKTS);

    struct thread_arg dargs[2] = { { .sad = sad, .first = 0 },
                                   { .sad = sad, .first = 1 } };
    for (int t = 0; t < 2; t++) {
        pthread_create(&th[t], NULL, decap_thread, &dargs[t]);
    }
    for (int t = 0; t < 2; t++) {
        pthread_join(th[t], NULL);
    }
    /* Packets of one thread may arrive after the window moved on (stale)
     * but no packet may be accepted twice. */
    struct esp_sa_stats st;
    esp_sa_get_stats(in_sa, &st);
    CHECK(dargs[0].ok + dargs[1].ok <= THREAD_PKTS);
    CHECK_EQ(st.packets, dargs[0].ok + dargs[1].ok);
    CHECK_EQ(st.packets + st.drops[ESP_DROP_REPLAY]
             + st.drops[ESP_DROP_STALE], 2 * THREAD_PKTS);
    CHECK(st.packets >= THREAD_PKTS * 9 / 10);
    free(thread_pkts);
    esp_sa_destroy(sa);
    esp_sad_destroy(sad);
}

/* 12. One burst mixing SAs, an unknown SPI and two engines: each packet
 * finds its own SA (the lookup reused for runs of one SA must not leak
 * into the next packet). */
static void
test_mixed_burst(void)
{
    struct sa_cfg a = gcm_cfg(), b = gcm_cfg();
    struct esp_sa_params prm;
    struct esp_sa *out_a, *out_b, *out_x, *in_a, *in_b;
    struct esp_sad *sad = esp_sad_create();
    static const char pattern[] = "aabxbbaxab";
    enum { N = sizeof pattern - 1 };
    struct pkt p[N];
    struct esp_buf *bp[N];
    struct esp_sa *sas[N];
    enum esp_verdict v[N];
    char err[128];

    test_case = "mixed burst";
    b.suite = ESP_SUITE_CHACHA20_POLY1305;
    b.engine = &esp_crypto_openssl;
    out_a = make_sa(&a, ESP_DIR_OUT);
    fill_params(&prm, &b, ESP_DIR_OUT);
    prm.spi = 0x2000;
    CHECK_EQ(esp_sa_create(&prm, &out_b, err, sizeof err), 0);
    prm.spi = 0x3000;           /* Nobody receives this one. */
    CHECK_EQ(esp_sa_create(&prm, &out_x, err, sizeof err), 0);
    in_a = make_sa(&a, ESP_DIR_IN);
    fill_params(&prm, &b, ESP_DIR_IN);
    prm.spi = 0x2000;
    CHECK_EQ(esp_sa_create(&prm, &in_b, err, sizeof err), 0);
    CHECK_EQ(esp_sad_add(sad, in_a), 0);
    CHECK_EQ(esp_sad_add(sad, in_b), 0);
    for (int i = 0; i < N; i++) {
        struct esp_sa *o = pattern[i] == 'a' ? out_a
                           : pattern[i] == 'b' ? out_b : out_x;

        make_udp(&p[i], AF_INET, 20 + i, 0);
        CHECK_EQ(encap1(o, &p[i], 0), ESP_OK);
        bp[i] = &p[i].b;
    }
    CHECK_EQ(esp_decap_burst(sad, bp, v, sas, N, 0), 8);
    for (int i = 0; i < N; i++) {
        if (v[i] != (pattern[i] == 'x' ? ESP_DROP_NO_SA : ESP_OK)) {
            printf("  packet %d (%c): %s\n", i, pattern[i],
                   esp_verdict_name(v[i]));
        }
        CHECK_EQ(v[i], pattern[i] == 'x' ? ESP_DROP_NO_SA : ESP_OK);
        CHECK(sas[i] == (pattern[i] == 'a' ? in_a
                         : pattern[i] == 'b' ? in_b : NULL));
        if (v[i] == ESP_OK) {
            CHECK_EQ(p[i].b.len, 20 + 8 + 20 + i);
        }
    }
    struct esp_sa_stats st;
    esp_sa_get_stats(in_a, &st);
    CHECK_EQ(st.packets, 4);
    esp_sa_get_stats(in_b, &st);
    CHECK_EQ(st.packets, 4);
    esp_sa_destroy(out_a);
    esp_sa_destroy(out_b);
    esp_sa_destroy(out_x);
    esp_sad_destroy(sad);
}

/* 13. Inline crypto (esp.h): what the NIC gets, and what it hands back. */

static void
wr32(uint8_t *p, uint32_t v)
{
    p[0] = v >> 24;
    p[1] = v >> 16;
    p[2] = v >> 8;
    p[3] = v;
}

static const uint8_t test_iv[16] = {
    0xf0, 0xe1, 0xd2, 0xc3, 0xb4, 0xa5, 0x96, 0x87,
    0x78, 0x69, 0x5a, 0x4b, 0x3c, 0x2d, 0x1e, 0x0f,
};

static struct esp_sa *
make_out_sa(const struct sa_cfg *c, bool inl, bool fixed_iv)
{
    struct esp_sa_params p;
    struct esp_sa *sa;
    char err[128];

    fill_params(&p, c, ESP_DIR_OUT);
    p.inline_crypto = inl;
    if (fixed_iv) {
        p.iv = test_iv;
        p.iv_len = esp_suite_auth_key_len(c->suite) ? 16 : 8;
    }
    if (esp_sa_create(&p, &sa, err, sizeof err)) {
        printf("esp_sa_create: %s\n", err);
        return NULL;
    }
    return sa;
}

/* What the NIC does on TX, done here with the engine from the metadata
 * alone: encrypt data_off..+data_len, ICV at icv_off, UDP checksum over
 * IPv6. */
static int
nic_encrypt(const struct esp_crypto_engine *eng, enum esp_suite suite,
            bool esn, uint8_t *ip, uint32_t len,
            const struct esp_inline_md *md)
{
    size_t klen = esp_suite_key_len(suite);
    bool aead = !esp_suite_auth_key_len(suite);
    struct esp_crypto_op op, *opp = &op;
    uint8_t *esp = ip + md->esp_off, aad[12];
    void *ctx;
    int error;

    error = eng->ctx_create(suite, key_material, aead ? klen - 4 : klen,
                            aead ? NULL : auth_key, aead ? 0 : 32, &ctx);
    if (error) {
        return error;
    }
    memset(&op, 0, sizeof op);
    op.ctx = ctx;
    op.data = ip + md->data_off;
    op.data_len = md->data_len;
    op.icv = ip + md->icv_off;
    if (aead) {
        memcpy(op.nonce, key_material + klen - 4, 4);
        memcpy(op.nonce + 4, esp + 8, 8);
        wr32(aad, md->spi);
        if (esn) {
            wr32(aad + 4, md->seq >> 32);
        }
        wr32(aad + (esn ? 8 : 4), md->seq);
        op.aad = aad;
        op.aad_len = esn ? 12 : 8;
    } else {
        memcpy(op.iv, esp + 8, 16);
        op.auth = esp;
        op.auth_len = 8 + 16 + md->data_len;
        if (esn) {
            wr32(op.icv, md->seq >> 32);
            op.auth_len += 4;
        }
    }
    eng->encrypt_burst(&opp, 1);
    eng->ctx_destroy(ctx);
    if (!op.status && ip[0] >> 4 == 6 && ip[6] == 17) {
        uint8_t *u = ip + 40;
        uint32_t sum = 17 + (len - 40);
        uint16_t c;

        for (int i = 8; i < 40; i += 2) {
            sum += ip[i] << 8 | ip[i + 1];
        }
        u[6] = u[7] = 0;
        c = csum(u, len - 40, sum);
        if (!c) {
            c = 0xffff;
        }
        u[6] = c >> 8;
        u[7] = c;
    }
    return op.status;
}

static enum esp_verdict
decap1_flags(struct esp_sad *sad, struct pkt *p, uint8_t flags)
{
    struct esp_buf *bp = &p->b;
    enum esp_verdict v;

    esp_decap_burst_ex(sad, &bp, &flags, &v, NULL, 1, 0);
    return v;
}

/* Inline encap + the NIC's encryption == software encap, byte for byte,
 * over every suite, mode, family, ESN and encapsulation; the packet the
 * NIC hands back decrypted decaps in an inline SA, the flags' paths. */
static void
test_inline_encap(void)
{
    static const int fams[] = { AF_INET, AF_INET6 };
    static const size_t sizes[] = { 0, 1, 3, 17, 100, 1400 };
    unsigned int combos = 0;

    for (int s = 0; s < ESP_N_SUITES; s++)
    for (int m = 0; m < 2; m++)
    for (int in = 0; in < 2; in++)
    for (int out = 0; out < 2; out++)
    for (int esn = 0; esn < 2; esn++)
    for (int udp = 0; udp < 2; udp++) {
        bool cbc = esp_suite_auth_key_len(s) != 0;
        struct sa_cfg c = {
            .suite = s, .mode = m ? ESP_MODE_TRANSPORT : ESP_MODE_TUNNEL,
            .inner = fams[in], .outer = fams[out], .esn = esn, .udp = udp,
            .seq = esn ? 0x1fffffff0ull : 0, .window = 64,
        };
        struct esp_sa *sw_sa, *inl_sa, *in_sa;
        struct esp_sad *sad;
        char name[160];

        if (c.mode == ESP_MODE_TRANSPORT && out) {
            continue;
        }
        snprintf(name, sizeof name, "inline %s %s in%d out%d esn%d udp%d",
                 esp_suite_name(s), m ? "transport" : "tunnel",
                 fams[in] == AF_INET ? 4 : 6, fams[out] == AF_INET ? 4 : 6,
                 esn, udp);
        test_case = name;
        /* CBC: the software IV is AES_K(seq), the inline one random; the
         * testing IV makes them equal. */
        sw_sa = make_out_sa(&c, false, cbc);
        inl_sa = make_out_sa(&c, true, cbc);
        sad = esp_sad_create();
        {
            struct esp_sa_params p;
            char err[128];

            fill_params(&p, &c, ESP_DIR_IN);
            p.inline_crypto = true;
            CHECK_EQ(esp_sa_create(&p, &in_sa, err, sizeof err), 0);
            CHECK_EQ(esp_sad_add(sad, in_sa), 0);
        }
        CHECK(sw_sa && inl_sa);
        if (!sw_sa || !inl_sa) {
            continue;
        }
        CHECK(esp_sa_inline_crypto(inl_sa));
        CHECK(!esp_sa_inline_crypto(sw_sa));
        combos++;
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            struct pkt orig, sw, inl, plain;
            struct esp_inline_md md, sw_md;
            struct esp_buf *bp;
            enum esp_verdict v;

            make_udp(&orig, fams[in], sizes[k], 0);
            sw = inl = orig;
            sw.b.base = sw.buf;
            inl.b.base = inl.buf;
            memset(&md, 0xa5, sizeof md);
            memset(&sw_md, 0xa5, sizeof sw_md);
            bp = &sw.b;
            CHECK_EQ(esp_encap_burst_ex(sw_sa, &bp, &v, &sw_md, 1, 0), 1);
            bp = &inl.b;
            CHECK_EQ(esp_encap_burst_ex(inl_sa, &bp, &v, &md, 1, 0), 1);
            CHECK_EQ(v, ESP_OK);
            CHECK_EQ(inl.b.off, sw.b.off);
            CHECK_EQ(inl.b.len, sw.b.len);
            CHECK(!memcmp(&md, &sw_md, sizeof md));

            uint8_t *ip = inl.buf + inl.b.off;
            CHECK_EQ(md.spi, 0x1234abcd);
            CHECK_EQ(md.seq, c.seq + 1 + k);
            CHECK_EQ(rd32(ip + md.esp_off), 0x1234abcd);
            CHECK_EQ(rd32(ip + md.esp_off + 4), (uint32_t) (c.seq + 1 + k));
            CHECK_EQ(md.data_off, md.esp_off + 8 + (cbc ? 16 : 8));
            CHECK_EQ(md.icv_off, md.data_off + md.data_len);
            CHECK_EQ(md.icv_off + 16, inl.b.len);
            CHECK_EQ(md.data_len % (cbc ? 16 : 4), 0);
            /* In clear: the inner packet (tunnel) or its payload, the
             * trailer; a zero ICV. */
            if (c.mode == ESP_MODE_TUNNEL) {
                CHECK(!memcmp(ip + md.data_off, orig.buf + HEAD,
                              orig.b.len));
            }
            CHECK_EQ(ip[md.icv_off - 2], md.pad_len);
            for (unsigned int j = 0; j < md.pad_len; j++) {
                CHECK_EQ(ip[md.data_off + md.data_len - 2 - md.pad_len + j],
                         j + 1);
            }
            static const uint8_t zero[16];
            CHECK(!memcmp(ip + md.icv_off, zero, 16));

            plain = inl;
            plain.b.base = plain.buf;
            CHECK_EQ(nic_encrypt(k & 1 ? &esp_crypto_openssl
                                       : &esp_crypto_ipsecmb,
                                 s, esn, ip, inl.b.len, &md), 0);
            CHECK(!memcmp(inl.buf + inl.b.off, sw.buf + sw.b.off,
                          sw.b.len));

            /* RX: what the NIC leaves after decrypting is the inline
             * packet with any ICV.  Alternate NIC and software. */
            memcpy(plain.buf + plain.b.off + md.icv_off,
                   sw.buf + sw.b.off + md.icv_off, 16);
            if (k & 1) {
                CHECK_EQ(decap1(sad, &sw, 0), ESP_OK);
                CHECK_EQ(sw.b.len, orig.b.len);
                CHECK(!memcmp(sw.buf + sw.b.off, orig.buf + HEAD,
                              orig.b.len));
                /* The NIC's copy of the same sequence number: replay. */
                CHECK_EQ(decap1_flags(sad, &plain, ESP_RX_CRYPTO_DONE),
                         ESP_DROP_REPLAY);
            } else {
                CHECK_EQ(decap1_flags(sad, &plain, ESP_RX_CRYPTO_DONE),
                         ESP_OK);
                CHECK_EQ(plain.b.len, orig.b.len);
                CHECK(!memcmp(plain.buf + plain.b.off, orig.buf + HEAD,
                              orig.b.len));
                CHECK_EQ(decap1(sad, &sw, 0), ESP_DROP_REPLAY);
            }
        }
        struct esp_sa_stats st;
        size_t n = sizeof sizes / sizeof sizes[0];

        esp_sa_get_stats(in_sa, &st);
        CHECK_EQ(st.packets, n);
        CHECK_EQ(st.offload_sw, n / 2);
        CHECK_EQ(st.drops[ESP_DROP_REPLAY], n);
        esp_sa_get_stats(inl_sa, &st);
        CHECK_EQ(st.packets, n);
        CHECK_EQ(st.seq, c.seq + n);
        esp_sa_destroy(sw_sa);
        esp_sa_destroy(inl_sa);
        esp_sad_destroy(sad);
    }
    test_case = "inline encap";
    CHECK_EQ(combos, ESP_N_SUITES * (4 + 2) * 2 * 2);
}

/* Declared in crypto-ipsecmb.c (testing only): 0 default, 1 single jobs,
 * 2 burst jobs. */
void esp_crypto_ipsecmb_set_submit(int mode);

/* ipsec-mb without derive_iv: an engine that cannot derive IVs. */
static struct esp_crypto_engine mb_no_derive;

/* Inline CBC without a testing IV: the IV is AES_K(seq), derived by the
 * engine exactly as the software path does (esp-out.c), so inline encap
 * + the NIC's encryption equals software encap byte for byte, across
 * engines and both ipsec-mb paths (AES-NI and ECB jobs).  An engine
 * without derive_iv falls back to random IVs that still decap. */
static void
test_inline_cbc_iv(void)
{
    static const enum esp_suite suites[] = {
        ESP_SUITE_AES_CBC_128_HMAC_SHA256, ESP_SUITE_AES_CBC_256_HMAC_SHA256,
    };
    static const struct {
        const struct esp_crypto_engine *inl, *sw;
        int submit;
    } engs[] = {
        { &esp_crypto_ipsecmb, &esp_crypto_openssl, 0 },
        { &esp_crypto_ipsecmb, &esp_crypto_openssl, 1 },
        { &esp_crypto_ipsecmb, &esp_crypto_openssl, 2 },
        { &esp_crypto_openssl, &esp_crypto_ipsecmb, 0 },
        { &mb_no_derive, &esp_crypto_ipsecmb, 0 },
    };
    enum { N = 40 };

    mb_no_derive = esp_crypto_ipsecmb;
    mb_no_derive.name = "ipsec-mb-no-derive";
    mb_no_derive.derive_iv = NULL;
    CHECK(esp_crypto_ipsecmb.derive_iv && esp_crypto_openssl.derive_iv);
    for (size_t si = 0; si < sizeof suites / sizeof suites[0]; si++)
    for (size_t e = 0; e < sizeof engs / sizeof engs[0]; e++)
    for (int m = 0; m < 2; m++) {
        bool random_iv = engs[e].inl == &mb_no_derive;
        struct sa_cfg c = {
            .suite = suites[si],
            .mode = m ? ESP_MODE_TRANSPORT : ESP_MODE_TUNNEL,
            .inner = AF_INET, .outer = AF_INET, .esn = m, .window = 64,
            .seq = m ? 0xfffffff0ull : 0,
        };
        static struct pkt orig[N], sw[N], inl[N];
        struct esp_buf *sw_b[N], *inl_b[N];
        enum esp_verdict v[N];
        struct esp_inline_md md[N];
        struct esp_sa *sw_sa, *inl_sa, *in_sa;
        struct esp_sad *sad;
        char name[120];

        snprintf(name, sizeof name, "inline cbc iv %s %s submit %d %s",
                 esp_suite_name(suites[si]), engs[e].inl->name,
                 engs[e].submit, m ? "transport esn" : "tunnel");
        test_case = name;
        esp_crypto_ipsecmb_set_submit(engs[e].submit);
        c.engine = engs[e].sw;
        sw_sa = make_out_sa(&c, false, false);
        c.engine = engs[e].inl;
        inl_sa = make_out_sa(&c, true, false);
        sad = make_sad(&c, &in_sa);
        CHECK(sw_sa && inl_sa);
        if (!sw_sa || !inl_sa) {
            esp_sad_destroy(sad);
            continue;
        }
        for (int i = 0; i < N; i++) {
            make_udp(&orig[i], AF_INET, i * 13, 0);
            sw[i] = inl[i] = orig[i];
            sw[i].b.base = sw[i].buf;
            inl[i].b.base = inl[i].buf;
            sw_b[i] = &sw[i].b;
            inl_b[i] = &inl[i].b;
        }
        CHECK_EQ(esp_encap_burst(sw_sa, sw_b, v, N, 0), N);
        CHECK_EQ(esp_encap_burst_ex(inl_sa, inl_b, v, md, N, 0), N);
        for (int i = 0; i < N; i++) {
            uint8_t *ip = inl[i].buf + inl[i].b.off;
            const uint8_t *sw_ip = sw[i].buf + sw[i].b.off;
            const uint8_t *iv = ip + md[i].esp_off + 8;

            CHECK_EQ(v[i], ESP_OK);
            /* The IV differs from the previous packet's. */
            if (i) {
                const uint8_t *prev = inl[i - 1].buf + inl[i - 1].b.off
                                      + md[i - 1].esp_off + 8;

                CHECK(memcmp(iv, prev, 16));
            }
            CHECK_EQ(!memcmp(iv, sw_ip + md[i].esp_off + 8, 16),
                     !random_iv);
            CHECK_EQ(nic_encrypt(&esp_crypto_openssl, c.suite, c.esn, ip,
                                 inl[i].b.len, &md[i]), 0);
            CHECK_EQ(inl[i].b.len, sw[i].b.len);
            if (!random_iv) {
                CHECK(!memcmp(ip, sw_ip, sw[i].b.len));
            }
            CHECK_EQ(decap1(sad, &inl[i], 0), ESP_OK);
            CHECK_EQ(inl[i].b.len, orig[i].b.len);
            CHECK(!memcmp(inl[i].buf + inl[i].b.off, orig[i].buf + HEAD,
                          orig[i].b.len));
        }
        esp_sa_destroy(sw_sa);
        esp_sa_destroy(inl_sa);
        esp_sad_destroy(sad);
    }
    esp_crypto_ipsecmb_set_submit(0);
}

/* The ESP_RX_* flags on the inbound path, table-driven. */
static void
test_inline_decap_flags(void)
{
    enum pkt_kind {
        CIPHER,                 /* As on the wire. */
        PLAIN,                  /* As the NIC leaves it decrypted. */
        PLAIN_BAD_PAD,          /* Decrypted, a padding byte wrong. */
    };
    static const struct {
        const char *name;
        bool inline_sa;
        enum pkt_kind kind;
        uint8_t flags;
        enum esp_verdict v;
        bool sw;                /* Counted in offload_sw. */
    } cases[] = {
        { "done", true, PLAIN, ESP_RX_CRYPTO_DONE, ESP_OK, false },
        { "not touched: software", true, CIPHER, 0, ESP_OK, true },
        { "failed", true, CIPHER, ESP_RX_CRYPTO_FAILED,
          ESP_DROP_OFFLOAD_AUTH, false },
        { "failed and done", true, PLAIN,
          ESP_RX_CRYPTO_FAILED | ESP_RX_CRYPTO_DONE,
          ESP_DROP_OFFLOAD_AUTH, false },
        { "done on a software SA", false, PLAIN, ESP_RX_CRYPTO_DONE,
          ESP_DROP_OFFLOAD_MISMATCH, false },
        { "failed on a software SA", false, CIPHER, ESP_RX_CRYPTO_FAILED,
          ESP_DROP_OFFLOAD_AUTH, false },
        { "software SA, no flags", false, CIPHER, 0, ESP_OK, false },
        { "done, bad padding", true, PLAIN_BAD_PAD, ESP_RX_CRYPTO_DONE,
          ESP_DROP_PAD, false },
        { "done but really ciphertext", true, CIPHER, ESP_RX_CRYPTO_DONE,
          ESP_DROP_PAD, false },
    };

    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        struct sa_cfg c = gcm_cfg();
        struct esp_sa *sw_sa = make_out_sa(&c, false, false);
        struct esp_sa *inl_sa = make_out_sa(&c, true, false);
        struct esp_sa_params p;
        struct esp_sa *in_sa;
        struct esp_sad *sad = esp_sad_create();
        struct esp_sa_stats st;
        struct pkt orig, q, r;
        enum esp_verdict v;
        char err[128];

        test_case = cases[t].name;
        fill_params(&p, &c, ESP_DIR_IN);
        CHECK_EQ(esp_sa_create(&p, &in_sa, err, sizeof err), 0);
        esp_sa_set_inline_crypto(in_sa, cases[t].inline_sa);
        CHECK_EQ(esp_sad_add(sad, in_sa), 0);

        make_udp(&orig, AF_INET, 61, 0);
        q = r = orig;
        q.b.base = q.buf;
        r.b.base = r.buf;
        if (cases[t].kind == CIPHER) {
            CHECK_EQ(encap1(sw_sa, &q, 0), ESP_OK);
        } else {
            CHECK_EQ(encap1(inl_sa, &q, 0), ESP_OK);
            if (cases[t].kind == PLAIN_BAD_PAD) {
                /* 61 + 28 = 89 + pad 1 + 2 = 92: one pad byte. */
                CHECK_EQ(q.buf[q.b.off + q.b.len - 16 - 2], 1);
                q.buf[q.b.off + q.b.len - 16 - 3] ^= 0x40;
            }
        }
        /* A second copy, sent after, with the same sequence number. */
        r = q;
        r.b.base = r.buf;
        v = decap1_flags(sad, &q, cases[t].flags);
        CHECK_EQ(v, cases[t].v);
        if (v == ESP_OK) {
            CHECK_EQ(q.b.len, orig.b.len);
            CHECK(!memcmp(q.buf + q.b.off, orig.buf + HEAD, orig.b.len));
            /* Anti-replay on the same path. */
            CHECK_EQ(decap1_flags(sad, &r, cases[t].flags),
                     ESP_DROP_REPLAY);
        } else if (cases[t].kind == PLAIN && cases[t].inline_sa) {
            /* A failed packet did not move the window. */
            CHECK_EQ(decap1_flags(sad, &r, ESP_RX_CRYPTO_DONE), ESP_OK);
        }
        esp_sa_get_stats(in_sa, &st);
        CHECK_EQ(st.offload_sw, cases[t].sw ? 1 : 0);
        if (v != ESP_OK) {
            CHECK_EQ(st.drops[v], 1);
        }
        esp_sa_destroy(sw_sa);
        esp_sa_destroy(inl_sa);
        esp_sad_destroy(sad);
    }

    /* A mixed burst: NIC-decrypted, failed, untouched, replayed. */
    {
        struct sa_cfg c = gcm_cfg();
        struct esp_sa *sw_sa = make_out_sa(&c, false, false);
        struct esp_sa *inl_sa = make_out_sa(&c, true, false);
        struct esp_sa_params p;
        struct esp_sa *in_sa;
        struct esp_sad *sad = esp_sad_create();
        struct esp_sa_stats st;
        static struct pkt pk[6];
        struct esp_buf *bp[6];
        enum esp_verdict v[6];
        uint8_t flags[6] = {
            ESP_RX_CRYPTO_DONE, 0, ESP_RX_CRYPTO_FAILED, ESP_RX_CRYPTO_DONE,
            0, ESP_RX_CRYPTO_DONE,
        };
        static const enum esp_verdict want[6] = {
            ESP_OK, ESP_OK, ESP_DROP_OFFLOAD_AUTH, ESP_OK, ESP_DROP_REPLAY,
            ESP_DROP_REPLAY,
        };
        char err[128];

        test_case = "inline mixed burst";
        fill_params(&p, &c, ESP_DIR_IN);
        p.inline_crypto = true;
        CHECK_EQ(esp_sa_create(&p, &in_sa, err, sizeof err), 0);
        CHECK_EQ(esp_sad_add(sad, in_sa), 0);
        for (int i = 0; i < 4; i++) {
            /* Both SAs send sequence numbers 1, 2, 3, 4 in turn. */
            struct pkt a;

            make_udp(&pk[i], AF_INET, 40 + i, 0);
            make_udp(&a, AF_INET, 40 + i, 0);
            CHECK_EQ(encap1(flags[i] == ESP_RX_CRYPTO_DONE ? inl_sa : sw_sa,
                            &pk[i], 0), ESP_OK);
            CHECK_EQ(encap1(flags[i] == ESP_RX_CRYPTO_DONE ? sw_sa : inl_sa,
                            &a, 0), ESP_OK);
        }
        pk[4] = pk[1];      /* Replay of seq 2, software path. */
        pk[5] = pk[3];      /* Replay of seq 4, NIC path. */
        for (int i = 0; i < 6; i++) {
            pk[i].b.base = pk[i].buf;
            bp[i] = &pk[i].b;
        }
        CHECK_EQ(esp_decap_burst_ex(sad, bp, flags, v, NULL, 6, 0), 3);
        for (int i = 0; i < 6; i++) {
            CHECK_EQ(v[i], want[i]);
        }
        esp_sa_get_stats(in_sa, &st);
        CHECK_EQ(st.packets, 3);
        CHECK_EQ(st.offload_sw, 1);
        CHECK_EQ(st.drops[ESP_DROP_OFFLOAD_AUTH], 1);
        CHECK_EQ(st.drops[ESP_DROP_REPLAY], 2);
        CHECK(!strcmp(esp_verdict_name(ESP_DROP_OFFLOAD_AUTH),
                      "offload_auth"));
        CHECK(!strcmp(esp_verdict_name(ESP_DROP_OFFLOAD_MISMATCH),
                      "offload_mismatch"));
        esp_sa_destroy(sw_sa);
        esp_sa_destroy(inl_sa);
        esp_sad_destroy(sad);
    }
}

int
main(void)
{
    test_round_trips();
    test_outer_header();
    test_seq_overflow();
    test_esn_wrap();
    test_drops();
    test_trailer();
    test_lifetimes();
    test_selectors();
    test_ecn_decap();
    test_errors();
    test_threads();
    test_mixed_burst();
    test_inline_encap();
    test_inline_cbc_iv();
    test_inline_decap_flags();
    return test_summary("test-esp");
}
