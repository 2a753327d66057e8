/*
 * A software model of an inline-IPsec-capable NIC, for tests.
 *
 * The model is an rte_security context whose ops are the real
 * struct rte_security_ops of rte_security_driver.h: capabilities_get
 * advertises a configurable algorithm list, session_create/destroy fill
 * and empty an SA table of configurable size, set_pkt_metadata tags an
 * mbuf with its session, session_get_size and session_stats_get do what a
 * PMD's do.  secmodel_attach() puts the model behind an ethdev port id
 * through the dpdk provider's one seam, so the provider runs exactly the
 * code it runs against a NIC.
 *
 * The model validates every session against its own capabilities
 * independently of the provider's matching, so a provider that asked for
 * something not advertised fails here, visibly (counter 'rejected').
 *
 * secmodel_port_attach() adds the NIC's crypto to an ethdev port (a
 * net_ring vdev in the tests) as RX/TX callbacks, with OpenSSL EVP,
 * independently of the datapath's engine:
 *
 *   TX: an mbuf with RTE_MBUF_F_TX_SEC_OFFLOAD and a live egress
 *   inline-crypto session in its metadata (set_pkt_metadata(); 'params'
 *   null or a pointer to the packet's uint64_t sequence number, required
 *   with ESN) must hold an Ethernet frame with the ESP packet the datapath
 *   built in inline mode (esp.h): the model checks the SPI (and the low
 *   sequence bits against the metadata), encrypts from after the IV to
 *   the ICV, writes the ICV into the last 16 bytes of the IP packet and,
 *   for UDP over IPv6, the UDP checksum.  A packet it cannot process has
 *   everything after the first 20 IP bytes zeroed (never cleartext on the
 *   wire) and counts as a TX error.  The offload flag and the metadata are
 *   cleared.
 *
 *   RX: an ESP frame (IPv4, or IPv6 without extension headers; raw or in
 *   UDP 4500) that matches an ingress rte_flow rule of the port (below)
 *   whose session is a live ingress inline-crypto session is verified and
 *   decrypted in place and flagged
 *   RTE_MBUF_F_RX_SEC_OFFLOAD: headers, IV, length and the received ICV
 *   unchanged, the plaintext payload and trailer where the ciphertext was.
 *   A bad ICV leaves the packet as received and sets
 *   RTE_MBUF_F_RX_SEC_OFFLOAD | RTE_MBUF_F_RX_SEC_OFFLOAD_FAILED.  With
 *   ESN the high bits are inferred from the highest number the session
 *   verified.  The model keeps no replay window: that is the datapath's
 *   job with inline crypto.
 *
 * Inline protocol (sessions with RTE_SECURITY_ACTION_TYPE_INLINE_PROTOCOL)
 * is all of ESP in the model, as a NIC like cnxk does it:
 *
 *   TX: an mbuf with RTE_MBUF_F_TX_SEC_OFFLOAD and a live egress
 *   inline-protocol session in its metadata (set_pkt_metadata(), 'params'
 *   ignored) holds Ethernet + the packet to protect (single segment).
 *   Tunnel mode: an inner IPv4 or IPv6 packet; the model prepends the
 *   outer IPv4/IPv6 header from the session's tunnel parameters (TTL or
 *   hop limit; DSCP fixed or copied per options.copy_dscp; ECN copied per
 *   options.ecn (RFC 6040 normal mode) or Not-ECT; IPv4 DF fixed or copied
 *   per options.copy_df, set for an IPv6 inner packet).  Transport mode:
 *   an IPv4 packet or an IPv6 packet without extension headers; ESP goes
 *   after the IP header.  Then UDP (options.udp_encap, the session's
 *   ports), ESP with the session's own sequence counter (next number =
 *   esn.value at creation; ESN per options.esn), IV (AEAD: the 64-bit
 *   sequence number; CBC: random), padding 1, 2, 3, ..., pad length, next
 *   header, and the ICV (RFC 4303 2, 3.3); the Ethernet type follows the
 *   outer family.  It needs the room in the mbuf: ESP_HEADROOM in front,
 *   ESP_TAILROOM behind.  A packet it cannot or must not protect (bad
 *   frame, no room, sequence number exhausted, hard lifetime reached) has
 *   everything after the Ethernet header zeroed and counts as
 *   proto_tx_errors or proto_tx_expired.
 *
 *   RX: ESP (IPv4, or IPv6 without extension headers; raw or in UDP 4500)
 *   that matches an ingress rte_flow rule of the port whose session is a
 *   live ingress inline-protocol session: anti-replay check with the
 *   session's window (replay_win_sz; 0 disables it) before the ICV
 *   (RFC 4303 3.4.3, the ESN high half inferred from the highest number
 *   seen, RFC 4303 A2.2), ICV, decryption, padding and next header
 *   checks, window update after the ICV verified; then the outer header,
 *   UDP, ESP, IV, trailer and ICV are stripped (tunnel) or the ESP is cut
 *   out of the packet (transport), leaving Ethernet + the inner packet
 *   flagged RTE_MBUF_F_RX_SEC_OFFLOAD with the session's userdata in
 *   *rte_security_dynfield(m).  A duplicate, a packet left of the window,
 *   a bad ICV, bad padding or next header, or a packet after the hard
 *   lifetime is left as received and flagged RTE_MBUF_F_RX_SEC_OFFLOAD |
 *   RTE_MBUF_F_RX_SEC_OFFLOAD_FAILED, also with the userdata.  A model
 *   that advertises inline protocol registers the security dynfield and
 *   writes it (0 when not inline protocol) on every packet it receives;
 *   one that does not leaves it alone (and unregistered: the mbuf's 36
 *   bytes of dynamic fields are scarce, a net_pcap port takes 8).
 *
 *   Both directions count packets and cleartext bytes against the
 *   session's lifetime (life.*_soft_limit, *_hard_limit): reaching a soft
 *   limit raises RTE_ETH_EVENT_IPSEC_SA_PKT_EXPIRY / _SA_BYTE_EXPIRY once,
 *   a hard limit _SA_PKT_HARD_EXPIRY / _SA_BYTE_HARD_EXPIRY once and the
 *   session processes nothing more; running out of sequence numbers on TX
 *   raises _ESN_OVERFLOW once (RFC 4303 3.3.3: never cycle).  Events go
 *   to the dpdk provider's handler as secmodel_raise_event() does.
 *   Session stats (session_stats_get): packets and cleartext bytes,
 *   errors.
 *
 * rte_flow: as on a NIC, a session decrypts nothing until a rule binds it
 * to the receive path.  secmodel_attach() also puts the model's rule table
 * behind the dpdk provider's flow seam for the port
 * (ipsec_offload_dpdk_set_flow_ops(); other ports go to rte_flow).  The
 * model takes what a NIC with an ESP SA table keyed on SPI and
 * destination takes, and refuses everything else with an rte_flow_error:
 *
 *   attr     ingress only, group 0, no transfer
 *   pattern  [ETH, no spec] / IPV4 or IPV6 (no spec, or the destination
 *            with a full mask; nothing else masked; with rule_needs_dst
 *            the destination is required) / [UDP: destination
 *            port with a full mask, only for a session with UDP
 *            encapsulation, and required for one] / ESP (SPI with a full
 *            mask, the session's) / END; VOID items are skipped
 *   actions  SECURITY (a live ingress session of this model, of any
 *            action) / [PASSTHRU] / END
 *
 * A rule with the same port, IP version, destination, UDP and SPI as a
 * live one is refused (EEXIST), as is one past flow_table_size (ENOSPC).
 * RX takes the first live rule that matches the packet (port, IP version,
 * destination if the rule has one, UDP or not, SPI).  Destroying a session
 * that a live rule still names removes the rule and counts flow_orphaned.
 *
 * One thread per model: the callbacks share a scratch buffer and the
 * counters are plain integers.
 */
