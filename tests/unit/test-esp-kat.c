/*
 * Known-answer tests of whole ESP packets through esp_encap_burst() and
 * esp_decap_burst(), byte for byte, on both crypto engines:
 *
 *   - draft-mcgrew-gcm-test-01 (AES-GCM ESP test vectors, RFC 4106), every
 *     case with a 128- or 256-bit key (the AES-192 case is left out: no
 *     such suite here).  The published plaintexts end in an ESP trailer
 *     with next header 1, which is what transport mode produces for an
 *     IPv4 packet of protocol 1 whose payload is the plaintext before the
 *     trailer; so the cases run in transport mode behind a constructed
 *     IPv4 header (192.0.2.1 -> 192.0.2.2, protocol 1).  Where the draft
 *     shows a 64-bit sequence number, the SA uses ESN (RFC 4303 section
 *     2.2.1) and the high half goes into the AAD only.
 *   - RFC 7634 appendix A (ChaCha20-Poly1305 ESP example), tunnel mode:
 *     the plaintext is an IPv4 packet and next header is 4.
 *
 * Encap: the SA's first sequence number and explicit IV are the published
 * ones (params.seq = first - 1, params.iv), and the output after the outer
 * IPv4 header must be the published ESP packet (SPI, sequence, IV,
 * ciphertext, ICV).  Decap: the published ESP packet behind a constructed
 * outer IPv4 header must verify and give back the original packet; a copy
 * with one flipped ICV bit must be dropped with ESP_DROP_AUTH.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "esp.h"
#include "esp-crypto.h"
#include "testlib.h"

struct kat {
    const char *name;
    enum esp_suite suite;
    enum esp_mode mode;
    const char *key;            /* Key || salt. */
    uint32_t spi;
    uint64_t seq;
    bool esn;
    const char *iv;             /* Explicit IV (8 bytes). */
    const char *pt;             /* ESP payload and trailer. */
    const char *packet;         /* SPI || seq || IV || ciphertext || ICV. */
};

/* Data from draft-mcgrew-gcm-test-01 (section 4 onwards) and RFC 7634
 * appendix A. */
