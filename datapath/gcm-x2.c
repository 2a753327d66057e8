/*
 * AES-GCM of two ESP packets at once (see gcm-x2.h).
 *
 * Lane 0 of every 256-bit register belongs to op 'a', lane 1 to op 'b'.
 * Per op: J0 = nonce || 1 (RFC 4106: 12-byte nonce), data block j (from
 * 1) is XORed with E_K(nonce || j + 1), and the tag is
 * E_K(J0) ^ GHASH(AAD, ciphertext, lengths).  GHASH(S_1 .. S_m) is
 * sum(S_i * H^(m - i + 1)) with S_1 the AAD, S_2 .. S_(m-1) the
 * ciphertext blocks and S_m the lengths block: the 128-byte chunks that
 * both packets have whole are folded 8 blocks at a time (Horner), the
 * rest of each packet (at most 8 blocks) and the lengths in one
 * aggregated step.  Nothing outside 'data', 'aad' and 'icv' is written,
 * or read (partial blocks through dword masks, or whole when the ICV
 * follows the data).
 */
#include "gcm-x2.h"

#include <errno.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>

#define X2_TARGET __attribute__((target("avx2,aes,pclmul,vaes,vpclmulqdq")))
#define X2_INLINE X2_TARGET static inline __attribute__((always_inline))

/* CPUID: AES and PCLMULQDQ, AVX2, VAES and VPCLMULQDQ, and the OS saving
 * the YMM registers (XCR0 bits 1 and 2).  Read directly: clang 14's
 * __builtin_cpu_supports() does not know "vaes". */
bool
gcm_x2_cpu_ok(void)
{
    unsigned int a, b, c, d;
    uint32_t xcr0_lo, xcr0_hi;

    if (!__get_cpuid(1, &a, &b, &c, &d)
        || !(c & bit_AES) || !(c & bit_PCLMUL)
        || !(c & bit_OSXSAVE) || !(c & bit_AVX)) {
        return false;
    }
    __asm__ volatile("xgetbv" : "=a" (xcr0_lo), "=d" (xcr0_hi) : "c" (0));
    if ((xcr0_lo & 6) != 6) {
        return false;
    }
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
        return false;
    }
    return (b & bit_AVX2) && (c & (1u << 9)) && (c & (1u << 10));
}

/* Masks of 0 to 4 dwords, for vpmaskmovd and blends. */
static const int32_t dw_masks[5][4] __attribute__((aligned(16))) = {
    { 0, 0, 0, 0 }, { -1, 0, 0, 0 }, { -1, -1, 0, 0 }, { -1, -1, -1, 0 },
    { -1, -1, -1, -1 },
};

X2_INLINE __m128i
dw_mask(unsigned int dwords)
{
    return _mm_load_si128((const __m128i *) dw_masks[dwords]);
}

/* Dwords of 16-byte block 't' inside 'len' bytes (0 to 4). */
static inline unsigned int
block_dwords(uint32_t len, unsigned int t)
{
    uint32_t off = 16 * t;

    return off >= len ? 0 : len - off >= 16 ? 4 : (len - off) / 4;
}

X2_INLINE __m128i
bswap_x(__m128i x)
{
    return _mm_shuffle_epi8(x, _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
                                            10, 11, 12, 13, 14, 15));
}

X2_INLINE __m256i
bswap_y(__m256i x)
{
    const __m256i m = _mm256_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
                                      12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6,
                                      7, 8, 9, 10, 11, 12, 13, 14, 15);
    return _mm256_shuffle_epi8(x, m);
}

X2_INLINE __m256i
pair_x(__m128i lane0, __m128i lane1)
{
    return _mm256_inserti128_si256(_mm256_castsi128_si256(lane0), lane1, 1);
}

X2_INLINE __m256i
rk_y(const struct gcm_x2_key *k, unsigned int r)
{
    return _mm256_broadcastsi128_si256(
        _mm_load_si128((const __m128i *) k->rk[r]));
}

X2_INLINE __m128i
h_x(const struct gcm_x2_key *k, unsigned int i)
{
    return _mm_load_si128((const __m128i *) k->h[i]);
}

