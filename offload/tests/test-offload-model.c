/*
 * The dpdk inline-crypto provider against the software NIC model:
 * SAs land on the model until its SA table is full, the next one runs in
 * "sw" with the reason shown, removing SAs destroys their sessions (the
 * model's live counter returns to 0), per-packet metadata, counters and
 * NIC events reach the provider, and the sw provider reads the datapath
 * library's counters.  The model's rte_flow table takes the rules a NIC
 * with an ESP SA table takes and refuses the others with a reason.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_flow.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_security.h>
#include <rte_ethdev.h>

#include "esp-crypto.h"
#include "ipsec-offload.h"
#include "ipsec-offload-dpdk.h"
#include "offload-test.h"
#include "sec-model.h"

enum { PORT_ID = 3, TABLE = 4 };

static struct secmodel_config
nic_config(void)
{
    struct secmodel_config c = {
        .sa_table_size = TABLE,
        .actions = SECMODEL_INLINE_CRYPTO | SECMODEL_INLINE_PROTOCOL,
        .algs = SECMODEL_AES_GCM_128 | SECMODEL_AES_GCM_256,
        .egress = true, .ingress = true,
        .tunnel = true, .transport = true,
        .esn = true, .udp_encap = true,
        .replay_win_max = 1024,
    };
    return c;
}

static struct ipsec_offload *
setup(struct secmodel *model, const char *pref)
{
    struct ipsec_offload *reg = ipsec_offload_create();
    char err[256];

    CHECK(reg != NULL);
    CHECK_EQ(ipsec_offload_dpdk_register(reg), 0);
    CHECK_EQ(secmodel_attach(model, PORT_ID), 0);
    CHECK_EQ(ipsec_offload_port_add(reg, "dpdk0", "dpdk", PORT_ID), 0);
    CHECK_EQ(ipsec_offload_set_preference(reg, pref, err, sizeof err), 0);
    return reg;
}

/* SAs fill the model's SA table; the next falls back; freeing a slot lets
 * the next SA back on the NIC; removing everything leaves no session. */
