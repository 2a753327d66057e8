/*
 * Anti-replay window (datapath/esp-replay.c): a numbered table of cases,
 * then the real window against the naive model in replay-model.c on random
 * sequences, then ESN inference against its definition on random input.
 *
 * Usage: test-replay [SEED]   (ESP_TEST_QUICK=1 runs fewer iterations)
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "esp.h"
#include "esp-replay.h"
#include "replay-model.h"

#define P32 (UINT64_C(1) << 32)

static int n_passed;
static int n_failed;

static const char *
result_name(enum replay_result r)
{
    switch (r) {
    case REPLAY_OK:
        return "OK";
    case REPLAY_DUPLICATE:
        return "DUPLICATE";
    case REPLAY_STALE:
        return "STALE";
    }
    return "?";
}

/* --- Table of cases ----------------------------------------------------- */

enum step_op {
    END,        /* End of the steps. */
    ACC,        /* check(a) and commit(a) are OK. */
    DUP,        /* check(a) and commit(a) are DUPLICATE. */
    STL,        /* check(a) and commit(a) are STALE. */
    CHK,        /* check(a) == b, no commit. */
    COM,        /* commit(a) == b, no check before. */
    INF,        /* infer(a) == b. */
    TOP,        /* top == b. */
    FILL,       /* ACC of every number in [a, b]. */
};

struct step {
    enum step_op op;
    uint64_t a;
    uint64_t b;
};

struct replay_case {
    const char *what;
    uint32_t size;
    bool esn;
    uint64_t top;               /* Given to replay_init(). */
    struct step steps[12];
};

