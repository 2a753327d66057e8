/*
 * Inline protocol end to end on the software NIC model:
 *
 *    datapath steps (ipsec-offload-dpdk.h)         the peer: the
 *    proto_tx: metadata   proto_rx: checks         datapath's sw engine
 *              |  ^                                   |  ^
 *   TX: inner  |  | RX: Ethernet + inner,        RX:  |  | TX: ESP sealed
 *   frame      v  | RX_SEC_OFFLOAD, userdata     open v  | by esp_encap
 *         +-----------+   ring "tx"  +-----------+
 *         | port nic  |------------->| port peer |
 *         | + model   |<-------------|           |
 *         +-----------+   ring "rx"  +-----------+
 *          (net_ring ethdevs; the model's RX/TX callbacks do all of ESP
 *           with OpenSSL: headers, sequence numbers, replay, crypto)
 *
 * SAs are installed through the dpdk-inline-protocol provider.  Outbound:
 * Ethernet + inner packet through ipsec_offload_dpdk_proto_tx(), the model
 * builds ESP on TX, and the datapath's software engine (a separate
 * implementation) opens it back to the original inner packet.  Inbound:
 * ESP sealed by the software engine is verified and decapsulated by the
 * model on RX, and ipsec_offload_dpdk_proto_rx() accepts exactly the
 * original inner packet.  Then: replay (duplicate, left of the window,
 * window edge), bad ICV, events for packet lifetimes and sequence
 * overflow raised by the model and seen through the provider, time
 * lifetimes the datapath owns, selectors and malformed frames, and no
 * session left in the model after the SAs are removed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>
#include <rte_security.h>

#include "ipsec-offload.h"
#include "ipsec-offload-dpdk.h"
#include "offload-test.h"
#include "ring-ports.h"
#include "sec-model.h"

enum {
    TABLE = 16,
    N_PKTS = 8,
    ETH_LEN = 14,
};

static struct rte_mempool *mbufs;
static struct ring_ports ports;

/* --- Packets ---------------------------------------------------------- */

/* An inner packet of 'len' bytes: IPv4/UDP 10.0.0.1:1000 -> 10.0.'net'.2:
 * 2000 with TOS 0xb8 (DSCP 46), or IPv6/UDP 2001:db8:1::1 ->
 * 2001:db8:'net'::2 with traffic class 0xb8; payload from 'k'. */
static void
inner_packet(uint8_t *ip, size_t len, unsigned int k, bool v6, uint8_t net)
{
    size_t l3 = v6 ? 40 : 20;

    memset(ip, 0, len);
    if (v6) {
        ip[0] = 0x6b;           /* Traffic class 0xb8. */
        ip[1] = 0x80;
        ip[4] = (len - 40) >> 8;
        ip[5] = len - 40;
        ip[6] = 17;
        ip[7] = 64;
        ip[8] = 0x20;
        ip[9] = 0x01;
        ip[10] = 0x0d;
        ip[11] = 0xb8;
        ip[13] = 1;
        ip[23] = 1;
        memcpy(ip + 24, ip + 8, 4);
        ip[29] = net;
        ip[39] = 2;
    } else {
        ip[0] = 0x45;
        ip[1] = 0xb8;
        ip[2] = len >> 8;
        ip[3] = len;
        ip[8] = 64;
        ip[9] = 17;
        ip[12] = 10;
        ip[15] = 1;
        ip[16] = 10;
        ip[18] = net;
        ip[19] = 2;
    }
    ip[l3] = 1000 >> 8;
    ip[l3 + 1] = 1000 & 0xff;
    ip[l3 + 2] = 2000 >> 8;
    ip[l3 + 3] = 2000 & 0xff;
    ip[l3 + 4] = (len - l3) >> 8;
    ip[l3 + 5] = len - l3;
    for (size_t i = l3 + 8; i < len; i++) {
        ip[i] = i * 13 + k;
    }
    if (!v6) {
        uint16_t c = (uint16_t) ~test_ones_sum(ip, 20);

        ip[10] = c >> 8;
        ip[11] = c;
    }
}

static size_t
pkt_len(unsigned int k, bool v6)
{
    static const size_t lens[] = { 28, 29, 31, 64, 100, 333, 1000, 1400 };

    return lens[k % (sizeof lens / sizeof lens[0])] + (v6 ? 20 : 0);
}

/* A frame: Ethernet + inner packet 'k', at the default headroom. */
static struct rte_mbuf *
inner_frame(unsigned int k, bool v6, uint8_t net)
{
    struct rte_mbuf *m = rte_pktmbuf_alloc(mbufs);
    size_t len = pkt_len(k, v6);
    uint8_t *f;

    if (!m) {
        return NULL;
    }
    f = (uint8_t *) rte_pktmbuf_append(m, ETH_LEN + len);
    memset(f, 0x02, 12);
    f[12] = v6 ? 0x86 : 0x08;
    f[13] = v6 ? 0xdd : 0x00;
    inner_packet(f + ETH_LEN, len, k, v6, net);
    return m;
}

/* The frame's IP packet as an esp_buf. */
static void
from_frame(struct rte_mbuf *m, struct esp_buf *b)
{
    b->base = m->buf_addr;
    b->size = m->buf_len;
    b->off = m->data_off + ETH_LEN;
    b->len = m->data_len - ETH_LEN;
}