/* One block through AES, 128 bits. */
X2_TARGET static __m128i
aes_x(const struct gcm_x2_key *k, __m128i x)
{
    x = _mm_xor_si128(x, _mm_load_si128((const __m128i *) k->rk[0]));
    for (unsigned int r = 1; r < k->rounds; r++) {
        x = _mm_aesenc_si128(x, _mm_load_si128((const __m128i *) k->rk[r]));
    }
    return _mm_aesenclast_si128(
        x, _mm_load_si128((const __m128i *) k->rk[k->rounds]));
}

/* POLYVAL's Montgomery reduction of the 256-bit product hi:lo by x^128
 * modulo x^128 + x^127 + x^126 + x^121 + 1: twice, the low 64 bits times
 * 0xc2 << 56 folded into the next 64. */
X2_INLINE __m256i
reduce_y(__m256i lo, __m256i hi)
{
    const __m256i poly = _mm256_set_epi64x(
        (long long) 0xc200000000000000ULL, 1,
        (long long) 0xc200000000000000ULL, 1);
    __m256i t;

    t = _mm256_clmulepi64_epi128(lo, poly, 0x10);
    lo = _mm256_xor_si256(_mm256_shuffle_epi32(lo, 0x4e), t);
    t = _mm256_clmulepi64_epi128(lo, poly, 0x10);
    lo = _mm256_xor_si256(_mm256_shuffle_epi32(lo, 0x4e), t);
    return _mm256_xor_si256(lo, hi);
}

/* Unreduced products, summed: the three partial sums of a 128 x 128
 * carry-less multiplication. */
struct acc_y {
    __m256i lo, mid, hi;
};

X2_INLINE void
acc_zero(struct acc_y *acc)
{
    acc->lo = acc->mid = acc->hi = _mm256_setzero_si256();
}

X2_INLINE void
acc_add(struct acc_y *acc, __m256i a, __m256i b)
{
    __m256i af = _mm256_xor_si256(a, _mm256_shuffle_epi32(a, 0x4e));
    __m256i bf = _mm256_xor_si256(b, _mm256_shuffle_epi32(b, 0x4e));

    acc->lo = _mm256_xor_si256(acc->lo, _mm256_clmulepi64_epi128(a, b, 0x00));
    acc->hi = _mm256_xor_si256(acc->hi, _mm256_clmulepi64_epi128(a, b, 0x11));
    acc->mid = _mm256_xor_si256(acc->mid,
                                _mm256_clmulepi64_epi128(af, bf, 0x00));
}

X2_INLINE __m256i
acc_reduce(const struct acc_y *acc)
{
    __m256i mid = _mm256_xor_si256(acc->mid,
                                   _mm256_xor_si256(acc->lo, acc->hi));
    __m256i lo = _mm256_xor_si256(acc->lo, _mm256_slli_si256(mid, 8));
    __m256i hi = _mm256_xor_si256(acc->hi, _mm256_srli_si256(mid, 8));

    return reduce_y(lo, hi);
}

/* POLYVAL's dot(a, b) = a * b * x^-128, at key set-up (both lanes the
 * same). */
X2_TARGET static __m128i
dot_x(__m128i a, __m128i b)
{
    struct acc_y acc;

    acc_zero(&acc);
    acc_add(&acc, _mm256_broadcastsi128_si256(a),
            _mm256_broadcastsi128_si256(b));
    return _mm256_castsi256_si128(acc_reduce(&acc));
}

/* mulX_POLYVAL (RFC 8452 appendix A): h * x modulo POLYVAL's
 * polynomial. */
static void
mulx_polyval(uint8_t h[16])
{
    uint64_t lo, hi, carry;

    memcpy(&lo, h, 8);
    memcpy(&hi, h + 8, 8);
    carry = hi >> 63;
    hi = (hi << 1) | (lo >> 63);
    lo <<= 1;
    if (carry) {
        lo ^= 1;
        hi ^= 0xc200000000000000ULL;
    }
    memcpy(h, &lo, 8);
    memcpy(h + 8, &hi, 8);
}

X2_TARGET void
gcm_x2_key_init(struct gcm_x2_key *k, unsigned int rounds)
{
    __m128i h1, hi;

    k->rounds = rounds;
    /* H = E_K(0^128); POLYVAL's key is mulX_POLYVAL(ByteReverse(H)). */
    _mm_store_si128((__m128i *) k->h[1],
                    bswap_x(aes_x(k, _mm_setzero_si128())));
    mulx_polyval(k->h[1]);
    h1 = hi = h_x(k, 1);
    memset(k->h[0], 0, sizeof k->h[0]);
    for (unsigned int i = 2; i <= GCM_X2_MAX_BLOCKS; i++) {
        hi = dot_x(hi, h1);
        _mm_store_si128((__m128i *) k->h[i], hi);
    }
}