static const struct replay_case cases[] = {
    /* 1 */ {"first packet is accepted once", 64, false, 0,
             {{ACC, 1, 0}, {DUP, 1, 0}, {TOP, 0, 1}}},
    /* 2 */ {"seq 0 is stale, before and after traffic", 64, false, 0,
             {{STL, 0, 0}, {ACC, 5, 0}, {STL, 0, 0}, {TOP, 0, 5}}},
    /* 3 */ {"seq 0 is stale with ESN (infer(0) early is 0)", 64, true, 0,
             {{INF, 0, 0}, {STL, 0, 0}}},
    /* 4 */ {"early packets, top < size: all of 1..top checked", 64, false,
             0,
             {{ACC, 10, 0}, {ACC, 3, 0}, {DUP, 3, 0}, {ACC, 1, 0},
              {ACC, 9, 0}, {DUP, 10, 0}, {DUP, 1, 0}, {TOP, 0, 10}}},
    /* 5 */ {"first packet far ahead: window edges at once", 64, false, 0,
             {{ACC, 1000, 0}, {STL, 1, 0}, {ACC, 937, 0}, {STL, 936, 0},
              {DUP, 937, 0}}},
    /* 6 */ {"W=64 edges: top-W+1 accepted, top-W stale", 64, false, 0,
             {{ACC, 100, 0}, {ACC, 37, 0}, {STL, 36, 0}, {DUP, 37, 0},
              {STL, 35, 0}}},
    /* 7 */ {"duplicates of top and inside the window", 64, false, 0,
             {{ACC, 50, 0}, {DUP, 50, 0}, {ACC, 45, 0}, {DUP, 45, 0},
              {ACC, 51, 0}, {DUP, 50, 0}, {DUP, 51, 0}, {ACC, 49, 0}}},
    /* 8 */ {"jump forward by W-1: old top still in window, seen", 64,
             false, 0,
             {{ACC, 100, 0}, {ACC, 163, 0}, {DUP, 100, 0}, {STL, 99, 0},
              {ACC, 101, 0}}},
    /* 9 */ {"jump forward by exactly W: old top falls out", 64, false, 0,
             {{ACC, 100, 0}, {ACC, 90, 0}, {ACC, 164, 0}, {STL, 100, 0},
              {STL, 90, 0}, {ACC, 101, 0}, {DUP, 164, 0}}},
    /* 10 */ {"jump forward by W+1", 64, false, 0,
              {{ACC, 100, 0}, {ACC, 165, 0}, {STL, 101, 0}, {ACC, 102, 0},
               {DUP, 165, 0}}},
    /* 11 */ {"jump by the ring (128 bits): slot reused, not a dup", 64,
              false, 0,
              {{ACC, 100, 0}, {ACC, 227, 0}, {ACC, 228, 0}, {DUP, 228, 0},
               {DUP, 227, 0}, {ACC, 226, 0}, {STL, 164, 0}, {ACC, 165, 0}}},
    /* 12 */ {"jump past the ring: old bits cleared", 64, false, 0,
              {{ACC, 99, 0}, {ACC, 100, 0}, {ACC, 1390, 0}, {ACC, 1380, 0},
               {ACC, 1379, 0}, {DUP, 1380, 0}, {STL, 1326, 0},
               {ACC, 1327, 0}}},
    /* 13 */ {"jump of one block boundary clears only the new block", 64,
              false, 0,
              {{ACC, 60, 0}, {ACC, 63, 0}, {ACC, 64, 0}, {ACC, 127, 0},
               {DUP, 64, 0}, {DUP, 127, 0}, {ACC, 128, 0}, {DUP, 127, 0},
               {DUP, 128, 0}, {ACC, 65, 0}, {STL, 64, 0}}},
    /* 14 */ {"W=1: only the top itself or above", 1, false, 0,
              {{ACC, 5, 0}, {DUP, 5, 0}, {STL, 4, 0}, {ACC, 6, 0},
               {STL, 5, 0}, {ACC, 100, 0}, {STL, 99, 0}, {DUP, 100, 0}}},
    /* 15 */ {"W=32 edges", 32, false, 0,
              {{ACC, 40, 0}, {ACC, 9, 0}, {STL, 8, 0}, {DUP, 9, 0},
               {ACC, 72, 0}, {STL, 40, 0}, {ACC, 41, 0}}},
    /* 16 */ {"W=65 (spills into a second block) edges", 65, false, 0,
              {{ACC, 200, 0}, {ACC, 136, 0}, {STL, 135, 0}, {ACC, 265, 0},
               {STL, 200, 0}, {ACC, 201, 0}, {DUP, 265, 0}}},
    /* 17 */ {"W=128 edges", 128, false, 0,
              {{ACC, 1000, 0}, {ACC, 873, 0}, {STL, 872, 0},
               {ACC, 1128, 0}, {STL, 1000, 0}, {ACC, 1001, 0}}},
    /* 18 */ {"W=1000 (not a power of 2), full window", 1000, false, 0,
              {{ACC, 5000, 0}, {ACC, 4001, 0}, {STL, 4000, 0},
               {FILL, 4002, 4999}, {DUP, 4500, 0}, {DUP, 4001, 0},
               {ACC, 5999, 0}, {DUP, 5000, 0}, {STL, 4999, 0}}},
    /* 19 */ {"W=1024, every number in the window seen", 1024, false, 0,
              {{FILL, 1, 3000}, {DUP, 1977, 0}, {STL, 1976, 0},
               {DUP, 3000, 0}, {ACC, 3001, 0}, {STL, 1977, 0}}},
    /* 20 */ {"W=4096 edges and a jump of W", 4096, false, 0,
              {{ACC, 10000, 0}, {ACC, 5905, 0}, {STL, 5904, 0},
               {ACC, 14096, 0}, {STL, 10000, 0}, {ACC, 10001, 0},
               {DUP, 10001, 0}}},
    /* 21 */ {"W=65536 (maximum), full window", 65536, false, 0,
              {{ACC, 100000, 0}, {ACC, 34465, 0}, {STL, 34464, 0},
               {FILL, 34466, 99999}, {DUP, 50000, 0}, {ACC, 165536, 0},
               {STL, 100000, 0}, {ACC, 100001, 0}, {TOP, 0, 165536}}},
    /* 22 */ {"window disabled: no check but seq 0, top still kept", 0,
              false, 0,
              {{ACC, 5, 0}, {ACC, 5, 0}, {ACC, 1, 0}, {STL, 0, 0},
               {ACC, 4000000000u, 0}, {ACC, 1, 0}, {TOP, 0, 4000000000u}}},
    /* 23 */ {"no ESN: 2^32-1 is the last number", 64, false, P32 - 2,
              {{ACC, P32 - 1, 0}, {DUP, P32 - 1, 0}, {INF, 0, 0},
               {STL, 0, 0}, {INF, 5, 5}, {STL, 5, 0}, {STL, P32, 0},
               {DUP, P32 - 2, 0}, {ACC, P32 - 64, 0}, {STL, P32 - 65, 0}}},
    /* 24 */ {"ESN wrap: small seq_lo after top near 2^32-1 is high 1", 64,
              true, P32 - 10,
              {{INF, 5, P32 + 5}, {ACC, P32 + 5, 0}, {INF, 0, P32},
               {ACC, P32, 0}, {DUP, P32, 0}, {INF, 0xffffffff, P32 - 1},
               {ACC, P32 - 1, 0}, {DUP, P32 - 10, 0}, {STL, P32 - 59, 0},
               {TOP, 0, P32 + 5}}},
    /* 25 */ {"ESN: seq_lo near 2^32-1 after top just past 2^32 is high 0",
              64, true, P32 + 5,
              {{INF, 0xfffffffd, P32 - 3}, {ACC, P32 - 3, 0},
               {DUP, P32 - 3, 0}, {INF, 0xffffffc6, P32 - 58},
               {ACC, P32 - 58, 0}, {INF, 0xffffffc5, 2 * P32 - 59},
               {STL, P32 - 59, 0}, {INF, 4, P32 + 4}, {ACC, P32 + 4, 0},
               {DUP, P32 + 5, 0}}},
    /* 26 */ {"ESN case A (App. A): Tl >= W-1", 64, true,
              7 * P32 + 1000,
              {{INF, 937, 7 * P32 + 937}, {INF, 936, 8 * P32 + 936},
               {INF, 2000, 7 * P32 + 2000}, {INF, 0, 8 * P32},
               {INF, 0xffffffff, 8 * P32 - 1}, {ACC, 7 * P32 + 937, 0},
               {STL, 7 * P32 + 936, 0}, {ACC, 8 * P32 + 936, 0},
               {TOP, 0, 8 * P32 + 936}}},
    /* 27 */ {"ESN case B (App. A): Tl < W-1", 64, true, 7 * P32 + 10,
              {{INF, 0xffffffcb, 6 * P32 + 0xffffffcb},
               {INF, 0xffffffca, 7 * P32 + 0xffffffca},
               {INF, 5, 7 * P32 + 5}, {INF, 11, 7 * P32 + 11},
               {ACC, 6 * P32 + 0xffffffcb, 0},
               {STL, 6 * P32 + 0xffffffca, 0}, {ACC, 7 * P32 + 5, 0}}},
    /* 28 */ {"ESN near 2^64: last number, then no high 2^32", 64, true,
              UINT64_MAX - 4,
              {{INF, 0xffffffff, UINT64_MAX}, {ACC, UINT64_MAX, 0},
               {DUP, UINT64_MAX, 0}, {INF, 3, UINT64_MAX - 0xfffffffc},
               {STL, UINT64_MAX - 0xfffffffc, 0},
               {INF, 0xffffffc2, UINT64_MAX - 61}, {ACC, UINT64_MAX - 62,
               0}, {STL, UINT64_MAX - 64, 0}}},
    /* 29 */ {"ESN from top 0: no subspace -1, seq_lo high reads forward",
              64, true, 0,
              {{INF, 0xffffffff, P32 - 1}, {INF, 1, 1}, {ACC, 1, 0},
               {INF, 0xffffffc2, P32 - 62}}},
    /* 30 */ {"ESN window disabled: inference assumes W = 2^31", 0, true,
              3 * P32 + 5,
              {{INF, 0xfffffff6, 2 * P32 + 0xfffffff6},
               {INF, 0x80000006, 2 * P32 + 0x80000006},
               {INF, 0x80000005, 3 * P32 + 0x80000005},
               {ACC, 2 * P32 + 0xfffffff6, 0}, {ACC, 3 * P32 + 5, 0},
               {ACC, 4 * P32, 0}, {TOP, 0, 4 * P32},
               {INF, 0x80000001, 3 * P32 + 0x80000001},
               {INF, 0x80000000, 4 * P32 + 0x80000000}}},
    /* 31 */ {"init with top: top seen, below it accepted once", 64, false,
              1000,
              {{DUP, 1000, 0}, {ACC, 999, 0}, {DUP, 999, 0}, {ACC, 937, 0},
               {STL, 936, 0}, {ACC, 1001, 0}}},
    /* 32 */ {"commit re-checks: two checks pass, second commit is a dup",
              64, false, 0,
              {{ACC, 10, 0}, {CHK, 8, REPLAY_OK}, {CHK, 8, REPLAY_OK},
               {COM, 8, REPLAY_OK}, {COM, 8, REPLAY_DUPLICATE},
               {CHK, 200, REPLAY_OK}, {COM, 100, REPLAY_OK},
               {COM, 10, REPLAY_STALE}, {TOP, 0, 100}}},
    /* 33 */ {"check alone never changes the window", 64, false, 0,
              {{CHK, 50, REPLAY_OK}, {TOP, 0, 0}, {CHK, 50, REPLAY_OK},
               {ACC, 50, 0}, {CHK, 500, REPLAY_OK}, {TOP, 0, 50},
               {ACC, 49, 0}}},
    /* 34 */ {"W=4096 jump of exactly the ring (8192 bits) minus one", 4096,
              false, 0,
              {{ACC, 1, 0}, {ACC, 4096, 0}, {ACC, 8192, 0},
               {ACC, 8192 + 4095, 0}, {DUP, 8192, 0}, {ACC, 8193, 0},
               {STL, 4096, 0}}},
};