static void
test_table_full(void)
{
    struct secmodel_config cfg = nic_config();
    struct secmodel *model = secmodel_create(&cfg);
    struct ipsec_offload *reg = setup(model, "dpdk-inline-crypto,sw");
    struct ipsec_offload_sa *osa[TABLE + 2];
    struct secmodel_counters mc;
    char err[256];

    test_case = "table full";
    for (int i = 0; i < TABLE; i++) {
        struct esp_sa_params p = offload_test_sa(
            0x2000 + i, ESP_SUITE_AES_GCM_128,
            i % 2 ? ESP_DIR_IN : ESP_DIR_OUT, false);

        CHECK_EQ(ipsec_offload_sa_install(reg, "dpdk0", &p, NULL, &osa[i],
                                          err, sizeof err), 0);
        CHECK(!strcmp(ipsec_offload_sa_provider(osa[i]),
                      "dpdk-inline-crypto"));
        CHECK_EQ(ipsec_offload_sa_kind(osa[i]), IPSEC_OFFLOAD_INLINE_CRYPTO);
        CHECK(!strcmp(ipsec_offload_sa_reason(osa[i]), ""));
    }
    secmodel_get_counters(model, &mc);
    CHECK_EQ(mc.live, TABLE);
    CHECK_EQ(secmodel_ctx(model)->sess_cnt, TABLE);

    /* One more: the table is full. */
    {
        struct esp_sa_params p = offload_test_sa(
            0x2100, ESP_SUITE_AES_GCM_128, ESP_DIR_OUT, false);
        char line[512];

        CHECK_EQ(ipsec_offload_sa_install(reg, "dpdk0", &p, NULL,
                                          &osa[TABLE], err, sizeof err), 0);
        CHECK(!strcmp(ipsec_offload_sa_provider(osa[TABLE]), "sw"));
        CHECK_EQ(ipsec_offload_sa_kind(osa[TABLE]), IPSEC_OFFLOAD_SW);
        ipsec_offload_sa_format(osa[TABLE], line, sizeof line);
        CHECK(!strcmp(line, "offload=sw reason=\"dpdk-inline-crypto: port "
                      "dpdk0: rte_security_session_create failed with 4 "
                      "sessions on the port (SA table full?)\""));
        if (strcmp(ipsec_offload_sa_provider(osa[TABLE]), "sw")) {
            printf("  got %s\n", line);
        }
    }
    secmodel_get_counters(model, &mc);
    CHECK_EQ(mc.table_full, 1);
    CHECK_EQ(mc.live, TABLE);
    CHECK_EQ(ipsec_offload_port_remove(reg, "dpdk0"), EBUSY);

    /* Free one slot: the next SA is offloaded again. */
    ipsec_offload_sa_remove(osa[0]);
    secmodel_get_counters(model, &mc);
    CHECK_EQ(mc.live, TABLE - 1);
    {
        struct esp_sa_params p = offload_test_sa(
            0x2101, ESP_SUITE_AES_GCM_256, ESP_DIR_IN, false);

        CHECK_EQ(ipsec_offload_sa_install(reg, "dpdk0", &p, NULL,
                                          &osa[0], err, sizeof err), 0);
        CHECK(!strcmp(ipsec_offload_sa_provider(osa[0]),
                      "dpdk-inline-crypto"));
    }
    secmodel_get_counters(model, &mc);
    CHECK_EQ(mc.live, TABLE);

    for (int i = 0; i <= TABLE; i++) {
        ipsec_offload_sa_remove(osa[i]);
    }
    secmodel_get_counters(model, &mc);
    CHECK_EQ(mc.live, 0);
    CHECK_EQ(mc.created, TABLE + 1);
    CHECK_EQ(mc.destroyed, TABLE + 1);
    CHECK_EQ(mc.rejected, 0);
    CHECK_EQ(secmodel_ctx(model)->sess_cnt, 0);
    CHECK_EQ(ipsec_offload_port_remove(reg, "dpdk0"), 0);
    ipsec_offload_destroy(reg);
    secmodel_detach_all();
    CHECK_EQ(secmodel_destroy(model), 0);
}

/* Destroying the registry with SAs still installed destroys their
 * sessions too. */
static void
test_destroy_with_sas(void)
{
    struct secmodel_config cfg = nic_config();
    struct secmodel *model = secmodel_create(&cfg);
    struct ipsec_offload *reg = setup(model, "dpdk-inline-crypto");
    struct ipsec_offload_sa *osa;
    struct secmodel_counters mc;
    char err[256];

    test_case = "destroy with SAs";
    for (int i = 0; i < 3; i++) {
        struct esp_sa_params p = offload_test_sa(
            0x3000 + i, ESP_SUITE_AES_GCM_128, ESP_DIR_OUT, false);

        CHECK_EQ(ipsec_offload_sa_install(reg, "dpdk0", &p, NULL, &osa,
                                          err, sizeof err), 0);
    }
    secmodel_get_counters(model, &mc);
    CHECK_EQ(mc.live, 3);
    ipsec_offload_destroy(reg);
    secmodel_get_counters(model, &mc);
    CHECK_EQ(mc.live, 0);
    secmodel_detach_all();
    CHECK_EQ(secmodel_destroy(model), 0);
}