/* 'base' (the nonces of both lanes, last dword 0) with counter 'c' in
 * its last dword, big-endian. */
X2_INLINE __m256i
ctr_y(__m256i base, uint32_t c)
{
    int be = (int) __builtin_bswap32(c);

    return _mm256_or_si256(base, _mm256_set_epi32(be, 0, 0, 0, be, 0, 0, 0));
}

/* AES of the 'n' blocks 'ks' in place, 'n' a constant at each call site
 * so that the loops unroll and the blocks stay in registers. */
X2_INLINE void
aes_y(const struct gcm_x2_key *k, __m256i ks[], unsigned int n)
{
    __m256i rk = rk_y(k, 0);

#pragma GCC unroll 16
    for (unsigned int j = 0; j < n; j++) {
        ks[j] = _mm256_xor_si256(ks[j], rk);
    }
    for (unsigned int r = 1; r < k->rounds; r++) {
        rk = rk_y(k, r);
#pragma GCC unroll 16
        for (unsigned int j = 0; j < n; j++) {
            ks[j] = _mm256_aesenc_epi128(ks[j], rk);
        }
    }
    rk = rk_y(k, k->rounds);
#pragma GCC unroll 16
    for (unsigned int j = 0; j < n; j++) {
        ks[j] = _mm256_aesenclast_epi128(ks[j], rk);
    }
}

/* The keystream of the tail: E_K(J0) in ks[0], then the blocks after
 * the first 'done' data blocks ('n' - 1 of them). */
X2_INLINE void
tail_ks_y(const struct gcm_x2_key *k, __m256i base, __m256i ks[],
          unsigned int n, uint32_t done)
{
    ks[0] = ctr_y(base, 1);
#pragma GCC unroll 16
    for (unsigned int j = 1; j < n; j++) {
        ks[j] = ctr_y(base, done + j + 1);
    }
    aes_y(k, ks, n);
}

/* Reads the 'dwords' dwords (0 to 4) of a block at 'p' ('mask' their
 * mask), zeros after them; 'next': the 16 bytes at 'p' may be read (the
 * ICV follows the data), so read them whole. */
X2_INLINE __m128i
lane_load(const uint8_t *p, unsigned int dwords, bool next, __m128i mask)
{
    if (!dwords) {
        return _mm_setzero_si128();
    } else if (dwords == 4 || next) {
        return _mm_loadu_si128((const __m128i *) p);
    }
    return _mm_maskload_epi32((const int *) p, mask);
}

/* Writes the 'dwords' dwords of 'out' to 'p'; with 'next', all 16 bytes,
 * those past the dwords as they were read ('in'). */
X2_INLINE void
lane_store(uint8_t *p, __m128i in, __m128i out, unsigned int dwords,
           bool next, __m128i mask)
{
    if (dwords == 4) {
        _mm_storeu_si128((__m128i *) p, out);
    } else if (dwords && next) {
        _mm_storeu_si128((__m128i *) p, _mm_blendv_epi8(in, out, mask));
    } else if (dwords) {
        _mm_maskstore_epi32((int *) p, mask, out);
    }
}

X2_TARGET void
gcm_x2_pair(const struct gcm_x2_key *k, struct esp_crypto_op *a,
            struct esp_crypto_op *b, bool enc)
{
    const struct esp_crypto_op *ob = b ? b : a;
    uint32_t len_a = a->data_len, len_b = ob->data_len;
    /* 8-block chunks whole in both packets, done first; the tail of each
     * packet is then at most 8 blocks (gcm_x2_fits()). */
    unsigned int chunks = (len_a < len_b ? len_a : len_b) / 128;
    uint32_t done = 8 * chunks, skip = 128 * chunks;
    uint32_t rl_a = len_a - skip, rl_b = len_b - skip;
    unsigned int nt_a = (rl_a + 15) / 16, nt_b = (rl_b + 15) / 16;
    unsigned int nt = nt_a > nt_b ? nt_a : nt_b;
    uint8_t *da = a->data + skip;
    const uint8_t *db = ob->data + skip;
    /* ks[0] = E_K(J0), ks[j] = the keystream of tail block j. */
    __m256i ks[GCM_X2_TAIL / 16 + 1];
    struct acc_y acc;
    __m256i base, aad, x, tag;
    __m128i tag_a, tag_b;
    unsigned int e;