/* After a sw encap of the esp_buf: Ethernet in front, the mbuf sized to
 * the frame. */
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

/* Whether 'm' is Ethernet + exactly inner packet 'k'. */
static bool
is_inner(struct rte_mbuf *m, unsigned int k, bool v6, uint8_t net)
{
    uint8_t inner[1500];
    size_t len = pkt_len(k, v6);
    const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);

    inner_packet(inner, len, k, v6, net);
    return (rte_pktmbuf_data_len(m) == ETH_LEN + len
            && f[12] == (v6 ? 0x86 : 0x08)
            && !memcmp(f + ETH_LEN, inner, len));
}

/* --- SAs -------------------------------------------------------------- */

struct cfg {
    const char *name;
    enum esp_suite suite;
    bool transport, esn, udp, v6, inner6, copy;
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
    if (c->copy) {
        /* The NIC builds the outer header from the inner one. */
        p.df = ESP_DF_COPY;
        p.dscp_fixed = false;
        p.ecn = ESP_ECN_NORMAL;
    }
    if (c->transport) {
        memset(&p.src, 0, sizeof p.src);
        memset(&p.dst, 0, sizeof p.dst);
    }
    if (c->v6 && !c->transport) {
        p.src.family = p.dst.family = AF_INET6;
        inet_pton(AF_INET6, "2001:db8::1", &p.src.v6);
        inet_pton(AF_INET6, "2001:db8::2", &p.dst.v6);
    }
    if (dir == ESP_DIR_IN) {
        struct esp_addr a = p.src;

        p.src = p.dst;
        p.dst = a;
    }
    return p;
}

/* An SA: the datapath library's esp_sa (selectors; carries no traffic)
 * and the offload SA on port "dpdk0". */
struct inst {
    struct esp_sa *sa;
    struct ipsec_offload_sa *osa;
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
    CHECK(in->osa && ipsec_offload_sa_kind(in->osa)
                     == IPSEC_OFFLOAD_INLINE_PROTOCOL);
}

static void
uninstall(struct inst *in)
{
    ipsec_offload_sa_remove(in->osa);
    if (in->sa) {
        esp_sa_destroy(in->sa);
    }
    memset(in, 0, sizeof *in);
}

/* The peer: a software SA with the same keys in the other direction. */
static struct esp_sa *
peer_sa(const struct esp_sa_params *ours, uint64_t seq)
{
    struct esp_sa_params q = *ours;
    struct esp_sa *sa = NULL;
    char err[256];

    q.dir = ours->dir == ESP_DIR_OUT ? ESP_DIR_IN : ESP_DIR_OUT;
    q.seq = seq;
    q.replay_window = q.dir == ESP_DIR_IN ? 64 : 0;
    q.soft = q.hard = (struct esp_lifetime) { 0, 0, 0 };
    CHECK_EQ(esp_sa_create(&q, &sa, err, sizeof err), 0);
    return sa;
}

/* The peer seals 'n' inner packets (k = first..first+n-1) into frames. */
static void
peer_seal(struct esp_sa *peer, bool v6, uint8_t net, unsigned int first,
          unsigned int n, struct rte_mbuf *pkts[])
{
    struct esp_buf bufs[N_PKTS], *bp[N_PKTS];
    enum esp_verdict v[N_PKTS];

    for (unsigned int i = 0; i < n; i++) {
        pkts[i] = inner_frame(first + i, v6, net);
        from_frame(pkts[i], &bufs[i]);
        bp[i] = &bufs[i];
    }
    CHECK_EQ(esp_encap_burst(peer, bp, v, n, 0), n);
    for (unsigned int i = 0; i < n; i++) {
        to_frame(pkts[i], &bufs[i]);
    }
}

static struct secmodel_counters
counters(struct secmodel *model)
{
    struct secmodel_counters c;

    secmodel_get_counters(model, &c);
    return c;
}

/* --- Both directions against the sw engine ------------------------- */

/* Outbound: inner frames -> proto_tx -> the model builds ESP -> the sw
 * engine opens it to the same inner packets. */