static bool
step_expect(int n, int k, const char *who, const char *what,
            enum replay_result got, enum replay_result want, uint64_t seq)
{
    if (got != want) {
        printf("case %d step %d (%s): %s %s(%"PRIu64") = %s, want %s\n",
               n, k, cases[n - 1].what, who, what, seq, result_name(got),
               result_name(want));
        return false;
    }
    return true;
}

/* Runs one step on the real window and on the model: both must give the
 * table's answer, so a wrong model cannot hide a wrong window. */
static bool
run_step(int n, int k, struct replay_window *w, struct model_replay *m,
         enum step_op op, uint64_t a, uint64_t b)
{
    enum replay_result want;
    bool ok = true;

    switch (op) {
    case ACC:
    case DUP:
    case STL:
        want = op == ACC ? REPLAY_OK
               : op == DUP ? REPLAY_DUPLICATE : REPLAY_STALE;
        ok &= step_expect(n, k, "real", "check", replay_check(w, a), want,
                          a);
        ok &= step_expect(n, k, "model", "check", model_replay_check(m, a),
                          want, a);
        ok &= step_expect(n, k, "real", "commit", replay_commit(w, a), want,
                          a);
        ok &= step_expect(n, k, "model", "commit",
                          model_replay_commit(m, a), want, a);
        break;
    case CHK:
        ok &= step_expect(n, k, "real", "check", replay_check(w, a), b, a);
        ok &= step_expect(n, k, "model", "check", model_replay_check(m, a),
                          b, a);
        break;
    case COM:
        ok &= step_expect(n, k, "real", "commit", replay_commit(w, a), b, a);
        ok &= step_expect(n, k, "model", "commit",
                          model_replay_commit(m, a), b, a);
        break;
    case INF: {
        uint64_t real = replay_infer(w, a);
        uint64_t model = model_replay_infer(m, a);

        if (real != b || model != b) {
            printf("case %d step %d (%s): infer(0x%08"PRIx64") = "
                   "0x%016"PRIx64" (model 0x%016"PRIx64"), want "
                   "0x%016"PRIx64"\n", n, k, cases[n - 1].what, a, real,
                   model, b);
            ok = false;
        }
        break;
    }
    case TOP:
        if (w->top != b || m->top != b) {
            printf("case %d step %d (%s): top %"PRIu64" (model %"PRIu64"), "
                   "want %"PRIu64"\n", n, k, cases[n - 1].what, w->top,
                   m->top, b);
            ok = false;
        }
        break;
    case FILL:
        for (uint64_t s = a; ok && s <= b; s++) {
            ok &= run_step(n, k, w, m, ACC, s, 0);
        }
        break;
    case END:
        break;
    }
    return ok;
}

