/*
 * A deliberately naive anti-replay window for tests: the set of every
 * sequence number ever accepted plus the highest one, and RFC 4303
 * section 3.4.3 / appendix A.2 written as plainly as possible.  Compared
 * with datapath/esp-replay.c on random input by test-replay.
 */
#ifndef REPLAY_MODEL_H
#define REPLAY_MODEL_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "esp-replay.h"

struct model_replay {
    uint64_t top;               /* Highest sequence number accepted. */
    uint32_t size;              /* Window, 0 = no check. */
    bool esn;
    uint64_t *seen;             /* Hash set of accepted numbers, 0 = free. */
    size_t n_seen;
    size_t cap;                 /* Slots in 'seen', a power of 2. */
};

void model_replay_init(struct model_replay *, uint32_t size, bool esn,
                       uint64_t top);
void model_replay_destroy(struct model_replay *);
uint64_t model_replay_infer(const struct model_replay *, uint32_t seq_lo);
uint64_t model_infer(uint64_t top, uint32_t size, bool esn, uint32_t seq_lo);
enum replay_result model_replay_check(const struct model_replay *,
                                      uint64_t seq);
enum replay_result model_replay_commit(struct model_replay *, uint64_t seq);

#endif /* replay-model.h */
