/*
 * The inline-crypto datapath end to end on the software NIC model:
 *
 *        datapath (ESP core, inline mode)          test's wire checks
 *              |  ^                                   |  ^
 *   TX: encap, |  | RX: decap with the            RX  |  | TX: ESP from the
 *   no crypto  v  | NIC's flags                       v  | sw engine
 *         +-----------+   ring "tx"  +-----------+
 *         | port nic  |------------->| port peer |
 *         | + model   |<-------------|           |
 *         +-----------+   ring "rx"  +-----------+
 *          (net_ring ethdevs from rte_eth_from_rings; the model's RX/TX
 *           callbacks do the NIC's crypto with OpenSSL)
 *
 * SAs are installed through the dpdk-inline-crypto provider, so their
 * sessions live in the model.  Outbound: the core builds ESP without
 * encrypting, the model encrypts on TX, and the ESP that reaches the peer
 * is opened both by the datapath's software engine and by a reference
 * written here from the RFCs with OpenSSL.  Inbound: ESP sealed by the
 * software engine is decrypted by the model on RX, and the core's inline
 * decap accepts it; a corrupted packet is flagged failed by the model and
 * dropped as offload_auth; a replayed one is dropped as replay; an SA the
 * model's table cannot hold runs in sw with the reason, and its traffic
 * still flows; removing SAs leaves no session in the model.
 *
 * With --bench: cycles per packet of the ESP core (the datapath library,
 * not the OVS PMD) for (a) the sw engine (ipsec-mb) versus (b) inline
 * crypto, the datapath's own work only (core in inline mode plus the
 * rte_security TX metadata / the RX flag mapping, no crypto), and (c) the
 * crypto that the NIC model does in software for (b).  AES-GCM-128/256,
 * 64 and 1400 byte UDP payloads, encap and decap; target (b) <= 40% of
 * (a) at 1400 bytes.  See bench() for what is inside the timed regions.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <rte_cycles.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>
#include <rte_security.h>

#include "esp-crypto.h"
#include "ipsec-offload.h"
#include "ipsec-offload-dpdk.h"
#include "offload-test.h"
#include "ring-ports.h"
#include "sec-model.h"

enum {
    TABLE = 8,
    N_PKTS = 8,
    ETH_LEN = 14,
};

static struct rte_mempool *mbufs;
static struct ring_ports ports;

/* --- Packets ---------------------------------------------------------- */

/* An inner IPv4/UDP packet 10.0.0.1:1000 -> 10.0.1.2:2000 of 'len' bytes
 * (>= 28) with a payload derived from 'k'. */
static void
inner_packet(uint8_t *ip, size_t len, unsigned int k)
{
    memset(ip, 0, len);
    ip[0] = 0x45;
    ip[2] = len >> 8;
    ip[3] = len;
    ip[8] = 64;
    ip[9] = 17;
    ip[12] = 10;
    ip[15] = 1;
    ip[16] = 10;
    ip[18] = 1;
    ip[19] = 2;
    ip[20] = 1000 >> 8;
    ip[21] = 1000 & 0xff;
    ip[22] = 2000 >> 8;
    ip[23] = 2000 & 0xff;
    ip[24] = (len - 20) >> 8;
    ip[25] = len - 20;
    for (size_t i = 28; i < len; i++) {
        ip[i] = i * 13 + k;
    }
    uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2) {
        sum += ip[i] << 8 | ip[i + 1];
    }
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    ip[10] = ~sum >> 8;
    ip[11] = ~sum;
}

static size_t
pkt_len(unsigned int k)
{
    static const size_t lens[] = { 28, 29, 31, 64, 100, 333, 1000, 1400 };

    return lens[k % (sizeof lens / sizeof lens[0])];
}

/* An mbuf with the inner packet at the default headroom, as an esp_buf
 * (whose 'off' is relative to buf_addr). */
static struct rte_mbuf *
inner_mbuf(unsigned int k, struct esp_buf *b)
{
    struct rte_mbuf *m = rte_pktmbuf_alloc(mbufs);
    size_t len = pkt_len(k);

    if (!m) {
        return NULL;
    }
    b->base = m->buf_addr;
    b->size = m->buf_len;
    b->off = m->data_off;
    b->len = len;
    inner_packet(b->base + b->off, len, k);
    return m;
}

/* After encap: Ethernet in front, the mbuf sized to the frame. */
static void
to_frame(struct rte_mbuf *m, const struct esp_buf *b)
{
    uint8_t *eth = b->base + b->off - ETH_LEN;
    uint8_t v = b->base[b->off] >> 4;

    memset(eth, 0x02, 12);
    eth[12] = v == 4 ? 0x08 : 0x86;
    eth[13] = v == 4 ? 0x00 : 0xdd;
    m->data_off = b->off - ETH_LEN;
    m->data_len = b->len + ETH_LEN;
    m->pkt_len = m->data_len;
}

/* The IP packet in a received frame, as an esp_buf. */
static void
from_frame(struct rte_mbuf *m, struct esp_buf *b)
{
    b->base = m->buf_addr;
    b->size = m->buf_len;
    b->off = m->data_off + ETH_LEN;
    b->len = m->data_len - ETH_LEN;
}

/* --- The reference: ESP opened from the RFCs with OpenSSL ------------ */