    /* The nonce is the first 12 bytes of the 16-byte union. */
    base = pair_x(_mm_loadu_si128((const __m128i *) a->nonce),
                  _mm_loadu_si128((const __m128i *) ob->nonce));
    base = _mm256_blend_epi32(base, _mm256_setzero_si256(), 0x88);

    /* The AAD, zero-padded.  A null AAD has length 0 and is not read
     * (mask 0). */
    aad = bswap_y(pair_x(
        _mm_maskload_epi32((const int *) (a->aad_len ? a->aad : a->nonce),
                           dw_mask(a->aad_len / 4)),
        _mm_maskload_epi32((const int *) (ob->aad_len ? ob->aad
                                          : ob->nonce),
                           dw_mask(ob->aad_len / 4))));

    /* Chunks: GHASH state 'x' = (x ^ C_1) * H^8 + C_2 * H^7 + ... +
     * C_8 * H, reduced once per chunk; the first chunk starts with the
     * AAD times H^9 instead. */
    x = _mm256_setzero_si256();
    for (unsigned int c = 0; c < chunks; c++) {
        __m256i ks8[8];

#pragma GCC unroll 8
        for (unsigned int j = 0; j < 8; j++) {
            ks8[j] = ctr_y(base, 8 * c + j + 2);
        }
        aes_y(k, ks8, 8);
        acc_zero(&acc);
        if (!c) {
            acc_add(&acc, aad, _mm256_broadcastsi128_si256(h_x(k, 9)));
        }
#pragma GCC unroll 8
        for (unsigned int j = 0; j < 8; j++) {
            uint32_t off = 128 * c + 16 * j;
            __m256i in = pair_x(
                _mm_loadu_si128((const __m128i *) (a->data + off)),
                _mm_loadu_si128((const __m128i *) (ob->data + off)));
            __m256i out = _mm256_xor_si256(in, ks8[j]);
            __m256i g = bswap_y(enc ? out : in);

            _mm_storeu_si128((__m128i *) (a->data + off),
                             _mm256_castsi256_si128(out));
            if (b) {
                _mm_storeu_si128((__m128i *) (b->data + off),
                                 _mm256_extracti128_si256(out, 1));
            }
            if (!j) {
                g = _mm256_xor_si256(g, x);
            }
            acc_add(&acc, g, _mm256_broadcastsi128_si256(h_x(k, 8 - j)));
        }
        x = acc_reduce(&acc);
    }

    switch (nt) {
    case 0: tail_ks_y(k, base, ks, 1, done); break;
    case 1: tail_ks_y(k, base, ks, 2, done); break;
    case 2: tail_ks_y(k, base, ks, 3, done); break;
    case 3: tail_ks_y(k, base, ks, 4, done); break;
    case 4: tail_ks_y(k, base, ks, 5, done); break;
    case 5: tail_ks_y(k, base, ks, 6, done); break;
    case 6: tail_ks_y(k, base, ks, 7, done); break;
    case 7: tail_ks_y(k, base, ks, 8, done); break;
    default: tail_ks_y(k, base, ks, 9, done); break;
    }

    /* The tail, aggregated: the first term is the AAD (no chunks: its own
     * block, times H^(tail blocks + 2)) or the state after the chunks
     * (XORed into the first tail block: times H^(tail blocks + 1)). */
    acc_zero(&acc);
    e = chunks ? 1 : 2;
    acc_add(&acc, chunks ? x : aad,
            pair_x(h_x(k, nt_a + e), h_x(k, nt_b + e)));

    /* Blocks that are whole in both packets: plain loads and stores; one
     * power of H for both if the packets have as many blocks. */
    unsigned int whole = (rl_a < rl_b ? rl_a : rl_b) / 16;

