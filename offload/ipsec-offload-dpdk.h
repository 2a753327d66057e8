/*
 * The "dpdk" providers: rte_security inline crypto and inline protocol on
 * DPDK ethdev ports.
 *
 *   dpdk-inline-crypto    RTE_SECURITY_ACTION_TYPE_INLINE_CRYPTO: the
 *                         datapath builds and parses ESP, keeps sequence
 *                         numbers and the replay window, checks selectors;
 *                         the NIC encrypts on TX and verifies/decrypts on
 *                         RX.
 *   dpdk-inline-protocol  RTE_SECURITY_ACTION_TYPE_INLINE_PROTOCOL: the NIC
 *                         does all of ESP and reports lifetime and sequence
 *                         events through RTE_ETH_EVENT_IPSEC; the datapath
 *                         runs ipsec_offload_dpdk_proto_tx()/_rx() (time
 *                         lifetimes, selectors, counters, metadata).
 *
 * Each port's capabilities come from rte_security_capabilities_get() on
 * the port's security context, which the provider obtains through exactly
 * one function, ipsec_offload_dpdk_get_sec_ctx(): rte_eth_dev_get_sec_ctx()
 * in production, replaceable with ipsec_offload_dpdk_set_sec_ctx_fn() so
 * that tests can put the software NIC model (sec-model.h) behind a port.
 * Everything after that is the code a real NIC sees.
 *
 * An ingress SA is bound to the NIC's receive path by an rte_flow rule,
 * created after its session and destroyed before it:
 *
 *   pattern  ETH / IPV4 or IPV6 (dst = the SA's dst, when it has one) /
 *            UDP (dst 4500, with UDP encapsulation) / ESP (spi) / END
 *   actions  SECURITY (the session) / END, or, if the PMD does not
 *            validate that, SECURITY / PASSTHRU / END
 *
 * An SA without a destination address gets one rule per IP version.  If
 * the PMD refuses the rule (no flow ops, no room, unsupported pattern),
 * the session is destroyed and the SA falls back with the PMD's message
 * as the reason: without the rule the NIC would never decrypt.
 *
 * The DPDK EAL must be initialized before a port is probed (sessions come
 * from an rte_mempool).
 */
#ifndef IPSEC_OFFLOAD_DPDK_H
#define IPSEC_OFFLOAD_DPDK_H 1

#include <stddef.h>
#include <stdint.h>
#include "esp.h"
#include "ipsec-offload.h"