static uint32_t
rd32(const uint8_t *p)
{
    return (uint32_t) p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

/* Opens the ESP packet in the IP packet 'ip' (IPv4, or IPv6 without
 * extensions; raw or UDP) for 'p' with the full sequence number 'seq'.
 * Writes the payload (without padding and trailer) to 'out'.  Returns its
 * length, or -1 if it does not verify or the trailer is wrong. */
static int
ref_open(const struct esp_sa_params *p, uint64_t seq, const uint8_t *ip,
         size_t len, uint8_t *out, uint8_t *nh)
{
    bool aead = !p->auth_key;
    size_t l3 = ip[0] >> 4 == 4 ? (ip[0] & 0xf) * 4u : 40u;
    const uint8_t *esp = ip + l3 + (p->udp_encap ? 8 : 0);
    size_t iv_len = aead ? 8 : 16;
    const uint8_t *ct = esp + 8 + iv_len, *icv = ip + len - 16;
    int ct_len = icv - ct, n, ok;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    const EVP_CIPHER *cipher;
    size_t key_len = p->key_len - (aead ? 4 : 0);

    if (ct_len < 2 || rd32(esp) != p->spi || rd32(esp + 4) != (uint32_t) seq) {
        EVP_CIPHER_CTX_free(c);
        return -1;
    }
    if (aead) {
        uint8_t nonce[12], aad[12];
        int aad_len = 8;

        /* RFC 4106 sections 4-5, RFC 7634 section 2. */
        memcpy(nonce, p->key + key_len, 4);
        memcpy(nonce + 4, esp + 8, 8);
        memcpy(aad, esp, 4);
        if (p->esn) {
            aad[4] = seq >> 56;
            aad[5] = seq >> 48;
            aad[6] = seq >> 40;
            aad[7] = seq >> 32;
            memcpy(aad + 8, esp + 4, 4);
            aad_len = 12;
        } else {
            memcpy(aad + 4, esp + 4, 4);
        }
        cipher = (p->suite == ESP_SUITE_CHACHA20_POLY1305
                  ? EVP_chacha20_poly1305()
                  : key_len == 16 ? EVP_aes_128_gcm() : EVP_aes_256_gcm());
        ok = (EVP_DecryptInit_ex(c, cipher, NULL, NULL, NULL)
              && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL)
              && EVP_DecryptInit_ex(c, NULL, NULL, p->key, nonce)
              && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, 16,
                                     (void *) icv)
              && EVP_DecryptUpdate(c, NULL, &n, aad, aad_len)
              && EVP_DecryptUpdate(c, out, &n, ct, ct_len)
              && EVP_DecryptFinal_ex(c, out + ct_len, &n));
    } else {
        /* RFC 4868 section 2.3 (HMAC-SHA-256-128), RFC 4303 section
         * 3.4.4.1 (ESN high bits appended), then RFC 3602. */
        static uint8_t buf[70000];
        size_t auth_len = icv - esp;
        uint8_t md[32];
        unsigned int md_len;

        memcpy(buf, esp, auth_len);
        if (p->esn) {
            buf[auth_len++] = seq >> 56;
            buf[auth_len++] = seq >> 48;
            buf[auth_len++] = seq >> 40;
            buf[auth_len++] = seq >> 32;
        }
        HMAC(EVP_sha256(), p->auth_key, 32, buf, auth_len, md, &md_len);
        cipher = key_len == 16 ? EVP_aes_128_cbc() : EVP_aes_256_cbc();
        ok = (!CRYPTO_memcmp(md, icv, 16)
              && EVP_DecryptInit_ex(c, cipher, NULL, p->key, esp + 8)
              && EVP_CIPHER_CTX_set_padding(c, 0)
              && EVP_DecryptUpdate(c, out, &n, ct, ct_len)
              && EVP_DecryptFinal_ex(c, out + ct_len, &n));
    }
    EVP_CIPHER_CTX_free(c);
    if (!ok) {
        return -1;
    }
    /* RFC 4303 section 2.4: pad bytes 1, 2, 3, ... */
    uint8_t pad = out[ct_len - 2];

    if (pad + 2 > ct_len) {
        return -1;
    }
    for (int i = 0; i < pad; i++) {
        if (out[ct_len - 2 - pad + i] != i + 1) {
            return -1;
        }
    }
    *nh = out[ct_len - 1];
    return ct_len - 2 - pad;
}

/* --- SAs -------------------------------------------------------------- */

struct cfg {
    const char *name;
    enum esp_suite suite;
    bool transport, esn, udp, v6;
};

static struct esp_sa_params
sa_params(const struct cfg *c, uint32_t spi, enum esp_dir dir)
{
    struct esp_sa_params p = offload_test_sa(spi, c->suite, dir,
                                             c->transport);

    p.esn = c->esn;
    p.udp_encap = c->udp;
    if (c->esn) {
        /* Close to a 2^32 boundary: the burst crosses it. */
        p.seq = 0xfffffffcull;
    }
    if (c->transport) {
        /* The packet's own addresses; no SAD key beyond the SPI. */
        memset(&p.src, 0, sizeof p.src);
        memset(&p.dst, 0, sizeof p.dst);
    }
    if (c->v6 && !c->transport) {
        p.src.family = p.dst.family = AF_INET6;
        inet_pton(AF_INET6, "2001:db8::1", &p.src.v6);
        inet_pton(AF_INET6, "2001:db8::2", &p.dst.v6);
    }
    if (dir == ESP_DIR_IN) {
        /* Our side receives: the peer's outer source and our address. */
        struct esp_addr a = p.src;

        p.src = p.dst;
        p.dst = a;
    }
    return p;
}

/* An SA in the core and through the registry on port "dpdk0". */
struct inst {
    struct esp_sa *sa;
    struct ipsec_offload_sa *osa;
    struct rte_security_ctx *ctx;
    void *sess;
    uint32_t ol_flags;
};

static void
install(struct ipsec_offload *reg, const struct esp_sa_params *p,
        struct inst *in)
{
    char err[256];

    memset(in, 0, sizeof *in);
    CHECK_EQ(esp_sa_create(p, &in->sa, err, sizeof err), 0);
    CHECK_EQ(ipsec_offload_sa_install(reg, "dpdk0", p, in->sa, &in->osa,
                                      err, sizeof err), 0);
    if (in->osa && ipsec_offload_sa_kind(in->osa)
                   == IPSEC_OFFLOAD_INLINE_CRYPTO) {
        esp_sa_set_inline_crypto(in->sa, true);
        CHECK_EQ(ipsec_offload_dpdk_sa_session(in->osa, &in->ctx, &in->sess,
                                               &in->ol_flags), 0);
    }
}

/* --- The cases -------------------------------------------------------- */

/* Outbound: the core encaps in inline mode, the model encrypts; the peer
 * checks the wire with the sw engine and the reference. */
static void
outbound(const struct cfg *c, struct inst *out, struct secmodel *model,
         bool expect_inline)
{
    struct esp_sa_params p = sa_params(c, esp_sa_spi(out->sa), ESP_DIR_OUT);
    struct esp_sa_params q = p;
    struct rte_mbuf *pkts[N_PKTS], *got[N_PKTS];
    struct esp_buf bufs[N_PKTS], *bp[N_PKTS];
    struct esp_inline_md md[N_PKTS];
    enum esp_verdict v[N_PKTS];
    struct secmodel_counters before, after;
    struct esp_sad *sad = esp_sad_create();
    struct esp_sa *check;
    unsigned int n;
    char err[256];

    /* The peer's software SA for the same keys. */
    q.dir = ESP_DIR_IN;
    q.seq = p.seq;
    q.replay_window = 64;
    CHECK_EQ(esp_sa_create(&q, &check, err, sizeof err), 0);
    CHECK_EQ(esp_sad_add(sad, check), 0);

    secmodel_get_counters(model, &before);
    for (unsigned int i = 0; i < N_PKTS; i++) {
        pkts[i] = inner_mbuf(i, &bufs[i]);
        bp[i] = &bufs[i];
    }
    CHECK_EQ(esp_encap_burst_ex(out->sa, bp, v, md, N_PKTS, 0), N_PKTS);
    for (unsigned int i = 0; i < N_PKTS; i++) {
        CHECK_EQ(v[i], ESP_OK);
        to_frame(pkts[i], &bufs[i]);
        if (out->sess) {
            CHECK_EQ(ipsec_offload_dpdk_tx_prepare(out->ctx, out->sess,
                                                   out->ol_flags, pkts[i],
                                                   md[i].seq), 0);
        }
    }
    n = ring_ports_wire(&ports, ports.nic, pkts, N_PKTS, got);
    CHECK_EQ(n, N_PKTS);
    secmodel_get_counters(model, &after);
    CHECK_EQ(after.tx_encrypted - before.tx_encrypted,
             expect_inline ? N_PKTS : 0);
    CHECK_EQ(after.tx_errors, before.tx_errors);

    for (unsigned int i = 0; i < n; i++) {
        struct esp_buf b, *bq = &b;
        uint8_t inner[1500], plain[2048], nh = 0;
        enum esp_verdict w;
        size_t len = pkt_len(i);
        int pl;

        inner_packet(inner, len, i);
        from_frame(got[i], &b);
        /* The reference first (the sw decap below decrypts in place). */
        pl = ref_open(&p, p.seq + 1 + i, b.base + b.off, b.len, plain, &nh);
        if (c->transport) {
            CHECK_EQ(pl, (int) len - 20);
            CHECK_EQ(nh, 17);
            CHECK(pl >= 0 && !memcmp(plain, inner + 20, len - 20));
        } else {
            CHECK_EQ(pl, (int) len);
            CHECK_EQ(nh, 4);
            CHECK(pl >= 0 && !memcmp(plain, inner, len));
        }
        CHECK_EQ(esp_decap_burst(sad, &bq, &w, NULL, 1, 0), 1);
        CHECK_EQ(w, ESP_OK);
        CHECK_EQ(b.len, len);
        CHECK(!memcmp(b.base + b.off, inner, 20 + 8)
              || c->transport);
        CHECK(!memcmp(b.base + b.off + 20, inner + 20, len - 20));
        rte_pktmbuf_free(got[i]);
    }
    esp_sad_destroy(sad);
}