    for (unsigned int t = 0; t < whole; t++) {
        __m256i in = pair_x(_mm_loadu_si128((const __m128i *) (da + 16 * t)),
                            _mm_loadu_si128((const __m128i *) (db + 16 * t)));
        __m256i out = _mm256_xor_si256(in, ks[t + 1]);
        __m256i hp = (nt_a == nt_b
                      ? _mm256_broadcastsi128_si256(h_x(k, nt_a + 1 - t))
                      : pair_x(h_x(k, nt_a + 1 - t), h_x(k, nt_b + 1 - t)));

        _mm_storeu_si128((__m128i *) (da + 16 * t),
                         _mm256_castsi256_si128(out));
        if (b) {
            _mm_storeu_si128((__m128i *) (b->data + skip + 16 * t),
                             _mm256_extracti128_si256(out, 1));
        }
        acc_add(&acc, bswap_y(enc ? out : in), hp);
    }

    /* The rest: a partial last block, or blocks past one packet's end.
     * When the ICV follows the data (as in ESP), a partial block is read
     * whole (the ICV is there, in bounds) and written back whole with the
     * bytes past the data unchanged; otherwise through dword masks. */
    bool next_a = a->icv == a->data + len_a;
    bool next_b = ob->icv == ob->data + len_b;

    if (whole < nt && rl_a == rl_b && next_a && next_b) {
        /* The common case of a pair (ESP packets of one size): one
         * partial block, the same in both packets. */
        unsigned int t = whole;
        __m256i mask = _mm256_broadcastsi128_si256(
            dw_mask(block_dwords(rl_a, t)));
        __m256i in = pair_x(_mm_loadu_si128((const __m128i *) (da + 16 * t)),
                            _mm_loadu_si128((const __m128i *) (db + 16 * t)));
        __m256i out = _mm256_xor_si256(in, ks[t + 1]);
        __m256i keep = _mm256_blendv_epi8(in, out, mask);

        _mm_storeu_si128((__m128i *) (da + 16 * t),
                         _mm256_castsi256_si128(keep));
        if (b) {
            _mm_storeu_si128((__m128i *) (b->data + skip + 16 * t),
                             _mm256_extracti128_si256(keep, 1));
        }
        acc_add(&acc, bswap_y(_mm256_and_si256(enc ? out : in, mask)),
                _mm256_broadcastsi128_si256(h_x(k, nt_a + 1 - t)));
        nt = 0;                 /* Done. */
    }
    for (unsigned int t = whole; t < nt; t++) {
        unsigned int dw_a = block_dwords(rl_a, t);
        unsigned int dw_b = block_dwords(rl_b, t);
        __m128i m_a = dw_mask(dw_a), m_b = dw_mask(dw_b);
        __m256i mask = pair_x(m_a, m_b);
        __m256i in = pair_x(lane_load(da + 16 * t, dw_a, next_a, m_a),
                            lane_load(db + 16 * t, dw_b, next_b, m_b));
        __m256i out = _mm256_xor_si256(in, ks[t + 1]);
        /* A block past a packet's end is zero; its power is irrelevant. */
        unsigned int p_a = t < nt_a ? nt_a + 1 - t : 1;
        unsigned int p_b = t < nt_b ? nt_b + 1 - t : 1;

        lane_store(da + 16 * t, _mm256_castsi256_si128(in),
                   _mm256_castsi256_si128(out), dw_a, next_a, m_a);
        if (b) {
            lane_store(b->data + skip + 16 * t,
                       _mm256_extracti128_si256(in, 1),
                       _mm256_extracti128_si256(out, 1), dw_b, next_b, m_b);
        }
        /* GHASH reads the ciphertext with zeros past the data. */
        acc_add(&acc, bswap_y(_mm256_and_si256(enc ? out : in, mask)),
                pair_x(h_x(k, p_a), h_x(k, p_b)));
    }

    /* The lengths in bits, byte-reversed: data in the low half, AAD in
     * the high half; times H^1. */
    acc_add(&acc, _mm256_set_epi64x((long long) ob->aad_len * 8,
                                    (long long) len_b * 8,
                                    (long long) a->aad_len * 8,
                                    (long long) len_a * 8),
            _mm256_broadcastsi128_si256(h_x(k, 1)));

    tag = _mm256_xor_si256(bswap_y(acc_reduce(&acc)), ks[0]);
    tag_a = _mm256_castsi256_si128(tag);
    tag_b = _mm256_extracti128_si256(tag, 1);
    if (enc) {
        _mm_storeu_si128((__m128i *) a->icv, tag_a);
        a->status = 0;
        if (b) {
            _mm_storeu_si128((__m128i *) b->icv, tag_b);
            b->status = 0;
        }
    } else {
        __m128i eq = _mm_cmpeq_epi8(tag_a, _mm_loadu_si128(
                                        (const __m128i *) a->icv));

        a->status = _mm_movemask_epi8(eq) == 0xffff ? 0 : EBADMSG;
        if (b) {
            eq = _mm_cmpeq_epi8(tag_b,
                                _mm_loadu_si128((const __m128i *) b->icv));
            b->status = _mm_movemask_epi8(eq) == 0xffff ? 0 : EBADMSG;
        }
    }
}