static void
outbound(const struct cfg *c, struct inst *out, struct secmodel *model)
{
    struct esp_sa_params p = sa_params(c, esp_sa_spi(out->sa), ESP_DIR_OUT);
    struct rte_mbuf *pkts[N_PKTS], *got[N_PKTS];
    struct secmodel_counters before = counters(model), after;
    struct esp_sad *sad = esp_sad_create();
    struct ipsec_offload_stats os;
    struct esp_sa_stats st;
    enum esp_verdict v[N_PKTS];
    bool v6 = c->inner6;
    unsigned int n;

    CHECK_EQ(esp_sad_add(sad, peer_sa(&p, p.seq)), 0);
    for (unsigned int i = 0; i < N_PKTS; i++) {
        pkts[i] = inner_frame(i, v6, 1);
    }
    CHECK_EQ(ipsec_offload_dpdk_proto_tx(out->osa, pkts, v, N_PKTS, 0),
             N_PKTS);
    for (unsigned int i = 0; i < N_PKTS; i++) {
        CHECK_EQ(v[i], ESP_OK);
        CHECK(pkts[i]->ol_flags & RTE_MBUF_F_TX_SEC_OFFLOAD);
    }
    n = ring_ports_wire(&ports, ports.nic, pkts, N_PKTS, got);
    CHECK_EQ(n, N_PKTS);
    after = counters(model);
    CHECK_EQ(after.proto_tx - before.proto_tx, N_PKTS);
    CHECK_EQ(after.proto_tx_errors, before.proto_tx_errors);

    for (unsigned int i = 0; i < n; i++) {
        const uint8_t *f = rte_pktmbuf_mtod(got[i], const uint8_t *);
        const uint8_t *ip = f + ETH_LEN;
        bool out6 = c->transport ? v6 : c->v6;
        size_t l3 = out6 ? 40 : 20;
        uint8_t proto = out6 ? ip[6] : ip[9];
        const uint8_t *esp = ip + l3 + (c->udp ? 8 : 0);
        uint32_t seq = (uint32_t) (p.seq + 1 + i);
        struct esp_buf b, *bq = &b;
        enum esp_verdict w;

        /* The wire: ESP of our SA with the NIC's sequence numbers. */
        CHECK_EQ(f[12], out6 ? 0x86 : 0x08);
        CHECK_EQ(proto, c->udp ? 17 : 50);
        if (c->udp) {
            CHECK_EQ(ip[l3 + 2] << 8 | ip[l3 + 3], 4500);
        }
        CHECK_EQ((uint32_t) (esp[0] << 24 | esp[1] << 16 | esp[2] << 8
                             | esp[3]), p.spi);
        CHECK_EQ((uint32_t) ((uint32_t) esp[4] << 24 | esp[5] << 16
                             | esp[6] << 8 | esp[7]), seq);
        if (!c->transport && !out6) {
            /* Outer DSCP fixed 0 and DF set, or both copied (inner DSCP
             * 46, DF clear; an IPv6 inner packet sets DF). */
            CHECK_EQ(ip[1], c->copy ? 0xb8 : 0);
            CHECK_EQ(ip[6] & 0x40, c->copy && !v6 ? 0 : 0x40);
            CHECK_EQ((uint16_t) ~test_ones_sum(ip, 20), 0);
        }

        from_frame(got[i], &b);
        CHECK_EQ(esp_decap_burst(sad, &bq, &w, NULL, 1, 0), 1);
        CHECK_EQ(w, ESP_OK);
        if (w == ESP_OK) {
            /* The original inner packet (transport: the IP packet with
             * its protocol, length and checksum restored). */
            uint8_t inner[1500];
            size_t len = pkt_len(i, v6);

            inner_packet(inner, len, i, v6, 1);
            CHECK_EQ(b.len, len);
            CHECK(b.len == len && !memcmp(b.base + b.off, inner, len));
        }
        rte_pktmbuf_free(got[i]);
    }
    CHECK_EQ(ipsec_offload_dpdk_proto_get_stats(out->osa, &st), 0);
    CHECK_EQ(st.packets, N_PKTS);
    CHECK_EQ(ipsec_offload_sa_get_stats(out->osa, &os), 0);
    CHECK_EQ(os.opackets, N_PKTS);
    CHECK_EQ(os.oerrors, 0);
    esp_sad_destroy(sad);
}

/* Inbound: the sw engine seals; the model opens on RX; proto_rx hands
 * back the inner packets.  A corrupted packet goes first (flagged failed,
 * dropped as offload_auth) and a duplicate last (the NIC's window). */
static void
inbound(const struct cfg *c, struct inst *in, struct secmodel *model)
{
    struct esp_sa_params p = sa_params(c, esp_sa_spi(in->sa), ESP_DIR_IN);
    struct rte_mbuf *pkts[N_PKTS + 2], *got[N_PKTS + 2];
    struct secmodel_counters before = counters(model), after;
    struct esp_sa *peer = peer_sa(&p, p.seq), *sas[N_PKTS + 2];
    enum esp_verdict v[N_PKTS + 2];
    struct ipsec_offload_stats os;
    struct esp_sa_stats st;
    unsigned int n, total = N_PKTS + 2;
    bool v6 = c->inner6;
    char show[512];

    peer_seal(peer, v6, 1, 0, N_PKTS, pkts + 1);
    pkts[0] = rte_pktmbuf_copy(pkts[2], mbufs, 0, UINT32_MAX);
    pkts[N_PKTS + 1] = rte_pktmbuf_copy(pkts[1], mbufs, 0, UINT32_MAX);
    rte_pktmbuf_mtod(pkts[0], uint8_t *)[rte_pktmbuf_data_len(pkts[0])
                                         - 20] ^= 0x10;
    n = ring_ports_wire(&ports, ports.peer, pkts, total, got);
    CHECK_EQ(n, total);
    after = counters(model);
    CHECK_EQ(after.proto_rx - before.proto_rx, N_PKTS);
    CHECK_EQ(after.proto_rx_auth - before.proto_rx_auth, 1);
    CHECK_EQ(after.proto_replay - before.proto_replay, 1);
    for (unsigned int i = 0; i < n; i++) {
        CHECK(got[i]->ol_flags & RTE_MBUF_F_RX_SEC_OFFLOAD);
        CHECK_EQ(!!(got[i]->ol_flags & RTE_MBUF_F_RX_SEC_OFFLOAD_FAILED),
                 i == 0 || i == N_PKTS + 1);
    }

    CHECK_EQ(ipsec_offload_dpdk_proto_rx(got, v, sas, n, 0), N_PKTS);
    CHECK_EQ(v[0], ESP_DROP_OFFLOAD_AUTH);
    CHECK_EQ(v[N_PKTS + 1], ESP_DROP_OFFLOAD_AUTH);
    for (unsigned int i = 1; i <= N_PKTS; i++) {
        CHECK_EQ(v[i], ESP_OK);
        CHECK(sas[i] == in->sa);
        /* Transport: the model rebuilt the header (protocol, length,
         * checksum) of the packet the peer protected. */
        CHECK(is_inner(got[i], i - 1, v6, 1));
    }
    CHECK_EQ(ipsec_offload_dpdk_proto_get_stats(in->osa, &st), 0);
    CHECK_EQ(st.packets, N_PKTS);
    CHECK_EQ(st.drops[ESP_DROP_OFFLOAD_AUTH], 2);
    CHECK_EQ(ipsec_offload_sa_get_stats(in->osa, &os), 0);
    CHECK_EQ(os.ipackets, N_PKTS);
    CHECK_EQ(os.ierrors, 2);
    ipsec_offload_dpdk_proto_format(in->osa, show, sizeof show);
    CHECK(strstr(show, "offload_auth=2") != NULL);
    CHECK(strstr(show, "; nic: ipackets=8 ") != NULL);
    for (unsigned int i = 0; i < n; i++) {
        rte_pktmbuf_free(got[i]);
    }
    esp_sa_destroy(peer);
}