static void
test_table(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct replay_case *c = &cases[i];
        int n = i + 1;
        struct replay_window w;
        struct model_replay m;
        bool ok = true;
        int error;

        error = replay_init(&w, c->size, c->esn, c->top);
        if (error) {
            printf("case %d (%s): replay_init: %s\n", n, c->what,
                   strerror(error));
            n_failed++;
            continue;
        }
        model_replay_init(&m, c->size, c->esn, c->top);
        for (int k = 0; k < 12 && c->steps[k].op != END; k++) {
            const struct step *s = &c->steps[k];

            if (!run_step(n, k + 1, &w, &m, s->op, s->a, s->b)) {
                ok = false;
                break;
            }
        }
        replay_destroy(&w);
        model_replay_destroy(&m);
        ok ? n_passed++ : n_failed++;
    }
}

/* replay_init() arguments and the ring it sizes (RFC 6479: whole blocks,
 * a power of 2, one more than the window needs). */
static void
test_init(void)
{
    static const struct {
        uint32_t size;
        uint32_t n_blocks;
    } rings[] = {
        {1, 2}, {64, 2}, {65, 4}, {128, 4}, {129, 4}, {192, 4}, {193, 8},
        {1000, 32}, {1024, 32}, {4096, 128},
        {ESP_REPLAY_WINDOW_MAX, 2048},
    };
    struct replay_window w;
    bool ok = true;
    int error;

    error = replay_init(&w, ESP_REPLAY_WINDOW_MAX + 1, false, 0);
    if (error != EINVAL) {
        printf("init: size over the maximum: %d, want EINVAL\n", error);
        ok = false;
    }
    replay_destroy(&w);
    error = replay_init(&w, 64, false, P32);
    if (error != EINVAL) {
        printf("init: top 2^32 without ESN: %d, want EINVAL\n", error);
        ok = false;
    }
    replay_destroy(&w);
    error = replay_init(&w, 0, true, 0);
    if (error || w.bitmap) {
        printf("init: size 0: %d, bitmap %p\n", error, (void *) w.bitmap);
        ok = false;
    }
    replay_destroy(&w);
    for (size_t i = 0; i < sizeof rings / sizeof rings[0]; i++) {
        error = replay_init(&w, rings[i].size, false, 0);
        if (error || w.n_blocks != rings[i].n_blocks) {
            printf("init: size %"PRIu32": error %d, %"PRIu32" blocks, "
                   "want %"PRIu32"\n", rings[i].size, error, w.n_blocks,
                   rings[i].n_blocks);
            ok = false;
        }
        replay_destroy(&w);
    }
    ok ? n_passed++ : n_failed++;
}

