/*
 * libFuzzer target: inbound ESP processing (esp_decap_burst).
 *
 * A fresh SAD per input holds SAs of different suites, modes, UDP
 * encapsulation and ESN settings (created through the SA spec parser).
 *
 * Input, first byte:
 *   bit 0 clear: "raw".  The rest is fed as one packet, then again as a
 *     burst split into packets by 2-byte big-endian length prefixes.
 *   bit 0 set: "sealed".  Random bytes almost never carry a valid ICV, so
 *     this mode seals the fuzz data with a real key first to reach the
 *     code after the ICV check (padding, next header, inner packet,
 *     selectors).  Byte 1 picks the SA, bytes 2..5 the sequence number;
 *     the rest is the plaintext ESP payload including its padding, pad
 *     length and next header trailer, exactly as the fuzzer chose it.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "esp.h"
#include "esp-crypto.h"
#include "esp-spec.h"

enum {
    BUF_SIZE = 2048 + ESP_HEADROOM + ESP_TAILROOM,
    MAX_PKTS = 16,
};

#define K20 "0x000102030405060708090a0b0c0d0e0f10111213"
#define K36 "0x000102030405060708090a0b0c0d0e0f" \
            "101112131415161718191a1b1c1d1e1f20212223"
#define K16 "0x000102030405060708090a0b0c0d0e0f"
#define K32 "0x000102030405060708090a0b0c0d0e0f" \
            "101112131415161718191a1b1c1d1e1f"

static const char *const specs[] = {
    "spi=0x1001,mode=tunnel,src=192.0.2.1,dst=192.0.2.2,"
    "aead=aes-gcm-128,key=" K20,
    "spi=0x1002,mode=transport,aead=chacha20-poly1305,key=" K36
    ",esn=on,seq=0x1fffffff0",
    "spi=0x1003,mode=tunnel,src=2001:db8::1,dst=2001:db8::2,"
    "enc=aes-cbc-256,enc-key=" K32 ",auth=hmac-sha256-128,auth-key=" K32
    ",esn=on,encap=udp",
    "spi=0x1004,mode=transport,enc=aes-cbc-128,enc-key=" K16
    ",auth=hmac-sha256-128,auth-key=" K32 ",encap=udp,replay-window=0",
    "spi=0x1005,mode=tunnel,dst=2001:db8::2,aead=aes-gcm-256,key=" K36
    ",sel-src=10.0.0.0/8,sel-proto=udp,replay-window=1024",
};
enum { N_SPECS = sizeof specs / sizeof specs[0] };

/* Sealed mode: the AEAD SAs above, with what is needed to build their
 * packets by hand. */
struct sealed_sa {
    uint32_t spi;
    enum esp_suite suite;
    size_t key_len;             /* Without salt. */
    bool v6_outer;
    bool esn;
    uint32_t seq_hi;            /* High half the receiver will infer. */
};

static const struct sealed_sa sealed_sas[] = {
    { 0x1001, ESP_SUITE_AES_GCM_128, 16, false, false, 0 },
    { 0x1002, ESP_SUITE_CHACHA20_POLY1305, 32, true, true, 1 },
    { 0x1005, ESP_SUITE_AES_GCM_256, 32, true, false, 0 },
};

static const uint8_t key_bytes[36] = {
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19,
    20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35,
};

static uint8_t bufs[MAX_PKTS][BUF_SIZE];

/* FUZZ_DECAP_VERBOSE=1 prints each verdict: to check that the seed corpus
 * still reaches ESP_OK after a change. */
static bool verbose;

int LLVMFuzzerInitialize(int *argc, char ***argv);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    verbose = getenv("FUZZ_DECAP_VERBOSE") != NULL;
    return 0;
}

static struct esp_sad *
make_sad(void)
{
    struct esp_sad *sad = esp_sad_create();

    if (!sad) {
        abort();
    }
    for (size_t i = 0; i < N_SPECS; i++) {
        struct esp_spec_keys keys;
        struct esp_sa_params p;
        struct esp_sa *sa;
        char err[256];

        if (esp_spec_parse(specs[i], &p, &keys, ESP_DIR_IN, err,
                           sizeof err)
            || esp_sa_create(&p, &sa, err, sizeof err)
            || esp_sad_add(sad, sa)) {
            fprintf(stderr, "fuzz-decap: SA %zu: %s\n", i, err);
            abort();
        }
        esp_spec_keys_wipe(&keys);
    }
    return sad;
}

static void
run(struct esp_sad *sad, struct esp_buf *pkts[], unsigned int n)
{
    enum esp_verdict verdicts[MAX_PKTS];
    struct esp_sa *sas[MAX_PKTS];
    unsigned int ok;

    ok = esp_decap_burst(sad, pkts, verdicts, sas, n, 0);
    if (verbose) {
        for (unsigned int i = 0; i < n; i++) {
            fprintf(stderr, "fuzz-decap: packet %u/%u: %s\n", i + 1, n,
                    esp_verdict_name(verdicts[i]));
        }
    }
    for (unsigned int i = 0; i < n; i++) {
        struct esp_buf *b = pkts[i];

        if ((unsigned int) verdicts[i] >= ESP_N_VERDICTS
            || b->off + b->len > b->size) {
            abort();
        }
        if (verdicts[i] == ESP_OK) {
            ok--;
        }
    }
    if (ok) {
        abort();                /* Return value disagrees with verdicts. */
    }
}