#ifdef __cplusplus
extern "C" {
#endif

struct rte_mbuf;
struct rte_security_ctx;

extern const struct ipsec_offload_class ipsec_offload_dpdk_inline_crypto_class;
extern const struct ipsec_offload_class
    ipsec_offload_dpdk_inline_protocol_class;

/* Registers both classes in 'reg'.  Returns 0 or a positive errno. */
int ipsec_offload_dpdk_register(struct ipsec_offload *reg);

/* The seam.  Returns the security context of ethdev 'port_id' or null. */
typedef struct rte_security_ctx *ipsec_offload_dpdk_sec_ctx_fn(
    uint16_t port_id);
struct rte_security_ctx *ipsec_offload_dpdk_get_sec_ctx(uint16_t port_id);
/* Replaces the seam's function; null restores rte_eth_dev_get_sec_ctx().
 * For tests.  Call before probing ports. */
void ipsec_offload_dpdk_set_sec_ctx_fn(ipsec_offload_dpdk_sec_ctx_fn *);

/* The seam's other half: the rte_flow calls that bind an ingress SA's
 * session to the NIC's receive path (an ESP rule with
 * RTE_FLOW_ACTION_TYPE_SECURITY).  rte_flow_validate(), rte_flow_create()
 * and rte_flow_destroy() in production, replaceable with
 * ipsec_offload_dpdk_set_flow_ops() so that the NIC model (sec-model.h)
 * can keep the rules of a port it stands behind: a PMD's flow ops can't
 * be supplied from outside the PMD without ethdev_driver.h, which Debian
 * does not install.  The members have the rte_flow functions' contracts. */
struct rte_flow;
struct rte_flow_action;
struct rte_flow_attr;
struct rte_flow_error;
struct rte_flow_item;
struct ipsec_offload_dpdk_flow_ops {
    int (*validate)(uint16_t port_id, const struct rte_flow_attr *,
                    const struct rte_flow_item *pattern,
                    const struct rte_flow_action *actions,
                    struct rte_flow_error *);
    struct rte_flow *(*create)(uint16_t port_id,
                               const struct rte_flow_attr *,
                               const struct rte_flow_item *pattern,
                               const struct rte_flow_action *actions,
                               struct rte_flow_error *);
    int (*destroy)(uint16_t port_id, struct rte_flow *,
                   struct rte_flow_error *);
};
/* Null restores the rte_flow functions.  For tests.  Call before SAs are
 * installed ('ops' must outlive them). */
void ipsec_offload_dpdk_set_flow_ops(
    const struct ipsec_offload_dpdk_flow_ops *ops);

/* Around a restart of ethdev 'port_id' (rte_eth_dev_stop() or
 * rte_eth_dev_reset(), reconfiguration, rte_eth_dev_start()).  rte_flow
 * leaves it unspecified whether a port keeps its rules across a restart
 * unless the port advertises RTE_ETH_DEV_CAPA_FLOW_RULE_KEEP, so for a
 * port that does not, ipsec_offload_dpdk_port_stopping() destroys the ESP
 * rules of the port's inbound SAs before the stop and returns how many;
 * ipsec_offload_dpdk_port_started() creates them again after the start
 * and returns how many it created, with the number of SAs whose rule the
 * PMD refused in '*n_failed' (if nonnull) and the first refusal's reason
 * in 'reason'.  Sessions stay.  Until its rule is back (or for good, if
 * it was refused) the NIC leaves an SA's ESP encrypted and the datapath
 * decrypts it in software (esp_sa_stats.offload_sw).  Both return 0 for
 * a port that keeps its rules.  Call from the thread that installs and
 * removes SAs. */
unsigned int ipsec_offload_dpdk_port_stopping(uint16_t port_id);
unsigned int ipsec_offload_dpdk_port_started(uint16_t port_id,
                                             unsigned int *n_failed,
                                             char *reason, size_t size);

/* Size of the session mempool created per port and class on the first
 * install (default 1024).  Applies to pools created afterwards. */
void ipsec_offload_dpdk_set_pool_size(unsigned int n_sessions);

/* For the datapath, once per SA: the security context, the session (for
 * rte_security_set_pkt_metadata()) and the capability's ol_flags
 * (RTE_SECURITY_TX_OLOAD_NEED_MDATA, ...).  Returns 0, or EINVAL if 'osa'
 * was not taken by a dpdk provider.  Any pointer may be null. */
int ipsec_offload_dpdk_sa_session(const struct ipsec_offload_sa *osa,
                                  struct rte_security_ctx **ctxp,
                                  void **sessp, uint32_t *ol_flagsp);

/* The number of live rte_flow ESP rules of inbound SA 'osa' (0 after a
 * port restart whose re-creation the PMD refused), or -1 if 'osa' is not
 * an inbound SA of a dpdk provider.  The thread that installs SAs. */
int ipsec_offload_dpdk_sa_rules(const struct ipsec_offload_sa *osa);

/* Per packet, TX, for an SA taken by dpdk-inline-crypto (the datapath
 * encapsulated it in inline mode, esp.h): sets RTE_MBUF_F_TX_SEC_OFFLOAD
 * and, if 'ol_flags' (from ipsec_offload_dpdk_sa_session()) has
 * RTE_SECURITY_TX_OLOAD_NEED_MDATA, calls rte_security_set_pkt_metadata()
 * with a pointer to the packet's 64-bit sequence number
 * (esp_inline_md.seq) as the device parameter.  'm' (a struct rte_mbuf)
 * must hold the frame as it will be sent.  Returns 0 or the negative
 * result of rte_security_set_pkt_metadata(). */
int ipsec_offload_dpdk_tx_prepare(struct rte_security_ctx *ctx, void *sess,
                                  uint32_t ol_flags, void *m, uint64_t seq);

/* Per packet, RX: the ESP_RX_* bits (esp.h) for esp_decap_burst_ex()
 * from an mbuf's 'ol_flags' (RTE_MBUF_F_RX_SEC_OFFLOAD[_FAILED]). */
uint8_t ipsec_offload_dpdk_rx_flags(uint64_t mbuf_ol_flags);

/* Inline protocol in the datapath.
 *
 * With an SA taken by dpdk-inline-protocol the NIC does all of ESP: the
 * sequence number, the outer header, padding, encryption and ICV on TX;
 * the SA lookup (its rte_flow rule), anti-replay, ICV, decryption and
 * decapsulation on RX; the packet and byte lifetimes it was told
 * (RTE_ETH_EVENT_IPSEC events).  The datapath library's esp_sa for the
 * SA carries no traffic.  What the datapath still does is here, per burst
 * like esp_encap_burst()/esp_decap_burst(): both return the number of
 * packets with verdict ESP_OK, never free or send a packet, and count
 * every drop under its esp_verdict on the SA (or, without one, in
 * ipsec_offload_dpdk_proto_get_drops()).  'n' has no limit; 'now' is the
 * caller's clock in seconds (the one esp_sa_params.now used).  Any
 * thread, while the SA is installed.
 *
 * ipsec_offload_dpdk_proto_tx(): 'pkts' are single-segment mbufs, each an
 * Ethernet frame (no VLAN tag) with the packet to protect: in tunnel mode
 * the inner IPv4/IPv6 packet, in transport mode the IP packet itself.
 * For each: ESP_DROP_LIFETIME once the SA's hard time lifetime (which
 * rte_security cannot express) passed or the NIC reported a hard packet
 * or byte lifetime, ESP_DROP_SEQ_OVERFLOW once it reported the sequence
 * number exhausted, ESP_DROP_MALFORMED if the frame does not hold a sane
 * IP header of the Ethernet type's version, ESP_DROP_WRONG_DIR for an
 * inbound SA, ESP_DROP_OFFLOAD_MISMATCH if 'osa' is not a
 * dpdk-inline-protocol SA, ESP_DROP_CRYPTO if the metadata could not be
 * set; otherwise RTE_MBUF_F_TX_SEC_OFFLOAD and (if the capability asks,
 * RTE_SECURITY_TX_OLOAD_NEED_MDATA) rte_security_set_pkt_metadata() with
 * the SA's session, the packet and its IP bytes counted on the SA, ESP_OK.
 * Time lifetimes raise ESP_EV_SOFT_EXPIRED / ESP_EV_HARD_EXPIRED once
 * each, taken with ipsec_offload_sa_take_events() like the NIC's.  The
 * frame must have ESP_HEADROOM bytes of headroom and ESP_TAILROOM of
 * tailroom for the NIC.
 *
 * ipsec_offload_dpdk_proto_rx(): 'pkts' are mbufs the NIC flagged
 * RTE_MBUF_F_RX_SEC_OFFLOAD on a port with inbound inline-protocol SAs
 * (a packet still in ESP, e.g. an inline-crypto one, belongs to
 * esp_decap_burst_ex() instead): Ethernet + the decapsulated packet, the
 * SA's session userdata in *rte_security_dynfield(m).  For each:
 * ESP_DROP_OFFLOAD_MISMATCH if not flagged, ESP_DROP_NO_SA if the
 * userdata is not an inbound dpdk-inline-protocol SA, ESP_DROP_OFFLOAD_AUTH
 * if flagged RTE_MBUF_F_RX_SEC_OFFLOAD_FAILED (the NIC's ICV check,
 * replay window or lifetime refused it), ESP_DROP_LIFETIME /
 * ESP_DROP_SEQ_OVERFLOW as for TX, ESP_DROP_MALFORMED if the IP header
 * is not sane (version matching the Ethernet type, lengths within the
 * frame), ESP_DROP_SELECTOR if the SA has selectors
 * (of the esp_sa given at install) and the inner packet matches none
 * (RFC 4301 5.2); otherwise Ethernet padding is trimmed, the packet is
 * counted on the SA, 'sas[i]' (if 'sas' is non-null) is the esp_sa given
 * to ipsec_offload_sa_install() (may be null), ESP_OK.  The userdata is
 * trusted like the flags: it must come from the NIC's descriptors. */
unsigned int ipsec_offload_dpdk_proto_tx(const struct ipsec_offload_sa *,
                                         struct rte_mbuf *pkts[],
                                         enum esp_verdict verdicts[],
                                         unsigned int n, uint64_t now);
unsigned int ipsec_offload_dpdk_proto_rx(struct rte_mbuf *pkts[],
                                         enum esp_verdict verdicts[],
                                         struct esp_sa *sas[],
                                         unsigned int n, uint64_t now);
/* The datapath's counters for a dpdk-inline-protocol SA: packets and
 * bytes that passed the steps above, drops per verdict ('seq' and
 * 'offload_sw' 0: the NIC keeps the sequence number).  Returns 0 or
 * EINVAL (not such an SA). */
int ipsec_offload_dpdk_proto_get_stats(const struct ipsec_offload_sa *,
                                       struct esp_sa_stats *);
/* Drops of RX packets whose SA could not be found. */
void ipsec_offload_dpdk_proto_get_drops(uint64_t drops[ESP_N_VERDICTS]);
/* For ipsec/sa-show: "datapath: packets=N bytes=N [verdict=N ...]; nic:
 * ipackets=N ibytes=N ierrors=N opackets=N obytes=N oerrors=N" (the
 * NIC's part from rte_security_session_stats_get()); "" if 'osa' is not
 * a dpdk-inline-protocol SA. */
void ipsec_offload_dpdk_proto_format(const struct ipsec_offload_sa *,
                                     char *buf, size_t size);

/* The RTE_ETH_EVENT_IPSEC handler, an rte_eth_dev_cb_fn: maps the event
 * subtype to ESP_EV_* bits on the SA whose session userdata is in the
 * event's metadata; ipsec_offload_sa_take_events() returns them.  The
 * provider registers it with rte_eth_dev_callback_register() for valid
 * ethdev ports; the model calls it directly.  'ret_param' points to a
 * struct rte_eth_event_ipsec_desc.  Returns 0, or -1 for an unknown SA or
 * event.  Any thread. */
int ipsec_offload_dpdk_ipsec_event(uint16_t port_id, int event,
                                   void *cb_arg, void *ret_param);

#ifdef __cplusplus
}
#endif

#endif /* ipsec-offload-dpdk.h */