/* Inbound: the peer sends ESP sealed by the sw engine; the model decrypts
 * on RX; the core's inline decap takes it.  Then a corrupted packet, a
 * replay, and a packet for an SA the model does not hold.  Without
 * 'expect_inline' the NIC leaves every packet encrypted (an sw SA, or an
 * inline SA whose rte_flow rule is gone) and the core decrypts them in
 * software, counted as offload_sw for an inline SA. */
static void
inbound(const struct cfg *c, struct inst *in, struct esp_sad *sad,
        struct secmodel *model, bool expect_inline)
{
    struct esp_sa_params p = sa_params(c, esp_sa_spi(in->sa), ESP_DIR_IN);
    struct esp_sa_params q = p;
    struct rte_mbuf *pkts[N_PKTS + 2], *got[N_PKTS + 2];
    struct esp_buf bufs[N_PKTS + 2], *bp[N_PKTS + 2];
    enum esp_verdict v[N_PKTS + 2];
    uint8_t flags[N_PKTS + 2];
    struct secmodel_counters before, after;
    struct esp_sa_stats st0, st;
    struct esp_sa *peer;
    unsigned int n, total = N_PKTS + 2;
    char err[256];

    /* The peer's outbound SA, software. */
    q.dir = ESP_DIR_OUT;
    q.src = p.src;
    q.dst = p.dst;
    q.replay_window = 0;
    CHECK_EQ(esp_sa_create(&q, &peer, err, sizeof err), 0);

    esp_sa_get_stats(in->sa, &st0);
    secmodel_get_counters(model, &before);
    for (unsigned int i = 0; i < N_PKTS; i++) {
        pkts[i] = inner_mbuf(i, &bufs[i]);
        bp[i] = &bufs[i];
    }
    CHECK_EQ(esp_encap_burst(peer, bp, v, N_PKTS, 0), N_PKTS);
    for (unsigned int i = 0; i < N_PKTS; i++) {
        to_frame(pkts[i], &bufs[i]);
    }
    /* Packet N_PKTS: a copy of packet 0 (replay).  N_PKTS + 1: a copy of
     * packet 1 with one ciphertext bit flipped. */
    pkts[N_PKTS] = rte_pktmbuf_copy(pkts[0], mbufs, 0, UINT32_MAX);
    pkts[N_PKTS + 1] = rte_pktmbuf_copy(pkts[1], mbufs, 0, UINT32_MAX);
    {
        uint8_t *f = rte_pktmbuf_mtod(pkts[N_PKTS + 1], uint8_t *);

        f[rte_pktmbuf_data_len(pkts[N_PKTS + 1]) - 20] ^= 0x10;
    }
    /* The corrupted one goes first, so its sequence number is still new
     * when it arrives. */
    {
        struct rte_mbuf *t = pkts[N_PKTS + 1];

        memmove(pkts + 1, pkts, (N_PKTS + 1) * sizeof pkts[0]);
        pkts[0] = t;
    }
    n = ring_ports_wire(&ports, ports.peer, pkts, total, got);
    CHECK_EQ(n, total);
    secmodel_get_counters(model, &after);
    CHECK_EQ(after.rx_decrypted - before.rx_decrypted,
             expect_inline ? N_PKTS + 1 : 0);
    CHECK_EQ(after.rx_failed - before.rx_failed, expect_inline ? 1 : 0);

    for (unsigned int i = 0; i < n; i++) {
        from_frame(got[i], &bufs[i]);
        bp[i] = &bufs[i];
        flags[i] = ipsec_offload_dpdk_rx_flags(got[i]->ol_flags);
        CHECK_EQ(flags[i], !expect_inline ? 0
                 : i == 0 ? ESP_RX_CRYPTO_FAILED : ESP_RX_CRYPTO_DONE);
    }
    CHECK_EQ(esp_decap_burst_ex(sad, bp, flags, v, NULL, n, 0), N_PKTS);
    CHECK_EQ(v[0], expect_inline ? ESP_DROP_OFFLOAD_AUTH : ESP_DROP_AUTH);
    for (unsigned int i = 1; i <= N_PKTS; i++) {
        uint8_t inner[1500];
        size_t len = pkt_len(i - 1);

        inner_packet(inner, len, i - 1);
        CHECK_EQ(v[i], ESP_OK);
        CHECK_EQ(bufs[i].len, len);
        CHECK(!memcmp(bufs[i].base + bufs[i].off, inner, len));
    }
    CHECK_EQ(v[N_PKTS + 1], ESP_DROP_REPLAY);
    esp_sa_get_stats(in->sa, &st);
    CHECK_EQ(st.packets - st0.packets, N_PKTS);
    CHECK_EQ(st.offload_sw - st0.offload_sw,
             expect_inline || !esp_sa_inline_crypto(in->sa) ? 0 : N_PKTS);
    CHECK_EQ(st.drops[ESP_DROP_REPLAY] - st0.drops[ESP_DROP_REPLAY], 1);
    CHECK_EQ(st.drops[ESP_DROP_OFFLOAD_AUTH]
             - st0.drops[ESP_DROP_OFFLOAD_AUTH], expect_inline ? 1 : 0);
    if (expect_inline) {
        struct ipsec_offload_stats os;

        CHECK_EQ(ipsec_offload_sa_get_stats(in->osa, &os), 0);
        CHECK_EQ(os.ierrors, 1);
        CHECK_EQ(os.ipackets, N_PKTS + 1);
    }
    for (unsigned int i = 0; i < n; i++) {
        rte_pktmbuf_free(got[i]);
    }
    esp_sa_destroy(peer);
}

static struct secmodel_config
nic_config(unsigned int table)
{
    struct secmodel_config c = {
        .sa_table_size = table,
        .actions = SECMODEL_INLINE_CRYPTO,
        .algs = (SECMODEL_AES_GCM_128 | SECMODEL_AES_GCM_256
                 | SECMODEL_CHACHA20_POLY1305
                 | SECMODEL_AES_CBC_128_HMAC_SHA256
                 | SECMODEL_AES_CBC_256_HMAC_SHA256),
        .egress = true, .ingress = true,
        .tunnel = true, .transport = true,
        .esn = true, .udp_encap = true,
    };
    return c;
}

static struct ipsec_offload *
registry(struct secmodel *model)
{
    struct ipsec_offload *reg = ipsec_offload_create();
    char err[256];

    CHECK(reg != NULL);
    CHECK_EQ(ipsec_offload_dpdk_register(reg), 0);
    CHECK_EQ(secmodel_attach(model, ports.nic), 0);
    CHECK_EQ(ipsec_offload_port_add(reg, "dpdk0", "dpdk", ports.nic), 0);
    CHECK_EQ(ipsec_offload_set_preference(reg, "dpdk-inline-crypto,sw", err,
                                          sizeof err), 0);
    return reg;
}

