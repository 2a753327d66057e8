/*
 * Crypto engines ("ipsec-mb", "openssl") through the engine interface of
 * datapath/esp-crypto.h, byte for byte:
 *
 *   1. Wycheproof AES-GCM and ChaCha20-Poly1305 vectors (tests/vectors/),
 *      each engine, mixed suites and keys in one burst.
 *   2. RFC 8439 section 2.8.2 and RFC 7634 appendix A AEAD vectors.
 *   3. RFC 3602 section 4 AES-CBC cases and RFC 4231 HMAC-SHA-256 cases
 *      (truncated to 128 bits, RFC 4868) through the CBC+HMAC ops.
 *   4. Cross-check on random keys and data, every suite, lengths 0..2000:
 *      both engines must produce identical output, each must open the
 *      other's, a flipped bit anywhere must give EBADMSG on both (and, for
 *      CBC, leave the data untouched), ESN-style ICV overlap, IV
 *      derivation (NIST SP 800-38A appendix C).
 *   5. Argument errors: key lengths, ctx_destroy(NULL), engine lookup.
 *   6. Two threads sharing one context.
 *   7. The two-packet AES-GCM code (datapath/gcm-x2.c) against OpenSSL:
 *      every pair of data lengths 0..128 (multiples of 4) with AAD of 0
 *      to 16 bytes, two pairs at once (bursts of 4 to 9 ops of each
 *      length, pairs that cannot join the waiting one), pairs up to 1892
 *      bytes around its 128-byte chunks, odd bursts, keys changing inside
 *      a burst, guard bytes around every region, the ICV after the data
 *      or elsewhere, a flipped bit in one packet of a pair.
 *
 * The ipsec-mb engine runs 1 and 4 on each of its paths: AES-GCM direct
 * (the default), single jobs and burst jobs.
 *
 * ESP_CRYPTO_BENCH=1 also times those ipsec-mb paths (see
 * datapath/crypto-ipsecmb.c).
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "esp-crypto.h"
#include "gcm-x2.h"
#include "testlib.h"

/* 0: default (small GCM ops two at a time, the rest GCM direct), 1:
 * single jobs, 2: burst jobs, 3: GCM direct only. */
void esp_crypto_ipsecmb_set_submit(int mode);
enum { MB_DEFAULT, MB_SINGLE, MB_BURST, MB_DIRECT };
bool esp_crypto_ipsecmb_x2(void);

static const struct esp_crypto_engine *engines[2];
enum { N_ENGINES = 2 };

/* ---------------------------------------------------------------------- */
/* Helpers. */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t
rnd64(void)
{
    /* splitmix64: deterministic, so failures reproduce. */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void
rnd_bytes(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        p[i] = rnd64();
    }
}

static int
hexval(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    } else if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Parses hex 's' (spaces ignored, "-" = empty) into 'out' (at most 'max'
 * bytes).  Returns the length or -1. */
static int
unhex(const char *s, uint8_t *out, size_t max)
{
    size_t n = 0;

    if (!strcmp(s, "-")) {
        return 0;
    }
    while (*s) {
        int hi, lo;

        if (*s == ' ') {
            s++;
            continue;
        }
        hi = hexval(s[0]);
        lo = hi < 0 ? -1 : hexval(s[1]);
        if (lo < 0 || n >= max) {
            return -1;
        }
        out[n++] = hi << 4 | lo;
        s += 2;
    }
    return n;
}

static bool
is_cbc(enum esp_suite s)
{
    return (s == ESP_SUITE_AES_CBC_128_HMAC_SHA256
            || s == ESP_SUITE_AES_CBC_256_HMAC_SHA256);
}

static size_t
cipher_key_len(enum esp_suite s)
{
    return (s == ESP_SUITE_AES_GCM_128
            || s == ESP_SUITE_AES_CBC_128_HMAC_SHA256) ? 16 : 32;
}

static void *
make_ctx(const struct esp_crypto_engine *e, enum esp_suite s,
         const uint8_t *key, const uint8_t *hkey)
{
    void *ctx = NULL;
    int error = e->ctx_create(s, key, cipher_key_len(s),
                              is_cbc(s) ? hkey : NULL, is_cbc(s) ? 32 : 0,
                              &ctx);

    CHECK_EQ(error, 0);
    return ctx;
}

/* Reference HMAC-SHA-256-128 (RFC 4868) with OpenSSL's HMAC(). */
static void
ref_hmac128(const uint8_t *key, size_t key_len, const uint8_t *msg,
            size_t len, uint8_t out[16])
{
    uint8_t md[32];
    unsigned int md_len;

    HMAC(EVP_sha256(), key, key_len, msg, len, md, &md_len);
    memcpy(out, md, 16);
}

/* ---------------------------------------------------------------------- */
/* 1. Wycheproof. */

struct aead_case {
    int tc;
    bool valid;
    enum esp_suite suite;
    uint8_t key[32];
    uint8_t iv[12];
    uint8_t *aad, *msg, *ct;
    int aad_len, msg_len, key_len;
    uint8_t tag[16];
};

enum { MAX_CASES = 512, MAX_FIELD = 4096 };

static int
load_wycheproof(const char *path, bool chacha, struct aead_case *cases,
                int max)
{
    static char line[4 * MAX_FIELD + 1024];
    FILE *f = fopen(path, "r");
    int n = 0;

    if (!f) {
        printf("FAIL cannot open %s (run from tests/)\n", path);
        test_failed++;
        return 0;
    }
    while (fgets(line, sizeof line, f) && n < max) {
        char *tok[8], *save = NULL, *p = line;
        struct aead_case *c = &cases[n];
        int k, iv_len, tag_len;

        if (line[0] == '#' || line[0] == '\n') {
            continue;
        }
        for (k = 0; k < 8; k++, p = NULL) {
            tok[k] = strtok_r(p, " \n", &save);
            if (!tok[k]) {
                break;
            }
        }
        if (k != 8) {
            printf("FAIL %s: malformed line\n", path);
            test_failed++;
            continue;
        }
        memset(c, 0, sizeof *c);
        c->tc = atoi(tok[0]);
        c->valid = !strcmp(tok[1], "valid");
        c->aad = malloc(MAX_FIELD);
        c->msg = malloc(MAX_FIELD);
        c->ct = malloc(MAX_FIELD);
        c->key_len = unhex(tok[2], c->key, sizeof c->key);
        iv_len = unhex(tok[3], c->iv, sizeof c->iv);
        c->aad_len = unhex(tok[4], c->aad, MAX_FIELD);
        c->msg_len = unhex(tok[5], c->msg, MAX_FIELD);
        tag_len = unhex(tok[7], c->tag, sizeof c->tag);
        if (iv_len != 12 || tag_len != 16 || c->aad_len < 0
            || c->msg_len < 0
            || unhex(tok[6], c->ct, MAX_FIELD) != c->msg_len
            || (chacha ? c->key_len != 32
                : c->key_len != 16 && c->key_len != 32)) {
            printf("FAIL %s tc %d: bad field\n", path, c->tc);
            test_failed++;
            free(c->aad);
            free(c->msg);
            free(c->ct);
            continue;
        }
        c->suite = (chacha ? ESP_SUITE_CHACHA20_POLY1305
                    : c->key_len == 16 ? ESP_SUITE_AES_GCM_128
                    : ESP_SUITE_AES_GCM_256);
        n++;
    }
    fclose(f);
    return n;
}