/* --- Random sequences against the model --------------------------------- */

static uint64_t rng_state;

static uint64_t
rnd(void)
{
    /* splitmix64 */
    uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));

    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static uint64_t
rnd_below(uint64_t n)
{
    return n ? rnd() % n : 0;
}

static const uint32_t sizes[] = {
    0, 1, 2, 3, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129, 192, 1000,
    1023, 1024, 4096, 4097, 65535, 65536,
};

static uint64_t
random_start(bool esn, uint32_t size)
{
    uint64_t slack = 3 * (uint64_t) size + 200;

    switch (rnd_below(esn ? 6 : 4)) {
    case 0:
        return 0;
    case 1:
        return rnd_below(slack);
    case 2:
        return P32 - 1 - rnd_below(slack);
    case 3:
        return rnd() & (P32 - 1);
    case 4:
        return UINT64_MAX - rnd_below(slack);
    default:
        return (rnd() & ~(P32 - 1)) | rnd_below(slack);
    }
}

/* A sequence number near what a sender, a reordering network or an
 * attacker would produce next. */
static uint64_t
random_seq(const struct model_replay *m, const struct replay_window *w,
           const uint64_t *recent, size_t n_recent)
{
    uint64_t top = m->top;
    uint64_t size = m->size;
    uint64_t ring = (uint64_t) w->n_blocks * 64;

    switch (rnd_below(16)) {
    case 0:
    case 1:
    case 2:
    case 3:
        return top + 1 + rnd_below(3);
    case 4:
        return top + size + rnd_below(3) - 1;
    case 5:
        return top + ring + rnd_below(5) - 2;
    case 6:
        return top + rnd_below(rnd_below(2) ? 1 << 20 : P32 + P32);
    case 7:
        /* Close to the next 2^32 boundary, to cross it again and again
         * with ESN. */
        if (m->esn) {
            return (((top >> 32) + 1) << 32) - rnd_below(size + 64);
        }
        return top + 1;
    case 8:
        return top - size + rnd_below(5) - 2;
    case 9:
    case 10:
        return top - rnd_below(size + 1);
    case 11:
    case 12:
    case 13:
        return n_recent ? recent[rnd_below(n_recent)] : top;
    case 14:
        return top - size - rnd_below(rnd_below(2) ? 100 : P32);
    default:
        return rnd_below(4) ? top : rnd();
    }
}