/* The NIC model with an SA table of 'table' entries, '*modelp', attached
 * to ports.nic, and the registry on it; NULL in '*modelp' (a failed check)
 * if the model cannot be made. */
static struct ipsec_offload *
nic_setup(unsigned int table, struct secmodel **modelp)
{
    struct secmodel_config mc = nic_config(table);

    *modelp = secmodel_create(&mc);
    CHECK(*modelp != NULL);
    if (!*modelp) {
        return NULL;
    }
    CHECK_EQ(secmodel_port_attach(*modelp, ports.nic), 0);
    return registry(*modelp);
}

/* Undoes nic_setup(). */
static void
nic_teardown(struct secmodel *model, struct ipsec_offload *reg)
{
    CHECK_EQ(ipsec_offload_port_remove(reg, "dpdk0"), 0);
    ipsec_offload_destroy(reg);
    secmodel_detach_all();
    CHECK_EQ(secmodel_destroy(model), 0);
}

static void
test_suites(void)
{
    static const struct cfg cfgs[] = {
        { "aes-gcm-128 tunnel", ESP_SUITE_AES_GCM_128, false, false, false,
          false },
        { "aes-gcm-256 tunnel", ESP_SUITE_AES_GCM_256, false, false, false,
          false },
        { "aes-gcm-128 transport", ESP_SUITE_AES_GCM_128, true, false, false,
          false },
        { "aes-gcm-256 tunnel esn udp", ESP_SUITE_AES_GCM_256, false, true,
          true, false },
        { "aes-gcm-128 tunnel ipv6 udp", ESP_SUITE_AES_GCM_128, false, false,
          true, true },
        { "chacha20-poly1305 tunnel", ESP_SUITE_CHACHA20_POLY1305, false,
          false, false, false },
        { "aes-cbc-128 tunnel", ESP_SUITE_AES_CBC_128_HMAC_SHA256, false,
          false, false, false },
        { "aes-cbc-256 transport esn", ESP_SUITE_AES_CBC_256_HMAC_SHA256,
          true, true, false, false },
    };
    struct secmodel *model;
    struct ipsec_offload *reg;
    struct secmodel_counters cnt;

    reg = nic_setup(TABLE, &model);
    if (!model) {
        return;
    }
    for (size_t k = 0; k < sizeof cfgs / sizeof cfgs[0]; k++) {
        const struct cfg *c = &cfgs[k];
        struct esp_sa_params po = sa_params(c, 0x7000 + k, ESP_DIR_OUT);
        struct esp_sa_params pi = sa_params(c, 0x8000 + k, ESP_DIR_IN);
        struct esp_sad *sad = esp_sad_create();
        struct inst out, in;

        test_case = c->name;
        install(reg, &po, &out);
        install(reg, &pi, &in);
        CHECK(!strcmp(ipsec_offload_sa_provider(out.osa),
                      "dpdk-inline-crypto"));
        CHECK(!strcmp(ipsec_offload_sa_provider(in.osa),
                      "dpdk-inline-crypto"));
        CHECK(esp_sa_inline_crypto(out.sa) && esp_sa_inline_crypto(in.sa));
        CHECK_EQ(out.ol_flags, RTE_SECURITY_TX_OLOAD_NEED_MDATA);
        CHECK_EQ(esp_sad_add(sad, in.sa), 0);
        secmodel_get_counters(model, &cnt);
        CHECK_EQ(cnt.live, 2);
        /* The inbound SA's ESP rule: one, or one per IP version without
         * a destination. */
        CHECK_EQ(cnt.flows, pi.dst.family ? 1 : 2);

        outbound(c, &out, model, true);
        inbound(c, &in, sad, model, true);

        ipsec_offload_sa_remove(out.osa);
        ipsec_offload_sa_remove(in.osa);
        secmodel_get_counters(model, &cnt);
        CHECK_EQ(cnt.live, 0);
        CHECK_EQ(cnt.flows, 0);
        esp_sa_destroy(out.sa);
        esp_sad_destroy(sad);
    }
    test_case = "suites: model counters";
    secmodel_get_counters(model, &cnt);
    CHECK_EQ(cnt.rejected, 0);
    CHECK_EQ(cnt.tx_errors, 0);
    CHECK_EQ(cnt.created, cnt.destroyed);
    CHECK_EQ(cnt.flow_created, cnt.flow_destroyed);
    CHECK_EQ(cnt.flow_refused, 0);
    CHECK_EQ(cnt.flow_orphaned, 0);
    CHECK_EQ(cnt.rx_no_flow, 0);
    nic_teardown(model, reg);
}

/* A 2-entry SA table: the third SA runs in sw with the reason, and its
 * traffic still flows through the same port in both directions. */
static void
test_table_full(void)
{
    static const struct cfg c = {
        "table full", ESP_SUITE_AES_GCM_128, false, false, false, false,
    };
    struct secmodel *model;
    struct ipsec_offload *reg;
    struct secmodel_counters cnt;
    struct inst a, b, out, in;
    struct esp_sa_params p;
    struct esp_sad *sad = esp_sad_create();
    char line[512];

    test_case = c.name;
    reg = nic_setup(2, &model);
    if (!model) {
        return;
    }
    p = sa_params(&c, 0x9000, ESP_DIR_OUT);
    install(reg, &p, &a);
    p = sa_params(&c, 0x9001, ESP_DIR_IN);
    install(reg, &p, &b);
    p = sa_params(&c, 0x9002, ESP_DIR_OUT);
    install(reg, &p, &out);
    p = sa_params(&c, 0x9003, ESP_DIR_IN);
    install(reg, &p, &in);
    CHECK(!strcmp(ipsec_offload_sa_provider(a.osa), "dpdk-inline-crypto"));
    CHECK(!strcmp(ipsec_offload_sa_provider(b.osa), "dpdk-inline-crypto"));
    CHECK(!strcmp(ipsec_offload_sa_provider(out.osa), "sw"));
    CHECK(!strcmp(ipsec_offload_sa_provider(in.osa), "sw"));
    ipsec_offload_sa_format(out.osa, line, sizeof line);
    CHECK(!strcmp(line, "offload=sw reason=\"dpdk-inline-crypto: port "
                  "dpdk0: rte_security_session_create failed with 2 "
                  "sessions on the port (SA table full?)\""));
    CHECK(!esp_sa_inline_crypto(out.sa) && !esp_sa_inline_crypto(in.sa));
    secmodel_get_counters(model, &cnt);
    CHECK_EQ(cnt.table_full, 2);
    CHECK_EQ(cnt.live, 2);

    CHECK_EQ(esp_sad_add(sad, in.sa), 0);
    outbound(&c, &out, model, false);
    inbound(&c, &in, sad, model, false);
    secmodel_get_counters(model, &cnt);
    CHECK_EQ(cnt.rx_no_session, N_PKTS + 2);

    ipsec_offload_sa_remove(a.osa);
    ipsec_offload_sa_remove(b.osa);
    ipsec_offload_sa_remove(out.osa);
    ipsec_offload_sa_remove(in.osa);
    secmodel_get_counters(model, &cnt);
    CHECK_EQ(cnt.live, 0);
    CHECK_EQ(cnt.rejected, 0);
    esp_sa_destroy(a.sa);
    esp_sa_destroy(b.sa);
    esp_sa_destroy(out.sa);
    esp_sad_destroy(sad);
    nic_teardown(model, reg);
}