/* The keystreams of two pairs' whole packets (no chunks): for pair P,
 * E_K(J0) in ks[P * n], then its 'n' - 1 counter blocks; 2 * 'n' blocks
 * through AES together. */
X2_INLINE void
quad_ks_y(const struct gcm_x2_key *k, const __m256i base[2], __m256i ks[],
          unsigned int n)
{
#pragma GCC unroll 2
    for (unsigned int p = 0; p < 2; p++) {
        ks[p * n] = ctr_y(base[p], 1);
#pragma GCC unroll 16
        for (unsigned int j = 1; j < n; j++) {
            ks[p * n + j] = ctr_y(base[p], j + 1);
        }
    }
    aes_y(k, ks, 2 * n);
}

/* Loads the 16-byte block at offset 'off' of the data of ops 'x' and
 * 'y' into the two lanes. */
X2_INLINE __m256i
quad_load(const struct esp_crypto_op *x, const struct esp_crypto_op *y,
          uint32_t off)
{
    return pair_x(_mm_loadu_si128((const __m128i *) (x->data + off)),
                  _mm_loadu_si128((const __m128i *) (y->data + off)));
}

X2_INLINE void
quad_store(struct esp_crypto_op *x, struct esp_crypto_op *y, uint32_t off,
           __m256i v)
{
    _mm_storeu_si128((__m128i *) (x->data + off), _mm256_castsi256_si128(v));
    _mm_storeu_si128((__m128i *) (y->data + off),
                     _mm256_extracti128_si256(v, 1));
}

/* gcm_x2_quad() for 'nt' blocks per packet, 'enc' and 'nt' constants at
 * each call site, so that the loops unroll and the blocks stay in
 * registers. */
X2_INLINE void
quad_body(const struct gcm_x2_key *k, struct esp_crypto_op *ops[4],
          bool enc, unsigned int nt)
{
    uint32_t len = ops[0]->data_len, aad_len = ops[0]->aad_len;
    unsigned int whole = len / 16;
    /* Pair P is ops 2P and 2P + 1; its blocks are ks[P * (nt + 1)] on. */
    __m256i ks[2 * (GCM_X2_TAIL / 16 + 1)];
    __m256i base[2], aad[2], hp, mask, lens;
    struct acc_y acc[2];
    unsigned int n = nt + 1;

    for (unsigned int p = 0; p < 2; p++) {
        const struct esp_crypto_op *x = ops[2 * p], *y = ops[2 * p + 1];
        __m128i m = dw_mask(aad_len / 4);

        base[p] = pair_x(_mm_loadu_si128((const __m128i *) x->nonce),
                         _mm_loadu_si128((const __m128i *) y->nonce));
        base[p] = _mm256_blend_epi32(base[p], _mm256_setzero_si256(), 0x88);
        aad[p] = bswap_y(pair_x(
            _mm_maskload_epi32((const int *) (aad_len ? x->aad : x->nonce),
                               m),
            _mm_maskload_epi32((const int *) (aad_len ? y->aad : y->nonce),
                               m)));
    }

    quad_ks_y(k, base, ks, n);

    /* As a pair's tail (gcm_x2_pair()), both pairs in each step: the
     * AAD times H^(nt + 2), block t times H^(nt + 1 - t), the lengths
     * times H. */
    hp = _mm256_broadcastsi128_si256(h_x(k, nt + 2));
    for (unsigned int p = 0; p < 2; p++) {
        acc_zero(&acc[p]);
        acc_add(&acc[p], aad[p], hp);
    }
#pragma GCC unroll 8
    for (unsigned int t = 0; t < nt; t++) {
        if (t >= whole) {
            break;
        }
        hp = _mm256_broadcastsi128_si256(h_x(k, nt + 1 - t));
#pragma GCC unroll 2
        for (unsigned int p = 0; p < 2; p++) {
            __m256i in = quad_load(ops[2 * p], ops[2 * p + 1], 16 * t);
            __m256i out = _mm256_xor_si256(in, ks[p * n + t + 1]);

            quad_store(ops[2 * p], ops[2 * p + 1], 16 * t, out);
            acc_add(&acc[p], bswap_y(enc ? out : in), hp);
        }
    }
    if (whole < nt) {
        /* The partial last block, read and written whole: the ICV
         * follows the data (gcm_x2_quad_ok()). */
        unsigned int t = whole;

        mask = _mm256_broadcastsi128_si256(dw_mask(block_dwords(len, t)));
        hp = _mm256_broadcastsi128_si256(h_x(k, nt + 1 - t));
#pragma GCC unroll 2
        for (unsigned int p = 0; p < 2; p++) {
            __m256i in = quad_load(ops[2 * p], ops[2 * p + 1], 16 * t);
            __m256i out = _mm256_xor_si256(in, ks[p * n + t + 1]);

            quad_store(ops[2 * p], ops[2 * p + 1], 16 * t,
                       _mm256_blendv_epi8(in, out, mask));
            acc_add(&acc[p], bswap_y(_mm256_and_si256(enc ? out : in,
                                                      mask)), hp);
        }
    }
    lens = _mm256_set_epi64x((long long) aad_len * 8, (long long) len * 8,
                             (long long) aad_len * 8, (long long) len * 8);
    hp = _mm256_broadcastsi128_si256(h_x(k, 1));
    for (unsigned int p = 0; p < 2; p++) {
        __m256i tag;

        acc_add(&acc[p], lens, hp);
        tag = _mm256_xor_si256(bswap_y(acc_reduce(&acc[p])), ks[p * n]);
        for (unsigned int l = 0; l < 2; l++) {
            struct esp_crypto_op *op = ops[2 * p + l];
            __m128i t = (l ? _mm256_extracti128_si256(tag, 1)
                           : _mm256_castsi256_si128(tag));

            if (enc) {
                _mm_storeu_si128((__m128i *) op->icv, t);
                op->status = 0;
            } else {
                __m128i eq = _mm_cmpeq_epi8(
                    t, _mm_loadu_si128((const __m128i *) op->icv));

                op->status = _mm_movemask_epi8(eq) == 0xffff ? 0 : EBADMSG;
            }
        }
    }
}