static bool
compare_results(const char *what, int run, uint64_t op, uint64_t seq,
                enum replay_result real, enum replay_result model,
                const struct model_replay *m)
{
    if (real != model) {
        printf("random run %d op %"PRIu64" (size %"PRIu32", esn %d, top "
               "0x%"PRIx64"): %s(0x%"PRIx64") = %s, model %s\n", run, op,
               m->size, m->esn, m->top, what, seq, result_name(real),
               result_name(model));
        return false;
    }
    return true;
}

static uint64_t
random_run(int run, uint64_t n_ops)
{
    /* Every size, with and without ESN, several times. */
    int n_sizes = sizeof sizes / sizeof sizes[0];
    uint32_t size = sizes[run % n_sizes];
    bool esn = run / n_sizes % 2;
    uint64_t start = random_start(esn, size);
    uint64_t recent[64];
    size_t n_recent = 0;
    struct replay_window w;
    struct model_replay m;
    uint64_t op;
    bool ok = true;
    int error;

    error = replay_init(&w, size, esn, start);
    if (error) {
        printf("random run %d: replay_init(%"PRIu32", %d, 0x%"PRIx64"): "
               "%s\n", run, size, esn, start, strerror(error));
        n_failed++;
        return 0;
    }
    model_replay_init(&m, size, esn, start);

    for (op = 0; ok && op < n_ops; op++) {
        uint64_t seq = random_seq(&m, &w, recent, n_recent);
        enum replay_result r = REPLAY_OK, rm = REPLAY_OK;

        if (!esn && rnd_below(64)) {
            /* Mostly what the wire can carry; now and then a number no
             * non-ESN packet can have, which must be refused. */
            seq &= P32 - 1;
        }
        if (rnd_below(8)) {
            /* The usual path: only the low half is on the wire. */
            uint32_t lo = seq;
            uint64_t real = replay_infer(&w, lo);

            seq = model_replay_infer(&m, lo);
            if (real != seq) {
                printf("random run %d op %"PRIu64" (size %"PRIu32", esn %d, "
                       "top 0x%"PRIx64"): infer(0x%08"PRIx32") = "
                       "0x%"PRIx64", model 0x%"PRIx64"\n", run, op, size,
                       esn, m.top, lo, real, seq);
                ok = false;
                break;
            }
        }
        if (rnd_below(16)) {
            r = replay_check(&w, seq);
            rm = model_replay_check(&m, seq);
            ok &= compare_results("check", run, op, seq, r, rm, &m);
            if (!ok || r != REPLAY_OK || !rnd_below(16)) {
                /* Dropped, or as if the ICV failed. */
                continue;
            }
        }
        /* Commit after a check, or alone (as after a racing commit). */
        r = replay_commit(&w, seq);
        rm = model_replay_commit(&m, seq);
        ok &= compare_results("commit", run, op, seq, r, rm, &m);
        if (r == REPLAY_OK) {
            recent[n_recent < 64 ? n_recent++ : rnd_below(64)] = seq;
        }
        if (w.top != m.top) {
            printf("random run %d op %"PRIu64": top 0x%"PRIx64", model "
                   "0x%"PRIx64"\n", run, op, w.top, m.top);
            ok = false;
        }
    }
    replay_destroy(&w);
    model_replay_destroy(&m);
    ok ? n_passed++ : n_failed++;
    return op;
}