/* --- Setup ------------------------------------------------------------ */

static struct secmodel_config
nic_config(void)
{
    struct secmodel_config c = {
        .sa_table_size = TABLE,
        .actions = SECMODEL_INLINE_PROTOCOL,
        .algs = (SECMODEL_AES_GCM_128 | SECMODEL_AES_GCM_256
                 | SECMODEL_AES_CBC_128_HMAC_SHA256
                 | SECMODEL_AES_CBC_256_HMAC_SHA256),
        .egress = true, .ingress = true,
        .tunnel = true, .transport = true,
        .esn = true, .udp_encap = true,
        .replay_win_max = 1024,
        .copy_df = true, .copy_dscp = true, .ecn = true,
    };
    return c;
}

static struct ipsec_offload *
nic_setup(struct secmodel **modelp)
{
    struct secmodel_config mc = nic_config();
    struct ipsec_offload *reg;
    char err[256];

    *modelp = secmodel_create(&mc);
    CHECK(*modelp != NULL);
    if (!*modelp) {
        return NULL;
    }
    CHECK_EQ(secmodel_port_attach(*modelp, ports.nic), 0);
    reg = ipsec_offload_create();
    CHECK(reg != NULL);
    CHECK_EQ(ipsec_offload_dpdk_register(reg), 0);
    CHECK_EQ(secmodel_attach(*modelp, ports.nic), 0);
    CHECK_EQ(ipsec_offload_port_add(reg, "dpdk0", "dpdk", ports.nic), 0);
    CHECK_EQ(ipsec_offload_set_preference(reg, "dpdk-inline-protocol,sw",
                                          err, sizeof err), 0);
    return reg;
}

/* No session may be left in the model. */
static void
nic_teardown(struct secmodel *model, struct ipsec_offload *reg)
{
    struct secmodel_counters c = counters(model);

    CHECK_EQ(c.live, 0);
    CHECK_EQ(c.created, c.destroyed);
    CHECK_EQ(c.rejected, 0);
    CHECK_EQ(ipsec_offload_port_remove(reg, "dpdk0"), 0);
    ipsec_offload_destroy(reg);
    secmodel_detach_all();
    CHECK_EQ(secmodel_destroy(model), 0);
}

/* --- The cases -------------------------------------------------------- */