/* The NIC loses its rte_flow rules (a port restart on a PMD that does not
 * keep them): it stops decrypting the inbound SA's packets, which reach
 * the datapath still encrypted and are decrypted in software, per packet,
 * with nothing lost.  Removing the SA afterwards orphans nothing. */
static void
test_rules_lost(void)
{
    static const struct cfg c = {
        "rules lost", ESP_SUITE_AES_GCM_128, false, false, false, false,
    };
    struct secmodel *model;
    struct ipsec_offload *reg;
    struct secmodel_counters cnt;
    struct esp_sad *sad = esp_sad_create();
    struct esp_sa_params p;
    struct inst in;

    test_case = c.name;
    reg = nic_setup(TABLE, &model);
    if (!model) {
        esp_sad_destroy(sad);
        return;
    }
    p = sa_params(&c, 0x9100, ESP_DIR_IN);
    install(reg, &p, &in);
    CHECK(!strcmp(ipsec_offload_sa_provider(in.osa), "dpdk-inline-crypto"));
    CHECK_EQ(esp_sad_add(sad, in.sa), 0);
    secmodel_get_counters(model, &cnt);
    CHECK_EQ(cnt.flows, 1);

    CHECK_EQ(secmodel_flows_flush(model, ports.nic), 1);
    secmodel_get_counters(model, &cnt);
    CHECK_EQ(cnt.flows, 0);
    CHECK_EQ(cnt.live, 1);
    inbound(&c, &in, sad, model, false);
    secmodel_get_counters(model, &cnt);
    CHECK_EQ(cnt.rx_no_flow, N_PKTS + 2);

    ipsec_offload_sa_remove(in.osa);
    secmodel_get_counters(model, &cnt);
    CHECK_EQ(cnt.live, 0);
    CHECK_EQ(cnt.flow_orphaned, 0);
    esp_sad_destroy(sad);
    nic_teardown(model, reg);
}

/* A port restart: the provider destroys the inbound SAs' rules before the
 * stop and creates them again after the start (net_ring does not
 * advertise RTE_ETH_DEV_CAPA_FLOW_RULE_KEEP); the NIC decrypts again.  A
 * rule the PMD refuses after the restart is reported, and that SA's
 * packets are decrypted in software. */
static void
test_restart(void)
{
    static const struct cfg c = {
        "restart", ESP_SUITE_AES_GCM_128, false, false, false, false,
    };
    struct secmodel *model;
    struct ipsec_offload *reg;
    struct secmodel_counters cnt;
    struct esp_sad *sad = esp_sad_create(), *sad2 = esp_sad_create();
    struct esp_sa_params p;
    struct inst in, in2, out;
    unsigned int failed = 99;
    char reason[256];

    test_case = c.name;
    reg = nic_setup(TABLE, &model);
    if (!model) {
        esp_sad_destroy(sad);
        esp_sad_destroy(sad2);
        return;
    }
    p = sa_params(&c, 0x9200, ESP_DIR_IN);
    install(reg, &p, &in);
    p = sa_params(&c, 0x9201, ESP_DIR_IN);
    install(reg, &p, &in2);
    p = sa_params(&c, 0x9202, ESP_DIR_OUT);
    install(reg, &p, &out);
    CHECK_EQ(esp_sad_add(sad, in.sa), 0);
    secmodel_get_counters(model, &cnt);
    CHECK_EQ(cnt.flows, 2);
    CHECK_EQ(ipsec_offload_dpdk_sa_rules(in.osa), 1);
    CHECK_EQ(ipsec_offload_dpdk_sa_rules(out.osa), -1);

    /* Stop, start: both rules go, and come back. */
    CHECK_EQ(rte_eth_dev_stop(ports.nic), 0);
    CHECK_EQ(ipsec_offload_dpdk_port_stopping(ports.nic), 2);
    secmodel_get_counters(model, &cnt);
    CHECK_EQ(cnt.flows, 0);
    CHECK_EQ(cnt.flow_destroyed, 2);
    CHECK_EQ(cnt.live, 3);
    CHECK_EQ(ipsec_offload_dpdk_sa_rules(in.osa), 0);
    CHECK_EQ(rte_eth_dev_start(ports.nic), 0);
    CHECK_EQ(ipsec_offload_dpdk_port_started(ports.nic, &failed, reason,
                                             sizeof reason), 2);
    CHECK_EQ(failed, 0);
    CHECK(!strcmp(reason, ""));
    secmodel_get_counters(model, &cnt);
    CHECK_EQ(cnt.flows, 2);
    CHECK_EQ(cnt.flow_created, 4);
    /* Another port's restart leaves them alone. */
    CHECK_EQ(ipsec_offload_dpdk_port_stopping(ports.peer), 0);
    CHECK_EQ(ipsec_offload_dpdk_port_started(ports.peer, NULL, reason,
                                             sizeof reason), 0);
    inbound(&c, &in, sad, model, true);

    /* The PMD refuses the rules after the next restart: both SAs are
     * reported, and the second one's traffic is decrypted in software. */
    CHECK_EQ(ipsec_offload_dpdk_port_stopping(ports.nic), 2);
    secmodel_set_no_flow_ops(model, true);
    CHECK_EQ(ipsec_offload_dpdk_port_started(ports.nic, &failed, reason,
                                             sizeof reason), 0);
    CHECK_EQ(failed, 2);
    CHECK(strstr(reason, "refused: operation not supported") != NULL);
    CHECK_EQ(ipsec_offload_dpdk_sa_rules(in2.osa), 0);
    secmodel_set_no_flow_ops(model, false);
    /* A second start finds nothing left to bind. */
    CHECK_EQ(ipsec_offload_dpdk_port_started(ports.nic, &failed, reason,
                                             sizeof reason), 0);
    CHECK_EQ(failed, 0);
    CHECK_EQ(esp_sad_add(sad2, in2.sa), 0);
    inbound(&c, &in2, sad2, model, false);
    secmodel_get_counters(model, &cnt);
    CHECK_EQ(cnt.rx_no_flow, N_PKTS + 2);

    ipsec_offload_sa_remove(in.osa);
    ipsec_offload_sa_remove(in2.osa);
    ipsec_offload_sa_remove(out.osa);
    secmodel_get_counters(model, &cnt);
    CHECK_EQ(cnt.live, 0);
    CHECK_EQ(cnt.flows, 0);
    CHECK_EQ(cnt.flow_orphaned, 0);
    esp_sa_destroy(out.sa);
    esp_sad_destroy(sad);
    esp_sad_destroy(sad2);
    nic_teardown(model, reg);
}

/* TX without metadata, or with a session of another SPI: the model sends
 * no cleartext and counts a TX error; the peer's sw SA refuses it. */
