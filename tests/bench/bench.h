/*
 * espbench: shared declarations of the benchmark driver (bench.c) and the
 * DPDK rte_ipsec baseline (bench-dpdk.c).
 *
 * The driver owns the clock, the packets and the report; each
 * implementation only processes one burst at a time through a
 * 'struct bench_impl' (see docs/performance.md for the method).
 */
#ifndef BENCH_H
#define BENCH_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "esp.h"

enum {
    BENCH_BURST = 32,           /* Packets per burst call. */
    BENCH_RING = 4032,          /* Packets per ring: 126 bursts, and a
                                 * multiple of the 12-packet IMIX cycle. */
    BENCH_BUF_SIZE = 2048,      /* Working buffer per packet. */
    BENCH_HDR_LEN = 28,         /* Inner IPv4 + UDP header. */
    BENCH_OUTER_LEN = 20,       /* Outer IPv4 header, tunnel mode. */
    BENCH_ESP_HDR_LEN = 8,      /* SPI + sequence number. */
    BENCH_IV_LEN = 8,
    BENCH_WINDOW = 1024,        /* Inbound replay window. */
    BENCH_SPI = 0x1000,
    BENCH_MAX_PATTERN = 12,
};

/* One size point: inner (cleartext) IPv4 packet lengths, cycled by packet
 * index.  A fixed size has a pattern of one. */
struct bench_size {
    const char *name;           /* "64", "512", "1400", "imix". */
    unsigned int n;
    uint16_t lens[BENCH_MAX_PATTERN];
};

static inline uint16_t
bench_len(const struct bench_size *s, unsigned int idx)
{
    return s->lens[idx % s->n];
}

/* BENCH_RING pre-encrypted ESP packets (outer IPv4, tunnel mode) with
 * consecutive sequence numbers 1..BENCH_RING, for decap. */
struct bench_ring {
    uint8_t *mem;
    uint32_t off[BENCH_RING];   /* Offset of packet i in 'mem'. */
    uint16_t len[BENCH_RING];   /* Its ESP packet length. */
    uint16_t inner_len[BENCH_RING];
};

/* The cleartext inner packets: 'hdr[i]' is the 28-byte IPv4 + UDP header
 * of packet i (the payload bytes are a fixed pattern). */
struct bench_inner {
    uint8_t hdr[BENCH_RING][BENCH_HDR_LEN];
};

/* One implementation under test, for one suite, size and direction.
 * 'burst' processes packets first..first+BENCH_BURST-1 of the ring (in
 * ring index order) and returns 0 or -1 on any error (a packet that did
 * not come out OK is an error).  'reset' (may be null) runs, untimed,
 * before each pass over the ring: decap uses it to start a fresh replay
 * window. */
struct bench_impl {
    const char *name;
    void *state;
    int (*burst)(void *state, unsigned int first);
    int (*reset)(void *state);
};

/* Test keys: not secret, fixed so that runs are comparable. */
extern const uint8_t bench_key[36];

/* DPDK baseline (bench-dpdk.c).  Each returns 0 or -1 with a reason in
 * 'why' (which is then printed as the reason the baseline is skipped). */
int bdpdk_init(int cpu, char *why, size_t why_size);
int bdpdk_prepare(enum esp_suite, bool encap, const struct bench_size *,
                  const struct bench_inner *, const struct bench_ring *,
                  struct bench_impl *, char *why, size_t why_size);
void bdpdk_release(struct bench_impl *);
/* The device the baseline runs on and, if not the first choice, why. */
const char *bdpdk_note(const struct bench_impl *);
/* Copies the cleartext of packet 'k' of the last burst (decap) or its ESP
 * packet (encap) to 'out'; returns its length. */
size_t bdpdk_last_packet(const struct bench_impl *, unsigned int k,
                         uint8_t *out, size_t size);
void bdpdk_fini(void);

#endif /* bench.h */
