/*
 * Allocation helpers of the policy compiler: out of memory aborts (the
 * agent cannot do anything useful without it).  Static inline so that
 * files linked with Open vSwitch's own xmalloc() family do not clash.
 */
#ifndef CTL_UTIL_H
#define CTL_UTIL_H 1

#include <stdlib.h>
#include <string.h>

static inline void *
ctl_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);

    if (!p) {
        abort();
    }
    return p;
}

static inline void *
ctl_xrealloc(void *p, size_t size)
{
    p = realloc(p, size ? size : 1);
    if (!p) {
        abort();
    }
    return p;
}

static inline char *
ctl_xstrdup(const char *s)
{
    char *p = strdup(s);

    if (!p) {
        abort();
    }
    return p;
}

#endif /* ctl-util.h */
