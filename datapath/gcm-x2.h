/*
 * AES-GCM of two small ESP packets at once (VAES + VPCLMULQDQ, 256-bit).
 *
 * The engine "ipsec-mb" (crypto-ipsecmb.c) gives pairs of small AES-GCM
 * operations to gcm_x2_pair() when the CPU has AVX2, VAES and VPCLMULQDQ.
 * Each 256-bit register holds one 16-byte block of each packet; the
 * counter blocks, the tag's E(J0) and the GHASH of the whole packet
 * (AAD, data, lengths) run side by side, and the GHASH of a packet is
 * aggregated: every block is multiplied by its own power of H and the sum
 * is reduced once.  intel-ipsec-mb 1.3 processes one packet per call, and
 * for a 64-byte packet its cost is latency (one chain of dependent steps),
 * not throughput; two packets per pass fill the pipelines instead.
 *
 * Arithmetic: GHASH through POLYVAL (RFC 8452 appendix A): blocks are
 * byte-reversed, H becomes mulX_POLYVAL(ByteReverse(H)), and each product
 * is a carry-less multiplication followed by a Montgomery reduction by
 * x^128 (two carry-less multiplications by 0xc2 << 56).  The powers of H
 * are kept in that form.
 *
 * Limits (gcm_x2_op_ok()): data up to GCM_X2_MAX_DATA bytes and AAD up to
 * 16 bytes, both multiples of 4 (ESP pads its ciphertext to 4 bytes, RFC
 * 4303 section 2.4; its AAD is 8 or 12 bytes); everything else stays on
 * the library's one-packet path.
 */
#ifndef GCM_X2_H
#define GCM_X2_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "esp-crypto.h"

enum {
    GCM_X2_MAX_DATA = 128,                  /* Bytes of data per op. */
    GCM_X2_MAX_BLOCKS = GCM_X2_MAX_DATA / 16 + 2,   /* + AAD, lengths. */
};

/* Per-key data, read-only after gcm_x2_key_init(). */
struct gcm_x2_key {
    uint8_t rk[15][16] __attribute__((aligned(16)));   /* Round keys. */
    /* H^1 .. H^GCM_X2_MAX_BLOCKS in POLYVAL form; [0] unused. */
    uint8_t h[GCM_X2_MAX_BLOCKS + 1][16] __attribute__((aligned(16)));
    unsigned int rounds;                    /* 10 (AES-128) or 14. */
};

/* Whether this CPU can run the code (AVX2, VAES, VPCLMULQDQ). */
bool gcm_x2_cpu_ok(void);

/* Completes 'key', whose 'rk' holds the AES encryption key schedule
 * (round keys 0..rounds, as intel-ipsec-mb's key expansion writes them),
 * for 'rounds' 10 or 14: computes H and its powers.  Only if
 * gcm_x2_cpu_ok(). */
void gcm_x2_key_init(struct gcm_x2_key *key, unsigned int rounds);

/* Whether 'op' (already checked as a valid AEAD op) fits the limits. */
static inline bool
gcm_x2_op_ok(const struct esp_crypto_op *op)
{
    return (op->data_len <= GCM_X2_MAX_DATA && !(op->data_len & 3)
            && op->aad_len <= 16 && !(op->aad_len & 3));
}

/* Encrypts ('enc') or decrypts and verifies 'a' and 'b' (b may be null:
 * then 'a' alone), both under 'key', both gcm_x2_op_ok(), in place, as
 * the engine interface says (esp-crypto.h): 'status' 0 or EBADMSG.  'a'
 * and 'b' must not overlap. */
void gcm_x2_pair(const struct gcm_x2_key *key, struct esp_crypto_op *a,
                 struct esp_crypto_op *b, bool enc);

#endif /* gcm-x2.h */
