/*
 * Provider selection table: for each SA configuration, capabilities a
 * NIC model advertises and preference order, the chosen provider and the
 * reason are exactly as expected.  Every case installs for real (sessions
 * and ingress rte_flow rules on the model), then removes, and checks that
 * the model saw no session it did not advertise and no session or rule is
 * left behind.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "crypto-cryptodev.h"
#include "ipsec-offload.h"
#include "ipsec-offload-cryptodev.h"
#include "ipsec-offload-dpdk.h"
#include "offload-test.h"
#include "sec-model.h"

enum caps_preset {
    CAPS_IXGBE,         /* Inline crypto, AES-GCM-128 only, no ESN/NAT-T. */
    CAPS_FULL_IC,       /* Inline crypto, every suite, ESN, NAT-T. */
    CAPS_PROTO,         /* Inline protocol only, GCM, replay <= 1024. */
    CAPS_BOTH,          /* Both; protocol without outer-header options. */
    CAPS_EGRESS_TUN,    /* Inline crypto, egress tunnel only. */
    CAPS_FAIL,          /* Advertises GCM-128 but every create fails. */
    CAPS_NO_ROOM,       /* SA table of 0 entries. */
    CAPS_PROTO_NOREPLAY, /* Inline protocol without anti-replay. */
    CAPS_NONE,          /* No model attached: no security context. */
    CAPS_NO_FLOW,       /* ixgbe-like, but rte_flow fails (no flow ops). */
    CAPS_ONE_RULE,      /* ixgbe-like with room for one rte_flow rule. */
    CAPS_PROTO_NO_FLOW, /* CAPS_PROTO without flow ops. */
    CAPS_NEEDS_DST,     /* ixgbe-like: a rule needs the destination. */
};

static const uint32_t ALL_ALGS = (SECMODEL_AES_GCM_128 | SECMODEL_AES_GCM_256
                                  | SECMODEL_CHACHA20_POLY1305
                                  | SECMODEL_AES_CBC_128_HMAC_SHA256
                                  | SECMODEL_AES_CBC_256_HMAC_SHA256);

static struct secmodel_config
preset(enum caps_preset p)
{
    struct secmodel_config c = {
        .sa_table_size = 16,
        .actions = SECMODEL_INLINE_CRYPTO,
        .algs = SECMODEL_AES_GCM_128,
        .egress = true, .ingress = true,
        .tunnel = true, .transport = true,
    };

    switch (p) {
    case CAPS_IXGBE:
    case CAPS_NONE:
        break;
    case CAPS_FULL_IC:
        c.algs = ALL_ALGS;
        c.esn = c.udp_encap = true;
        break;
    case CAPS_PROTO:
        c.actions = SECMODEL_INLINE_PROTOCOL;
        c.algs = SECMODEL_AES_GCM_128 | SECMODEL_AES_GCM_256;
        c.esn = c.udp_encap = true;
        c.replay_win_max = 1024;
        c.copy_df = c.copy_dscp = c.ecn = true;
        break;
    case CAPS_BOTH:
        c.actions = SECMODEL_INLINE_CRYPTO | SECMODEL_INLINE_PROTOCOL;
        c.algs = SECMODEL_AES_GCM_128 | SECMODEL_AES_GCM_256;
        c.replay_win_max = 64;
        break;
    case CAPS_EGRESS_TUN:
        c.ingress = false;
        c.transport = false;
        break;
    case CAPS_FAIL:
        c.fail_create = true;
        break;
    case CAPS_NO_ROOM:
        c.sa_table_size = 0;
        break;
    case CAPS_PROTO_NOREPLAY:
        c.actions = SECMODEL_INLINE_PROTOCOL;
        c.replay_win_max = 0;
        break;
    case CAPS_NO_FLOW:
        c.no_flow_ops = true;
        break;
    case CAPS_ONE_RULE:
        c.flow_table_size = 1;
        break;
    case CAPS_PROTO_NO_FLOW:
        c = preset(CAPS_PROTO);
        c.no_flow_ops = true;
        break;
    case CAPS_NEEDS_DST:
        c.rule_needs_dst = true;
        break;
    }
    return c;
}

