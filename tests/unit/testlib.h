/* Minimal table-friendly test helpers: CHECK counts, never aborts. */
#ifndef TESTLIB_H
#define TESTLIB_H 1

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "ones-sum.h"

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


#endif /* testlib.h */