/* The session mempool running out is a fallback too. */
static void
test_pool_exhausted(void)
{
    struct secmodel_config cfg = nic_config();
    struct secmodel *model = secmodel_create(&cfg);
    struct ipsec_offload *reg;
    struct ipsec_offload_sa *osa[3];
    struct secmodel_counters mc;
    char err[256];

    test_case = "pool exhausted";
    ipsec_offload_dpdk_set_pool_size(2);
    reg = setup(model, "dpdk-inline-crypto");
    for (int i = 0; i < 3; i++) {
        struct esp_sa_params p = offload_test_sa(
            0x4000 + i, ESP_SUITE_AES_GCM_128, ESP_DIR_IN, false);

        CHECK_EQ(ipsec_offload_sa_install(reg, "dpdk0", &p, NULL, &osa[i],
                                          err, sizeof err), 0);
    }
    CHECK(!strcmp(ipsec_offload_sa_provider(osa[1]), "dpdk-inline-crypto"));
    CHECK(!strcmp(ipsec_offload_sa_provider(osa[2]), "sw"));
    CHECK(!strcmp(ipsec_offload_sa_reason(osa[2]), "dpdk-inline-crypto: "
                  "port dpdk0: session mempool of 2 exhausted"));
    secmodel_get_counters(model, &mc);
    CHECK_EQ(mc.live, 2);
    CHECK_EQ(mc.table_full, 0);
    ipsec_offload_destroy(reg);
    secmodel_get_counters(model, &mc);
    CHECK_EQ(mc.live, 0);
    secmodel_detach_all();
    CHECK_EQ(secmodel_destroy(model), 0);
    ipsec_offload_dpdk_set_pool_size(1024);
}

/* An ingress ESP rule as the tests build it: ETH / IPV4 [dst] / [UDP
 * 4500] / ESP spi / END, actions SECURITY / END. */
struct rule {
    struct rte_flow_attr attr;
    struct rte_flow_item items[6];
    struct rte_flow_action actions[3];
    struct rte_flow_item_ipv4 ip4, ip4_mask;
    struct rte_flow_item_udp udp, udp_mask;
    struct rte_flow_item_esp esp, esp_mask;
    struct rte_flow_action_security sec;
};

static void
rule_init(struct rule *r, void *sess, uint32_t spi, uint32_t dst_be,
          bool udp)
{
    int n = 0;

    memset(r, 0, sizeof *r);
    r->attr.ingress = 1;
    r->items[n++].type = RTE_FLOW_ITEM_TYPE_ETH;
    r->items[n].type = RTE_FLOW_ITEM_TYPE_IPV4;
    if (dst_be) {
        r->ip4.hdr.dst_addr = dst_be;
        r->ip4_mask.hdr.dst_addr = UINT32_MAX;
        r->items[n].spec = &r->ip4;
        r->items[n].mask = &r->ip4_mask;
    }
    n++;
    if (udp) {
        r->udp.hdr.dst_port = htons(4500);
        r->udp_mask.hdr.dst_port = UINT16_MAX;
        r->items[n].type = RTE_FLOW_ITEM_TYPE_UDP;
        r->items[n].spec = &r->udp;
        r->items[n++].mask = &r->udp_mask;
    }
    r->esp.hdr.spi = htonl(spi);
    r->esp_mask.hdr.spi = UINT32_MAX;
    r->items[n].type = RTE_FLOW_ITEM_TYPE_ESP;
    r->items[n].spec = &r->esp;
    r->items[n++].mask = &r->esp_mask;
    r->items[n].type = RTE_FLOW_ITEM_TYPE_END;
    r->sec.security_session = sess;
    r->actions[0].type = RTE_FLOW_ACTION_TYPE_SECURITY;
    r->actions[0].conf = &r->sec;
    r->actions[1].type = RTE_FLOW_ACTION_TYPE_END;
}

/* validate() and create() both refuse 'r' with 'error' and a message. */
static void
check_refused(const struct rule *r, int error)
{
    const struct ipsec_offload_dpdk_flow_ops *ops = secmodel_flow_ops();
    struct rte_flow_error fe;

    memset(&fe, 0, sizeof fe);
    CHECK_EQ(ops->validate(PORT_ID, &r->attr, r->items, r->actions, &fe),
             -error);
    CHECK(fe.message != NULL);
    memset(&fe, 0, sizeof fe);
    rte_errno = 0;
    CHECK(!ops->create(PORT_ID, &r->attr, r->items, r->actions, &fe));
    CHECK_EQ(rte_errno, error);
    CHECK(fe.message != NULL);
}