#ifndef SEC_MODEL_H
#define SEC_MODEL_H 1

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ipsec_offload_dpdk_flow_ops;
struct rte_mbuf;
struct rte_security_ctx;
struct secmodel;

/* Algorithms the model can advertise (bits of secmodel_config.algs). */
enum secmodel_alg {
    SECMODEL_AES_GCM_128 = 1 << 0,
    SECMODEL_AES_GCM_256 = 1 << 1,
    SECMODEL_CHACHA20_POLY1305 = 1 << 2,
    SECMODEL_AES_CBC_128_HMAC_SHA256 = 1 << 3,
    SECMODEL_AES_CBC_256_HMAC_SHA256 = 1 << 4,
};

/* Actions the model can advertise (bits of secmodel_config.actions). */
enum secmodel_action {
    SECMODEL_INLINE_CRYPTO = 1 << 0,
    SECMODEL_INLINE_PROTOCOL = 1 << 1,
};

struct secmodel_config {
    unsigned int sa_table_size; /* Most live sessions (both directions). */
    uint32_t actions;           /* enum secmodel_action bits. */
    uint32_t algs;              /* enum secmodel_alg bits. */
    bool egress, ingress;       /* Directions advertised. */
    bool tunnel, transport;     /* Modes advertised. */
    bool esn;                   /* options.esn */
    bool udp_encap;             /* options.udp_encap */
    uint32_t replay_win_max;    /* replay_win_sz_max (inline protocol). */
    bool copy_df, copy_dscp, ecn;       /* Inline protocol options. */
    bool fail_create;           /* Every session_create fails (-EIO). */
    unsigned int flow_table_size;       /* Most ingress rte_flow rules;
                                         * 0: twice sa_table_size. */
    bool no_flow_ops;           /* rte_flow calls fail with ENOSYS, as on
                                 * a PMD without flow ops. */
    bool rule_needs_dst;        /* A rule must match a destination
                                 * address, as ixgbe's RX SA table (keyed
                                 * on it) needs: ENOTSUP otherwise. */
};