static void
test_tx_errors(void)
{
    static const struct cfg c = {
        "tx errors", ESP_SUITE_AES_GCM_128, false, false, false, false,
    };
    struct secmodel *model;
    struct ipsec_offload *reg;
    struct secmodel_counters cnt;
    struct esp_sa_params p;
    struct inst out, other;
    struct rte_mbuf *pkts[2], *got[2];
    struct esp_buf bufs[2], *bp[2];
    struct esp_inline_md md[2];
    enum esp_verdict v[2];

    test_case = c.name;
    reg = nic_setup(4, &model);
    if (!model) {
        return;
    }
    p = sa_params(&c, 0xa000, ESP_DIR_OUT);
    install(reg, &p, &out);
    p = sa_params(&c, 0xa001, ESP_DIR_OUT);
    install(reg, &p, &other);
    for (int i = 0; i < 2; i++) {
        pkts[i] = inner_mbuf(5, &bufs[i]);
        bp[i] = &bufs[i];
    }
    CHECK_EQ(esp_encap_burst_ex(out.sa, bp, v, md, 2, 0), 2);
    for (int i = 0; i < 2; i++) {
        to_frame(pkts[i], &bufs[i]);
    }
    pkts[0]->ol_flags |= RTE_MBUF_F_TX_SEC_OFFLOAD;     /* No metadata. */
    CHECK_EQ(ipsec_offload_dpdk_tx_prepare(other.ctx, other.sess,
                                           other.ol_flags, pkts[1],
                                           md[1].seq), 0);
    CHECK_EQ(ring_ports_wire(&ports, ports.nic, pkts, 2, got), 2);
    secmodel_get_counters(model, &cnt);
    CHECK_EQ(cnt.tx_errors, 2);
    CHECK_EQ(cnt.tx_encrypted, 0);
    for (int i = 0; i < 2; i++) {
        uint8_t inner[1500];
        size_t len = pkt_len(5);

        /* No byte of the inner payload on the wire. */
        inner_packet(inner, len, 5);
        CHECK(!memmem(rte_pktmbuf_mtod(got[i], uint8_t *),
                      rte_pktmbuf_data_len(got[i]), inner + 40, 32));
        rte_pktmbuf_free(got[i]);
    }
    ipsec_offload_sa_remove(out.osa);
    ipsec_offload_sa_remove(other.osa);
    esp_sa_destroy(out.sa);
    esp_sa_destroy(other.sa);
    nic_teardown(model, reg);
}

/* --- --bench ---------------------------------------------------------- */

/* What is inside each timed region (rte_rdtsc_precise() around one burst
 * of BENCH_BURST packets; everything else, including restoring the
 * packets, is outside):
 *
 *   SW_ENCAP   esp_encap_burst() on a sw SA (ipsec-mb).
 *   INL_ENCAP  esp_encap_burst_ex() on the inline-crypto SA, plus
 *              ipsec_offload_dpdk_tx_prepare() per packet (offload flag
 *              and rte_security_set_pkt_metadata() into the model).
 *   MODEL_TX   rte_eth_tx_burst() on the model's port: the model's TX
 *              callback (OpenSSL, key set up per packet) and the net_ring
 *              enqueue.  What a NIC takes off the CPU, as the model does
 *              it: not a hardware number.
 *   SW_DECAP   esp_decap_burst() through a SAD, on ESP sealed just before
 *              (untimed) by a peer sw SA.
 *   MODEL_RX   rte_eth_rx_burst() on the model's port: the net_ring
 *              dequeue and the model's RX callback (verify and decrypt).
 *   INL_DECAP  ipsec_offload_dpdk_rx_flags() per packet and
 *              esp_decap_burst_ex() on the packets as the model left them
 *              (ESP_RX_CRYPTO_DONE).
 *
 * Every packet of every burst is fresh ESP with the next sequence number
 * from its peer SA, so the replay window (64) runs as in real traffic:
 * nothing is replayed or rewritten, and the window is not disabled.  The
 * six run interleaved, one burst of each in turn, so that a slow period
 * of a shared machine hits all alike; per column the best of BENCH_REPS
 * repetitions is kept, after a warm-up of a fifth of one whose first
 * burst also checks every output (the model's ESP opened by a sw SA,
 * every decap output equal to its inner packet). */
enum bench_col {
    SW_ENCAP,
    INL_ENCAP,
    MODEL_TX,
    SW_DECAP,
    INL_DECAP,
    MODEL_RX,
    N_BENCH_COLS
};

enum {
    BENCH_BURST = ESP_BURST_MAX,
    BENCH_REPS = 5,             /* Timed repetitions; the best is kept. */
    BENCH_SIZES = 2,
};

static const unsigned int bench_payloads[BENCH_SIZES] = { 64, 1400 };

/* One suite's SAs: (a) sw, (b) inline through the provider, and the sw
 * peers that produce and check their ESP. */
struct bench_sas {
    struct esp_sa *sw_out;      /* (a) encap. */
    struct esp_sad *sw_sad;     /* (a) decap: inbound sw SA. */
    struct esp_sa *sw_peer;     /* Seals for sw_sad. */
    struct inst inl_out;        /* (b) encap. */
    struct inst inl_in;         /* (b) decap, in inl_sad. */
    struct esp_sad *inl_sad;
    struct esp_sa *inl_peer;    /* Seals for inl_sad. */
    struct esp_sad *check_sad;  /* Opens what the model sent. */
};

static struct esp_sa *
bench_sa(enum esp_suite suite, uint32_t spi, enum esp_dir dir)
{
    struct esp_sa_params p = offload_test_sa(spi, suite, dir, false);
    struct esp_sa *sa = NULL;
    char err[256];

    p.engine = &esp_crypto_ipsecmb;
    CHECK_EQ(esp_sa_create(&p, &sa, err, sizeof err), 0);
    return sa;
}

static bool
bench_sas_create(struct ipsec_offload *reg, enum esp_suite suite,
                 struct bench_sas *s)
{
    struct esp_sa *sw_in = bench_sa(suite, 0xb001, ESP_DIR_IN);
    struct esp_sa *check = bench_sa(suite, 0xb002, ESP_DIR_IN);
    struct esp_sa_params p;

    memset(s, 0, sizeof *s);
    s->sw_sad = esp_sad_create();
    s->inl_sad = esp_sad_create();
    s->check_sad = esp_sad_create();
    s->sw_out = bench_sa(suite, 0xb000, ESP_DIR_OUT);
    s->sw_peer = bench_sa(suite, 0xb001, ESP_DIR_OUT);
    s->inl_peer = bench_sa(suite, 0xb003, ESP_DIR_OUT);
    CHECK(s->sw_sad && s->inl_sad && s->check_sad);
    if (!sw_in || !check || !s->sw_sad || !s->inl_sad || !s->check_sad) {
        if (sw_in) {
            esp_sa_destroy(sw_in);
        }
        if (check) {
            esp_sa_destroy(check);
        }
        return false;
    }
    CHECK_EQ(esp_sad_add(s->sw_sad, sw_in), 0);
    CHECK_EQ(esp_sad_add(s->check_sad, check), 0);

    p = offload_test_sa(0xb002, suite, ESP_DIR_OUT, false);
    p.engine = &esp_crypto_ipsecmb;
    install(reg, &p, &s->inl_out);
    p = offload_test_sa(0xb003, suite, ESP_DIR_IN, false);
    p.engine = &esp_crypto_ipsecmb;
    install(reg, &p, &s->inl_in);
    if (s->inl_in.sa) {
        CHECK_EQ(esp_sad_add(s->inl_sad, s->inl_in.sa), 0);
    }
    /* Both must really be inline, or (b) would measure something else. */
    CHECK(s->inl_out.sess && s->inl_in.sess);
    return (s->sw_out && s->sw_peer && s->inl_peer && s->inl_out.sess
            && s->inl_in.sess);
}