/* Runs all cases through engine 'e', in bursts of up to ESP_BURST_MAX
 * that mix suites and keys. */
static void
run_aead_cases(const struct esp_crypto_engine *e, struct aead_case *cases,
               int n, const char *what)
{
    static struct esp_crypto_op ops[ESP_BURST_MAX];
    static uint8_t buf[ESP_BURST_MAX][MAX_FIELD], icv[ESP_BURST_MAX][16];
    struct esp_crypto_op *opp[ESP_BURST_MAX];
    void *ctx[ESP_BURST_MAX];

    for (int base = 0; base < n; base += ESP_BURST_MAX) {
        int m = n - base < ESP_BURST_MAX ? n - base : ESP_BURST_MAX;

        /* Encrypt: ciphertext always matches (invalid cases only differ
         * in the tag); the tag matches for valid cases only. */
        for (int j = 0; j < m; j++) {
            struct aead_case *c = &cases[base + j];

            ctx[j] = make_ctx(e, c->suite, c->key, NULL);
            memcpy(buf[j], c->msg, c->msg_len);
            memset(&ops[j], 0, sizeof ops[j]);
            ops[j].ctx = ctx[j];
            ops[j].data = buf[j];
            ops[j].data_len = c->msg_len;
            ops[j].aad = c->aad;
            ops[j].aad_len = c->aad_len;
            ops[j].icv = icv[j];
            memcpy(ops[j].nonce, c->iv, 12);
            ops[j].status = -1;
            opp[j] = &ops[j];
        }
        e->encrypt_burst(opp, m);
        for (int j = 0; j < m; j++) {
            struct aead_case *c = &cases[base + j];
            bool ok = (ops[j].status == 0
                       && !memcmp(buf[j], c->ct, c->msg_len)
                       && !memcmp(icv[j], c->tag, 16) == c->valid);

            if (ok) {
                test_passed++;
            } else {
                test_failed++;
                printf("FAIL %s %s tc %d: encrypt (status %d)\n",
                       e->name, what, c->tc, ops[j].status);
            }
        }

        /* Decrypt with the published tag. */
        for (int j = 0; j < m; j++) {
            struct aead_case *c = &cases[base + j];

            memcpy(buf[j], c->ct, c->msg_len);
            memcpy(icv[j], c->tag, 16);
            ops[j].status = -1;
        }
        e->decrypt_burst(opp, m);
        for (int j = 0; j < m; j++) {
            struct aead_case *c = &cases[base + j];
            bool ok = (c->valid
                       ? (ops[j].status == 0
                          && !memcmp(buf[j], c->msg, c->msg_len))
                       : ops[j].status == EBADMSG);

            if (ok) {
                test_passed++;
            } else {
                test_failed++;
                printf("FAIL %s %s tc %d: decrypt (status %d)\n",
                       e->name, what, c->tc, ops[j].status);
            }
            e->ctx_destroy(ctx[j]);
        }
    }
}

static void
test_wycheproof(void)
{
    static struct aead_case cases[MAX_CASES];
    int n_gcm, n_all;

    test_case = "wycheproof";
    n_gcm = load_wycheproof("vectors/wycheproof-aes-gcm.txt", false,
                            cases, MAX_CASES);
    n_all = n_gcm + load_wycheproof("vectors/wycheproof-chacha20-poly1305"
                                    ".txt", true, cases + n_gcm,
                                    MAX_CASES - n_gcm);
    CHECK(n_gcm >= 40);
    CHECK(n_all - n_gcm >= 35);
    for (int e = 0; e < N_ENGINES; e++) {
        run_aead_cases(engines[e], cases, n_all, "wycheproof");
    }
    for (int i = 0; i < n_all; i++) {
        free(cases[i].aad);
        free(cases[i].msg);
        free(cases[i].ct);
    }
}

/* ---------------------------------------------------------------------- */
/* 2. RFC 8439 section 2.8.2 and RFC 7634 appendix A. */

static const char rfc8439_pt[] =
    "Ladies and Gentlemen of the class of '99: If I could offer you only "
    "one tip for the future, sunscreen would be it.";