enum sa_preset {
    SA_GCM128_OUT,
    SA_GCM256_OUT,
    SA_GCM128_OUT_ESN,
    SA_GCM128_IN_NATT,
    SA_CHACHA_IN,
    SA_GCM128_IN,
    SA_GCM128_OUT_TRANSPORT,
    SA_GCM128_IN_REPLAY4096,
    SA_GCM128_OUT_DFCOPY,
    SA_GCM256_OUT_ESN,
    SA_CBC256_OUT_TRANSPORT,
    SA_CBC128_IN,
    SA_GCM128_IN_TRANSPORT_ANY, /* No src/dst: any local address. */
};

static struct esp_sa_params
sa(enum sa_preset s)
{
    struct esp_sa_params p;

    switch (s) {
    case SA_GCM128_OUT:
    default:
        return offload_test_sa(0x1001, ESP_SUITE_AES_GCM_128, ESP_DIR_OUT,
                               false);
    case SA_GCM256_OUT:
        return offload_test_sa(0x1002, ESP_SUITE_AES_GCM_256, ESP_DIR_OUT,
                               false);
    case SA_GCM128_OUT_ESN:
        p = offload_test_sa(0x1003, ESP_SUITE_AES_GCM_128, ESP_DIR_OUT,
                            false);
        p.esn = true;
        return p;
    case SA_GCM128_IN_NATT:
        p = offload_test_sa(0x1004, ESP_SUITE_AES_GCM_128, ESP_DIR_IN,
                            false);
        p.udp_encap = true;
        return p;
    case SA_CHACHA_IN:
        return offload_test_sa(0x1005, ESP_SUITE_CHACHA20_POLY1305,
                               ESP_DIR_IN, false);
    case SA_GCM128_IN:
        return offload_test_sa(0x1006, ESP_SUITE_AES_GCM_128, ESP_DIR_IN,
                               false);
    case SA_GCM128_OUT_TRANSPORT:
        return offload_test_sa(0x1007, ESP_SUITE_AES_GCM_128, ESP_DIR_OUT,
                               true);
    case SA_GCM128_IN_REPLAY4096:
        p = offload_test_sa(0x1008, ESP_SUITE_AES_GCM_128, ESP_DIR_IN,
                            false);
        p.replay_window = 4096;
        return p;
    case SA_GCM128_OUT_DFCOPY:
        p = offload_test_sa(0x1009, ESP_SUITE_AES_GCM_128, ESP_DIR_OUT,
                            false);
        p.df = ESP_DF_COPY;
        return p;
    case SA_GCM256_OUT_ESN:
        p = offload_test_sa(0x100a, ESP_SUITE_AES_GCM_256, ESP_DIR_OUT,
                            false);
        p.esn = true;
        return p;
    case SA_CBC256_OUT_TRANSPORT:
        return offload_test_sa(0x100b, ESP_SUITE_AES_CBC_256_HMAC_SHA256,
                               ESP_DIR_OUT, true);
    case SA_CBC128_IN:
        return offload_test_sa(0x100c, ESP_SUITE_AES_CBC_128_HMAC_SHA256,
                               ESP_DIR_IN, false);
    case SA_GCM128_IN_TRANSPORT_ANY:
        p = offload_test_sa(0x100d, ESP_SUITE_AES_GCM_128, ESP_DIR_IN, true);
        memset(&p.src, 0, sizeof p.src);
        memset(&p.dst, 0, sizeof p.dst);
        return p;
    }
}

/* Cryptodevs bound to the dpdk-lookaside / dpdk-cpu-crypto providers. */
enum cdev_preset {
    CDEV_NONE,          /* None open. */
    CDEV_AESNI_MB,      /* Both modes on crypto_aesni_mb0: every suite. */
    CDEV_OPENSSL,       /* Both on crypto_openssl0: no CPU crypto, no
                         * ChaCha20-Poly1305, no AES-ECB. */
};

enum port_preset {
    PORT_DPDK0,         /* "dpdk0", type dpdk, ethdev 7, model attached. */
    PORT_SYSTEM,        /* "eth0", type system, not DPDK. */
    PORT_DENIED,        /* "dpdk0" with offload denied on the port. */
    PORT_OWN_PREF,      /* "dpdk0" with its own preference order. */
    PORT_NONE,          /* The SA names no port. */
    PORT_UNKNOWN,       /* The SA names a port the registry lacks. */
    GLOBAL_DISABLED,    /* "dpdk0", offload disabled globally. */
    PORT_LOCAL,         /* "dpdk0", its ESP arrives at 198.51.100.2. */
};