struct secmodel_counters {
    unsigned int live;          /* Sessions in the SA table now. */
    uint64_t created, destroyed;
    uint64_t table_full;        /* session_create refused: table full. */
    uint64_t rejected;          /* session_create refused: not advertised
                                 * or malformed (a provider bug). */
    uint64_t failed;            /* session_create failed: 'fail_create'. */
    uint64_t metadata_set;      /* set_pkt_metadata calls. */
    /* Ingress rte_flow rules (ESP pattern, SECURITY action). */
    unsigned int flows;         /* Rules live now. */
    uint64_t flow_created, flow_destroyed;
    uint64_t flow_refused;      /* validate/create refused (any reason). */
    uint64_t flow_orphaned;     /* Rules still live when their session was
                                 * destroyed (a provider bug: removed by
                                 * the model). */
    /* Inline crypto. */
    uint64_t tx_encrypted;      /* TX: packets encrypted. */
    uint64_t tx_errors;         /* TX: offload requested, not possible. */
    uint64_t rx_decrypted;      /* RX: verified and decrypted. */
    uint64_t rx_failed;         /* RX: ICV did not verify. */
    uint64_t rx_no_session;     /* RX: ESP without a rule or session
                                 * (left alone). */
    uint64_t rx_no_flow;        /* RX: ESP of a live ingress session but
                                 * no rule: left alone, as a NIC would. */
    /* Inline protocol. */
    uint64_t proto_tx;          /* TX: packets protected (ESP built). */
    uint64_t proto_tx_errors;   /* TX: frame unusable (zeroed). */
    uint64_t proto_tx_expired;  /* TX: refused, hard lifetime or sequence
                                 * numbers exhausted (zeroed). */
    uint64_t proto_rx;          /* RX: verified, decapsulated. */
    uint64_t proto_rx_auth;     /* RX: ICV did not verify. */
    uint64_t proto_replay;      /* RX: duplicate or left of the window. */
    uint64_t proto_rx_bad;      /* RX: bad padding, next header or
                                 * length after decryption. */
    uint64_t proto_rx_expired;  /* RX: after the hard lifetime. */
    uint64_t proto_events;      /* RTE_ETH_EVENT_IPSEC events raised. */
    uint64_t tx_cycles;         /* TSC cycles spent in the TX callback, */
    uint64_t rx_cycles;         /* and in the RX callback: the work a real
                                 * NIC does in hardware (benchmarks
                                 * subtract it from the PMD's cycles). */
};

