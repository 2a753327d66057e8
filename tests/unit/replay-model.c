/*
 * Naive reference model of the anti-replay window (see replay-model.h).
 * Nothing here is clever on purpose: no bitmap, no ring, no pruning.
 */
#include "replay-model.h"

#include <stdio.h>
#include <stdlib.h>

static size_t
slot_of(uint64_t seq, size_t cap)
{
    return (seq * UINT64_C(0x9e3779b97f4a7c15)) >> 17 & (cap - 1);
}

static bool
model_seen(const struct model_replay *m, uint64_t seq)
{
    size_t i;

    for (i = slot_of(seq, m->cap); m->seen[i]; i = (i + 1) & (m->cap - 1)) {
        if (m->seen[i] == seq) {
            return true;
        }
    }
    return false;
}

static void
model_add(struct model_replay *m, uint64_t seq)
{
    size_t i;

    if (2 * (m->n_seen + 1) > m->cap) {
        uint64_t *old = m->seen;
        size_t old_cap = m->cap;

        m->cap *= 2;
        m->seen = calloc(m->cap, sizeof *m->seen);
        if (!m->seen) {
            perror("model_add");
            abort();
        }
        m->n_seen = 0;
        for (i = 0; i < old_cap; i++) {
            if (old[i]) {
                model_add(m, old[i]);
            }
        }
        free(old);
    }
    for (i = slot_of(seq, m->cap); m->seen[i]; i = (i + 1) & (m->cap - 1)) {
        continue;
    }
    m->seen[i] = seq;
    m->n_seen++;
}

void
model_replay_init(struct model_replay *m, uint32_t size, bool esn,
                  uint64_t top)
{
    m->top = top;
    m->size = size;
    m->esn = esn;
    m->cap = 1024;
    m->n_seen = 0;
    m->seen = calloc(m->cap, sizeof *m->seen);
    if (!m->seen) {
        perror("model_replay_init");
        abort();
    }
    if (top) {
        model_add(m, top);
    }
}

void
model_replay_destroy(struct model_replay *m)
{
    free(m->seen);
    m->seen = NULL;
}

/* RFC 4303 appendix A.2 by its meaning: of the numbers whose low half is
 * 'seq_lo', the one in [top - W + 1, top - W + 2^32].  Try the three high
 * halves around top's in 128-bit arithmetic; if the one that fits is not a
 * 64-bit number, keep top's high half (see replay_infer()). */
uint64_t
model_infer(uint64_t top, uint32_t size, bool esn, uint32_t seq_lo)
{
    __int128 w = size ? size : (__int128) 1 << 31;
    __int128 lo = (__int128) top - w + 1;
    __int128 hi = lo + ((__int128) 1 << 32) - 1;
    __int128 th = top >> 32;
    __int128 h;

    if (!esn) {
        return seq_lo;
    }
    for (h = th - 1; h <= th + 1; h++) {
        __int128 c = h * ((__int128) 1 << 32) + seq_lo;

        if (c >= lo && c <= hi) {
            if (c >= 0 && c <= (__int128) UINT64_MAX) {
                return (uint64_t) c;
            }
            break;
        }
    }
    return (uint64_t) th << 32 | seq_lo;
}

uint64_t
model_replay_infer(const struct model_replay *m, uint32_t seq_lo)
{
    return model_infer(m->top, m->size, m->esn, seq_lo);
}

enum replay_result
model_replay_check(const struct model_replay *m, uint64_t seq)
{
    if (seq == 0) {
        return REPLAY_STALE;
    }
    if (!m->esn && seq > UINT32_MAX) {
        return REPLAY_STALE;
    }
    if (seq > m->top) {
        return REPLAY_OK;
    }
    if (m->size == 0) {
        return REPLAY_OK;
    }
    if (m->top - seq >= m->size) {
        return REPLAY_STALE;
    }
    if (model_seen(m, seq)) {
        return REPLAY_DUPLICATE;
    }
    return REPLAY_OK;
}

enum replay_result
model_replay_commit(struct model_replay *m, uint64_t seq)
{
    enum replay_result r = model_replay_check(m, seq);

    if (r == REPLAY_OK) {
        if (!model_seen(m, seq)) {
            model_add(m, seq);
        }
        if (seq > m->top) {
            m->top = seq;
        }
    }
    return r;
}