static void
test_rfc_aead(void)
{
    static struct aead_case c[2];
    const char *key8439 = "808182838485868788898a8b8c8d8e8f"
                          "909192939495969798999a9b9c9d9e9f";

    test_case = "rfc8439/rfc7634";
    memset(c, 0, sizeof c);
    for (int i = 0; i < 2; i++) {
        c[i].aad = calloc(1, MAX_FIELD);
        c[i].msg = calloc(1, MAX_FIELD);
        c[i].ct = calloc(1, MAX_FIELD);
        c[i].suite = ESP_SUITE_CHACHA20_POLY1305;
        c[i].valid = true;
        c[i].key_len = unhex(key8439, c[i].key, 32);
    }

    /* RFC 8439 section 2.8.2. */
    c[0].tc = 82;
    unhex("070000004041424344454647", c[0].iv, 12);
    c[0].aad_len = unhex("50515253c0c1c2c3c4c5c6c7", c[0].aad, MAX_FIELD);
    c[0].msg_len = strlen(rfc8439_pt);
    memcpy(c[0].msg, rfc8439_pt, c[0].msg_len);
    CHECK_EQ(unhex("d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5"
                   "a736ee62d63dbea45e8ca9671282fafb69da92728b1a71de0a9e06"
                   "0b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fa"
                   "b324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d265"
                   "86cec64b6116", c[0].ct, MAX_FIELD), c[0].msg_len);
    unhex("1ae10b594f09e26a7e902ecbd0600691", c[0].tag, 16);

    /* RFC 7634 appendix A: KEYMAT 80..9f || salt a0a1a2a3, SPI 0x01020304,
     * seq 5, IV 0x1011121314151617; the plaintext is the ESP payload
     * (an ICMP echo in IPv4) with its trailer. */
    c[1].tc = 7634;
    unhex("a0a1a2a31011121314151617", c[1].iv, 12);
    c[1].aad_len = unhex("0102030400000005", c[1].aad, MAX_FIELD);
    c[1].msg_len = unhex(
        "45 00 00 54 a6 f2 00 00 40 01 e7 78 c6 33 64 05"
        "c0 00 02 05 08 00 5b 7a 3a 08 00 00 55 3b ec 10"
        "00 07 36 27 08 09 0a 0b 0c 0d 0e 0f 10 11 12 13"
        "14 15 16 17 18 19 1a 1b 1c 1d 1e 1f 20 21 22 23"
        "24 25 26 27 28 29 2a 2b 2c 2d 2e 2f 30 31 32 33"
        "34 35 36 37 01 02 02 04",
        c[1].msg, MAX_FIELD);
    CHECK_EQ(c[1].msg_len, 88);
    CHECK_EQ(unhex("24039428b97f417e3c13753a4f05087b67c352e6a7fab1b982d466"
                   "ef407ae5c614ee8099d52844eb61aa95dfab4c02f72aa71e7c4c4f"
                   "64c9befe2facc638e8f3cbec163fac469b502773f6fb94e664da91"
                   "65b82829f641e0", c[1].ct, MAX_FIELD), 88);
    unhex("76aaa8266b7fb0f7b11b369907e1ad43", c[1].tag, 16);

    for (int e = 0; e < N_ENGINES; e++) {
        run_aead_cases(engines[e], c, 2, "rfc");
    }
    for (int i = 0; i < 2; i++) {
        free(c[i].aad);
        free(c[i].msg);
        free(c[i].ct);
    }
}

/* ---------------------------------------------------------------------- */
/* 3. RFC 3602 section 4 (AES-CBC) and RFC 4231 (HMAC-SHA-256). */

static void
test_rfc_cbc_hmac(void)
{
    static const struct {
        const char *key, *iv, *pt, *ct;
    } cbc[] = {
        /* RFC 3602 section 4, cases #1 and #2. */
        { "06a9214036b8a15b512e03d534120006",
          "3dafba429d9eb430b422da802c9fac41",
          "53696e676c6520626c6f636b206d7367",    /* "Single block msg" */
          "e353779c1079aeb82708942dbe77181a" },
        { "c286696d887c9aa0611bbb3e2025a45a",
          "562e17996d093d28ddb3ba695a2e6f58",
          "000102030405060708090a0b0c0d0e0f"
          "101112131415161718191a1b1c1d1e1f",
          "d296cd94c2cccf8a3a863028b5e1dc0a"
          "7586602d253cfff91b8266bea6d61ab1" },
    };
    /* RFC 4231 test cases 1-5 (keys up to 32 bytes, as the engine takes
     * exactly 32: a shorter HMAC key is zero-padded to the block size by
     * RFC 2104 anyway, so key || zeros gives the same MAC). */
    static const struct {
        const char *key, *data, *mac;
    } hmac[] = {
        { "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
          "4869205468657265", "b0344c61d8db38535ca8afceaf0bf12b" },
        { "4a656665",
          "7768617420646f2079612077616e7420666f72206e6f7468696e673f",
          "5bdcc146bf60754e6a042426089575c7" },
        { "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
          "dddddddddddddddddddddddddddddddddddddddddddddddddd"
          "dddddddddddddddddddddddddddddddddddddddddddddddddd",
          "773ea91e36800e46854db8ebd09181a7" },
        { "0102030405060708090a0b0c0d0e0f10111213141516171819",
          "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"
          "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd",
          "82558a389a443c0ea4cc819899f2083a" },
        { "0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c",
          "546573742057697468205472756e636174696f6e",
          "a3b6167473100ee06e0c796c2955552b" },
    };

    for (int e = 0; e < N_ENGINES; e++) {
        const struct esp_crypto_engine *eng = engines[e];

        test_case = "rfc3602";
        for (size_t i = 0; i < sizeof cbc / sizeof cbc[0]; i++) {
            uint8_t key[16], iv[16], pt[32], ct[32], buf[32], hkey[32];
            uint8_t icv[16], ref[16];
            struct esp_crypto_op op, *opp = &op;
            int len;
            void *ctx;

            unhex(cbc[i].key, key, 16);
            unhex(cbc[i].iv, iv, 16);
            len = unhex(cbc[i].pt, pt, 32);
            CHECK_EQ(unhex(cbc[i].ct, ct, 32), len);
            rnd_bytes(hkey, 32);
            ctx = make_ctx(eng, ESP_SUITE_AES_CBC_128_HMAC_SHA256, key,
                           hkey);
            memcpy(buf, pt, len);
            memset(&op, 0, sizeof op);
            op.ctx = ctx;
            op.data = buf;
            op.data_len = len;
            op.auth = buf;
            op.auth_len = len;
            op.icv = icv;
            memcpy(op.iv, iv, 16);
            eng->encrypt_burst(&opp, 1);
            CHECK_EQ(op.status, 0);
            CHECK(!memcmp(buf, ct, len));
            ref_hmac128(hkey, 32, ct, len, ref);
            CHECK(!memcmp(icv, ref, 16));
            eng->decrypt_burst(&opp, 1);
            CHECK_EQ(op.status, 0);
            CHECK(!memcmp(buf, pt, len));

            /* An authenticated region apart from the data (the engine
             * then runs cipher and MAC as separate jobs). */
            {
                uint8_t other[48];

                rnd_bytes(other, sizeof other);
                op.auth = other;
                op.auth_len = sizeof other;
                eng->encrypt_burst(&opp, 1);
                CHECK_EQ(op.status, 0);
                CHECK(!memcmp(buf, ct, len));
                ref_hmac128(hkey, 32, other, sizeof other, ref);
                CHECK(!memcmp(icv, ref, 16));
                eng->decrypt_burst(&opp, 1);
                CHECK_EQ(op.status, 0);
                CHECK(!memcmp(buf, pt, len));
            }
            eng->ctx_destroy(ctx);
        }

        test_case = "rfc4231";
        for (size_t i = 0; i < sizeof hmac / sizeof hmac[0]; i++) {
            uint8_t hkey[32] = { 0 }, key[32], data[64], mac[16], icv[16];
            struct esp_crypto_op op, *opp = &op;
            int len;
            void *ctx;

            CHECK(unhex(hmac[i].key, hkey, 32) > 0);
            len = unhex(hmac[i].data, data, sizeof data);
            unhex(hmac[i].mac, mac, 16);
            rnd_bytes(key, 32);
            ctx = make_ctx(eng, i & 1 ? ESP_SUITE_AES_CBC_256_HMAC_SHA256
                           : ESP_SUITE_AES_CBC_128_HMAC_SHA256, key, hkey);
            memset(&op, 0, sizeof op);
            op.ctx = ctx;
            op.data = NULL;
            op.data_len = 0;
            op.auth = data;
            op.auth_len = len;
            op.icv = icv;
            eng->encrypt_burst(&opp, 1);
            CHECK_EQ(op.status, 0);
            CHECK(!memcmp(icv, mac, 16));
            eng->decrypt_burst(&opp, 1);
            CHECK_EQ(op.status, 0);
            icv[15] ^= 0x80;
            eng->decrypt_burst(&opp, 1);
            CHECK_EQ(op.status, EBADMSG);
            eng->ctx_destroy(ctx);
        }
    }
}