struct select_case {
    const char *name;
    enum sa_preset sa;
    enum caps_preset caps;
    enum port_preset port;
    const char *pref;           /* Global (PORT_OWN_PREF: the port's). */
    const char *provider;
    const char *reason;
    enum cdev_preset cdev;
};

static const struct select_case cases[] = {
    { "ixgbe-like takes GCM-128 egress", SA_GCM128_OUT, CAPS_IXGBE,
      PORT_DPDK0, "dpdk-inline-crypto,sw", "dpdk-inline-crypto", "",
      CDEV_NONE },
    { "ixgbe-like takes GCM-128 ingress", SA_GCM128_IN, CAPS_IXGBE,
      PORT_DPDK0, "dpdk-inline-crypto,sw", "dpdk-inline-crypto", "",
      CDEV_NONE },
    { "ixgbe-like takes transport", SA_GCM128_OUT_TRANSPORT, CAPS_IXGBE,
      PORT_DPDK0, "dpdk-inline-crypto,sw", "dpdk-inline-crypto", "",
      CDEV_NONE },
    { "GCM-256 not advertised", SA_GCM256_OUT, CAPS_IXGBE, PORT_DPDK0,
      "dpdk-inline-crypto,sw", "sw",
      "dpdk-inline-crypto: port dpdk0: AES-GCM-256 not in rte_security "
      "capabilities", CDEV_NONE },
    { "sw appended when missing", SA_GCM256_OUT, CAPS_IXGBE, PORT_DPDK0,
      "dpdk-inline-crypto", "sw",
      "dpdk-inline-crypto: port dpdk0: AES-GCM-256 not in rte_security "
      "capabilities", CDEV_NONE },
    { "ESN not advertised", SA_GCM128_OUT_ESN, CAPS_IXGBE, PORT_DPDK0,
      "dpdk-inline-crypto,sw", "sw",
      "dpdk-inline-crypto: port dpdk0: ESN not in rte_security "
      "capabilities", CDEV_NONE },
    { "NAT-T not advertised", SA_GCM128_IN_NATT, CAPS_IXGBE, PORT_DPDK0,
      "dpdk-inline-crypto,sw", "sw",
      "dpdk-inline-crypto: port dpdk0: UDP encapsulation not in "
      "rte_security capabilities", CDEV_NONE },
    { "CBC not advertised", SA_CBC128_IN, CAPS_IXGBE, PORT_DPDK0,
      "dpdk-inline-crypto,sw", "sw",
      "dpdk-inline-crypto: port dpdk0: AES-CBC-128/HMAC-SHA-256 not in "
      "rte_security capabilities", CDEV_NONE },
    { "full NIC takes ChaCha20-Poly1305", SA_CHACHA_IN, CAPS_FULL_IC,
      PORT_DPDK0, "dpdk-inline-crypto,sw", "dpdk-inline-crypto", "",
      CDEV_NONE },
    { "full NIC takes CBC-256 transport", SA_CBC256_OUT_TRANSPORT,
      CAPS_FULL_IC, PORT_DPDK0, "dpdk-inline-crypto,sw",
      "dpdk-inline-crypto", "", CDEV_NONE },
    { "full NIC takes ESN + NAT-T", SA_GCM128_IN_NATT, CAPS_FULL_IC,
      PORT_DPDK0, "dpdk-inline-crypto,sw", "dpdk-inline-crypto", "",
      CDEV_NONE },
    { "egress-only NIC, ingress SA", SA_GCM128_IN, CAPS_EGRESS_TUN,
      PORT_DPDK0, "dpdk-inline-crypto,sw", "sw",
      "dpdk-inline-crypto: port dpdk0: no rte_security inline-crypto ESP "
      "ingress capability", CDEV_NONE },
    { "tunnel-only NIC, transport SA", SA_GCM128_OUT_TRANSPORT,
      CAPS_EGRESS_TUN, PORT_DPDK0, "dpdk-inline-crypto,sw", "sw",
      "dpdk-inline-crypto: port dpdk0: no rte_security inline-crypto ESP "
      "egress transport capability", CDEV_NONE },
    { "protocol preferred, NIC has crypto only", SA_GCM128_OUT, CAPS_IXGBE,
      PORT_DPDK0, "dpdk-inline-protocol,dpdk-inline-crypto,sw",
      "dpdk-inline-crypto",
      "dpdk-inline-protocol: port dpdk0: no rte_security inline-protocol "
      "ESP capability", CDEV_NONE },
    { "inline protocol takes GCM-256 ESN", SA_GCM256_OUT_ESN, CAPS_PROTO,
      PORT_DPDK0, "dpdk-inline-protocol,dpdk-inline-crypto,sw",
      "dpdk-inline-protocol", "", CDEV_NONE },
    { "inline protocol replay window too big", SA_GCM128_IN_REPLAY4096,
      CAPS_PROTO, PORT_DPDK0, "dpdk-inline-protocol,sw", "sw",
      "dpdk-inline-protocol: port dpdk0: replay window 4096 above "
      "rte_security maximum 1024", CDEV_NONE },
    { "inline protocol without anti-replay", SA_GCM128_IN,
      CAPS_PROTO_NOREPLAY, PORT_DPDK0, "dpdk-inline-protocol,sw", "sw",
      "dpdk-inline-protocol: port dpdk0: anti-replay not in rte_security "
      "capabilities", CDEV_NONE },
    { "inline protocol without DF copy falls to crypto",
      SA_GCM128_OUT_DFCOPY, CAPS_BOTH, PORT_DPDK0,
      "dpdk-inline-protocol,dpdk-inline-crypto,sw", "dpdk-inline-crypto",
      "dpdk-inline-protocol: port dpdk0: DF copy not in rte_security "
      "capabilities", CDEV_NONE },
    { "both decline, both reasons", SA_GCM128_OUT_ESN, CAPS_BOTH,
      PORT_DPDK0, "dpdk-inline-protocol,dpdk-inline-crypto,sw", "sw",
      "dpdk-inline-protocol: port dpdk0: ESN not in rte_security "
      "capabilities; dpdk-inline-crypto: port dpdk0: ESN not in "
      "rte_security capabilities", CDEV_NONE },
    { "crypto preferred over protocol", SA_GCM128_OUT, CAPS_BOTH,
      PORT_DPDK0, "dpdk-inline-crypto,dpdk-inline-protocol,sw",
      "dpdk-inline-crypto", "", CDEV_NONE },
    { "session create fails", SA_GCM128_OUT, CAPS_FAIL, PORT_DPDK0,
      "dpdk-inline-crypto,sw", "sw",
      "dpdk-inline-crypto: port dpdk0: rte_security_session_create failed "
      "with 0 sessions on the port (SA table full?)", CDEV_NONE },
    { "SA table of size 0", SA_GCM128_IN, CAPS_NO_ROOM, PORT_DPDK0,
      "dpdk-inline-crypto,sw", "sw",
      "dpdk-inline-crypto: port dpdk0: rte_security_session_create failed "
      "with 0 sessions on the port (SA table full?)", CDEV_NONE },
    /* The ingress rte_flow rule. */
    { "ingress rule refused: no flow ops", SA_GCM128_IN, CAPS_NO_FLOW,
      PORT_DPDK0, "dpdk-inline-crypto,sw", "sw",
      "dpdk-inline-crypto: port dpdk0: rte_flow ESP rule for SPI 0x00001006 "
      "over IPv4 refused: operation not supported (Function not "
      "implemented)", CDEV_NONE },
    { "egress SA needs no rule", SA_GCM128_OUT, CAPS_NO_FLOW, PORT_DPDK0,
      "dpdk-inline-crypto,sw", "dpdk-inline-crypto", "", CDEV_NONE },
    { "NAT-T ingress rule on a full NIC", SA_GCM128_IN_NATT, CAPS_FULL_IC,
      PORT_DPDK0, "dpdk-inline-crypto,sw", "dpdk-inline-crypto", "",
      CDEV_NONE },
    { "ingress without destination: a rule per IP version",
      SA_GCM128_IN_TRANSPORT_ANY, CAPS_IXGBE, PORT_DPDK0,
      "dpdk-inline-crypto,sw", "dpdk-inline-crypto", "", CDEV_NONE },
    { "ingress without destination: room for one rule",
      SA_GCM128_IN_TRANSPORT_ANY, CAPS_ONE_RULE, PORT_DPDK0,
      "dpdk-inline-crypto,sw", "sw",
      "dpdk-inline-crypto: port dpdk0: rte_flow ESP rule for SPI 0x0000100d "
      "over IPv6 refused: ESP rule table full (No space left on device)",
      CDEV_NONE },
    { "inline protocol ingress rule refused", SA_GCM128_IN,
      CAPS_PROTO_NO_FLOW, PORT_DPDK0,
      "dpdk-inline-protocol,dpdk-inline-crypto,sw", "sw",
      "dpdk-inline-protocol: port dpdk0: rte_flow ESP rule for SPI "
      "0x00001006 over IPv4 refused: operation not supported (Function not "
      "implemented); dpdk-inline-crypto: port dpdk0: no rte_security "
      "inline-crypto ESP capability", CDEV_NONE },
    { "ixgbe-like: a rule needs the destination", SA_GCM128_IN_TRANSPORT_ANY,
      CAPS_NEEDS_DST, PORT_DPDK0, "dpdk-inline-crypto,sw", "sw",
      "dpdk-inline-crypto: port dpdk0: rte_flow ESP rule for SPI 0x0000100d "
      "over IPv4 refused: the RX SA table needs the destination address "
      "(Operation not supported)", CDEV_NONE },
    { "ixgbe-like: the port's address makes the rule",
      SA_GCM128_IN_TRANSPORT_ANY, CAPS_NEEDS_DST, PORT_LOCAL,
      "dpdk-inline-crypto,sw", "dpdk-inline-crypto", "", CDEV_NONE },
    { "ixgbe-like: the SA's own destination", SA_GCM128_IN, CAPS_NEEDS_DST,
      PORT_LOCAL, "dpdk-inline-crypto,sw", "dpdk-inline-crypto", "",
      CDEV_NONE },
    { "no security context", SA_GCM128_OUT, CAPS_NONE, PORT_DPDK0,
      "dpdk-inline-crypto,sw", "sw",
      "dpdk-inline-crypto: port dpdk0: no rte_security context", CDEV_NONE },
    { "not a DPDK port", SA_GCM128_OUT, CAPS_FULL_IC, PORT_SYSTEM,
      "dpdk-inline-crypto,sw", "sw",
      "dpdk-inline-crypto: port eth0: not a DPDK port", CDEV_NONE },
    { "offload denied on the port", SA_GCM128_OUT, CAPS_FULL_IC,
      PORT_DENIED, "dpdk-inline-crypto,sw", "sw",
      "dpdk-inline-crypto: offload disabled on port dpdk0", CDEV_NONE },
    { "offload disabled globally", SA_GCM128_OUT, CAPS_FULL_IC,
      GLOBAL_DISABLED, "dpdk-inline-crypto,sw", "sw",
      "dpdk-inline-crypto: offload disabled", CDEV_NONE },
    { "port preference overrides global", SA_GCM128_OUT, CAPS_FULL_IC,
      PORT_OWN_PREF, "dpdk-inline-crypto", "dpdk-inline-crypto", "",
      CDEV_NONE },
    { "SA without a port", SA_GCM128_OUT, CAPS_FULL_IC, PORT_NONE,
      "dpdk-inline-crypto,sw", "sw",
      "dpdk-inline-crypto: SA has no port", CDEV_NONE },
    { "SA on an unknown port", SA_GCM128_OUT, CAPS_FULL_IC, PORT_UNKNOWN,
      "dpdk-inline-crypto,sw", "sw",
      "dpdk-inline-crypto: port not known to offload", CDEV_NONE },
    { "sw only", SA_GCM128_OUT, CAPS_FULL_IC, PORT_DPDK0, "sw", "sw", "",
      CDEV_NONE },
    { "sw first", SA_GCM128_OUT, CAPS_FULL_IC, PORT_DPDK0,
      "sw,dpdk-inline-crypto", "sw", "", CDEV_NONE },
    { "provider not built in", SA_GCM128_OUT, CAPS_FULL_IC, PORT_DPDK0,
      "xfrm,dpdk-inline-crypto,sw", "dpdk-inline-crypto",
      "xfrm: provider not available in this build", CDEV_NONE },

    /* Cryptodev lookaside and CPU crypto. */
    { "lookaside takes GCM-128 egress", SA_GCM128_OUT, CAPS_NONE,
      PORT_DPDK0, "dpdk-lookaside,sw", "dpdk-lookaside", "",
      CDEV_AESNI_MB },
    { "lookaside on a non-DPDK port", SA_GCM256_OUT_ESN, CAPS_NONE,
      PORT_SYSTEM, "dpdk-lookaside,sw", "dpdk-lookaside", "",
      CDEV_AESNI_MB },
    { "CPU crypto takes ChaCha20-Poly1305 ingress", SA_CHACHA_IN,
      CAPS_NONE, PORT_DPDK0, "dpdk-cpu-crypto,sw", "dpdk-cpu-crypto", "",
      CDEV_AESNI_MB },
    { "CPU crypto takes CBC-256 transport", SA_CBC256_OUT_TRANSPORT,
      CAPS_NONE, PORT_DPDK0, "dpdk-cpu-crypto,dpdk-lookaside,sw",
      "dpdk-cpu-crypto", "", CDEV_AESNI_MB },
    { "lookaside takes CBC-128 ingress", SA_CBC128_IN, CAPS_NONE,
      PORT_DPDK0, "dpdk-lookaside,dpdk-cpu-crypto,sw", "dpdk-lookaside", "",
      CDEV_AESNI_MB },
    { "inline first, taken by the NIC", SA_GCM128_OUT, CAPS_IXGBE,
      PORT_DPDK0, "dpdk-inline-crypto,dpdk-lookaside,sw",
      "dpdk-inline-crypto", "", CDEV_AESNI_MB },
    { "inline declines, lookaside takes", SA_GCM256_OUT, CAPS_IXGBE,
      PORT_DPDK0, "dpdk-inline-crypto,dpdk-lookaside,sw", "dpdk-lookaside",
      "dpdk-inline-crypto: port dpdk0: AES-GCM-256 not in rte_security "
      "capabilities", CDEV_AESNI_MB },
    { "no cryptodev open", SA_GCM128_OUT, CAPS_NONE, PORT_DPDK0,
      "dpdk-cpu-crypto,dpdk-lookaside,sw", "sw",
      "dpdk-cpu-crypto: no cryptodev open for CPU crypto; dpdk-lookaside: "
      "no cryptodev open for lookaside", CDEV_NONE },
    { "openssl PMD: no ChaCha20-Poly1305", SA_CHACHA_IN, CAPS_NONE,
      PORT_DPDK0, "dpdk-lookaside,sw", "sw",
      "dpdk-lookaside: cryptodev crypto_openssl0: chacha20-poly1305 not in "
      "capabilities", CDEV_OPENSSL },
    { "openssl PMD: no CPU crypto, lookaside takes", SA_GCM128_IN,
      CAPS_NONE, PORT_DPDK0, "dpdk-cpu-crypto,dpdk-lookaside,sw",
      "dpdk-lookaside",
      "dpdk-cpu-crypto: cryptodev crypto_openssl0: CPU crypto not supported "
      "by driver crypto_openssl (no RTE_CRYPTODEV_FF_SYM_CPU_CRYPTO)",
      CDEV_OPENSSL },
    { "openssl PMD: CBC ingress", SA_CBC128_IN, CAPS_NONE, PORT_DPDK0,
      "dpdk-lookaside,sw", "dpdk-lookaside", "", CDEV_OPENSSL },
    { "openssl PMD: CBC egress needs AES-ECB", SA_CBC256_OUT_TRANSPORT,
      CAPS_NONE, PORT_DPDK0, "dpdk-lookaside,sw", "sw",
      "dpdk-lookaside: cryptodev crypto_openssl0: outbound "
      "aes-cbc-256-hmac-sha256-128 needs AES-ECB with a 32-byte key (IV "
      "derivation), not in capabilities", CDEV_OPENSSL },
    { "lookaside: offload denied on the port", SA_GCM128_OUT, CAPS_NONE,
      PORT_DENIED, "dpdk-lookaside,sw", "sw",
      "dpdk-lookaside: offload disabled on port dpdk0", CDEV_AESNI_MB },
    { "lookaside: SA without a port", SA_GCM128_OUT, CAPS_NONE, PORT_NONE,
      "dpdk-lookaside,sw", "sw", "dpdk-lookaside: SA has no port",
      CDEV_AESNI_MB },
};

