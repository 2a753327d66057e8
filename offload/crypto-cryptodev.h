/*
 * ESP crypto engines backed by a DPDK cryptodev (esp-crypto.h).
 *
 *   "cryptodev-lookaside"  crypto ops from an op mempool, enqueued on a
 *                          queue pair with rte_cryptodev_enqueue_burst()
 *                          and collected with rte_cryptodev_dequeue_burst()
 *                          (plain symmetric sessions: what
 *                          RTE_SECURITY_ACTION_TYPE_NONE means).  A QAT
 *                          card in production, crypto_aesni_mb here.
 *   "cryptodev-cpu"        the same sessions through
 *                          rte_cryptodev_sym_cpu_crypto_process(): the PMD
 *                          runs the crypto synchronously on the calling
 *                          thread, no queue pair, no mbuf, no op.
 *
 * The datapath library still builds and parses ESP, keeps sequence
 * numbers and the replay window; only the esp_crypto_op work goes to the
 * device.  An SA uses one of these engines when its esp_sa_params.engine
 * points at it (the dpdk-lookaside / dpdk-cpu-crypto offload providers do
 * that, ipsec-offload-cryptodev.c).
 *
 * The engine vtable has no instance pointer, so each mode is bound to at
 * most one device per process by crypto_cryptodev_open(); both modes may
 * share a device.  Key contexts (ctx_create) hold the device's sessions:
 *
 *   AES-GCM, ChaCha20-Poly1305    one AEAD session per direction and AAD
 *                                 length (8, or 12 with ESN);
 *   AES-CBC + HMAC-SHA-256-128    outbound: AES-ECB (IV derivation, NIST
 *                                 SP 800-38A appendix C) and a chained
 *                                 CBC-encrypt -> HMAC-generate session;
 *                                 inbound: HMAC-generate and CBC-decrypt
 *                                 sessions (the ICV is compared here, in
 *                                 constant time, before anything is
 *                                 decrypted, RFC 4303 section 3.4.4).
 *
 * crypto_cryptodev_expect() before esp_sa_create() limits a context to
 * the sessions of one direction and AAD length; without it ctx_create
 * creates all of them (4 per SA).
 *
 * Thread safety: ctx_create/ctx_destroy and open/close are control
 * plane.  The burst functions may run on any number of threads (the
 * contract of esp-crypto.h).  Lookaside: each thread is given a queue
 * pair on first use (round robin over the device's queue pairs); each
 * queue pair has a spinlock held for one burst (enqueue + dequeue of
 * that burst), uncontended while there are no more threads than queue
 * pairs.  CPU crypto: no shared state (the PMD keeps per-thread state).
 *
 * The DPDK EAL must be initialized and the device probed (e.g.
 * --vdev=crypto_aesni_mb0) before crypto_cryptodev_open().
 */
#ifndef CRYPTO_CRYPTODEV_H
#define CRYPTO_CRYPTODEV_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "esp.h"
#include "esp-crypto.h"

#ifdef __cplusplus
extern "C" {
#endif

enum crypto_cryptodev_mode {
    CRYPTO_CRYPTODEV_LOOKASIDE,
    CRYPTO_CRYPTODEV_CPU,
    CRYPTO_CRYPTODEV_N_MODES
};

extern const struct esp_crypto_engine esp_crypto_cryptodev_lookaside;
extern const struct esp_crypto_engine esp_crypto_cryptodev_cpu;

/* The engine of 'mode'. */
const struct esp_crypto_engine *crypto_cryptodev_engine(
    enum crypto_cryptodev_mode mode);

/* Binds 'mode' to the cryptodev named 'dev_name' ("crypto_aesni_mb0").
 * The first open of a device configures it (up to 8 queue pairs of 128
 * descriptors, see crypto_cryptodev_set_queue_pairs()), starts it and creates its session pool of 'n_sessions'
 * sessions (0: 2048), op pool and mbuf pool; a second mode on the same
 * device shares all that.  Each suite is then checked against the
 * device's capabilities (and, for CPU crypto,
 * RTE_CRYPTODEV_FF_SYM_CPU_CRYPTO) and run once through the mode against
 * the ipsec-mb engine (a known-answer self-test on a 61-byte packet):
 * supports() is true only for suites that passed both.
 *
 * Returns 0, EBUSY (the mode is already open), ENODEV (no such device),
 * or another positive errno with a message in 'err'. */
int crypto_cryptodev_open(enum crypto_cryptodev_mode mode,
                          const char *dev_name, unsigned int n_sessions,
                          char *err, size_t err_size);
/* Queue pairs configured on devices opened afterwards: 1..8 (default 8,
 * or fewer if the device has fewer).  With fewer queue pairs than
 * datapath threads, threads share them under the queue pair's lock. */
void crypto_cryptodev_set_queue_pairs(unsigned int n);

/* Unbinds 'mode'; the last mode on a device stops it and frees its
 * pools.  Returns 0, or EBUSY while key contexts of the mode exist. */
int crypto_cryptodev_close(enum crypto_cryptodev_mode mode);

/* The device name 'mode' is bound to, or null. */
const char *crypto_cryptodev_device(enum crypto_cryptodev_mode mode);

/* Whether 'mode' can take an SA of 'suite' in direction 'dir' (with ESN
 * if 'esn').  Outbound AES-CBC also needs AES-ECB on the device (IV
 * derivation).  Returns 0, or EOPNOTSUPP with a one-line reason starting
 * "cryptodev NAME: " (or "no cryptodev open for ..." if the mode is not
 * bound). */
int crypto_cryptodev_check(enum crypto_cryptodev_mode mode,
                           enum esp_suite suite, enum esp_dir dir, bool esn,
                           char *reason, size_t reason_size);

/* One line: "cryptodev NAME (driver DRV, N queue pairs): suites...;
 * S sessions"; a suite usable inbound only is marked "(in)". */
void crypto_cryptodev_format(enum crypto_cryptodev_mode mode,
                             char *buf, size_t size);

/* For the next ctx_create() of either engine on this thread: the key
 * context serves only direction 'dir' and, for AEAD suites, only the
 * AAD length that 'esn' implies.  Consumed by that call. */
void crypto_cryptodev_expect(enum esp_dir dir, bool esn);
/* Drops an expectation no ctx_create() consumed (esp_sa_create() failed
 * before creating the key context). */
void crypto_cryptodev_expect_clear(void);

/* Why the last failed ctx_create() on this thread failed ("cryptodev
 * NAME: session mempool of 2048 exhausted", ...), or "". */
const char *crypto_cryptodev_last_error(void);

/* Per-device counters (relaxed; both modes of a shared device count in
 * the same place). */
struct crypto_cryptodev_stats {
    uint64_t sessions_created;
    uint64_t sessions_freed;
    uint64_t sessions_failed;
    uint64_t ctxs;              /* Live key contexts. */
    uint64_t ops;               /* Ops completed (lookaside and CPU). */
    uint64_t op_errors;         /* Completed with an error other than an
                                 * ICV mismatch. */
    uint64_t auth_failures;     /* ICV mismatches. */
};
/* Zeroes '*stats' if 'mode' is not open. */
void crypto_cryptodev_get_stats(enum crypto_cryptodev_mode mode,
                                struct crypto_cryptodev_stats *stats);
/* Sessions currently taken from the device's session pool. */
unsigned int crypto_cryptodev_sessions_in_use(
    enum crypto_cryptodev_mode mode);

#ifdef __cplusplus
}
#endif

#endif /* crypto-cryptodev.h */
