/* The RFC 1071 reference sum of the tests and the benchmark. */
#ifndef ONES_SUM_H
#define ONES_SUM_H 1

#include <stddef.h>
#include <stdint.h>

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

#endif