/* Sessions a cryptodev provider holds for one SA (crypto-cryptodev.h):
 * one AEAD session, or two for CBC (ECB + chain out, HMAC + decrypt
 * in). */
static unsigned int
cdev_sessions(enum sa_preset s)
{
    return (s == SA_CBC256_OUT_TRANSPORT || s == SA_CBC128_IN) ? 2 : 1;
}

static void
cdev_open(enum cdev_preset c)
{
    const char *dev = c == CDEV_OPENSSL ? "crypto_openssl0"
                                        : "crypto_aesni_mb0";
    char err[256];

    if (c == CDEV_NONE) {
        return;
    }
    for (int m = 0; m < CRYPTO_CRYPTODEV_N_MODES; m++) {
        CHECK_EQ(crypto_cryptodev_open(m, dev, 0, err, sizeof err), 0);
    }
}

static void
cdev_close(void)
{
    for (int m = 0; m < CRYPTO_CRYPTODEV_N_MODES; m++) {
        CHECK_EQ(crypto_cryptodev_sessions_in_use(m), 0);
        CHECK_EQ(crypto_cryptodev_close(m), 0);
    }
}

enum { PORT_ID = 7 };

static void
run_case(const struct select_case *c)
{
    struct secmodel_config cfg = preset(c->caps);
    struct secmodel *model = secmodel_create(&cfg);
    struct ipsec_offload *reg = ipsec_offload_create();
    struct esp_sa_params params = sa(c->sa);
    struct ipsec_offload_sa *osa = NULL;
    struct secmodel_counters mc;
    const char *port = "dpdk0";
    char err[512] = "";
    int error;

    test_case = c->name;
    CHECK(model && reg);
    if (!model || !reg) {
        return;
    }
    CHECK_EQ(ipsec_offload_dpdk_register(reg), 0);
    CHECK_EQ(ipsec_offload_cryptodev_register(reg), 0);
    cdev_open(c->cdev);
    if (c->caps != CAPS_NONE) {
        CHECK_EQ(secmodel_attach(model, PORT_ID), 0);
    }
    if (c->port == PORT_SYSTEM) {
        port = "eth0";
        CHECK_EQ(ipsec_offload_port_add(reg, port, "system", -1), 0);
    } else {
        CHECK_EQ(ipsec_offload_port_add(reg, port, "dpdk", PORT_ID), 0);
    }
    if (c->port == PORT_OWN_PREF) {
        CHECK_EQ(ipsec_offload_set_preference(reg, "sw", err, sizeof err),
                 0);
        CHECK_EQ(ipsec_offload_port_set_config(reg, port, true, c->pref,
                                               err, sizeof err), 0);
    } else {
        CHECK_EQ(ipsec_offload_set_preference(reg, c->pref, err, sizeof err),
                 0);
    }
    if (c->port == PORT_DENIED) {
        CHECK_EQ(ipsec_offload_port_set_config(reg, port, false, NULL,
                                               err, sizeof err), 0);
    }
    if (c->port == GLOBAL_DISABLED) {
        ipsec_offload_set_enabled(reg, false);
    }
    if (c->port == PORT_LOCAL) {
        struct esp_addr local = { .family = AF_INET };

        local.v4.s_addr = htonl(0xc6336402);
        CHECK_EQ(ipsec_offload_port_set_local(reg, port, &local), 0);
    }
    if (c->port == PORT_NONE) {
        port = NULL;
    } else if (c->port == PORT_UNKNOWN) {
        port = "dpdk9";
        CHECK_EQ(ipsec_offload_port_set_local(reg, port, NULL), ENOENT);
    }

    error = ipsec_offload_sa_install(reg, port, &params, NULL, &osa,
                                     err, sizeof err);
    CHECK_EQ(error, 0);
    if (!error) {
        const char *provider = ipsec_offload_sa_provider(osa);
        const char *reason = ipsec_offload_sa_reason(osa);
        char line[1024], want[1024];

        CHECK(!strcmp(provider, c->provider));
        CHECK(!strcmp(reason, c->reason));
        if (strcmp(provider, c->provider) || strcmp(reason, c->reason)) {
            printf("  got  offload=%s reason=\"%s\"\n  want offload=%s "
                   "reason=\"%s\"\n", provider, reason, c->provider,
                   c->reason);
        }
        /* The sa-show form. */
        ipsec_offload_sa_format(osa, line, sizeof line);
        if (c->reason[0]) {
            snprintf(want, sizeof want, "offload=%s reason=\"%s\"",
                     c->provider, c->reason);
        } else {
            snprintf(want, sizeof want, "offload=%s", c->provider);
        }
        CHECK(!strcmp(line, want));

        secmodel_get_counters(model, &mc);
        if (!strncmp(c->provider, "dpdk-inline", 11)) {
            CHECK_EQ(mc.live, 1);
            /* An ingress SA is bound by its ESP rule(s). */
            CHECK_EQ(mc.flows, (params.dir == ESP_DIR_OUT ? 0
                                : params.dst.family || c->port == PORT_LOCAL
                                ? 1 : 2));
        } else {
            CHECK_EQ(mc.live, 0);
            CHECK_EQ(mc.flows, 0);
        }
        if (!strcmp(c->provider, "dpdk-lookaside")
            || !strcmp(c->provider, "dpdk-cpu-crypto")) {
            /* The provider's own esp_sa, with the device's sessions. */
            CHECK(ipsec_offload_sa_esp(osa) != NULL);
            CHECK_EQ(crypto_cryptodev_sessions_in_use(
                         CRYPTO_CRYPTODEV_LOOKASIDE), cdev_sessions(c->sa));
        } else {
            CHECK(ipsec_offload_sa_esp(osa) == NULL);
        }
        ipsec_offload_sa_remove(osa);
    } else {
        printf("  install failed: %s\n", err);
    }

    /* The provider never asked for what the model does not advertise,
     * and left nothing behind. */
    secmodel_get_counters(model, &mc);
    CHECK_EQ(mc.rejected, 0);
    CHECK_EQ(mc.live, 0);
    CHECK_EQ(mc.created, mc.destroyed);
    CHECK_EQ(mc.flows, 0);
    CHECK_EQ(mc.flow_created, mc.flow_destroyed);
    CHECK_EQ(mc.flow_orphaned, 0);
    CHECK_EQ(ipsec_offload_port_remove(reg, c->port == PORT_SYSTEM
                                       ? "eth0" : "dpdk0"), 0);
    ipsec_offload_destroy(reg);
    cdev_close();
    secmodel_detach_all();
    CHECK_EQ(secmodel_destroy(model), 0);
}