static void
test_suites(void)
{
    static const struct cfg cfgs[] = {
        /* name, suite, transport, esn, udp, outer v6, inner v6, copy */
        { "aes-gcm-128 tunnel", ESP_SUITE_AES_GCM_128,
          false, false, false, false, false, false },
        { "aes-gcm-256 tunnel", ESP_SUITE_AES_GCM_256,
          false, false, false, false, false, false },
        { "aes-gcm-128 tunnel ipv6", ESP_SUITE_AES_GCM_128,
          false, false, false, true, false, false },
        { "aes-gcm-256 tunnel ipv6 inner ipv6", ESP_SUITE_AES_GCM_256,
          false, false, false, true, true, false },
        { "aes-gcm-256 tunnel esn", ESP_SUITE_AES_GCM_256,
          false, true, false, false, false, false },
        { "aes-gcm-128 tunnel udp", ESP_SUITE_AES_GCM_128,
          false, false, true, false, false, false },
        { "aes-gcm-256 tunnel ipv6 udp esn", ESP_SUITE_AES_GCM_256,
          false, true, true, true, false, false },
        { "aes-gcm-128 tunnel copy df/dscp/ecn", ESP_SUITE_AES_GCM_128,
          false, false, false, false, false, true },
        { "aes-gcm-128 tunnel copy, inner ipv6", ESP_SUITE_AES_GCM_128,
          false, false, false, false, true, true },
        { "aes-cbc-128 tunnel", ESP_SUITE_AES_CBC_128_HMAC_SHA256,
          false, false, false, false, false, false },
        { "aes-cbc-256 tunnel ipv6 esn udp",
          ESP_SUITE_AES_CBC_256_HMAC_SHA256,
          false, true, true, true, false, false },
        { "aes-gcm-128 transport", ESP_SUITE_AES_GCM_128,
          true, false, false, false, false, false },
        { "aes-gcm-256 transport ipv6 udp", ESP_SUITE_AES_GCM_256,
          true, false, true, false, true, false },
        { "aes-cbc-256 transport esn", ESP_SUITE_AES_CBC_256_HMAC_SHA256,
          true, true, false, false, false, false },
    };
    struct secmodel *model;
    struct ipsec_offload *reg = nic_setup(&model);

    if (!model) {
        return;
    }
    for (size_t k = 0; k < sizeof cfgs / sizeof cfgs[0]; k++) {
        const struct cfg *c = &cfgs[k];
        struct esp_sa_params po = sa_params(c, 0x7000 + k, ESP_DIR_OUT);
        struct esp_sa_params pi = sa_params(c, 0x8000 + k, ESP_DIR_IN);
        struct inst out, in;

        test_case = c->name;
        install(reg, &po, &out);
        install(reg, &pi, &in);
        CHECK(!strcmp(ipsec_offload_sa_provider(out.osa),
                      "dpdk-inline-protocol"));
        CHECK(!strcmp(ipsec_offload_sa_provider(in.osa),
                      "dpdk-inline-protocol"));
        CHECK_EQ(counters(model).live, 2);
        outbound(c, &out, model);
        inbound(c, &in, model);
        uninstall(&out);
        uninstall(&in);
        /* Removing the SAs destroyed their sessions. */
        CHECK_EQ(counters(model).live, 0);
    }
    test_case = "suites: model counters";
    CHECK_EQ(counters(model).proto_tx_errors, 0);
    CHECK_EQ(counters(model).proto_rx_bad, 0);
    nic_teardown(model, reg);
}

/* The model's replay window (32) at its edges: after 100..103, 1 and 71
 * are left of it, 72 is its last slot, 101 again is a duplicate. */
static void
test_replay(void)
{
    static const struct cfg c = {
        "replay", ESP_SUITE_AES_GCM_128, false, false, false, false, false,
        false,
    };
    static const uint64_t starts[] = { 0, 70, 71 };
    struct esp_sa_params p = sa_params(&c, 0x9100, ESP_DIR_IN);
    struct rte_mbuf *pkts[N_PKTS], *got[N_PKTS];
    enum esp_verdict v[N_PKTS];
    struct secmodel_counters before, after;
    struct secmodel *model;
    struct ipsec_offload *reg = nic_setup(&model);
    struct esp_sa *peer;
    struct esp_sa_stats st;
    struct inst in;
    unsigned int n;

    test_case = c.name;
    if (!model) {
        return;
    }
    p.replay_window = 32;
    install(reg, &p, &in);
    peer = peer_sa(&p, 99);
    peer_seal(peer, false, 1, 0, 4, pkts);          /* 100..103. */
    esp_sa_destroy(peer);
    for (int i = 0; i < 3; i++) {
        peer = peer_sa(&p, starts[i]);              /* 1, 71, 72. */
        peer_seal(peer, false, 1, 4 + i, 1, pkts + 4 + i);
        esp_sa_destroy(peer);
    }
    pkts[7] = rte_pktmbuf_copy(pkts[1], mbufs, 0, UINT32_MAX);
    before = counters(model);
    n = ring_ports_wire(&ports, ports.peer, pkts, N_PKTS, got);
    CHECK_EQ(n, N_PKTS);
    after = counters(model);
    CHECK_EQ(after.proto_rx - before.proto_rx, 5);
    CHECK_EQ(after.proto_replay - before.proto_replay, 3);
    CHECK_EQ(ipsec_offload_dpdk_proto_rx(got, v, NULL, n, 0), 5);
    for (unsigned int i = 0; i < n; i++) {
        bool refused = i == 4 || i == 5 || i == 7;

        CHECK_EQ(v[i], refused ? ESP_DROP_OFFLOAD_AUTH : ESP_OK);
        if (!refused) {
            CHECK(is_inner(got[i], i, false, 1));
        }
        rte_pktmbuf_free(got[i]);
    }
    CHECK_EQ(ipsec_offload_dpdk_proto_get_stats(in.osa, &st), 0);
    CHECK_EQ(st.drops[ESP_DROP_OFFLOAD_AUTH], 3);
    uninstall(&in);
    nic_teardown(model, reg);
}

/* Sends 'n' inner frames through proto_tx and the model; returns how many
 * the datapath step passed; '*v' the verdicts. */
static unsigned int
send_out(struct inst *out, unsigned int n, uint64_t now,
         enum esp_verdict v[])
{
    struct rte_mbuf *pkts[N_PKTS], *got[N_PKTS];
    unsigned int ok, rcvd, k = 0;