/* The provider's rule for an ingress SA, and what the model refuses. */
static void
test_rules(void)
{
    const struct ipsec_offload_dpdk_flow_ops *ops = secmodel_flow_ops();
    struct secmodel_config cfg = nic_config();
    struct secmodel *model = secmodel_create(&cfg);
    struct ipsec_offload *reg = setup(model, "dpdk-inline-crypto");
    struct esp_sa_params pi = offload_test_sa(0x5000, ESP_SUITE_AES_GCM_128,
                                              ESP_DIR_IN, false);
    struct esp_sa_params po = offload_test_sa(0x5001, ESP_SUITE_AES_GCM_128,
                                              ESP_DIR_OUT, false);
    struct ipsec_offload_sa *in, *out;
    struct secmodel_counters mc;
    void *in_sess = NULL, *out_sess = NULL;
    struct rte_flow_error fe;
    struct rte_flow *extra;
    struct rule r;
    char err[256];
    int refused = 0;

    test_case = "rte_flow rules";
    CHECK_EQ(ipsec_offload_sa_install(reg, "dpdk0", &pi, NULL, &in, err,
                                      sizeof err), 0);
    CHECK_EQ(ipsec_offload_sa_install(reg, "dpdk0", &po, NULL, &out, err,
                                      sizeof err), 0);
    CHECK(!strcmp(ipsec_offload_sa_provider(in), "dpdk-inline-crypto"));
    CHECK(!strcmp(ipsec_offload_sa_provider(out), "dpdk-inline-crypto"));
    CHECK_EQ(ipsec_offload_dpdk_sa_session(in, NULL, &in_sess, NULL), 0);
    CHECK_EQ(ipsec_offload_dpdk_sa_session(out, NULL, &out_sess, NULL), 0);
    secmodel_get_counters(model, &mc);
    CHECK_EQ(mc.flows, 1);
    CHECK_EQ(mc.flow_created, 1);

    /* The provider's own rule again: the model has it. */
    rule_init(&r, in_sess, 0x5000, pi.dst.v4.s_addr, false);
    check_refused(&r, EEXIST), refused++;
    /* Egress rules. */
    r.attr.ingress = 0;
    r.attr.egress = 1;
    check_refused(&r, ENOTSUP), refused++;
    /* Another SPI than the session's. */
    rule_init(&r, in_sess, 0x5002, 0, false);
    check_refused(&r, EINVAL), refused++;
    /* UDP, but the session has no UDP encapsulation. */
    rule_init(&r, in_sess, 0x5000, 0, true);
    check_refused(&r, EINVAL), refused++;
    /* An egress session. */
    rule_init(&r, out_sess, 0x5001, 0, false);
    check_refused(&r, EINVAL), refused++;
    /* A destination other than the tunnel's. */
    rule_init(&r, in_sess, 0x5000, htonl(0x0a000001), false);
    check_refused(&r, EINVAL), refused++;
    /* The source masked. */
    rule_init(&r, in_sess, 0x5000, pi.dst.v4.s_addr, false);
    r.ip4_mask.hdr.src_addr = UINT32_MAX;
    check_refused(&r, ENOTSUP), refused++;
    /* No ESP item. */
    rule_init(&r, in_sess, 0x5000, 0, false);
    r.items[2].type = RTE_FLOW_ITEM_TYPE_END;
    check_refused(&r, ENOTSUP), refused++;
    /* A QUEUE fate after SECURITY. */
    rule_init(&r, in_sess, 0x5000, 0, false);
    r.actions[1].type = RTE_FLOW_ACTION_TYPE_QUEUE;
    r.actions[1].conf = &(struct rte_flow_action_queue) { .index = 0 };
    r.actions[2].type = RTE_FLOW_ACTION_TYPE_END;
    check_refused(&r, ENOTSUP), refused++;
    /* No session. */
    rule_init(&r, NULL, 0x5000, 0, false);
    check_refused(&r, EINVAL), refused++;
    secmodel_get_counters(model, &mc);
    CHECK_EQ(mc.flow_refused, 2 * refused);
    CHECK_EQ(mc.flows, 1);

    /* Ports without a model go to rte_flow itself. */
    rule_init(&r, in_sess, 0x5000, 0, false);
    memset(&fe, 0, sizeof fe);
    CHECK_EQ(ops->validate(PORT_ID + 60, &r.attr, r.items, r.actions, &fe),
             -ENODEV);

    /* A second rule for the session (any IPv4 destination, with
     * PASSTHRU), which the provider does not know of: removing the SA
     * destroys the provider's rule, then the session, and the model
     * removes the orphan and counts it. */
    r.actions[1].type = RTE_FLOW_ACTION_TYPE_PASSTHRU;
    r.actions[2].type = RTE_FLOW_ACTION_TYPE_END;
    memset(&fe, 0, sizeof fe);
    CHECK_EQ(ops->validate(PORT_ID, &r.attr, r.items, r.actions, &fe), 0);
    extra = ops->create(PORT_ID, &r.attr, r.items, r.actions, &fe);
    CHECK(extra != NULL);
    CHECK_EQ(ops->destroy(PORT_ID + 1, extra, &fe), -ENODEV);
    CHECK_EQ(ops->destroy(PORT_ID, (struct rte_flow *) &fe, &fe), -EINVAL);
    secmodel_get_counters(model, &mc);
    CHECK_EQ(mc.flows, 2);
    ipsec_offload_sa_remove(in);
    ipsec_offload_sa_remove(out);
    secmodel_get_counters(model, &mc);
    CHECK_EQ(mc.flows, 0);
    CHECK_EQ(mc.flow_destroyed, 1);
    CHECK_EQ(mc.flow_orphaned, 1);
    CHECK_EQ(mc.live, 0);
    CHECK_EQ(ops->destroy(PORT_ID, extra, &fe), -EINVAL);

    ipsec_offload_destroy(reg);
    secmodel_detach_all();
    CHECK_EQ(secmodel_destroy(model), 0);
}

