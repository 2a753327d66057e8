/* Minimal table-friendly test helpers: CHECK counts, never aborts. */
#ifndef TESTLIB_H
#define TESTLIB_H 1

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static unsigned int test_passed, test_failed;
static const char *test_case = "";

#define CHECK(cond)                                                     \
    do {                                                                \
        if (cond) {                                                     \
            test_passed++;                                              \
        } else {                                                        \
            test_failed++;                                              \
            printf("FAIL %s:%d [%s]: %s\n", __FILE__, __LINE__,         \
                   test_case, #cond);                                   \
        }                                                               \
    } while (0)

#define CHECK_EQ(a, b)                                                  \
    do {                                                                \
        long long a_ = (long long) (a), b_ = (long long) (b);           \
        if (a_ == b_) {                                                 \
            test_passed++;                                              \
        } else {                                                        \
            test_failed++;                                              \
            printf("FAIL %s:%d [%s]: %s == %s (%lld != %lld)\n",        \
                   __FILE__, __LINE__, test_case, #a, #b, a_, b_);      \
        }                                                               \
    } while (0)

static inline int
test_summary(const char *name)
{
    printf("%s: %u passed, %u failed\n", name, test_passed, test_failed);
    return test_failed ? 1 : 0;
}

static inline int
test_quick(void)
{
    return getenv("ESP_TEST_QUICK") != NULL;
}

/* RFC 1071: the one's complement sum of the 16-bit words at 'p', folded
 * (not complemented), a reference independent of the engine's esp_csum().
 * A trailing odd byte is ignored: the tests sum IP headers. */
static inline uint16_t
test_ones_sum(const uint8_t *p, size_t len)
{
    uint32_t sum = 0;

    for (size_t i = 0; i + 1 < len; i += 2) {
        sum += p[i] << 8 | p[i + 1];
    }
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return sum;
}

#endif /* testlib.h */