    for (unsigned int i = 0; i < n; i++) {
        pkts[i] = inner_frame(i, false, 1);
    }
    ok = ipsec_offload_dpdk_proto_tx(out->osa, pkts, v, n, now);
    /* Dropped ones are the caller's to free. */
    for (unsigned int i = 0; i < n; i++) {
        if (v[i] == ESP_OK) {
            pkts[k++] = pkts[i];
        } else {
            rte_pktmbuf_free(pkts[i]);
        }
    }
    rcvd = ring_ports_wire(&ports, ports.nic, pkts, k, got);
    CHECK_EQ(rcvd, k);
    for (unsigned int i = 0; i < rcvd; i++) {
        rte_pktmbuf_free(got[i]);
    }
    return ok;
}

/* Lifetimes and sequence numbers: the NIC's events reach the SA through
 * the provider, and the datapath stops using the SA. */
static void
test_events(void)
{
    static const struct cfg c = {
        "events", ESP_SUITE_AES_GCM_256, false, false, false, false, false,
        false,
    };
    struct secmodel_counters before, after;
    struct secmodel *model;
    struct ipsec_offload *reg = nic_setup(&model);
    struct rte_mbuf *pkts[N_PKTS], *got[N_PKTS];
    enum esp_verdict v[N_PKTS];
    struct esp_sa_params p;
    struct esp_sa_stats st;
    struct esp_sa *peer;
    struct inst sa;
    unsigned int n;

    if (!model) {
        return;
    }

    /* Outbound packet lifetime: soft 3, hard 5.  The model sends 5 and
     * refuses 3; the provider saw both events; then the step drops. */
    test_case = "events: outbound packet lifetime";
    p = sa_params(&c, 0x9200, ESP_DIR_OUT);
    p.soft.packets = 3;
    p.hard.packets = 5;
    install(reg, &p, &sa);
    before = counters(model);
    CHECK_EQ(send_out(&sa, N_PKTS, 0, v), N_PKTS);
    after = counters(model);
    CHECK_EQ(after.proto_tx - before.proto_tx, 5);
    CHECK_EQ(after.proto_tx_expired - before.proto_tx_expired, 3);
    CHECK_EQ(after.proto_events - before.proto_events, 2);
    CHECK_EQ(ipsec_offload_sa_take_events(sa.osa),
             ESP_EV_SOFT_EXPIRED | ESP_EV_HARD_EXPIRED);
    CHECK_EQ(ipsec_offload_sa_take_events(sa.osa), 0);
    CHECK_EQ(send_out(&sa, 2, 0, v), 0);
    CHECK_EQ(v[0], ESP_DROP_LIFETIME);
    CHECK_EQ(ipsec_offload_dpdk_proto_get_stats(sa.osa, &st), 0);
    CHECK_EQ(st.packets, N_PKTS);
    CHECK_EQ(st.drops[ESP_DROP_LIFETIME], 2);
    uninstall(&sa);

    /* Outbound sequence numbers without ESN: 2^32 - 2 and 2^32 - 1 go
     * out, then the NIC refuses to cycle (RFC 4303 3.3.3). */
    test_case = "events: sequence overflow";
    p = sa_params(&c, 0x9201, ESP_DIR_OUT);
    p.seq = 0xfffffffdull;
    install(reg, &p, &sa);
    before = counters(model);
    CHECK_EQ(send_out(&sa, 4, 0, v), 4);
    after = counters(model);
    CHECK_EQ(after.proto_tx - before.proto_tx, 2);
    CHECK_EQ(after.proto_tx_expired - before.proto_tx_expired, 2);
    CHECK_EQ(ipsec_offload_sa_take_events(sa.osa), ESP_EV_SEQ_OVERFLOW);
    CHECK_EQ(send_out(&sa, 1, 0, v), 0);
    CHECK_EQ(v[0], ESP_DROP_SEQ_OVERFLOW);
    uninstall(&sa);

    /* Inbound byte lifetime (hard) and packet lifetime (soft): the NIC
     * opens 3 and refuses 2; its hard event lands before the datapath
     * step runs, so the step drops the 3 too (the SA is dead). */
    test_case = "events: inbound lifetime";
    p = sa_params(&c, 0x9202, ESP_DIR_IN);
    p.soft.packets = 2;
    p.hard.bytes = 28 + 29 + 31;
    install(reg, &p, &sa);
    peer = peer_sa(&p, 0);
    peer_seal(peer, false, 1, 0, 5, pkts);
    esp_sa_destroy(peer);
    before = counters(model);
    n = ring_ports_wire(&ports, ports.peer, pkts, 5, got);
    CHECK_EQ(n, 5);
    after = counters(model);
    CHECK_EQ(after.proto_rx - before.proto_rx, 3);
    CHECK_EQ(after.proto_rx_expired - before.proto_rx_expired, 2);
    CHECK_EQ(ipsec_offload_sa_take_events(sa.osa),
             ESP_EV_SOFT_EXPIRED | ESP_EV_HARD_EXPIRED);
    CHECK_EQ(ipsec_offload_dpdk_proto_rx(got, v, NULL, n, 0), 0);
    for (unsigned int i = 0; i < n; i++) {
        CHECK_EQ(v[i], i < 3 ? ESP_DROP_LIFETIME : ESP_DROP_OFFLOAD_AUTH);
        rte_pktmbuf_free(got[i]);
    }
    uninstall(&sa);

    /* Time lifetimes: rte_security cannot carry them, the datapath step
     * owns them.  Installed at t=100, soft after 10 s, hard after 20 s. */
    test_case = "events: time lifetime";
    p = sa_params(&c, 0x9203, ESP_DIR_OUT);
    p.now = 100;
    p.soft.seconds = 10;
    p.hard.seconds = 20;
    install(reg, &p, &sa);
    CHECK_EQ(send_out(&sa, 2, 105, v), 2);
    CHECK_EQ(ipsec_offload_sa_take_events(sa.osa), 0);
    CHECK_EQ(send_out(&sa, 2, 110, v), 2);
    CHECK_EQ(ipsec_offload_sa_take_events(sa.osa), ESP_EV_SOFT_EXPIRED);
    CHECK_EQ(send_out(&sa, 2, 115, v), 2);
    CHECK_EQ(ipsec_offload_sa_take_events(sa.osa), 0);
    CHECK_EQ(send_out(&sa, 2, 120, v), 0);
    CHECK_EQ(v[0], ESP_DROP_LIFETIME);
    CHECK_EQ(v[1], ESP_DROP_LIFETIME);
    CHECK_EQ(ipsec_offload_sa_take_events(sa.osa), ESP_EV_HARD_EXPIRED);
    CHECK_EQ(send_out(&sa, 1, 121, v), 0);
    CHECK_EQ(ipsec_offload_sa_take_events(sa.osa), 0);
    uninstall(&sa);

    nic_teardown(model, reg);
}