X2_TARGET void
gcm_x2_quad(const struct gcm_x2_key *k, struct esp_crypto_op *ops[4],
            bool enc)
{
    switch ((ops[0]->data_len + 15) / 16 * 2 + enc) {
    case 0: quad_body(k, ops, false, 0); break;
    case 1: quad_body(k, ops, true, 0); break;
    case 2: quad_body(k, ops, false, 1); break;
    case 3: quad_body(k, ops, true, 1); break;
    case 4: quad_body(k, ops, false, 2); break;
    case 5: quad_body(k, ops, true, 2); break;
    case 6: quad_body(k, ops, false, 3); break;
    case 7: quad_body(k, ops, true, 3); break;
    case 8: quad_body(k, ops, false, 4); break;
    case 9: quad_body(k, ops, true, 4); break;
    case 10: quad_body(k, ops, false, 5); break;
    case 11: quad_body(k, ops, true, 5); break;
    case 12: quad_body(k, ops, false, 6); break;
    case 13: quad_body(k, ops, true, 6); break;
    case 14: quad_body(k, ops, false, 7); break;
    case 15: quad_body(k, ops, true, 7); break;
    case 16: quad_body(k, ops, false, 8); break;
    default: quad_body(k, ops, true, 8); break;
    }
}

#else  /* !__x86_64__ */

bool
gcm_x2_cpu_ok(void)
{
    return false;
}

void
gcm_x2_key_init(struct gcm_x2_key *k, unsigned int rounds)
{
    k->rounds = rounds;
}

void
gcm_x2_pair(const struct gcm_x2_key *k, struct esp_crypto_op *a,
            struct esp_crypto_op *b, bool enc)
{
    (void) k;
    (void) enc;
    a->status = EOPNOTSUPP;
    if (b) {
        b->status = EOPNOTSUPP;
    }
}

void
gcm_x2_quad(const struct gcm_x2_key *k, struct esp_crypto_op *ops[4],
            bool enc)
{
    (void) k;
    (void) enc;
    for (unsigned int i = 0; i < 4; i++) {
        ops[i]->status = EOPNOTSUPP;
    }
}

#endif
