/*
 * Anti-replay window: RFC 6479 bitmap with RFC 4303 section 3.4.3
 * semantics and RFC 4303 appendix A.2 ESN inference.
 *
 * Bit 'seq % (64 * n_blocks)' of the ring of 64-bit blocks records whether
 * 'seq' was seen.  The ring has at least one block more than 'size' bits
 * need, so the blocks holding [top - size + 1, top] never share a slot, and
 * moving 'top' forward only has to zero the blocks it enters (RFC 6479
 * section 2): no shifting, and a jump of a whole ring or more zeroes it all.
 *
 * Concurrency: replay_check() and replay_infer() run lock-free on any
 * thread while one replay_commit() (serialized by the caller) may run.
 * 'top' is published with a release store after the blocks it needs were
 * zeroed and read with an acquire load, so a reader that sees the new top
 * never sees a stale block of the old ring epoch inside the new window (no
 * false REPLAY_DUPLICATE).  Every other answer a racing reader can get is
 * either a drop that the state after the commit would also give, or
 * REPLAY_OK that replay_commit() checks again.  Bitmap words are relaxed
 * atomics: the only ordering needed is the one through 'top'.
 */
#include "esp-replay.h"

#include <errno.h>
#include <stdlib.h>

#include "esp.h"

enum {
    BLOCK_SHIFT = 6,            /* 64 bits per block. */
    BLOCK_BITS = 1 << BLOCK_SHIFT,
};

/* Window assumed for ESN inference when the check is disabled (RFC 4303
 * appendix A.2 needs some W; half the 32-bit space keeps both directions
 * equally far). */
#define REPLAY_INFER_WINDOW_OFF (UINT32_C(1) << 31)

static uint32_t
blocks_for(uint32_t size)
{
    uint32_t need = (size + BLOCK_BITS - 1) / BLOCK_BITS + 1;
    uint32_t n = 1;

    while (n < need) {
        n <<= 1;
    }
    return n;
}

static inline uint64_t
load_top(const struct replay_window *w)
{
    return __atomic_load_n(&w->top, __ATOMIC_ACQUIRE);
}

static inline uint64_t *
block_of(const struct replay_window *w, uint64_t seq)
{
    return &w->bitmap[(seq >> BLOCK_SHIFT) & (w->n_blocks - 1)];
}

static inline uint64_t
bit_of(uint64_t seq)
{
    return UINT64_C(1) << (seq & (BLOCK_BITS - 1));
}

int
replay_init(struct replay_window *w, uint32_t size, bool esn, uint64_t top)
{
    w->top = 0;
    w->size = 0;
    w->n_blocks = 0;
    w->bitmap = NULL;
    w->esn = esn;

    if (size > ESP_REPLAY_WINDOW_MAX || (!esn && top > UINT32_MAX)) {
        return EINVAL;
    }
    w->size = size;
    w->top = top;
    if (!size) {
        return 0;
    }

    w->n_blocks = blocks_for(size);
    w->bitmap = calloc(w->n_blocks, sizeof *w->bitmap);
    if (!w->bitmap) {
        w->n_blocks = 0;
        w->size = 0;
        return ENOMEM;
    }
    if (top) {
        *block_of(w, top) |= bit_of(top);
    }
    return 0;
}

void
replay_destroy(struct replay_window *w)
{
    free(w->bitmap);
    w->bitmap = NULL;
    w->n_blocks = 0;
    w->size = 0;
}

/* RFC 4303 appendix A.2.1, with Th, Tl the halves of 'top' and W the
 * window.  The result is the one number with low half 'seq_lo' in
 * [top - W + 1, top - W + 2^32].  Where that number does not exist in 64
 * bits (Th - 1 below 0 early in the SA, Th + 1 past 2^32 - 1 at the very
 * end) the high half stays Th: the packet then reads as a far jump forward
 * (early) or as stale (end), and the ICV, which covers the high half,
 * decides. */
uint64_t
replay_infer(const struct replay_window *w, uint32_t seq_lo)
{
    uint64_t top;
    uint32_t th, tl, wm1, bottom;

    if (!w->esn) {
        return seq_lo;
    }

    top = load_top(w);
    th = top >> 32;
    tl = (uint32_t) top;
    wm1 = (w->size ? w->size : REPLAY_INFER_WINDOW_OFF) - 1;
    bottom = tl - wm1;          /* Modulo 2^32 in case B. */

    if (tl >= wm1) {
        /* Case A: the window lies in one 2^32 subspace. */
        if (seq_lo < bottom && th != UINT32_MAX) {
            th++;
        }
    } else {
        /* Case B: the window reaches into the previous subspace. */
        if (seq_lo >= bottom && th != 0) {
            th--;
        }
    }
    return (uint64_t) th << 32 | seq_lo;
}

/* RFC 4303 section 3.4.3: left of the window is stale, right of it is new,
 * inside it the bitmap decides.  'top' is passed in so that the lock-free
 * reader and the committer share the logic. */
static inline enum replay_result
judge(const struct replay_window *w, uint64_t top, uint64_t seq)
{
    uint64_t block;

    if (!seq || (!w->esn && seq > UINT32_MAX)) {
        return REPLAY_STALE;
    }
    if (seq > top || !w->size) {
        return REPLAY_OK;
    }
    if (top - seq >= w->size) {
        return REPLAY_STALE;
    }
    block = __atomic_load_n(block_of(w, seq), __ATOMIC_RELAXED);
    return block & bit_of(seq) ? REPLAY_DUPLICATE : REPLAY_OK;
}

enum replay_result
replay_check(const struct replay_window *w, uint64_t seq)
{
    return judge(w, load_top(w), seq);
}

enum replay_result
replay_commit(struct replay_window *w, uint64_t seq)
{
    uint64_t top = w->top;      /* Only commit writes it. */
    enum replay_result r = judge(w, top, seq);
    uint64_t *block;

    if (r != REPLAY_OK) {
        return r;
    }
    if (!w->size) {
        if (seq > top) {
            __atomic_store_n(&w->top, seq, __ATOMIC_RELEASE);
        }
        return REPLAY_OK;
    }

    if (seq > top) {
        uint64_t from = top >> BLOCK_SHIFT;
        uint64_t to = seq >> BLOCK_SHIFT;

        /* Zero the blocks entered, all of them after a jump of a ring or
         * more (RFC 6479 section 2). */
        if (to - from >= w->n_blocks) {
            from = to - w->n_blocks;
        }
        while (from++ < to) {
            __atomic_store_n(&w->bitmap[from & (w->n_blocks - 1)], 0,
                             __ATOMIC_RELAXED);
        }
    }

    block = block_of(w, seq);
    __atomic_store_n(block, *block | bit_of(seq), __ATOMIC_RELAXED);
    if (seq > top) {
        __atomic_store_n(&w->top, seq, __ATOMIC_RELEASE);
    }
    return REPLAY_OK;
}
