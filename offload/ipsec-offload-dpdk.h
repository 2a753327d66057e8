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
 *                         events through RTE_ETH_EVENT_IPSEC.
 *
 * Each port's capabilities come from rte_security_capabilities_get() on
 * the port's security context, which the provider obtains through exactly
 * one function, ipsec_offload_dpdk_get_sec_ctx(): rte_eth_dev_get_sec_ctx()
 * in production, replaceable with ipsec_offload_dpdk_set_sec_ctx_fn() so
 * that tests can put the software NIC model (sec-model.h) behind a port.
 * Everything after that is the code a real NIC sees.
 *
 * The DPDK EAL must be initialized before a port is probed (sessions come
 * from an rte_mempool).
 */
#ifndef IPSEC_OFFLOAD_DPDK_H
#define IPSEC_OFFLOAD_DPDK_H 1

#include <stdint.h>
#include "ipsec-offload.h"

#ifdef __cplusplus
extern "C" {
#endif

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