/* Preference-order parsing. */
static void
test_preference(void)
{
    struct ipsec_offload *reg = ipsec_offload_create();
    char err[256], buf[256];
    static const struct {
        const char *in;
        int error;
        const char *out;
    } prefs[] = {
        { "dpdk-inline-crypto,dpdk-lookaside,sw", 0,
          "dpdk-inline-crypto,dpdk-lookaside,sw" },
        { "dpdk-inline-crypto", 0, "dpdk-inline-crypto,sw" },
        { " sw , dpdk-inline-crypto ", 0, "sw,dpdk-inline-crypto" },
        { "", EINVAL, NULL },
        { "a,,sw", EINVAL, NULL },
        { "sw,sw", EINVAL, NULL },
        { "Dpdk", EINVAL, NULL },
        { "a;b", EINVAL, NULL },
    };

    test_case = "preference";
    for (size_t i = 0; i < sizeof prefs / sizeof prefs[0]; i++) {
        ipsec_offload_set_preference(reg, "sw", err, sizeof err);
        CHECK_EQ(ipsec_offload_set_preference(reg, prefs[i].in, err,
                                              sizeof err), prefs[i].error);
        ipsec_offload_get_preference(reg, buf, sizeof buf);
        CHECK(!strcmp(buf, prefs[i].out ? prefs[i].out : "sw"));
    }
    ipsec_offload_destroy(reg);
}

/* offload_test_eal_init() plus the two cryptodev vdevs (their PMDs are
 * linked in, see offload.mk). */
static int
eal_init(const char *name)
{
    static const char *const vdevs[] = {
        "--vdev=crypto_aesni_mb0", "--vdev=crypto_openssl0", NULL,
    };

    return offload_test_eal_init_args(name, vdevs);
}

int
main(void)
{
    if (eal_init("test-offload-select")) {
        return 1;
    }
    test_preference();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run_case(&cases[i]);
    }
    offload_test_eal_fini();
    return test_summary("test-offload-select");
}