/* A model with 'cfg' (copied).  Needs the EAL (the mbuf dynamic field).
 * Returns null on ENOMEM or if the dynamic field cannot be registered. */
struct secmodel *secmodel_create(const struct secmodel_config *cfg);
/* Frees the model.  Sessions still live are leaked on purpose and
 * reported: returns the number of live sessions (0 is the right
 * answer). */
unsigned int secmodel_destroy(struct secmodel *);

struct rte_security_ctx *secmodel_ctx(struct secmodel *);
void secmodel_get_counters(const struct secmodel *,
                           struct secmodel_counters *);

/* Makes ipsec_offload_dpdk_get_sec_ctx('port_id') return the model's
 * context, and the provider's rte_flow calls for 'port_id' go to the
 * model's rule table.  Other ports still go to rte_eth_dev_get_sec_ctx()
 * and rte_flow.  Returns 0
 * or ENOSPC.  secmodel_detach_all() undoes every attach. */
int secmodel_attach(struct secmodel *, uint16_t port_id);
void secmodel_detach_all(void);

/* Adds the model's RX and TX callbacks to every configured queue (up to
 * 4) of ethdev 'port_id' (configured, queues set up).  Returns 0, ENOSPC
 * (4 ports already), ENODEV or EINVAL.  secmodel_port_detach() removes
 * them; so does secmodel_destroy(). */
int secmodel_port_attach(struct secmodel *, uint16_t port_id);
void secmodel_port_detach(struct secmodel *, uint16_t port_id);

/* The model's rte_flow functions (what secmodel_attach() puts behind the
 * provider's flow seam), for tests that build rules themselves. */
const struct ipsec_offload_dpdk_flow_ops *secmodel_flow_ops(void);

/* Drops every rte_flow rule of 'port_id', as a PMD without
 * RTE_ETH_DEV_CAPA_FLOW_RULE_KEEP does when the port restarts.  Returns
 * the number of rules dropped. */
unsigned int secmodel_flows_flush(struct secmodel *, uint16_t port_id);

/* Makes the model's rte_flow calls fail with ENOSYS from now on (or no
 * longer), as with secmodel_config.no_flow_ops. */
void secmodel_set_no_flow_ops(struct secmodel *, bool);

/* The session set_pkt_metadata() stored in 'm', or null. */
void *secmodel_mbuf_session(const struct rte_mbuf *m);

/* Raises an RTE_ETH_EVENT_IPSEC event of 'subtype' (enum
 * rte_eth_event_ipsec_subtype) for 'sess' on 'port_id', as a PMD would
 * through rte_eth_dev_callback_process(): here straight to the dpdk
 * provider's handler.  Returns the handler's result. */
int secmodel_raise_event(struct secmodel *, uint16_t port_id, void *sess,
                         int subtype);

/* Adds to a session's counters, as the RX/TX callbacks do. */
void secmodel_account(void *sess, bool egress, uint64_t packets,
                      uint64_t bytes, uint64_t errors);

#ifdef __cplusplus
}
#endif

#endif /* sec-model.h */