static void
set_buf(struct esp_buf *b, uint8_t *mem, const uint8_t *data, size_t len)
{
    b->base = mem;
    b->size = BUF_SIZE;
    b->off = ESP_HEADROOM;
    b->len = len;
    memcpy(mem + b->off, data, len);
}

static void
put16(uint8_t *p, uint16_t v)
{
    p[0] = v >> 8;
    p[1] = v;
}

static void
put32(uint8_t *p, uint32_t v)
{
    put16(p, v >> 16);
    put16(p + 2, v);
}

static void
sealed(struct esp_sad *sad, const uint8_t *data, size_t size)
{
    const struct esp_crypto_engine *eng = &esp_crypto_openssl;
    const struct sealed_sa *s;
    struct esp_crypto_op op, *ops[1] = { &op };
    uint8_t pkt[1600], aad[12];
    struct esp_buf b, *pkts[1] = { &b };
    size_t hl, pt_len, len;
    uint32_t seq;
    void *ctx;

    if (size < 6) {
        return;
    }
    s = &sealed_sas[data[1] % (sizeof sealed_sas / sizeof sealed_sas[0])];
    seq = (uint32_t) data[2] << 24 | data[3] << 16 | data[4] << 8 | data[5];
    data += 6;
    size -= 6;
    hl = s->v6_outer ? 40 : 20;
    pt_len = size;
    len = hl + 8 + 8 + pt_len + ESP_ICV_LEN;
    if (len > sizeof pkt) {
        return;
    }

    memset(pkt, 0, hl);
    if (s->v6_outer) {
        static const uint8_t src[16] = { 0x20, 0x01, 0x0d, 0xb8,
                                         [15] = 1 };
        static const uint8_t dst[16] = { 0x20, 0x01, 0x0d, 0xb8,
                                         [15] = 2 };
        pkt[0] = 0x60;
        put16(pkt + 4, len - 40);
        pkt[6] = 50;
        pkt[7] = 64;
        memcpy(pkt + 8, src, 16);
        memcpy(pkt + 24, dst, 16);
    } else {
        pkt[0] = 0x45;
        put16(pkt + 2, len);
        pkt[8] = 64;
        pkt[9] = 50;
        put32(pkt + 12, 0xc0000201);
        put32(pkt + 16, 0xc0000202);
    }
    put32(pkt + hl, s->spi);
    put32(pkt + hl + 4, seq);
    memcpy(pkt + hl + 8, "fuzz-iv!", 8);
    memcpy(pkt + hl + 16, data, pt_len);

    /* RFC 4106 section 5 / RFC 7634 section 2.1: AAD is SPI || seq, or
     * SPI || seq_hi || seq_lo with ESN. */
    memcpy(aad, pkt + hl, 4);
    if (s->esn) {
        put32(aad + 4, s->seq_hi);
        put32(aad + 8, seq);
    } else {
        memcpy(aad + 4, pkt + hl + 4, 4);
    }

    if (eng->ctx_create(s->suite, key_bytes, s->key_len, NULL, 0, &ctx)) {
        abort();
    }
    memset(&op, 0, sizeof op);
    op.ctx = ctx;
    op.data = pkt + hl + 16;
    op.data_len = pt_len;
    op.aad = aad;
    op.aad_len = s->esn ? 12 : 8;
    op.icv = pkt + hl + 16 + pt_len;
    memcpy(op.nonce, key_bytes + s->key_len, 4);
    memcpy(op.nonce + 4, pkt + hl + 8, 8);
    eng->encrypt_burst(ops, 1);
    eng->ctx_destroy(ctx);
    if (op.status) {
        abort();
    }

    set_buf(&b, bufs[0], pkt, len);
    run(sad, pkts, 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct esp_buf b[MAX_PKTS], *pkts[MAX_PKTS];
    struct esp_sad *sad;
    unsigned int n = 0;
    size_t off;

    if (size < 1 || size > 1 + 2 * 1500) {
        return 0;
    }
    sad = make_sad();
    if (data[0] & 1) {
        sealed(sad, data, size);
        esp_sad_destroy(sad);
        return 0;
    }
    data++;
    size--;

    /* One packet: the whole input. */
    if (size <= BUF_SIZE - ESP_HEADROOM - ESP_TAILROOM) {
        set_buf(&b[0], bufs[0], data, size);
        pkts[0] = &b[0];
        run(sad, pkts, 1);
    }

    /* A burst: length-prefixed pieces, into a fresh SAD state. */
    esp_sad_destroy(sad);
    sad = make_sad();
    for (off = 0; off + 2 <= size && n < MAX_PKTS; n++) {
        size_t len = (size_t) data[off] << 8 | data[off + 1];

        off += 2;
        if (len > size - off) {
            len = size - off;
        }
        if (len > BUF_SIZE - ESP_HEADROOM - ESP_TAILROOM) {
            len = BUF_SIZE - ESP_HEADROOM - ESP_TAILROOM;
        }
        set_buf(&b[n], bufs[n], data + off, len);
        pkts[n] = &b[n];
        off += len;
    }
    if (n) {
        run(sad, pkts, n);
    }
    esp_sad_destroy(sad);
    return 0;
}