static const struct kat kats[] = {
    { "draft-mcgrew p6 (AES-128, ESN)", ESP_SUITE_AES_GCM_128,
      ESP_MODE_TRANSPORT,
      "4c80cdefbb5d10da906ac73c3613a634 2e443b68", 0x00004321,
      0x8765432100000000ULL, true, "4956ed7e3b244cfe",
      "45000048699a000080114db7c0a80102c0a801010a9bf15638d3010000010000"
      "00000000045f736970045f75647003736970096379626572636974790264"
      "6b000021000101020201",
      "00004321000000004956ed7e3b244cfe"
      "fecf537e729d5b07dc30df528dd22b768d1b98736696a6fd348509fa13ceac34"
      "cfa2436f14a3f3cf65925bf1f4a13c5d15b21e1884f5ff6247aeabb786b93bce"
      "61bc17d768fd9732459018148f6cbe722fd04796562dfdb4" },
    { "draft-mcgrew p7 (AES-128)", ESP_SUITE_AES_GCM_128,
      ESP_MODE_TRANSPORT,
      "feffe9928665731c6d6a8f9467308308 cafebabe", 0x0000a5f8, 0x0a, false,
      "facedbaddecaf888",
      "4500003e698f000080114dccc0a80102c0a801010a980035002a2343b2d00100"
      "0001000000000000037369700963796265726369747902646b00000100010001",
      "0000a5f80000000afacedbaddecaf888"
      "deb22cd9b07c72c16e3a65beeb8df304a5a5897d33ae530f1ba76d5d114d2a5c"
      "3de81827c10e9a4f51330d0eec416642cfbb85a5b47e48a4ec3b9ba95d918bd1"
      "83b70d3aa8bc6ee4c309e9d85a41ad4a" },
    { "draft-mcgrew p8 (AES-256)", ESP_SUITE_AES_GCM_256,
      ESP_MODE_TRANSPORT,
      "abbccddef00112233445566778899aababbccddef00112233445566778899aab"
      " 11223344", 0x4a2cbfe3, 2, false, "0102030405060708",
      "4500003069a6400080062690c0a801029389155e0a9e008b2dc57ee000000000"
      "7002400020bf0000020405b40101040201020201",
      "4a2cbfe3000000020102030405060708"
      "ff425c9b724599df7a3bcd510194e00d6a78107f1b0b1cbf06efae9d65a5d763"
      "748a637985771d347f0545659f14e99def842d8eb335f4eecfdbf831824b4c49"
      "15956c96" },
    { "draft-mcgrew p9 (AES-128, zero key)", ESP_SUITE_AES_GCM_128,
      ESP_MODE_TRANSPORT,
      "00000000000000000000000000000000 00000000", 0, 1, false,
      "0000000000000000",
      "4500003c99c500008001cb7a40679318010101010800075c0200440061626364"
      "65666768696a6b6c6d6e6f70717273747576776162636465666768690102"
      "0201",
      "00000000000000010000000000000000"
      "4688daf2f973a392732909c331d56d60f694abaa414b5e7ff5fdcdfff5e9a284"
      "456476492719ffb64de7d9dca1e1d894bc3bd57873ed4d181d19d4d5c8c18af3"
      "f821d496eeb096e98ad2b69e4799c71d" },
    { "draft-mcgrew p10 (AES-128, ESN)", ESP_SUITE_AES_GCM_128,
      ESP_MODE_TRANSPORT,
      "3de09874b388e6491988d0c3607eae1f 57690e43", 0x42f67e3f,
      0x1010101010101010ULL, true, "4e280000a2fca1a3",
      "4500003c99c300008001cb7c40679318010101010800085c0200430061626364"
      "65666768696a6b6c6d6e6f70717273747576776162636465666768690102"
      "0201",
      "42f67e3f101010104e280000a2fca1a3"
      "fba2caa4853cf9f0f22cb10d86dd83b0fec75691cf1a04b00d1138ec9c357917"
      "65acbd8701ad79845bf9fe3fba487bc91755e6662b4c8d0d1f5e22739530320a"
      "e0d731cc978ecafaeae88f00e80d6e48" },
    { "draft-mcgrew p11 (AES-128, ESN, short)", ESP_SUITE_AES_GCM_128,
      ESP_MODE_TRANSPORT,
      "3de09874b388e6491988d0c3607eae1f 57690e43", 0x42f67e3f,
      0x1010101010101010ULL, true, "4e280000a2fca1a3",
      "4500001c42a200008001441f406793b6e00000020a00f5ff01020201",
      "42f67e3f101010104e280000a2fca1a3"
      "fba2ca845e5df9f0f22c3e6e86dd831e1fc65792cd1af9130e1379ed369f071f"
      "35e034be95f112e4e7d05d35" },
    { "draft-mcgrew p12 (AES-128, ESN)", ESP_SUITE_AES_GCM_128,
      ESP_MODE_TRANSPORT,
      "abbccddef00112233445566778899aab decaf888", 0x00000100, 1, true,
      "cafedebaceface74",
      "4500004933ba00007f119106c3fb1d10c2b1d326c02831ce0035dd7b800302d5"
      "00004e20001e8c18d75b81dc91baa0476b91b924b280389d92c963bac046ec95"
      "9b6266c04722b14923010101",
      "0000010000000001cafedebaceface74"
      "18a6fd42f72cbf4ab2a2ea901f73d814e3e7f243d95412e1c349c1d2fbec168f"
      "9190feebaf2cb01984e65863965d7472b79da345e0e780191f0d2f0e0f496c22"
      "6f2127b27db35724e7845d68651f57e65f354f75ff17015769623436" },
    { "draft-mcgrew p13 (AES-256, ESN)", ESP_SUITE_AES_GCM_256,
      ESP_MODE_TRANSPORT,
      "abbccddef00112233445566778899aababbccddef00112233445566778899aab"
      " 73616c74", 0x17405e67, 0x156f3126dd0db99bULL, true,
      "616e640169766563",
      "45080028732c00004006e9f90a0106120a01038f06b88023dd6bafbecb712602"
      "50101f646d540001",
      "17405e67dd0db99b616e640169766563"
      "f2d69ecdbd5a0d5b8d5ef38bad4da58d1f278fde98ef67549d524a3018d9a57f"
      "f4d3a31ce673119e451626c2415771e3b7eebca614c89b35" },
    { "draft-mcgrew p14 (AES-128, ESN)", ESP_SUITE_AES_GCM_128,
      ESP_MODE_TRANSPORT,
      "3de09874b388e6491988d0c3607eae1f 57690e43", 0x42f67e3f,
      0x1010101010101010ULL, true, "4e280000a2fca1a3",
      "45000049333e00007f119182c3fb1d10c2b1d326c02831ce0035cb458003025b"
      "000001e0001e8c18d65759d52284a0352c71475c8880391c764d6e5ee0496b32"
      "5ae270c03899493915010101",
      "42f67e3f101010104e280000a2fca1a3"
      "fba2cad12fc1f9f00d3cebf305410db83d7784b607323d220f24b0a97d541828"
      "00cadb0f68d99ef0e0c0c89ae9bea8884e52d65bc1afd0740f742444747b5b39"
      "ab533163aad4550ee5160975cdb608c5769189609763b8e18caa81e2" },
    { "draft-mcgrew p15 (AES-256, ESN)", ESP_SUITE_AES_GCM_256,
      ESP_MODE_TRANSPORT,
      "abbccddef00112233445566778899aababbccddef00112233445566778899aab"
      " 73616c74", 0x17405e67, 0x156f3126dd0db99bULL, true,
      "616e640169766563",
      "636973636f0172756c65730174686501" "6e6574776501646566696e6501746865"
      "746563686e6f6c6f6769657301746861" "7477696c6c01646566696e65746f6d6f"
      "72726f7701020201",
      "17405e67dd0db99b616e640169766563"
      "d4b7ed86a1777f2ea13d6973d324c69e7b43f826fb56831226508bebd2dceb18"
      "d0a6df10e5487df074113e14c641024e3e6773d91a62ee429b043a10e3efe6b0"
      "12a49363412364f8c0cac587f249e56b11e24f30e44ccc76" },
    { "draft-mcgrew p16a (AES-128, seq 2^32-1, empty)",
      ESP_SUITE_AES_GCM_128, ESP_MODE_TRANSPORT,
      "7d773d00c144c525ac619d18c84a3f47 d9664267", 0x335467ae, 0xffffffff,
      false, "43457e9182443bc6", "01020201",
      "335467aeffffffff43457e9182443bc6"
      "437f866bcb3f699fe9b0822bac961c4504bef270" },
    { "draft-mcgrew p16b (AES-128, ESN)", ESP_SUITE_AES_GCM_128,
      ESP_MODE_TRANSPORT,
      "abbccddef00112233445566778899aab decaf888", 0x00000100, 1, true,
      "cafedebaceface74",
      "746f016265016f72016e6f7401746f0162650001",
      "0000010000000001cafedebaceface74"
      "29c9fc69a197d038ccdd14e2ddfcaa054333216441250352"
      "4303ed3c6c5f283843af8c3e" },
    { "draft-mcgrew p17 (AES-256, ESN 2^64-1)", ESP_SUITE_AES_GCM_256,
      ESP_MODE_TRANSPORT,
      "6c6567616c697a656d6172696a75616e61616e64646f69746265666f72656961"
      " 7475726e", 0x796b6963, UINT64_MAX, true, "333021696765746d",
      "45000030da3a00008001df3bc0a80005c0a800010800c6cd0200070061626364"
      "65666768696a6b6c6d6e6f707172737401020201",
      "796b6963ffffffff333021696765746d"
      "f97ab2aa356d8edce17644ac8c78e25dd24dedbb29ebf1b64a274b39b49c3a86"
      "4cd3d78ca4ae68a32b42458fb57dbe821dcc63b9d0937ba2945f669368661a32"
      "9fb4c053" },
    { "RFC 7634 appendix A (ChaCha20-Poly1305, tunnel)",
      ESP_SUITE_CHACHA20_POLY1305, ESP_MODE_TUNNEL,
      "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
      " a0a1a2a3", 0x01020304, 5, false, "1011121314151617",
      "45000054a6f200004001e778c6336405c0000205" "08005b7a3a080000553bec10"
      "0007362708090a0b0c0d0e0f1011121314151617" "18191a1b1c1d1e1f20212223"
      "2425262728292a2b2c2d2e2f3031323334353637" "01020204",
      NULL },
};