/* What the datapath does per packet on TX (metadata), reads per SA
 * (counters), and learns from the NIC (events). */
static void
test_datapath_hooks(void)
{
    struct secmodel_config cfg = nic_config();
    struct secmodel *model = secmodel_create(&cfg);
    struct ipsec_offload *reg = setup(
        model, "dpdk-inline-crypto,dpdk-inline-protocol");
    struct rte_mempool *mp = rte_pktmbuf_pool_create(
        "offload_test_mbufs", 63, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
        SOCKET_ID_ANY);
    struct esp_sa_params p = offload_test_sa(0x5000, ESP_SUITE_AES_GCM_128,
                                             ESP_DIR_OUT, false);
    struct ipsec_offload_sa *osa, *proto;
    struct ipsec_offload_stats st;
    struct secmodel_counters mc;
    struct rte_security_ctx *ctx;
    struct rte_mbuf *m;
    uint32_t ol_flags = 0;
    void *sess = NULL, *psess = NULL;
    char err[256], show[2048];

    test_case = "datapath hooks";
    CHECK(mp != NULL);
    CHECK_EQ(ipsec_offload_sa_install(reg, "dpdk0", &p, NULL, &osa,
                                      err, sizeof err), 0);
    CHECK_EQ(ipsec_offload_dpdk_sa_session(osa, &ctx, &sess, &ol_flags), 0);
    CHECK(ctx == secmodel_ctx(model));
    CHECK(sess != NULL);
    CHECK_EQ(ol_flags, RTE_SECURITY_TX_OLOAD_NEED_MDATA);

    /* TX metadata through the public inline call. */
    m = mp ? rte_pktmbuf_alloc(mp) : NULL;
    CHECK(m != NULL);
    if (m) {
        CHECK_EQ(rte_security_set_pkt_metadata(ctx, sess, m, NULL), 0);
        CHECK(secmodel_mbuf_session(m) == sess);
        rte_pktmbuf_free(m);
    }
    secmodel_get_counters(model, &mc);
    CHECK_EQ(mc.metadata_set, 1);

    /* Counters the NIC keeps. */
    secmodel_account(sess, true, 3, 300, 1);
    CHECK_EQ(ipsec_offload_sa_get_stats(osa, &st), 0);
    CHECK_EQ(st.opackets, 3);
    CHECK_EQ(st.obytes, 300);
    CHECK_EQ(st.oerrors, 1);
    CHECK_EQ(st.ipackets, 0);

    /* Inline protocol: events from the NIC (ESN is not on this SA's
     * inline-crypto twin, but inline protocol takes it). */
    p = offload_test_sa(0x5001, ESP_SUITE_AES_GCM_256, ESP_DIR_IN, false);
    p.esn = true;
    p.soft.packets = 100;
    p.hard.packets = 200;
    CHECK_EQ(ipsec_offload_set_preference(reg, "dpdk-inline-protocol", err,
                                          sizeof err), 0);
    CHECK_EQ(ipsec_offload_sa_install(reg, "dpdk0", &p, NULL, &proto,
                                      err, sizeof err), 0);
    CHECK(!strcmp(ipsec_offload_sa_provider(proto), "dpdk-inline-protocol"));
    CHECK_EQ(ipsec_offload_sa_kind(proto), IPSEC_OFFLOAD_INLINE_PROTOCOL);
    CHECK_EQ(ipsec_offload_dpdk_sa_session(proto, NULL, &psess, NULL), 0);
    CHECK_EQ(ipsec_offload_sa_take_events(proto), 0);
    CHECK_EQ(secmodel_raise_event(model, PORT_ID, psess,
                                  RTE_ETH_EVENT_IPSEC_SA_PKT_EXPIRY), 0);
    CHECK_EQ(ipsec_offload_sa_take_events(proto), ESP_EV_SOFT_EXPIRED);
    CHECK_EQ(ipsec_offload_sa_take_events(proto), 0);
    CHECK_EQ(secmodel_raise_event(model, PORT_ID, psess,
                                  RTE_ETH_EVENT_IPSEC_SA_PKT_HARD_EXPIRY), 0);
    CHECK_EQ(secmodel_raise_event(model, PORT_ID, psess,
                                  RTE_ETH_EVENT_IPSEC_ESN_OVERFLOW), 0);
    CHECK_EQ(ipsec_offload_sa_take_events(proto),
             ESP_EV_HARD_EXPIRED | ESP_EV_SEQ_OVERFLOW);
    /* An event for another port is not this SA's. */
    CHECK_EQ(secmodel_raise_event(model, PORT_ID + 1, psess,
                                  RTE_ETH_EVENT_IPSEC_SA_PKT_EXPIRY), -1);
    CHECK_EQ(ipsec_offload_sa_take_events(proto), 0);
    /* The inline-crypto SA raises none: the datapath keeps lifetimes. */
    CHECK_EQ(ipsec_offload_sa_take_events(osa), 0);

    /* ipsec/offload-show. */
    ipsec_offload_ports_format(reg, NULL, show, sizeof show);
    CHECK(strstr(show, "port dpdk0 (type dpdk): offload allowed, "
                 "preference dpdk-inline-protocol,sw, 2 SAs\n") != NULL);
    CHECK(strstr(show, "  dpdk-inline-crypto: egress/transport AES-GCM-128 "
                 "AES-GCM-256 esn udp-encap; ") != NULL);
    CHECK(strstr(show, "  dpdk-inline-protocol: egress/transport "
                 "AES-GCM-128 AES-GCM-256 esn udp-encap replay<=1024; ")
          != NULL);
    CHECK(strstr(show, "  sw: available\n") != NULL);

    /* A removed SA's session is gone, and a late event for it is
     * refused. */
    ipsec_offload_sa_remove(proto);
    secmodel_get_counters(model, &mc);
    CHECK_EQ(mc.live, 1);
    ipsec_offload_sa_remove(osa);
    secmodel_get_counters(model, &mc);
    CHECK_EQ(mc.live, 0);
    CHECK_EQ(mc.rejected, 0);

    rte_mempool_free(mp);
    ipsec_offload_destroy(reg);
    secmodel_detach_all();
    CHECK_EQ(secmodel_destroy(model), 0);
}