/* ---------------------------------------------------------------------- */
/* 4. Cross-check on random input. */

/* One ESP-like packet: 8-byte header, IV (8 for AEAD, 16 for CBC),
 * payload, [4 bytes ESN high bits], ICV.  The AEAD AAD is the header
 * (plus ESN bits when 'esn'). */
struct xpkt {
    uint8_t buf[8 + 16 + 2048 + 4 + 16];
    uint8_t aad[12];
    uint32_t len;
    bool esn, derive;
    uint8_t nonce[16];
};

static void
xpkt_op(struct xpkt *p, enum esp_suite s, void *ctx,
        struct esp_crypto_op *op)
{
    uint32_t ivl = is_cbc(s) ? 16 : 8;

    memset(op, 0, sizeof *op);
    op->ctx = ctx;
    op->data = p->buf + 8 + ivl;
    op->data_len = p->len;
    if (is_cbc(s)) {
        op->auth = p->buf;
        op->auth_len = 8 + ivl + p->len + (p->esn ? 4 : 0);
        /* ESN: the ICV overwrites the 4 high-order bits after use. */
        op->icv = p->buf + 8 + ivl + p->len;
        if (p->derive) {
            memcpy(op->iv, p->nonce, 16);
            op->iv_out = p->buf + 8;
        } else {
            memcpy(op->iv, p->buf + 8, 16);
        }
    } else {
        op->aad = p->aad;
        op->aad_len = p->esn ? 12 : 8;
        op->icv = p->buf + 8 + ivl + p->len;
        memcpy(op->nonce, p->nonce, 12);
    }
    op->status = -1;
}

