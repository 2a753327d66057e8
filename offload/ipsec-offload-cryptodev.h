/*
 * The cryptodev providers: the datapath library builds and parses ESP,
 * and a DPDK cryptodev does the crypto.
 *
 *   dpdk-lookaside   IPSEC_OFFLOAD_LOOKASIDE: symmetric sessions
 *                    (RTE_SECURITY_ACTION_TYPE_NONE), ops enqueued and
 *                    dequeued on a queue pair (QAT in production,
 *                    crypto_aesni_mb here).
 *   dpdk-cpu-crypto  IPSEC_OFFLOAD_CPU_CRYPTO: the same sessions through
 *                    rte_cryptodev_sym_cpu_crypto_process().
 *
 * The device is host-wide, not per port: each class uses the device
 * bound to its mode with crypto_cryptodev_open() (crypto-cryptodev.h),
 * for SAs on any port.  sa_install() creates an esp_sa whose engine is
 * the cryptodev engine (the device sessions are created there, so a
 * refused session falls back to the next provider); the datapath gets it
 * from ipsec_offload_sa_esp().
 */
#ifndef IPSEC_OFFLOAD_CRYPTODEV_H
#define IPSEC_OFFLOAD_CRYPTODEV_H 1

#include "ipsec-offload.h"

#ifdef __cplusplus
extern "C" {
#endif

extern const struct ipsec_offload_class ipsec_offload_dpdk_lookaside_class;
extern const struct ipsec_offload_class ipsec_offload_dpdk_cpu_crypto_class;

/* Registers both classes in 'reg'.  Returns 0 or a positive errno. */
int ipsec_offload_cryptodev_register(struct ipsec_offload *reg);

#ifdef __cplusplus
}
#endif

#endif /* ipsec-offload-cryptodev.h */