/* The inbound step's own checks: selectors, sane inner header, unknown
 * SA, packets the NIC did not process; the outbound step's: frames that
 * hold no IP packet, the wrong SA. */
static void
test_checks(void)
{
    static const struct cfg c = {
        "checks", ESP_SUITE_AES_GCM_128, false, false, false, false, false,
        false,
    };
    struct rte_mbuf *pkts[N_PKTS], *got[N_PKTS];
    enum esp_verdict v[N_PKTS];
    struct secmodel *model;
    struct ipsec_offload *reg = nic_setup(&model);
    uint64_t orphans0[ESP_N_VERDICTS], orphans[ESP_N_VERDICTS];
    struct esp_sa_params p;
    struct esp_sa_stats st;
    struct esp_sa *peer;
    struct inst in, out;
    unsigned int n;
    uint8_t *f;

    test_case = "checks";
    if (!model) {
        return;
    }
    p = sa_params(&c, 0x9300, ESP_DIR_IN);
    /* Only 10.0.1.0/24 may arrive through this SA. */
    p.sel[0].dst.family = AF_INET;
    p.sel[0].dst.v4.s_addr = htonl(0x0a000100);
    p.sel[0].dst_plen = 24;
    p.n_sel = 1;
    install(reg, &p, &in);
    peer = peer_sa(&p, 0);
    peer_seal(peer, false, 1, 0, 3, pkts);
    peer_seal(peer, false, 9, 3, 1, pkts + 3);      /* To 10.0.9.2. */
    peer_seal(peer, false, 1, 4, 4, pkts + 4);
    esp_sa_destroy(peer);
    n = ring_ports_wire(&ports, ports.peer, pkts, N_PKTS, got);
    CHECK_EQ(n, N_PKTS);
    /* 4: IPv4 total length beyond the frame.  5: IPv4 under the IPv6
     * Ethernet type.  6: the userdata gone.  7: not flagged by the NIC. */
    f = rte_pktmbuf_mtod(got[4], uint8_t *);
    f[ETH_LEN + 2] = 0x7f;
    f = rte_pktmbuf_mtod(got[5], uint8_t *);
    f[12] = 0x86;
    f[13] = 0xdd;
    *rte_security_dynfield(got[6]) = 0;
    got[7]->ol_flags &= ~RTE_MBUF_F_RX_SEC_OFFLOAD;
    ipsec_offload_dpdk_proto_get_drops(orphans0);
    CHECK_EQ(ipsec_offload_dpdk_proto_rx(got, v, NULL, n, 0), 3);
    CHECK_EQ(v[0], ESP_OK);
    CHECK_EQ(v[3], ESP_DROP_SELECTOR);
    CHECK_EQ(v[4], ESP_DROP_MALFORMED);
    CHECK_EQ(v[5], ESP_DROP_MALFORMED);
    CHECK_EQ(v[6], ESP_DROP_NO_SA);
    CHECK_EQ(v[7], ESP_DROP_OFFLOAD_MISMATCH);
    ipsec_offload_dpdk_proto_get_drops(orphans);
    CHECK_EQ(orphans[ESP_DROP_NO_SA] - orphans0[ESP_DROP_NO_SA], 1);
    CHECK_EQ(orphans[ESP_DROP_OFFLOAD_MISMATCH]
             - orphans0[ESP_DROP_OFFLOAD_MISMATCH], 1);
    CHECK_EQ(ipsec_offload_dpdk_proto_get_stats(in.osa, &st), 0);
    CHECK_EQ(st.packets, 3);
    CHECK_EQ(st.drops[ESP_DROP_SELECTOR], 1);
    CHECK_EQ(st.drops[ESP_DROP_MALFORMED], 2);
    for (unsigned int i = 0; i < n; i++) {
        rte_pktmbuf_free(got[i]);
    }

    /* Outbound: an inbound SA, and a frame that is not IP. */
    test_case = "checks: outbound";
    pkts[0] = inner_frame(0, false, 1);
    CHECK_EQ(ipsec_offload_dpdk_proto_tx(in.osa, pkts, v, 1, 0), 0);
    CHECK_EQ(v[0], ESP_DROP_WRONG_DIR);
    p = sa_params(&c, 0x9301, ESP_DIR_OUT);
    install(reg, &p, &out);
    rte_pktmbuf_mtod(pkts[0], uint8_t *)[12] = 0x88;
    pkts[1] = inner_frame(1, false, 1);
    rte_pktmbuf_mtod(pkts[1], uint8_t *)[ETH_LEN] = 0x65;
    CHECK_EQ(ipsec_offload_dpdk_proto_tx(out.osa, pkts, v, 2, 0), 0);
    CHECK_EQ(v[0], ESP_DROP_MALFORMED);
    CHECK_EQ(v[1], ESP_DROP_MALFORMED);
    CHECK(!(pkts[0]->ol_flags & RTE_MBUF_F_TX_SEC_OFFLOAD));
    rte_pktmbuf_free(pkts[0]);
    rte_pktmbuf_free(pkts[1]);
    uninstall(&out);
    uninstall(&in);
    nic_teardown(model, reg);
}