/* Packets and their state for one suite, encrypted by engine 'a'. */
static void
cross_suite(enum esp_suite s, int a, int max_len, int step)
{
    enum { B = ESP_BURST_MAX };
    static struct xpkt pk[2][B], orig[B], tampered[B];
    static struct esp_crypto_op ops[2][B];
    struct esp_crypto_op *opp[2][B];
    uint8_t key[32], hkey[32];
    void *ctx[2];
    int b = 1 - a;
    uint32_t ivl = is_cbc(s) ? 16 : 8;
    int len = 0;

    rnd_bytes(key, sizeof key);
    rnd_bytes(hkey, sizeof hkey);
    for (int e = 0; e < N_ENGINES; e++) {
        ctx[e] = make_ctx(engines[e], s, key, hkey);
    }
    while (len <= max_len) {
        int m = 0;

        /* Fill a burst with consecutive lengths. */
        for (; m < B && len <= max_len; m++, len += step) {
            struct xpkt *p = &orig[m];

            memset(p, 0, sizeof *p);
            p->len = is_cbc(s) ? len / 16 * 16 : len;
            p->esn = rnd64() & 1;
            p->derive = is_cbc(s) && (rnd64() & 1);
            rnd_bytes(p->buf, 8 + ivl + p->len + 4);
            rnd_bytes(p->nonce, sizeof p->nonce);
            memcpy(p->aad, p->buf, 8);
            rnd_bytes(p->aad + 8, 4);
            if (!is_cbc(s)) {
                memcpy(p->nonce + 4, p->buf + 8, 8);
            }
        }

        /* Encrypt the same input on both engines: identical output. */
        for (int e = 0; e < N_ENGINES; e++) {
            for (int j = 0; j < m; j++) {
                pk[e][j] = orig[j];
                xpkt_op(&pk[e][j], s, ctx[e], &ops[e][j]);
                opp[e][j] = &ops[e][j];
            }
            engines[e]->encrypt_burst(opp[e], m);
        }
        for (int j = 0; j < m; j++) {
            struct xpkt *p = &pk[a][j];
            uint32_t total = 8 + ivl + p->len + 16;
            bool ok = (!ops[0][j].status && !ops[1][j].status
                       && !memcmp(pk[0][j].buf, pk[1][j].buf, total));

            if (ok) {
                test_passed++;
            } else {
                test_failed++;
                printf("FAIL cross %s len %u: engines differ "
                       "(status %d/%d)\n", esp_suite_name(s), p->len,
                       ops[0][j].status, ops[1][j].status);
            }
            if (is_cbc(s)) {
                /* Independent check of the ICV: HMAC over header, IV,
                 * ciphertext and the ESN bits as they were. */
                uint8_t region[8 + 16 + 2048 + 4], ref[16];
                uint32_t rl = 8 + ivl + p->len;

                memcpy(region, p->buf, rl);
                if (p->esn) {
                    memcpy(region + rl, orig[j].buf + rl, 4);
                    rl += 4;
                }
                ref_hmac128(hkey, 32, region, rl, ref);
                CHECK(!memcmp(p->buf + 8 + ivl + p->len, ref, 16));
                if (p->derive) {
                    /* IV = AES_K(nonce): check against plain ECB. */
                    uint8_t ivx[16];
                    int outl;
                    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();

                    EVP_EncryptInit_ex(c, cipher_key_len(s) == 16
                                       ? EVP_aes_128_ecb()
                                       : EVP_aes_256_ecb(), NULL, key,
                                       NULL);
                    EVP_CIPHER_CTX_set_padding(c, 0);
                    EVP_EncryptUpdate(c, ivx, &outl, p->nonce, 16);
                    EVP_CIPHER_CTX_free(c);
                    CHECK(!memcmp(ivx, p->buf + 8, 16));
                }
            }
        }

        /* Decrypt engine a's output with engine b; for ESN/CBC the
         * receiver moves the ICV aside and puts the high bits back. */
        for (int j = 0; j < m; j++) {
            struct xpkt *p = &pk[b][j];
            static uint8_t rx_icv[B][16];

            *p = pk[a][j];
            xpkt_op(p, s, ctx[b], &ops[b][j]);
            if (is_cbc(s)) {
                ops[b][j].iv_out = NULL;
                memcpy(ops[b][j].iv, p->buf + 8, 16);
                if (p->esn) {
                    memcpy(rx_icv[j], ops[b][j].icv, 16);
                    memcpy(ops[b][j].icv, orig[j].buf + 8 + ivl + p->len,
                           4);
                    ops[b][j].icv = rx_icv[j];
                }
            }
            opp[b][j] = &ops[b][j];
        }
        engines[b]->decrypt_burst(opp[b], m);
        for (int j = 0; j < m; j++) {
            bool ok = (ops[b][j].status == 0
                       && !memcmp(pk[b][j].buf + 8 + ivl,
                                  orig[j].buf + 8 + ivl, orig[j].len));

            if (ok) {
                test_passed++;
            } else {
                test_failed++;
                printf("FAIL cross %s len %u: %s cannot open %s's "
                       "(status %d)\n", esp_suite_name(s), orig[j].len,
                       engines[b]->name, engines[a]->name,
                       ops[b][j].status);
            }
        }

        /* Tamper: flip one bit of the authenticated bytes or the ICV;
         * both engines must say EBADMSG. */
        for (int e = 0; e < N_ENGINES; e++) {
            static uint8_t rx_icv[B][16];

            for (int j = 0; j < m; j++) {
                struct xpkt *p = &pk[e][j];
                uint32_t span, bit;

                *p = pk[a][j];
                xpkt_op(p, s, ctx[e], &ops[e][j]);
                memcpy(rx_icv[j], ops[e][j].icv, 16);
                if (is_cbc(s)) {
                    ops[e][j].iv_out = NULL;
                    memcpy(ops[e][j].iv, p->buf + 8, 16);
                    if (p->esn) {
                        memcpy(ops[e][j].icv, orig[j].buf + 8 + ivl + p->len,
                               4);
                    }
                    span = ops[e][j].auth_len;
                } else {
                    span = 8 + ivl + p->len;    /* hdr, IV, ciphertext */
                }
                ops[e][j].icv = rx_icv[j];
                /* Pick a bit of the authenticated region or the ICV. */
                bit = rnd64() % ((span + 16) * 8);
                if (bit < span * 8) {
                    if (!is_cbc(s) && bit < 8 * 8) {
                        p->aad[bit / 8] ^= 1 << (bit % 8);
                    } else if (!is_cbc(s) && bit < (8 + ivl) * 8) {
                        ops[e][j].nonce[4 + bit / 8 - 8] ^= 1 << (bit % 8);
                    } else {
                        p->buf[bit / 8] ^= 1 << (bit % 8);
                    }
                } else {
                    bit -= span * 8;
                    rx_icv[j][bit / 8] ^= 1 << (bit % 8);
                }
                tampered[j] = *p;       /* For the untouched check. */
                opp[e][j] = &ops[e][j];
            }
            engines[e]->decrypt_burst(opp[e], m);
            for (int j = 0; j < m; j++) {
                bool ok = ops[e][j].status == EBADMSG;

                /* Verify-before-decrypt: CBC data stays ciphertext. */
                if (is_cbc(s)) {
                    ok = ok && !memcmp(pk[e][j].buf, tampered[j].buf,
                                       sizeof tampered[j].buf);
                }
                if (ok) {
                    test_passed++;
                } else {
                    test_failed++;
                    printf("FAIL tamper %s len %u on %s (status %d)\n",
                           esp_suite_name(s), orig[j].len,
                           engines[e]->name, ops[e][j].status);
                }
            }
        }
    }
    for (int e = 0; e < N_ENGINES; e++) {
        engines[e]->ctx_destroy(ctx[e]);
    }
}

static void
test_cross(void)
{
    int step = test_quick() ? 7 : 1;

    test_case = "cross";
    for (enum esp_suite s = 0; s < ESP_N_SUITES; s++) {
        cross_suite(s, s & 1, 2000, is_cbc(s) ? step * 16 / 4 : step);
        cross_suite(s, !(s & 1), 300, is_cbc(s) ? 16 : 3);
    }
}

/* ---------------------------------------------------------------------- */
/* 5. Argument errors and lookup. */

