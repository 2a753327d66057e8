/*
 * Anti-replay window: RFC 6479 bitmap, RFC 4303 section 3.4.3 and
 * appendix A (extended sequence numbers).
 *
 * The window keeps the highest sequence number seen ('top', 64 bits, high
 * half zero without ESN) and a ring of 64-bit blocks: one block more than
 * the window needs, so that advancing the window clears whole blocks
 * instead of shifting bits (RFC 6479 section 2).
 *
 * Use: replay_infer() the full sequence number from the 32 bits on the
 * wire, replay_check() before crypto, replay_commit() after the ICV
 * verified.  replay_infer() and replay_check() may run on several threads
 * at once with one replay_commit(): they read lock-free ('top' with an
 * acquire load, the bitmap with relaxed loads) and may be stale, but never
 * call a new number a duplicate; replay_commit() checks again.
 * replay_commit() calls must be serialized by the caller.
 */
#ifndef ESP_REPLAY_H
#define ESP_REPLAY_H 1

#include <stdbool.h>
#include <stdint.h>

enum replay_result {
    REPLAY_OK,
    REPLAY_DUPLICATE,           /* Inside the window, already seen. */
    REPLAY_STALE,               /* Left of the window (or zero). */
};

struct replay_window {
    uint64_t top;               /* Highest sequence number seen. */
    uint32_t size;              /* Configured window, 0 = no check. */
    uint32_t n_blocks;          /* Bitmap blocks, a power of 2. */
    uint64_t *bitmap;           /* n_blocks blocks; null when size 0. */
    bool esn;
};

/* Sets up 'w' for a window of 'size' packets (0 disables the check, up to
 * ESP_REPLAY_WINDOW_MAX), with 'top' already seen: 'top' itself (if
 * nonzero) is marked seen, the numbers below it inside the window are not
 * (they are accepted once).  A new SA passes 0.  Returns 0, EINVAL for a
 * size over the maximum or, without ESN, a 'top' over 2^32 - 1, or ENOMEM.
 * On error 'w' is still safe to pass to replay_destroy(). */
int replay_init(struct replay_window *w, uint32_t size, bool esn,
                uint64_t top);
void replay_destroy(struct replay_window *w);

/* The full sequence number of a packet carrying 'seq_lo' (RFC 4303
 * appendix A.2).  Without ESN it is 'seq_lo'.  With ESN it is the one
 * number with low half 'seq_lo' in [top - W + 1, top - W + 2^32], W being
 * the window (2^31 when the window is disabled).  Where that number would
 * be below 0 or above 2^64 - 1 the high half of 'top' is kept instead
 * (a far jump forward early in the SA, a stale number at its very end);
 * the ICV covers the high half and decides.  Lock-free, like
 * replay_check(). */
uint64_t replay_infer(const struct replay_window *w, uint32_t seq_lo);

/* Whether 'seq' (from replay_infer()) may be accepted.  Never changes
 * 'w'.  Sequence number 0 is always REPLAY_STALE (RFC 4303 section 2.2:
 * the first packet is 1), even with the window disabled, and so is a
 * number over 2^32 - 1 without ESN.  Otherwise, with the window disabled,
 * always REPLAY_OK; with a window of 'size', a number above 'top' is
 * REPLAY_OK, one at or below 'top - size' REPLAY_STALE, and one in
 * [top - size + 1, top] REPLAY_DUPLICATE if committed before. */
enum replay_result replay_check(const struct replay_window *w, uint64_t seq);

/* Checks again and, if REPLAY_OK, records 'seq', advancing the window.
 * With the window disabled it still raises 'top', for replay_infer(). */
enum replay_result replay_commit(struct replay_window *w, uint64_t seq);

#endif /* esp-replay.h */