/* The sw provider reads the datapath library's counters. */
static void
test_sw_stats(void)
{
    struct ipsec_offload *reg = ipsec_offload_create();
    struct esp_sa_params p = offload_test_sa(0x6000, ESP_SUITE_AES_GCM_128,
                                             ESP_DIR_OUT, false);
    struct ipsec_offload_sa *osa;
    struct ipsec_offload_stats st;
    struct esp_sa *sa = NULL;
    char err[256];

    test_case = "sw stats";
    CHECK_EQ(esp_sa_create(&p, &sa, err, sizeof err), 0);
    CHECK_EQ(ipsec_offload_port_add(reg, "eth0", "system", -1), 0);
    CHECK_EQ(ipsec_offload_sa_install(reg, "eth0", &p, sa, &osa,
                                      err, sizeof err), 0);
    CHECK(!strcmp(ipsec_offload_sa_provider(osa), "sw"));
    CHECK_EQ(ipsec_offload_dpdk_sa_session(osa, NULL, NULL, NULL), EINVAL);
    if (sa) {
        uint8_t buf[256];
        struct esp_buf b = { buf, sizeof buf, ESP_HEADROOM, 40 };
        struct esp_buf *pkts[1] = { &b };
        enum esp_verdict v;

        /* A 40-byte IPv4/UDP packet. */
        memset(buf, 0, sizeof buf);
        buf[ESP_HEADROOM] = 0x45;
        buf[ESP_HEADROOM + 3] = 40;
        buf[ESP_HEADROOM + 8] = 64;
        buf[ESP_HEADROOM + 9] = 17;
        CHECK_EQ(esp_encap_burst(sa, pkts, &v, 1, 0), 1);
    }
    CHECK_EQ(ipsec_offload_sa_get_stats(osa, &st), 0);
    CHECK_EQ(st.opackets, 1);
    CHECK_EQ(st.obytes, 40);
    CHECK_EQ(st.oerrors, 0);
    ipsec_offload_sa_remove(osa);
    ipsec_offload_destroy(reg);
    esp_sa_destroy(sa);
}