/* RFC 7634 appendix A's ESP packet; kept apart for its length. */
static const char rfc7634_packet[] =
    "01020304000000051011121314151617"
    "24039428b97f417e3c13753a4f05087b67c352e6a7fab1b982d466ef407ae5c6"
    "14ee8099d52844eb61aa95dfab4c02f72aa71e7c4c4f64c9befe2facc638e8f3"
    "cbec163fac469b502773f6fb94e664da9165b82829f641e0"
    "76aaa8266b7fb0f7b11b369907e1ad43";

static int
hexval(int c)
{
    return (c >= '0' && c <= '9' ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1);
}

static int
unhex(const char *s, uint8_t *out, size_t max)
{
    size_t n = 0;

    while (*s) {
        if (*s == ' ') {
            s++;
            continue;
        }
        if (hexval(s[0]) < 0 || hexval(s[1]) < 0 || n >= max) {
            return -1;
        }
        out[n++] = hexval(s[0]) << 4 | hexval(s[1]);
        s += 2;
    }
    return n;
}

static void
set_v4(struct esp_addr *a, const char *s)
{
    memset(a, 0, sizeof *a);
    a->family = AF_INET;
    inet_pton(AF_INET, s, &a->v4);
}

/* A 20-byte IPv4 header, checksum filled in. */
static void
ipv4_header(uint8_t *h, uint16_t total, uint8_t proto)
{
    uint32_t sum = 0;

    memset(h, 0, 20);
    h[0] = 0x45;
    h[2] = total >> 8;
    h[3] = total;
    h[8] = 64;
    h[9] = proto;
    inet_pton(AF_INET, "192.0.2.1", h + 12);
    inet_pton(AF_INET, "192.0.2.2", h + 16);
    for (int i = 0; i < 20; i += 2) {
        sum += h[i] << 8 | h[i + 1];
    }
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum = ~sum & 0xffff;
    h[10] = sum >> 8;
    h[11] = sum;
}

