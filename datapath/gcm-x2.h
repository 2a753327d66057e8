/*
 * AES-GCM of two ESP packets at once (VAES + VPCLMULQDQ, 256-bit).
 *
 * The engine "ipsec-mb" (crypto-ipsecmb.c) gives pairs of AES-GCM
 * operations to gcm_x2_pair() when the CPU has AVX2, VAES and VPCLMULQDQ
 * (and intel-ipsec-mb 1.3, which has VAES GCM only with AVX-512, runs its
 * AVX2 one-block-at-a-time code).  Each 256-bit register holds one
 * 16-byte block of each packet: the counter blocks, the tag's E(J0) and
 * the GHASH of both packets run side by side.
 *
 * A pair first runs the 128-byte chunks that both packets have whole: 8
 * counter blocks per packet through AES, and GHASH in Horner form with 8
 * blocks per step (the state XORed into the first block, block i times
 * H^(9 - i), one reduction per chunk).  The rest of each packet, at most
 * 128 bytes (gcm_x2_fits()), is aggregated in one step: every block times
 * its own power of H, with the AAD (or the state after the chunks), the
 * lengths block, one reduction per packet.  For a small packet that one
 * step is the whole packet: intel-ipsec-mb's cost there is latency (one
 * chain of dependent steps), not throughput, and two packets per pass
 * fill the pipelines instead.  A pair of small packets is still mostly
 * such a chain; gcm_x2_quad() runs two pairs of one size (up to 128
 * bytes) in one pass, with the AES blocks and GHASH products of both
 * interleaved (about 19 ns a packet at 64 bytes against 24 for pairs on
 * this machine, test-crypto's bench).
 *
 * Arithmetic: GHASH through POLYVAL (RFC 8452 appendix A): blocks are
 * byte-reversed, H becomes mulX_POLYVAL(ByteReverse(H)), and each product
 * is a carry-less multiplication followed by a Montgomery reduction by
 * x^128 (two carry-less multiplications by 0xc2 << 56).  The powers of H
 * are kept in that form.
 *
 * Limits (gcm_x2_op_ok()): data and AAD lengths multiples of 4 (ESP pads
 * its ciphertext to 4 bytes, RFC 4303 section 2.4; its AAD is 8 or 12
 * bytes), AAD up to 16 bytes; everything else stays on the library's
 * one-packet path.
 */
#ifndef GCM_X2_H
#define GCM_X2_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "esp-crypto.h"

enum {
    /* Bytes a packet may have after the 128-byte chunks that both
     * packets of a pair have whole (gcm_x2_fits()); an op of up to this
     * many bytes may also run alone. */
    GCM_X2_TAIL = 128,
    /* Powers of H: a tail's blocks, the AAD and the lengths block. */
    GCM_X2_MAX_BLOCKS = GCM_X2_TAIL / 16 + 2,
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
    return !(op->data_len & 3) && op->aad_len <= 16 && !(op->aad_len & 3);
}

/* Whether gcm_x2_op_ok() ops 'a' and 'b' can run as a pair: the longer
 * has at most GCM_X2_TAIL bytes after the 128-byte chunks of the
 * shorter. */
static inline bool
gcm_x2_fits(const struct esp_crypto_op *a, const struct esp_crypto_op *b)
{
    uint32_t lo = a->data_len < b->data_len ? a->data_len : b->data_len;
    uint32_t hi = a->data_len < b->data_len ? b->data_len : a->data_len;

    return hi - lo / 128 * 128 <= GCM_X2_TAIL;
}

/* Encrypts ('enc') or decrypts and verifies 'a' and 'b' (b may be null:
 * then 'a' alone, at most GCM_X2_TAIL bytes), both under 'key', both
 * gcm_x2_op_ok() and gcm_x2_fits(), in place, as the engine interface
 * says (esp-crypto.h): 'status' 0 or EBADMSG.  'a' and 'b' must not
 * overlap. */
void gcm_x2_pair(const struct gcm_x2_key *key, struct esp_crypto_op *a,
                 struct esp_crypto_op *b, bool enc);

/* Whether gcm_x2_op_ok() ops 'a' and 'b' may run as half of a
 * gcm_x2_quad() whose other half is like 'a': the same data and AAD
 * lengths, at most GCM_X2_TAIL bytes, each ICV right after its data (as
 * in ESP). */
static inline bool
gcm_x2_quad_fits(const struct esp_crypto_op *a, const struct esp_crypto_op *b)
{
    return (a->data_len == b->data_len && a->aad_len == b->aad_len
            && a->data_len <= GCM_X2_TAIL
            && a->icv == a->data + a->data_len
            && b->icv == b->data + b->data_len);
}

/* Two pairs at once: 'ops'[0] and [1] as one pair, [2] and [3] as
 * another, as gcm_x2_pair() would, but with both pairs' AES blocks and
 * GHASH products in one pass, so that each pair's chain of dependent
 * steps fills the pipelines while the other's waits.  All four under
 * 'key', gcm_x2_op_ok(), and gcm_x2_quad_fits() with ops[0], none
 * overlapping. */
void gcm_x2_quad(const struct gcm_x2_key *key, struct esp_crypto_op *ops[4],
                 bool enc);

#endif /* gcm-x2.h */