static void
test_args(void)
{
    uint8_t key[64] = { 0 };

    test_case = "args";
    CHECK(esp_crypto_default() == &esp_crypto_ipsecmb);
    CHECK(esp_crypto_by_name("ipsec-mb") == &esp_crypto_ipsecmb);
    CHECK(esp_crypto_by_name("openssl") == &esp_crypto_openssl);
    CHECK(esp_crypto_by_name("rot13") == NULL);
    CHECK(esp_crypto_by_name(NULL) == NULL);
    for (int e = 0; e < N_ENGINES; e++) {
        const struct esp_crypto_engine *eng = engines[e];
        static const size_t bad[] = { 0, 1, 15, 17, 20, 24, 31, 33, 36, 64 };

        eng->ctx_destroy(NULL);
        for (enum esp_suite s = 0; s < ESP_N_SUITES; s++) {
            void *ctx = (void *) 1;

            CHECK(eng->supports(s));
            for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                if (bad[i] == cipher_key_len(s)) {
                    continue;
                }
                ctx = (void *) 1;
                CHECK_EQ(eng->ctx_create(s, key, bad[i],
                                         is_cbc(s) ? key : NULL,
                                         is_cbc(s) ? 32 : 0, &ctx), EINVAL);
                CHECK(ctx == NULL);
            }
            if (is_cbc(s)) {
                CHECK_EQ(eng->ctx_create(s, key, cipher_key_len(s), key, 20,
                                         &ctx), EINVAL);
                CHECK_EQ(eng->ctx_create(s, key, cipher_key_len(s), NULL, 32,
                                         &ctx), EINVAL);
            } else {
                /* RFC 4106 salt is not part of the engine key. */
                CHECK_EQ(eng->ctx_create(s, key, cipher_key_len(s) + 4,
                                         NULL, 0, &ctx), EINVAL);
            }
            CHECK_EQ(eng->ctx_create(s, key, cipher_key_len(s),
                                     is_cbc(s) ? key : NULL,
                                     is_cbc(s) ? 32 : 0, &ctx), 0);
            eng->ctx_destroy(ctx);
        }
        CHECK(!eng->supports(ESP_N_SUITES));
        {
            void *ctx = NULL;

            CHECK_EQ(eng->ctx_create(ESP_N_SUITES, key, 16, NULL, 0, &ctx),
                     EOPNOTSUPP);
        }

        /* A CBC op whose length is not a multiple of the block: EINVAL,
         * the other ops of the burst unaffected. */
        {
            uint8_t buf[2][64], icv[2][16];
            struct esp_crypto_op op[2], *opp[2] = { &op[0], &op[1] };
            void *ctx = make_ctx(eng, ESP_SUITE_AES_CBC_128_HMAC_SHA256,
                                 key, key);

            memset(op, 0, sizeof op);
            for (int j = 0; j < 2; j++) {
                op[j].ctx = ctx;
                op[j].data = buf[j] + 24;
                op[j].data_len = j ? 32 : 33;
                op[j].auth = buf[j];
                op[j].auth_len = 24 + 32;
                op[j].icv = icv[j];
            }
            memset(buf, 0, sizeof buf);
            eng->encrypt_burst(opp, 2);
            CHECK_EQ(op[0].status, EINVAL);
            CHECK_EQ(op[1].status, 0);
            eng->ctx_destroy(ctx);
        }
    }
}

/* ---------------------------------------------------------------------- */
/* 6. Threads sharing one context (each gets its own ipsec-mb manager). */

struct thr_arg {
    const struct esp_crypto_engine *eng;
    void *ctx;
    uint8_t expect[1400 + 16];
    int errors;
};

static void *
thr_main(void *arg_)
{
    struct thr_arg *arg = arg_;
    int iters = test_quick() ? 50 : 500;

    for (int it = 0; it < iters; it++) {
        uint8_t buf[ESP_BURST_MAX][1400 + 16], aad[8] = { 1, 2, 3, 4 };
        struct esp_crypto_op ops[ESP_BURST_MAX], *opp[ESP_BURST_MAX];

        for (int j = 0; j < 8; j++) {
            memset(buf[j], 0x5a, 1400);
            memset(&ops[j], 0, sizeof ops[j]);
            ops[j].ctx = arg->ctx;
            ops[j].data = buf[j];
            ops[j].data_len = 1400;
            ops[j].aad = aad;
            ops[j].aad_len = 8;
            ops[j].icv = buf[j] + 1400;
            opp[j] = &ops[j];
        }
        arg->eng->encrypt_burst(opp, 8);
        for (int j = 0; j < 8; j++) {
            if (ops[j].status || memcmp(buf[j], arg->expect, 1416)) {
                arg->errors++;
            }
        }
    }
    return NULL;
}

static void
test_threads(void)
{
    uint8_t key[16] = { 7 };
    struct thr_arg args[2];
    pthread_t t[2];
    struct esp_crypto_op op, *opp = &op;
    uint8_t aad[8] = { 1, 2, 3, 4 };

    test_case = "threads";
    for (int i = 0; i < 2; i++) {
        args[i].eng = &esp_crypto_ipsecmb;
        args[i].errors = 0;
    }
    args[0].ctx = make_ctx(&esp_crypto_ipsecmb, ESP_SUITE_AES_GCM_128, key,
                           NULL);
    args[1].ctx = args[0].ctx;

    /* Expected output from the other engine. */
    {
        void *octx = make_ctx(&esp_crypto_openssl, ESP_SUITE_AES_GCM_128,
                              key, NULL);

        memset(args[0].expect, 0x5a, 1400);
        memset(&op, 0, sizeof op);
        op.ctx = octx;
        op.data = args[0].expect;
        op.data_len = 1400;
        op.aad = aad;
        op.aad_len = 8;
        op.icv = args[0].expect + 1400;
        esp_crypto_openssl.encrypt_burst(&opp, 1);
        CHECK_EQ(op.status, 0);
        memcpy(args[1].expect, args[0].expect, sizeof args[0].expect);
        esp_crypto_openssl.ctx_destroy(octx);
    }
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(pthread_create(&t[i], NULL, thr_main, &args[i]), 0);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
        CHECK_EQ(args[i].errors, 0);
    }
    esp_crypto_ipsecmb.ctx_destroy(args[0].ctx);
}

/* ---------------------------------------------------------------------- */
/* Benchmark (ESP_CRYPTO_BENCH=1): ipsec-mb submission paths. */

static double
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static double
bench_one(enum esp_suite s, uint32_t len, int mode)
{
    enum { N = 32 };
    static uint8_t buf[N][8 + 16 + 1400 + 16];
    struct esp_crypto_op ops[N], *opp[N];
    uint8_t key[32] = { 1 }, hkey[32] = { 2 }, aad[8] = { 0 };
    void *ctx = make_ctx(&esp_crypto_ipsecmb, s, key, hkey);
    double best = 1e30;
    int iters = 20000 * 64 / (len + 64);

    esp_crypto_ipsecmb_set_submit(mode);
    for (int j = 0; j < N; j++) {
        memset(&ops[j], 0, sizeof ops[j]);
        ops[j].ctx = ctx;
        ops[j].data = buf[j] + 24;
        ops[j].data_len = len;
        ops[j].aad = aad;
        ops[j].aad_len = 8;
        ops[j].auth = buf[j];
        ops[j].auth_len = 24 + len;
        ops[j].icv = buf[j] + 24 + len;
        opp[j] = &ops[j];
    }
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now_ns();

        for (int it = 0; it < iters; it++) {
            esp_crypto_ipsecmb.encrypt_burst(opp, N);
        }
        t0 = (now_ns() - t0) / ((double) iters * N);
        best = t0 < best ? t0 : best;
    }
    esp_crypto_ipsecmb_set_submit(MB_DEFAULT);
    esp_crypto_ipsecmb.ctx_destroy(ctx);
    return best;
}