/* Several registry ports on one ethdev: the IPsec ports (an esp port and
 * IPsec-required tunnel ports, say) that name one DPDK port as their
 * offload port.  Each probes the NIC on its own and gets its own session
 * pool (they once shared a name, and the second port's SAs fell back to
 * sw: "cannot create session mempool (File exists)").  Whether the
 * ethdev's event callback stays registered until the last of them goes
 * cannot be seen from here: rte_eth_dev_callback_process() is in
 * ethdev_driver.h, which Debian does not install. */
static void
test_shared_port(void)
{
    static const struct cfg c = {
        "shared port", ESP_SUITE_AES_GCM_128, true, false, false, false,
        false, false,
    };
    struct rte_mbuf *pkts[1], *got[1];
    struct esp_sa *sas[1], *peer;
    enum esp_verdict v[1];
    struct esp_sa_params p;
    struct secmodel *model;
    struct ipsec_offload *reg = nic_setup(&model);
    struct inst a, b;
    char err[256];

    test_case = "shared port";
    if (!model) {
        return;
    }
    CHECK_EQ(ipsec_offload_port_add(reg, "dpdk0b", "dpdk", ports.nic), 0);

    /* One inline-protocol SA on each registry port. */
    p = sa_params(&c, 0x9401, ESP_DIR_IN);
    install(reg, &p, &a);
    p = sa_params(&c, 0x9402, ESP_DIR_IN);
    memset(&b, 0, sizeof b);
    CHECK_EQ(esp_sa_create(&p, &b.sa, err, sizeof err), 0);
    CHECK_EQ(ipsec_offload_sa_install(reg, "dpdk0b", &p, b.sa, &b.osa,
                                      err, sizeof err), 0);
    CHECK(b.osa && ipsec_offload_sa_kind(b.osa)
                   == IPSEC_OFFLOAD_INLINE_PROTOCOL);
    CHECK_EQ(counters(model).live, 2);

    /* The second port's SA works: the NIC opens its ESP. */
    peer = peer_sa(&p, 0);
    peer_seal(peer, false, 1, 0, 1, pkts);
    esp_sa_destroy(peer);
    CHECK_EQ(ring_ports_wire(&ports, ports.peer, pkts, 1, got), 1);
    CHECK_EQ(ipsec_offload_dpdk_proto_rx(got, v, sas, 1, 0), 1);
    CHECK(v[0] == ESP_OK && sas[0] == b.sa);
    rte_pktmbuf_free(got[0]);

    /* The second port goes (its SA first, as the datapath does); the
     * first keeps its SA and session. */
    uninstall(&b);
    CHECK_EQ(ipsec_offload_port_remove(reg, "dpdk0b"), 0);
    CHECK_EQ(counters(model).live, 1);
    uninstall(&a);
    nic_teardown(model, reg);
}

int
main(void)
{
    if (offload_test_eal_init("test-offload-proto")) {
        return 1;
    }
    mbufs = rte_pktmbuf_pool_create("pro_mbufs", 511, 0, 0,
                                    RTE_MBUF_DEFAULT_BUF_SIZE,
                                    SOCKET_ID_ANY);
    if (!mbufs || ring_ports_create(&ports, "pro", mbufs)) {
        printf("test-offload-proto: cannot create the net_ring ports\n");
        return 1;
    }
    test_suites();
    test_replay();
    test_events();
    test_checks();
    test_shared_port();
    test_case = "mbufs";
    CHECK_EQ(rte_mempool_in_use_count(mbufs), 0);
    ring_ports_destroy(&ports);
    rte_mempool_free(mbufs);
    offload_test_eal_fini();
    return test_summary("test-offload-proto");
}