static void
hexdump(const char *what, const uint8_t *p, size_t n)
{
    printf("  %s:", what);
    for (size_t i = 0; i < n; i++) {
        printf("%s%02x", i % 32 ? "" : "\n    ", p[i]);
    }
    printf("\n");
}

static void
run_kat(const struct kat *k, const struct esp_crypto_engine *eng)
{
    enum { ROOM = 2048 };
    uint8_t key[64], iv[8], pt[512], packet[600], inner[600];
    uint8_t buf[ROOM];
    int key_len, pt_len, pkt_len, pad_len, payload_len, inner_len;
    struct esp_sa_params p;
    struct esp_sa *out = NULL, *in = NULL;
    struct esp_sad *sad;
    char err[128];
    bool tunnel = k->mode == ESP_MODE_TUNNEL;

    test_case = k->name;
    key_len = unhex(k->key, key, sizeof key);
    CHECK_EQ(unhex(k->iv, iv, sizeof iv), 8);
    pt_len = unhex(k->pt, pt, sizeof pt);
    pkt_len = unhex(tunnel ? rfc7634_packet : k->packet, packet,
                    sizeof packet);
    CHECK_EQ(key_len, (int) esp_suite_key_len(k->suite));
    CHECK(pt_len >= 2);
    CHECK_EQ(pkt_len, 8 + 8 + pt_len + 16);
    if (pt_len < 2 || pkt_len != 8 + 8 + pt_len + 16) {
        return;
    }
    pad_len = pt[pt_len - 2];
    payload_len = pt_len - 2 - pad_len;

    /* The packet the sender starts from. */
    if (tunnel) {
        memcpy(inner, pt, payload_len);
        inner_len = payload_len;
        CHECK_EQ(pt[pt_len - 1], 4);
    } else {
        CHECK_EQ(pt[pt_len - 1], 1);
        ipv4_header(inner, 20 + payload_len, 1);
        memcpy(inner + 20, pt, payload_len);
        inner_len = 20 + payload_len;
    }

    if (k->spi < 256) {
        /* RFC 4303 section 2.1 reserves SPIs 0-255, so the SA API
         * refuses this one: check the crypto at the engine level. */
        uint8_t data[512], icv[16], aad[8], nonce[12];
        struct esp_crypto_op op, *opp = &op;
        void *ctx = NULL;

        printf("  %s, %s: SPI %u is reserved, engine-level check only\n",
               k->name, eng->name, (unsigned int) k->spi);
        memcpy(aad, packet, 8);
        memcpy(nonce, key + key_len - 4, 4);
        memcpy(nonce + 4, iv, 8);
        CHECK_EQ(eng->ctx_create(k->suite, key, key_len - 4, NULL, 0, &ctx),
                 0);
        memset(&op, 0, sizeof op);
        op.ctx = ctx;
        op.data = data;
        op.data_len = pt_len;
        op.aad = aad;
        op.aad_len = 8;
        op.icv = icv;
        memcpy(op.nonce, nonce, 12);
        memcpy(data, pt, pt_len);
        eng->encrypt_burst(&opp, 1);
        CHECK_EQ(op.status, 0);
        CHECK(!memcmp(data, packet + 16, pt_len));
        CHECK(!memcmp(icv, packet + 16 + pt_len, 16));
        eng->ctx_destroy(ctx);
        return;
    }

    memset(&p, 0, sizeof p);
    p.spi = k->spi;
    p.mode = k->mode;
    p.suite = k->suite;
    if (tunnel) {
        set_v4(&p.src, "192.0.2.1");
        set_v4(&p.dst, "192.0.2.2");
    }
    p.key = key;
    p.key_len = key_len;
    p.esn = k->esn;
    p.replay_window = 64;
    p.engine = eng;

    /* Encap: byte for byte after the outer IPv4 header. */
    p.dir = ESP_DIR_OUT;
    p.seq = k->seq - 1;
    p.iv = iv;
    p.iv_len = 8;
    CHECK_EQ(esp_sa_create(&p, &out, err, sizeof err), 0);
    if (out) {
        struct esp_buf b = { buf, ROOM, 256, inner_len }, *bp = &b;
        enum esp_verdict v = ESP_N_VERDICTS;

        memcpy(buf + 256, inner, inner_len);
        CHECK_EQ(esp_encap_burst(out, &bp, &v, 1, 0), 1);
        CHECK_EQ(v, ESP_OK);
        CHECK_EQ(b.len, 20 + pkt_len);
        if (v == ESP_OK && b.len == (uint32_t) 20 + pkt_len) {
            const uint8_t *o = buf + b.off;

            CHECK_EQ(o[0], 0x45);
            CHECK_EQ(o[9], 50);
            CHECK_EQ(o[2] << 8 | o[3], 20 + pkt_len);
            if (memcmp(o + 20, packet, pkt_len)) {
                CHECK(!"encap output is the published ESP packet");
                hexdump("got", o + 20, pkt_len);
                hexdump("expected", packet, pkt_len);
            } else {
                test_passed++;
            }
        }
        esp_sa_destroy(out);
    } else {
        printf("  esp_sa_create (out): %s\n", err);
    }

    /* Decap of the published packet behind a fresh outer header. */
    p.dir = ESP_DIR_IN;
    p.iv = NULL;
    p.iv_len = 0;
    p.seq = k->seq - 1;         /* Highest seen: the next one is new. */
    CHECK_EQ(esp_sa_create(&p, &in, err, sizeof err), 0);
    if (!in) {
        printf("  esp_sa_create (in): %s\n", err);
        return;
    }
    sad = esp_sad_create();
    CHECK_EQ(esp_sad_add(sad, in), 0);
    /* The forged copy first: it must neither verify nor move the replay
     * window, so the genuine packet after it still gets in. */
    for (int tamper = 1; tamper >= 0; tamper--) {
        struct esp_buf b = { buf, ROOM, 256, 20 + pkt_len }, *bp = &b;
        enum esp_verdict v = ESP_N_VERDICTS;
        struct esp_sa *sa_out = NULL;

        ipv4_header(buf + 256, 20 + pkt_len, 50);
        memcpy(buf + 256 + 20, packet, pkt_len);
        if (tamper) {
            buf[256 + 20 + pkt_len - 1] ^= 0x01;
        }
        CHECK_EQ(esp_decap_burst(sad, &bp, &v, &sa_out, 1, 0), !tamper);
        if (tamper) {
            CHECK_EQ(v, ESP_DROP_AUTH);
            continue;
        }
        CHECK_EQ(v, ESP_OK);
        CHECK_EQ(b.len, inner_len);
        if (v == ESP_OK && b.len == (uint32_t) inner_len) {
            if (memcmp(buf + b.off, inner, inner_len)) {
                CHECK(!"decap output is the original packet");
                hexdump("got", buf + b.off, inner_len);
                hexdump("expected", inner, inner_len);
            } else {
                test_passed++;
            }
        }
    }
    esp_sad_destroy(sad);
}

int
main(void)
{
    const struct esp_crypto_engine *engines[] = {
        &esp_crypto_ipsecmb, &esp_crypto_openssl,
    };

    for (size_t e = 0; e < sizeof engines / sizeof engines[0]; e++) {
        for (size_t i = 0; i < sizeof kats / sizeof kats[0]; i++) {
            run_kat(&kats[i], engines[e]);
        }
    }
    return test_summary("test-esp-kat");
}