static void
bench(void)
{
    static const enum esp_suite suites[] = {
        ESP_SUITE_AES_GCM_128, ESP_SUITE_AES_GCM_256,
        ESP_SUITE_CHACHA20_POLY1305, ESP_SUITE_AES_CBC_128_HMAC_SHA256,
    };

    static const uint32_t lens[] = { 64, 512, 1392 };
    static const char *const modes[] = { "dflt", "dir", "burst", "sngl" };
    static const int mode_ids[] = { MB_DEFAULT, MB_DIRECT, MB_BURST,
                                    MB_SINGLE };

    printf("ipsec-mb encrypt, burst of 32, ns/packet (best of 5); "
           "dflt = small GCM two at a time, dir = GCM direct, "
           "burst/sngl = jobs\n%-28s", "suite");
    for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++) {
        for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
            printf(" %4u %-5s", (unsigned int) lens[l], modes[m]);
        }
    }
    printf("\n");
    for (size_t i = 0; i < sizeof suites / sizeof suites[0]; i++) {
        printf("%-28s", esp_suite_name(suites[i]));
        for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++) {
            for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
                printf(" %10.1f", bench_one(suites[i], lens[l], mode_ids[m]));
            }
        }
        printf("\n");
    }
}

/* ---------------------------------------------------------------------- */
/* 7. The two-packet AES-GCM code. */

struct x2pkt {
    uint8_t buf[16 + 2048 + 16 + 16];   /* Guard, data, ICV, guard. */
    uint8_t aad[16 + 16];               /* AAD, guard. */
    uint32_t len, aad_len;
    uint8_t nonce[12];
    bool apart;                 /* ICV in the last 16 bytes of 'buf', not
                                 * right after the data. */
};

static size_t
x2_icv_off(const struct x2pkt *p)
{
    return p->apart ? sizeof p->buf - 16 : 16 + p->len;
}

static void
x2_op(struct x2pkt *p, void *ctx, struct esp_crypto_op *op)
{
    memset(op, 0, sizeof *op);
    op->ctx = ctx;
    op->data = p->buf + 16;
    op->data_len = p->len;
    op->aad = p->aad_len ? p->aad : NULL;
    op->aad_len = p->aad_len;
    op->icv = p->buf + x2_icv_off(p);
    memcpy(op->nonce, p->nonce, 12);
    op->status = -1;
}

/* Encrypts the 'n' packets 'p' (keys 'ctx_of[i]' of each engine) with
 * both engines, compares, opens the ipsec-mb output with ipsec-mb, then
 * flips a bit of packet 'bad' (if < n) and opens again. */
static void
x2_burst(struct x2pkt p[], unsigned int n, void *ctx[][2],
         const unsigned int ctx_of[], unsigned int bad)
{
    static struct x2pkt c[2][ESP_BURST_MAX];
    struct esp_crypto_op ops[ESP_BURST_MAX], *opp[ESP_BURST_MAX];

    for (int e = 0; e < 2; e++) {
        memcpy(c[e], p, n * sizeof *p);
        for (unsigned int i = 0; i < n; i++) {
            x2_op(&c[e][i], ctx[ctx_of[i]][e], &ops[i]);
            opp[i] = &ops[i];
        }
        engines[e]->encrypt_burst(opp, n);
        for (unsigned int i = 0; i < n; i++) {
            CHECK_EQ(ops[i].status, 0);
        }
    }
    for (unsigned int i = 0; i < n; i++) {
        bool same = !memcmp(&c[0][i], &c[1][i], sizeof c[0][i]);

        CHECK(same);
        if (!same) {
            printf("  x2: packet %u of %u, data %u, aad %u differs\n", i, n,
                   (unsigned int) p[i].len, (unsigned int) p[i].aad_len);
        }
    }
    if (bad < n) {
        /* A bit of the data or the ICV. */
        uint32_t r = rnd64() % (p[bad].len + 16);
        size_t at = (r < p[bad].len ? 16 + r
                     : x2_icv_off(&p[bad]) + r - p[bad].len);

        c[0][bad].buf[at] ^= 1u << (rnd64() % 8);
    }
    for (unsigned int i = 0; i < n; i++) {
        x2_op(&c[0][i], ctx[ctx_of[i]][0], &ops[i]);
        opp[i] = &ops[i];
    }
    engines[0]->decrypt_burst(opp, n);
    for (unsigned int i = 0; i < n; i++) {
        CHECK_EQ(ops[i].status, i == bad ? EBADMSG : 0);
        if (i != bad) {
            /* Plaintext back; guards and AAD untouched: all as before but
             * the ICV. */
            struct x2pkt want = p[i];
            size_t off = x2_icv_off(&p[i]);

            memcpy(want.buf + off, c[0][i].buf + off, 16);
            CHECK(!memcmp(c[0][i].buf, want.buf, sizeof want.buf));
            CHECK(!memcmp(c[0][i].aad, p[i].aad, sizeof p[i].aad));
        }
    }
}

static void
x2_fill(struct x2pkt *p, uint32_t len, uint32_t aad_len, bool apart)
{
    rnd_bytes((uint8_t *) p, sizeof *p);
    p->len = len;
    p->aad_len = aad_len;
    p->apart = apart;
}

