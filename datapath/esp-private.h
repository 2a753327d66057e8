/*
 * ESP engine internals shared by esp-sa.c, esp-out.c and esp-in.c.
 */
#ifndef ESP_PRIVATE_H
#define ESP_PRIVATE_H 1

#include <stdatomic.h>
#include <string.h>
#include "esp.h"
#include "esp-crypto.h"
#include "esp-replay.h"

enum {
    ESP_HDR_LEN = 8,            /* SPI + sequence number. */
    IPV4_HDR_LEN = 20,
    IPV6_HDR_LEN = 40,
    UDP_HDR_LEN = 8,
    IPPROTO_ESP_ = 50,
    IPPROTO_NONE_ = 59,
    IPV4_DF = 0x4000,
    IPV4_MF = 0x2000,
    IPV4_FRAG_OFF_MASK = 0x1fff,
};

struct esp_sa {
    /* Set at creation, read-only afterwards. */
    uint32_t spi;
    enum esp_dir dir;
    enum esp_mode mode;
    enum esp_suite suite;
    bool aead;
    bool esn;
    bool udp_encap;
    bool fixed_iv;              /* params.iv given (testing only). */
    bool inline_crypto;         /* The NIC does the crypto (esp.h). */
    uint8_t iv_len;             /* 8 (AEAD) or 16 (CBC). */
    uint8_t align;              /* Payload alignment: 4 or 16. */
    uint8_t ttl;
    uint8_t dscp;
    bool dscp_fixed;
    enum esp_df_mode df;
    enum esp_ecn_mode ecn;
    uint16_t sport, dport;
    struct esp_addr src, dst;
    uint32_t outer_csum;        /* Tunnel IPv4: sum of the outer header's
                                 * per-SA words (TTL/protocol, addresses). */
    uint8_t salt[ESP_SALT_LEN];
    uint8_t iv_base[16];        /* fixed_iv: IV of sequence number 0. */
    uint64_t seq_max;           /* 2^32-1, or 2^64-1 with ESN. */
    struct esp_lifetime soft, hard;
    uint64_t created;
    struct esp_selector sel[ESP_MAX_SELECTORS];
    unsigned int n_sel;
    const struct esp_crypto_engine *engine;
    void *ctx;

    /* Outbound: last sequence number reserved. */
    _Atomic uint64_t seq;
    _Atomic uint32_t ip_id;

    /* Inbound: replay state, 'lock' serializes commits. */
    struct replay_window replay;
    atomic_flag lock;

    /* Statistics and events. */
    _Atomic uint64_t packets;
    _Atomic uint64_t bytes;
    _Atomic uint64_t drops[ESP_N_VERDICTS];
    _Atomic uint32_t events_raised;     /* Ever raised: raise once. */
    _Atomic uint32_t events_pending;    /* Not yet taken. */

    /* SAD membership. */
    struct esp_sa *_Atomic next;

    _Atomic uint64_t offload_sw;        /* esp_sa_stats.offload_sw. */
};

/* Internal helpers (esp-sa.c). */
void esp_sa_raise(struct esp_sa *, uint32_t events);
void esp_sa_count(struct esp_sa *, uint64_t packets, uint64_t bytes,
                  const uint32_t drops[ESP_N_VERDICTS]);
bool esp_sa_hard_expired(struct esp_sa *, uint64_t now);
void esp_sa_check_soft(struct esp_sa *, uint64_t now);
void esp_sad_count(struct esp_sad *, enum esp_verdict);

/* Packet helpers (esp-sa.c). */
struct esp_flow {
    struct esp_addr src, dst;
    uint8_t proto;
    bool has_ports;
    uint16_t sport, dport;
};
bool esp_parse_flow(const uint8_t *ip, size_t len, struct esp_flow *);
bool esp_flow_match(const struct esp_sa *, const struct esp_flow *);
uint16_t esp_csum(const void *data, size_t len, uint32_t sum);
bool esp_ipv6_ext(uint8_t nh);

/* RFC 1624 section 3, eqn. 3: the IPv4 header checksum 'hc' after the
 * total length went from 'old_len' to 'new_len' and the protocol from
 * 'old_proto' to 'new_proto', the TTL beside it unchanged:
 *
 *     HC' = ~(~HC + ~m + m')
 *
 * for each changed 16-bit word m.  The TTL/protocol word changes by
 * new_proto - old_proto, which is what ~old_proto + new_proto adds.
 * Everything comes from registers: recomputing the sum over a header
 * just written stalls on store forwarding (esp-out.c, esp-in.c).
 *
 * Equal to a full recomputation (esp_csum()) whenever 'hc' verified,
 * including the edge cases of a computed 0x0000 and its other form
 * 0xffff (RFC 1624 section 3): a verified HC makes ~HC congruent modulo
 * 0xffff to the sum of the other words, so the sum below is congruent to
 * the full sum of the new header; neither is ever +0 (folding a nonzero
 * sum never gives 0, and m', the total length, is at least 20; a header
 * starts with a nonzero version), so both lie in 1..0xffff, hence are
 * equal.  Eqn. 3 is the form without eqn. 2's -0 problem (RFC 1624
 * section 4).  A checksum that did not verify stays wrong (an incremental
 * update carries the error over, it never repairs it): the receiver still
 * drops the packet.  tests/unit/test-csum.c checks all of this. */
static inline uint16_t
esp_ipv4_csum_update(uint16_t hc, uint16_t old_len, uint16_t new_len,
                     uint8_t old_proto, uint8_t new_proto)
{
    uint32_t sum = (uint16_t) ~hc;

    sum += (uint16_t) ~old_len + (uint32_t) new_len;
    sum += (uint16_t) ~old_proto + (uint32_t) new_proto;
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return ~sum;
}

/* RFC 1624 eqn. 3 for one changed 16-bit word. */
static inline uint16_t
esp_csum_replace16(uint16_t hc, uint16_t old, uint16_t new)
{
    uint32_t sum = (uint32_t) (uint16_t) ~hc + (uint16_t) ~old + new;

    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return ~sum;
}

static inline uint16_t
get_be16(const uint8_t *p)
{
    return (uint16_t) (p[0] << 8 | p[1]);
}

static inline uint32_t
get_be32(const uint8_t *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16
           | (uint32_t) p[2] << 8 | p[3];
}

static inline void
put_be16(uint8_t *p, uint16_t v)
{
    p[0] = v >> 8;
    p[1] = v;
}

static inline void
put_be32(uint8_t *p, uint32_t v)
{
    p[0] = v >> 24;
    p[1] = v >> 16;
    p[2] = v >> 8;
    p[3] = v;
}

static inline void
put_be64(uint8_t *p, uint64_t v)
{
    put_be32(p, v >> 32);
    put_be32(p + 4, v);
}

static inline uint64_t
get_be64(const uint8_t *p)
{
    return (uint64_t) get_be32(p) << 32 | get_be32(p + 4);
}

#endif /* esp-private.h */