static void
bench_sas_destroy(struct bench_sas *s)
{
    if (s->inl_out.osa) {
        ipsec_offload_sa_remove(s->inl_out.osa);
    }
    if (s->inl_in.osa) {
        ipsec_offload_sa_remove(s->inl_in.osa);
    }
    if (s->inl_out.sa) {
        esp_sa_destroy(s->inl_out.sa);
    }
    /* The SADs destroy their SAs (inl_in.sa too). */
    esp_sad_destroy(s->sw_sad);
    esp_sad_destroy(s->inl_sad);
    esp_sad_destroy(s->check_sad);
    if (s->sw_out) {
        esp_sa_destroy(s->sw_out);
    }
    if (s->sw_peer) {
        esp_sa_destroy(s->sw_peer);
    }
    if (s->inl_peer) {
        esp_sa_destroy(s->inl_peer);
    }
}

/* The working packets: BENCH_BURST mbufs, their esp_bufs, and the inner
 * packets they are restored from before every burst. */
struct bench_pkts {
    struct rte_mbuf *m[BENCH_BURST];
    struct esp_buf b[BENCH_BURST];
    struct esp_buf *bp[BENCH_BURST];
    uint8_t inner[BENCH_BURST][1500];
    size_t len;                 /* Inner IPv4 length: 28 + payload. */
};

/* Untimed: the inner packets back at the default headroom. */
static void
bench_restore(struct bench_pkts *k)
{
    for (int i = 0; i < BENCH_BURST; i++) {
        struct rte_mbuf *m = k->m[i];

        m->data_off = RTE_PKTMBUF_HEADROOM;
        m->data_len = m->pkt_len = k->len;
        m->ol_flags = 0;
        k->b[i].base = m->buf_addr;
        k->b[i].size = m->buf_len;
        k->b[i].off = m->data_off;
        k->b[i].len = k->len;
        memcpy(k->b[i].base + k->b[i].off, k->inner[i], k->len);
        k->bp[i] = &k->b[i];
    }
}

/* Whether decap gave back the inner packets byte for byte. */
static unsigned int
bench_mismatches(const struct bench_pkts *k, const enum esp_verdict v[])
{
    unsigned int bad = 0;

    for (int i = 0; i < BENCH_BURST; i++) {
        bad += (v[i] != ESP_OK || k->b[i].len != k->len
                || memcmp(k->b[i].base + k->b[i].off, k->inner[i], k->len));
    }
    return bad;
}

/* Sends the burst from 'from' and takes it back on the other port, into
 * the same array (the ring hands the same mbufs over, in order).  Adds
 * the cycles of the TX call to '*tx' and of the RX call to '*rx' (either
 * may be null).  Returns false if any mbuf went missing (then they are
 * freed). */
static bool
bench_wire(struct bench_pkts *k, uint16_t from, uint64_t *tx, uint64_t *rx)
{
    uint16_t to = from == ports.nic ? ports.peer : ports.nic;
    unsigned int sent, rcvd;
    uint64_t t0, t1, t2;

    for (int i = 0; i < BENCH_BURST; i++) {
        to_frame(k->m[i], &k->b[i]);
    }
    t0 = rte_rdtsc_precise();
    sent = rte_eth_tx_burst(from, 0, k->m, BENCH_BURST);
    t1 = rte_rdtsc_precise();
    rcvd = rte_eth_rx_burst(to, 0, k->m, sent);
    t2 = rte_rdtsc_precise();
    if (tx) {
        *tx += t1 - t0;
    }
    if (rx) {
        *rx += t2 - t1;
    }
    if (sent != BENCH_BURST || rcvd != sent) {
        for (unsigned int i = rcvd; i < BENCH_BURST; i++) {
            if (i >= sent) {
                rte_pktmbuf_free(k->m[i]);
            }
            k->m[i] = NULL;
        }
        return false;
    }
    for (int i = 0; i < BENCH_BURST; i++) {
        from_frame(k->m[i], &k->b[i]);
    }
    return true;
}

/* One burst of each of the six measurements, adding cycles to 't'.
 * 'check': also open what the model sent and compare every decap output
 * with the inner packets (untimed).  Returns the number of packets that
 * went wrong, or -1 if mbufs went missing. */
static int
bench_round(struct bench_sas *s, struct bench_pkts *k,
            uint64_t t[N_BENCH_COLS], bool check)
{
    struct esp_inline_md md[BENCH_BURST];
    enum esp_verdict v[BENCH_BURST];
    uint8_t flags[BENCH_BURST];
    unsigned int bad = 0, ok;
    uint64_t t0;

    /* (a) encap. */
    bench_restore(k);
    t0 = rte_rdtsc_precise();
    ok = esp_encap_burst(s->sw_out, k->bp, v, BENCH_BURST, 0);
    t[SW_ENCAP] += rte_rdtsc_precise() - t0;
    bad += BENCH_BURST - ok;

    /* (b) encap, then (c) the model encrypts on TX. */
    bench_restore(k);
    t0 = rte_rdtsc_precise();
    ok = esp_encap_burst_ex(s->inl_out.sa, k->bp, v, md, BENCH_BURST, 0);
    for (int i = 0; i < BENCH_BURST; i++) {
        bad += ipsec_offload_dpdk_tx_prepare(s->inl_out.ctx, s->inl_out.sess,
                                             s->inl_out.ol_flags, k->m[i],
                                             md[i].seq) != 0;
    }
    t[INL_ENCAP] += rte_rdtsc_precise() - t0;
    bad += BENCH_BURST - ok;
    if (!bench_wire(k, ports.nic, &t[MODEL_TX], NULL)) {
        return -1;
    }
    if (check) {
        esp_decap_burst(s->check_sad, k->bp, v, NULL, BENCH_BURST, 0);
        bad += bench_mismatches(k, v);
    }

    /* (a) decap of fresh ESP from the sw peer. */
    bench_restore(k);
    bad += BENCH_BURST - esp_encap_burst(s->sw_peer, k->bp, v, BENCH_BURST,
                                         0);
    t0 = rte_rdtsc_precise();
    ok = esp_decap_burst(s->sw_sad, k->bp, v, NULL, BENCH_BURST, 0);
    t[SW_DECAP] += rte_rdtsc_precise() - t0;
    bad += BENCH_BURST - ok;
    if (check) {
        bad += bench_mismatches(k, v);
    }

    /* (c) the model decrypts on RX what the sw peer sealed, then (b). */
    bench_restore(k);
    bad += BENCH_BURST - esp_encap_burst(s->inl_peer, k->bp, v, BENCH_BURST,
                                         0);
    if (!bench_wire(k, ports.peer, NULL, &t[MODEL_RX])) {
        return -1;
    }
    t0 = rte_rdtsc_precise();
    for (int i = 0; i < BENCH_BURST; i++) {
        flags[i] = ipsec_offload_dpdk_rx_flags(k->m[i]->ol_flags);
    }
    ok = esp_decap_burst_ex(s->inl_sad, k->bp, flags, v, NULL, BENCH_BURST,
                            0);
    t[INL_DECAP] += rte_rdtsc_precise() - t0;
    bad += BENCH_BURST - ok;
    for (int i = 0; i < BENCH_BURST; i++) {
        bad += flags[i] != ESP_RX_CRYPTO_DONE;
    }
    if (check) {
        bad += bench_mismatches(k, v);
    }
    return bad;
}