static void
test_x2(void)
{
    static const enum esp_suite suites[] = {
        ESP_SUITE_AES_GCM_128, ESP_SUITE_AES_GCM_256,
    };
    static struct x2pkt p[ESP_BURST_MAX];
    unsigned int ctx_of[ESP_BURST_MAX];

    /* The engine's line for logs says which GCM runs. */
    const char *line = (esp_crypto_ipsecmb.describe
                        ? esp_crypto_ipsecmb.describe() : NULL);

    CHECK(line && strstr(line, "intel-ipsec-mb "));
    CHECK(line && !strstr(line, "two packets at a time")
          == !esp_crypto_ipsecmb_x2());
    if (line) {
        printf("test-crypto: ipsec-mb engine: %s\n", line);
    }

    if (!esp_crypto_ipsecmb_x2()) {
        const char *env = getenv("ESPDP_GCM_X2");

        printf("test-crypto: SKIP two-packet AES-GCM: %s\n",
               env && !strcmp(env, "0") ? "ESPDP_GCM_X2=0"
               : !gcm_x2_cpu_ok() ? "the CPU lacks AVX2, VAES or VPCLMULQDQ"
               : "intel-ipsec-mb runs its AVX-512 code");
        return;
    }
    for (size_t si = 0; si < sizeof suites / sizeof suites[0]; si++) {
        enum esp_suite s = suites[si];
        void *ctx[2][2];
        uint8_t key[2][32];

        for (int k = 0; k < 2; k++) {
            rnd_bytes(key[k], sizeof key[k]);
            for (int e = 0; e < 2; e++) {
                ctx[k][e] = make_ctx(engines[e], s, key[k], NULL);
            }
        }
        memset(ctx_of, 0, sizeof ctx_of);

        /* Every pair of lengths, AAD lengths varying, the ICV after the
         * data (ESP) or elsewhere in either lane; a bad packet in one pair
         * out of three, in either lane. */
        for (uint32_t la = 0; la <= 128; la += 4) {
            for (uint32_t lb = 0; lb <= 128; lb += 4) {
                for (int apart = 0; apart < 4; apart++) {
                    x2_fill(&p[0], la, (la / 4 % 5) * 4, apart & 1);
                    x2_fill(&p[1], lb, (lb / 4 % 3) * 4 + 4, apart & 2);
                    x2_burst(p, 2, ctx, ctx_of, (la + lb + apart) % 12 / 4);
                }
            }
        }
        /* Two pairs at once (gcm_x2_quad()): bursts of 4 to 9 ops of one
         * length and AAD length, the ICV after the data, every length up
         * to 128, a bad packet in any lane (or none); past the first
         * four, another quad, or a pair left waiting, or an op alone. */
        for (uint32_t l = 0; l <= 128; l += 4) {
            for (unsigned int n = 4; n <= 9; n++) {
                for (unsigned int i = 0; i < n; i++) {
                    x2_fill(&p[i], l, (l / 4 % 5) * 4, false);
                }
                x2_burst(p, n, ctx, ctx_of, (l / 4 + n) % (n + 1));
            }
        }
        /* Pairs that cannot run with the waiting pair: another length,
         * another AAD length, an ICV elsewhere, another key; then a
         * third pair like the first. */
        for (unsigned int v = 0; v < 4; v++) {
            for (unsigned int i = 0; i < 6; i++) {
                bool odd = i / 2 == 1;

                x2_fill(&p[i], odd && v == 0 ? 60 : 64,
                        odd && v == 1 ? 12 : 8, odd && v == 2 && i == 3);
                ctx_of[i] = odd && v == 3;
            }
            x2_burst(p, 6, ctx, ctx_of, v + 1);
            x2_burst(p, 6, ctx, ctx_of, 6);
        }
        memset(ctx_of, 0, sizeof ctx_of);

        /* Pairs with 128-byte chunks: lengths around chunk boundaries,
         * partners up to 132 bytes longer or shorter (those over 128
         * bytes past the other's chunks run alone). */
        for (uint32_t la = 124; la <= 1880; la += la < 520 ? 4 : 124) {
            for (int d = -132; d <= 132; d += la < 520 ? 44 : 4) {
                uint32_t lb = (int) la + d > 0 ? la + d : 0;

                x2_fill(&p[0], la, 8, d & 8);
                x2_fill(&p[1], lb, 12, la & 8);
                x2_burst(p, 2, ctx, ctx_of, (la / 4 + d) % 3);
            }
        }
        /* Odd bursts (the last op alone), lengths around the limit mixed
         * with ops for the one-packet path (over 128 bytes, or not a
         * multiple of 4). */
        for (unsigned int n = 1; n <= ESP_BURST_MAX; n += 6) {
            for (unsigned int i = 0; i < n; i++) {
                static const uint32_t lens[] = { 64, 124, 128, 132, 66,
                                                 0, 4, 100, 127 };

                x2_fill(&p[i], lens[(i + n) % 9], i % 2 ? 12 : 8,
                        i % 3 == 1);
            }
            x2_burst(p, n, ctx, ctx_of, n / 2);
        }
        /* Mixed sizes (IMIX order, as espbench sends them) and keys:
         * partners are found across the burst. */
        for (unsigned int i = 0; i < ESP_BURST_MAX; i++) {
            static const uint32_t imix[] = { 64, 576, 64, 1500, 64, 576,
                                             64, 64, 576, 64, 576, 64 };

            x2_fill(&p[i], imix[i % 12] - 24 + (i % 3) * 4, 8, i % 5 == 2);
            ctx_of[i] = i % 7 == 3;
        }
        x2_burst(p, ESP_BURST_MAX, ctx, ctx_of, 5);
        x2_burst(p, ESP_BURST_MAX, ctx, ctx_of, 30);
        memset(ctx_of, 0, sizeof ctx_of);

        /* Keys changing inside a burst: a pending op meets another
         * key. */
        for (unsigned int i = 0; i < 7; i++) {
            x2_fill(&p[i], 60 + 4 * i, 8, false);
            ctx_of[i] = (0x59 >> i) & 1;
        }
        x2_burst(p, 7, ctx, ctx_of, 7);
        x2_burst(p, 7, ctx, ctx_of, 3);
        memset(ctx_of, 0, sizeof ctx_of);

        for (int k = 0; k < 2; k++) {
            for (int e = 0; e < 2; e++) {
                engines[e]->ctx_destroy(ctx[k][e]);
            }
        }
    }
}

int
main(void)
{
    engines[0] = &esp_crypto_ipsecmb;
    engines[1] = &esp_crypto_openssl;

    test_args();
    test_wycheproof();
    test_rfc_aead();
    test_rfc_cbc_hmac();
    test_cross();
    test_threads();
    test_x2();

    /* The same again with the other ipsec-mb submission paths (AES-GCM
     * through jobs instead of the direct API). */
    esp_crypto_ipsecmb_set_submit(MB_SINGLE);
    test_wycheproof();
    test_rfc_aead();
    test_rfc_cbc_hmac();
    test_cross();
    esp_crypto_ipsecmb_set_submit(MB_BURST);
    test_wycheproof();
    test_rfc_aead();
    test_cross();
    esp_crypto_ipsecmb_set_submit(MB_DIRECT);
    test_wycheproof();
    test_rfc_aead();
    test_cross();
    esp_crypto_ipsecmb_set_submit(MB_DEFAULT);

    if (getenv("ESP_CRYPTO_BENCH")) {
        bench();
    }
    return test_summary("test-crypto");
}