/* The mbuf RX flags the datapath hands to esp_decap_burst_ex(). */
static void
test_rx_flags(void)
{
    static const struct {
        uint64_t ol_flags;
        uint8_t want;
    } cases[] = {
        { 0, 0 },
        { RTE_MBUF_F_RX_SEC_OFFLOAD, ESP_RX_CRYPTO_DONE },
        { RTE_MBUF_F_RX_SEC_OFFLOAD | RTE_MBUF_F_RX_SEC_OFFLOAD_FAILED,
          ESP_RX_CRYPTO_FAILED },
        { RTE_MBUF_F_RX_SEC_OFFLOAD_FAILED, ESP_RX_CRYPTO_FAILED },
        { RTE_MBUF_F_RX_L4_CKSUM_GOOD | RTE_MBUF_F_TX_SEC_OFFLOAD, 0 },
    };

    test_case = "rx flags";
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK_EQ(ipsec_offload_dpdk_rx_flags(cases[i].ol_flags),
                 cases[i].want);
    }
}

int
main(void)
{
    if (offload_test_eal_init("test-offload-model")) {
        return 1;
    }
    test_table_full();
    test_destroy_with_sas();
    test_pool_exhausted();
    test_rules();
    test_datapath_hooks();
    test_sw_stats();
    test_rx_flags();
    offload_test_eal_fini();
    return test_summary("test-offload-model");
}