static void
bench_row(const char *suite, const char *dir, const char *what,
          const double c[BENCH_SIZES])
{
    printf("%-28s %-5s %-30s %8.0f %8.0f\n", suite, dir, what, c[0], c[1]);
}

/* --bench: see the comment above enum bench_col. */
static void
bench(void)
{
    static const enum esp_suite suites[] = {
        ESP_SUITE_AES_GCM_128, ESP_SUITE_AES_GCM_256,
        ESP_SUITE_AES_CBC_128_HMAC_SHA256,
    };
    static struct bench_pkts k;
    struct secmodel *model;
    unsigned int bursts = test_quick() ? 100 : 1000;
    unsigned int passed = 0, targets = 0;
    struct ipsec_offload *reg;
    uint64_t timer = UINT64_MAX;

    test_case = "bench";
    reg = nic_setup(TABLE, &model);
    if (!model) {
        return;
    }
    for (int i = 0; i < BENCH_BURST; i++) {
        k.m[i] = rte_pktmbuf_alloc(mbufs);
        CHECK(k.m[i] != NULL);
        if (!k.m[i]) {
            return;
        }
    }
    for (int i = 0; i < 1000; i++) {
        uint64_t t0 = rte_rdtsc_precise();
        uint64_t d = rte_rdtsc_precise() - t0;

        timer = d < timer ? d : timer;
    }

    printf("cycles/packet, ESP core (datapath library, not the OVS PMD), "
           "burst %d, tunnel IPv4, UDP payload 64 / 1400 B, "
           "best of %d x %u bursts, TSC %.2f GHz\n",
           BENCH_BURST, BENCH_REPS, bursts, rte_get_tsc_hz() / 1e9);
    printf("(a) sw engine; (b) inline crypto, datapath work only; "
           "(c) the NIC model's crypto for (b), in software (OpenSSL); "
           "timer %" PRIu64 " cycles/burst, not subtracted\n", timer);
    printf("%-28s %-5s %-30s %8s %8s\n", "suite", "dir", "path",
           "64 B", "1400 B");
    for (size_t x = 0; x < sizeof suites / sizeof suites[0]; x++) {
        const char *name = esp_suite_name(suites[x]);
        double cpp[N_BENCH_COLS][BENCH_SIZES];
        struct secmodel_counters c0, c1;
        struct bench_sas s;
        uint64_t n_pkts = 0;

        test_case = name;
        secmodel_get_counters(model, &c0);
        if (!bench_sas_create(reg, suites[x], &s)) {
            bench_sas_destroy(&s);
            continue;
        }
        for (int z = 0; z < BENCH_SIZES; z++) {
            uint64_t best[N_BENCH_COLS];
            long long bad = 0;

            k.len = 28 + bench_payloads[z];
            for (int i = 0; i < BENCH_BURST; i++) {
                inner_packet(k.inner[i], k.len, i);
            }
            for (int c = 0; c < N_BENCH_COLS; c++) {
                best[c] = UINT64_MAX;
            }
            /* Repetition 0 is the warm-up (a fifth), not kept. */
            for (int rep = 0; rep <= BENCH_REPS && bad >= 0; rep++) {
                uint64_t t[N_BENCH_COLS] = { 0 };
                unsigned int nb = rep ? bursts : bursts / 5;

                for (unsigned int b = 0; b < nb; b++) {
                    int r = bench_round(&s, &k, t, rep == 0 && b == 0);

                    if (r < 0) {
                        bad = -1;
                        break;
                    }
                    bad += r;
                    n_pkts += BENCH_BURST;
                }
                for (int c = 0; rep && c < N_BENCH_COLS; c++) {
                    best[c] = t[c] < best[c] ? t[c] : best[c];
                }
            }
            CHECK_EQ(bad, 0);
            if (bad < 0) {
                printf("bench: mbufs lost on the net_ring ports\n");
                return;
            }
            for (int c = 0; c < N_BENCH_COLS; c++) {
                cpp[c][z] = (double) best[c] / bursts / BENCH_BURST;
            }
        }
        bench_row(name, "encap", "(a) sw (ipsec-mb)", cpp[SW_ENCAP]);
        bench_row(name, "encap", "(b) inline: core + tx_prepare",
                  cpp[INL_ENCAP]);
        bench_row(name, "encap", "(c) model TX crypto (OpenSSL)",
                  cpp[MODEL_TX]);
        bench_row(name, "decap", "(a) sw (ipsec-mb)", cpp[SW_DECAP]);
        bench_row(name, "decap", "(b) inline: rx_flags + core",
                  cpp[INL_DECAP]);
        bench_row(name, "decap", "(c) model RX crypto (OpenSSL)",
                  cpp[MODEL_RX]);
        for (int d = 0; d < 2; d++) {
            int a = d ? SW_DECAP : SW_ENCAP, b = d ? INL_DECAP : INL_ENCAP;
            double r64 = cpp[b][0] / cpp[a][0];
            double r1400 = cpp[b][1] / cpp[a][1];
            bool pass = r1400 <= 0.40;

            printf("%-28s %-5s %-30s %8.2f %8.2f  1400 B <= 0.40: %s\n",
                   name, d ? "decap" : "encap", "ratio (b)/(a)", r64, r1400,
                   pass ? "PASS" : "FAIL");
            passed += pass;
            targets++;
        }

        /* The model did the crypto of every (b) packet, and nothing
         * else. */
        secmodel_get_counters(model, &c1);
        CHECK_EQ(c1.tx_encrypted - c0.tx_encrypted, n_pkts);
        CHECK_EQ(c1.rx_decrypted - c0.rx_decrypted, n_pkts);
        CHECK_EQ(c1.tx_errors - c0.tx_errors, 0);
        CHECK_EQ(c1.rx_failed - c0.rx_failed, 0);
        bench_sas_destroy(&s);
    }
    printf("inline target ((b) <= 40%% of (a) at 1400 B): %u of %u pass\n",
           passed, targets);
    for (int i = 0; i < BENCH_BURST; i++) {
        rte_pktmbuf_free(k.m[i]);
    }
    test_case = "bench: model";
    nic_teardown(model, reg);
}

int
main(int argc, char *argv[])
{
    bool do_bench = argc == 2 && !strcmp(argv[1], "--bench");

    if (argc > 1 && !do_bench) {
        printf("usage: %s [--bench]\n", argv[0]);
        return 2;
    }
    if (offload_test_eal_init("test-offload-inline")) {
        return 1;
    }
    mbufs = rte_pktmbuf_pool_create("inl_mbufs", 511, 0, 0,
                                    RTE_MBUF_DEFAULT_BUF_SIZE,
                                    SOCKET_ID_ANY);
    if (!mbufs || ring_ports_create(&ports, "inl", mbufs)) {
        printf("test-offload-inline: cannot create the net_ring ports\n");
        return 1;
    }
    if (do_bench) {
        bench();
    } else {
        test_suites();
        test_table_full();
        test_rules_lost();
        test_restart();
        test_tx_errors();
    }
    test_case = "mbufs";
    CHECK_EQ(rte_mempool_in_use_count(mbufs), 0);
    ring_ports_destroy(&ports);
    rte_mempool_free(mbufs);
    offload_test_eal_fini();
    return test_summary("test-offload-inline");
}