static void
test_random(bool quick, uint64_t seed)
{
    uint64_t total = 0;
    uint64_t per_run = quick ? 500 : 5000;
    int run;

    rng_state = seed;
    for (run = 0; run < 200; run++) {
        total += random_run(run, per_run);
    }
    printf("test-replay: %"PRIu64" random operations in %d runs\n", total,
           run);
}

/* --- ESN inference against its definition ------------------------------ */

static void
test_infer(bool quick, uint64_t seed)
{
    uint64_t n = quick ? 100000 : 1000000;
    int failures = 0;

    rng_state = seed ^ UINT64_C(0x5eed);
    for (uint64_t i = 0; i < n && failures < 10; i++) {
        struct replay_window w;
        uint64_t top, want, got;
        uint32_t lo, bottom, wm1;

        memset(&w, 0, sizeof w);
        w.esn = rnd_below(16) != 0;
        w.size = rnd_below(2) ? sizes[rnd_below(sizeof sizes
                                                / sizeof sizes[0])]
                 : 1 + rnd_below(ESP_REPLAY_WINDOW_MAX);
        wm1 = (w.size ? w.size : UINT32_C(1) << 31) - 1;

        switch (rnd_below(6)) {
        case 0:
            top = rnd();
            break;
        case 1:
            top = (rnd() & ~(P32 - 1)) | rnd_below(2 * (uint64_t) wm1 + 3);
            break;
        case 2:
            top = (rnd() & ~(P32 - 1)) | (P32 - 1 - rnd_below(100));
            break;
        case 3:
            top = rnd() & (P32 - 1);
            break;
        case 4:
            top = (P32 - 1) << 32 | rnd_below(P32);
            break;
        default:
            top = rnd_below(2) ? rnd_below(2 * (uint64_t) wm1 + 3)
                  : UINT64_MAX - rnd_below(2 * (uint64_t) wm1 + 3);
            break;
        }
        w.top = top;

        bottom = (uint32_t) top - wm1;
        switch (rnd_below(4)) {
        case 0:
            lo = rnd();
            break;
        case 1:
            lo = bottom + rnd_below(7) - 3;
            break;
        case 2:
            lo = (uint32_t) top + rnd_below(7) - 3;
            break;
        default:
            lo = rnd_below(2) ? rnd_below(4) : UINT32_MAX - rnd_below(4);
            break;
        }

        got = replay_infer(&w, lo);
        want = model_infer(top, w.size, w.esn, lo);
        if (got != want || (got & (P32 - 1)) != lo) {
            printf("infer: top 0x%016"PRIx64" size %"PRIu32" esn %d lo "
                   "0x%08"PRIx32": 0x%016"PRIx64", want 0x%016"PRIx64"\n",
                   top, w.size, w.esn, lo, got, want);
            failures++;
        }
    }
    failures ? n_failed++ : n_passed++;
}

int
main(int argc, char *argv[])
{
    const char *q = getenv("ESP_TEST_QUICK");
    bool quick = q && *q && strcmp(q, "0");
    uint64_t seed;

    if (argc > 1) {
        seed = strtoull(argv[1], NULL, 0);
    } else {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        seed = (uint64_t) ts.tv_sec * 1000000007u ^ ts.tv_nsec
               ^ (uint64_t) getpid() << 40;
    }
    printf("test-replay: seed 0x%016"PRIx64"%s\n", seed,
           quick ? " (quick)" : "");

    test_table();
    test_init();
    test_random(quick, seed);
    test_infer(quick, seed);

    printf("test-replay: %d passed, %d failed\n", n_passed, n_failed);
    return n_failed ? 1 : 0;
}
