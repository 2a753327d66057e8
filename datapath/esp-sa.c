/*
 * SAs, the SA database, names, counters and the packet helpers shared by
 * encap and decap.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "esp-private.h"

/* Names. */

static const char *const verdict_names[ESP_N_VERDICTS] = {
    [ESP_OK] = "ok",
    [ESP_PASS_KEEPALIVE] = "keepalive",
    [ESP_PASS_NON_ESP] = "non_esp",
    [ESP_DROP_NO_SA] = "no_sa",
    [ESP_DROP_ENCAP] = "encap",
    [ESP_DROP_SHORT] = "short",
    [ESP_DROP_MALFORMED] = "malformed",
    [ESP_DROP_FRAGMENT] = "fragment",
    [ESP_DROP_REPLAY] = "replay",
    [ESP_DROP_STALE] = "stale",
    [ESP_DROP_AUTH] = "auth",
    [ESP_DROP_PAD] = "pad",
    [ESP_DROP_NEXT_HEADER] = "next_header",
    [ESP_DROP_SELECTOR] = "selector",
    [ESP_DROP_ECN] = "ecn",
    [ESP_DROP_SEQ_OVERFLOW] = "seq_overflow",
    [ESP_DROP_LIFETIME] = "lifetime",
    [ESP_DROP_NO_ROOM] = "no_room",
    [ESP_DROP_TOO_BIG] = "too_big",
    [ESP_DROP_WRONG_DIR] = "wrong_dir",
    [ESP_DROP_CRYPTO] = "crypto",
    [ESP_DROP_DUMMY] = "dummy",
    [ESP_DROP_OFFLOAD_AUTH] = "offload_auth",
    [ESP_DROP_OFFLOAD_MISMATCH] = "offload_mismatch",
};

const char *
esp_verdict_name(enum esp_verdict v)
{
    return (unsigned int) v < ESP_N_VERDICTS ? verdict_names[v] : "unknown";
}

struct suite_info {
    const char *name;
    size_t key_len;             /* Including the AEAD salt. */
    size_t auth_key_len;
    bool aead;
};

static const struct suite_info suites[ESP_N_SUITES] = {
    [ESP_SUITE_AES_GCM_128] = { "aes-gcm-128", 16 + 4, 0, true },
    [ESP_SUITE_AES_GCM_256] = { "aes-gcm-256", 32 + 4, 0, true },
    [ESP_SUITE_CHACHA20_POLY1305] = { "chacha20-poly1305", 32 + 4, 0, true },
    [ESP_SUITE_AES_CBC_128_HMAC_SHA256] = {
        "aes-cbc-128-hmac-sha256-128", 16, 32, false },
    [ESP_SUITE_AES_CBC_256_HMAC_SHA256] = {
        "aes-cbc-256-hmac-sha256-128", 32, 32, false },
};

const char *
esp_suite_name(enum esp_suite s)
{
    return (unsigned int) s < ESP_N_SUITES ? suites[s].name : "unknown";
}

int
esp_suite_from_name(const char *name, enum esp_suite *s)
{
    for (int i = 0; i < ESP_N_SUITES; i++) {
        if (!strcmp(name, suites[i].name)) {
            *s = i;
            return 0;
        }
    }
    return EINVAL;
}

size_t
esp_suite_key_len(enum esp_suite s)
{
    return (unsigned int) s < ESP_N_SUITES ? suites[s].key_len : 0;
}

size_t
esp_suite_auth_key_len(enum esp_suite s)
{
    return (unsigned int) s < ESP_N_SUITES ? suites[s].auth_key_len : 0;
}

/* SA creation. */

static int
fail(char *err, size_t err_size, int error, const char *fmt, ...)
{
    if (err && err_size) {
        va_list args;

        va_start(args, fmt);
        vsnprintf(err, err_size, fmt, args);
        va_end(args);
    }
    return error;
}

static bool
addr_valid(const struct esp_addr *a)
{
    return a->family == 0 || a->family == AF_INET || a->family == AF_INET6;
}

static int
check_selector(const struct esp_selector *s, unsigned int i,
               char *err, size_t err_size)
{
    if (!addr_valid(&s->src) || !addr_valid(&s->dst)) {
        return fail(err, err_size, EINVAL,
                    "selector %u: address family must be IPv4 or IPv6", i);
    }
    if (s->src_plen > (s->src.family == AF_INET ? 32 : 128)
        || s->dst_plen > (s->dst.family == AF_INET ? 32 : 128)
        || (!s->src.family && s->src_plen)
        || (!s->dst.family && s->dst_plen)) {
        return fail(err, err_size, EINVAL,
                    "selector %u: prefix length out of range", i);
    }
    if (s->src.family && s->dst.family && s->src.family != s->dst.family) {
        return fail(err, err_size, EINVAL,
                    "selector %u: source and destination families differ",
                    i);
    }
    if (s->sport_lo > s->sport_hi || s->dport_lo > s->dport_hi) {
        return fail(err, err_size, EINVAL,
                    "selector %u: port range low end above high end", i);
    }
    return 0;
}

int
esp_sa_create(const struct esp_sa_params *p, struct esp_sa **sap,
              char *err, size_t err_size)
{
    const struct suite_info *si;
    struct esp_sa *sa;
    int error;

    *sap = NULL;
    if (p->dir != ESP_DIR_OUT && p->dir != ESP_DIR_IN) {
        return fail(err, err_size, EINVAL, "direction must be in or out");
    }
    if (p->mode != ESP_MODE_TUNNEL && p->mode != ESP_MODE_TRANSPORT) {
        return fail(err, err_size, EINVAL,
                    "mode must be tunnel or transport");
    }
    if ((unsigned int) p->suite >= ESP_N_SUITES) {
        return fail(err, err_size, EINVAL, "unknown suite");
    }
    si = &suites[p->suite];
    if (p->spi < 256) {
        /* RFC 4303 section 2.1: SPIs 1-255 are reserved, 0 is local. */
        return fail(err, err_size, EINVAL,
                    "spi 0x%08"PRIx32": SPIs 0-255 are reserved "
                    "(RFC 4303 section 2.1)", p->spi);
    }
    if (!p->key || p->key_len != si->key_len) {
        return fail(err, err_size, EINVAL, si->aead
                    ? "key: %s needs %zu bytes (%zu key + 4 salt), got %zu"
                    : "key: %s needs %zu bytes%.0zu, got %zu",
                    si->name, si->key_len, si->key_len - 4,
                    p->key ? p->key_len : 0);
    }
    if (si->auth_key_len
        && (!p->auth_key || p->auth_key_len != si->auth_key_len)) {
        return fail(err, err_size, EINVAL,
                    "auth-key: hmac-sha256-128 needs %zu bytes, got %zu",
                    si->auth_key_len, p->auth_key ? p->auth_key_len : 0);
    }
    if (!si->auth_key_len && p->auth_key) {
        return fail(err, err_size, EINVAL,
                    "auth-key: %s is an AEAD and takes no auth key",
                    si->name);
    }
    if (!addr_valid(&p->src) || !addr_valid(&p->dst)) {
        return fail(err, err_size, EINVAL,
                    "address family must be IPv4 or IPv6");
    }
    if (p->mode == ESP_MODE_TUNNEL && p->dir == ESP_DIR_OUT
        && (!p->src.family || p->src.family != p->dst.family)) {
        return fail(err, err_size, EINVAL,
                    "tunnel mode needs src and dst of the same family");
    }
    if (p->src.family && p->dst.family && p->src.family != p->dst.family) {
        return fail(err, err_size, EINVAL,
                    "src and dst must be of the same family");
    }
    if (p->replay_window > ESP_REPLAY_WINDOW_MAX) {
        return fail(err, err_size, EINVAL,
                    "replay-window: %"PRIu32" is over the maximum %d",
                    p->replay_window, ESP_REPLAY_WINDOW_MAX);
    }
    if (!p->esn && p->seq > UINT32_MAX) {
        return fail(err, err_size, EINVAL,
                    "seq: %"PRIu64" needs esn=on (over 2^32-1)", p->seq);
    }
    if (p->n_sel > ESP_MAX_SELECTORS) {
        return fail(err, err_size, EINVAL, "at most %d selectors",
                    ESP_MAX_SELECTORS);
    }
    for (unsigned int i = 0; i < p->n_sel; i++) {
        error = check_selector(&p->sel[i], i, err, err_size);
        if (error) {
            return error;
        }
    }
    if (p->iv && (p->dir != ESP_DIR_OUT
                  || p->iv_len != (si->aead ? 8 : 16))) {
        return fail(err, err_size, EINVAL,
                    "iv: outbound only, %d bytes for %s",
                    si->aead ? 8 : 16, si->name);
    }
    if (p->df > ESP_DF_CLEAR || p->ecn > ESP_ECN_COMPAT || p->dscp > 63) {
        return fail(err, err_size, EINVAL, "df, ecn or dscp out of range");
    }

    sa = calloc(1, sizeof *sa);
    if (!sa) {
        return fail(err, err_size, ENOMEM, "out of memory");
    }
    sa->spi = p->spi;
    sa->dir = p->dir;
    sa->mode = p->mode;
    sa->suite = p->suite;
    sa->aead = si->aead;
    sa->esn = p->esn;
    sa->udp_encap = p->udp_encap;
    sa->inline_crypto = p->inline_crypto;
    sa->iv_len = si->aead ? 8 : 16;
    sa->align = si->aead ? 4 : 16;
    sa->ttl = p->ttl ? p->ttl : 64;
    sa->dscp = p->dscp;
    sa->dscp_fixed = p->dscp_fixed;
    sa->df = p->df;
    sa->ecn = p->ecn;
    sa->sport = p->sport ? p->sport : ESP_NATT_PORT;
    sa->dport = p->dport ? p->dport : ESP_NATT_PORT;
    sa->src = p->src;
    sa->dst = p->dst;
    sa->seq_max = p->esn ? UINT64_MAX : UINT32_MAX;
    sa->soft = p->soft;
    sa->hard = p->hard;
    sa->created = p->now;
    if (sa->src.family == AF_INET && sa->dst.family == AF_INET) {
        const uint8_t *a = sa->src.bytes, *b = sa->dst.bytes;

        sa->outer_csum = (sa->ttl << 8 | (p->udp_encap ? IPPROTO_UDP
                                                       : IPPROTO_ESP_))
                         + get_be16(a) + get_be16(a + 2)
                         + get_be16(b) + get_be16(b + 2);
    }
    memcpy(sa->sel, p->sel, p->n_sel * sizeof sa->sel[0]);
    sa->n_sel = p->n_sel;
    atomic_init(&sa->seq, p->seq);
    atomic_flag_clear(&sa->lock);
    if (si->aead) {
        memcpy(sa->salt, p->key + p->key_len - ESP_SALT_LEN, ESP_SALT_LEN);
    }
    if (p->iv) {
        /* IV(seq) = iv + (seq - first): store IV(0) in the low 64 bits. */
        uint8_t *low = sa->iv_base + sa->iv_len - 8;

        sa->fixed_iv = true;
        memcpy(sa->iv_base, p->iv, p->iv_len);
        put_be64(low, get_be64(low) - (p->seq + 1));
    }

    sa->engine = p->engine ? p->engine : esp_crypto_default();
    if (!sa->engine->supports(p->suite)) {
        error = fail(err, err_size, EOPNOTSUPP,
                     "engine %s does not implement %s", sa->engine->name,
                     si->name);
        goto error;
    }
    error = sa->engine->ctx_create(p->suite, p->key,
                                   si->aead ? p->key_len - ESP_SALT_LEN
                                            : p->key_len,
                                   p->auth_key, p->auth_key_len, &sa->ctx);
    if (error) {
        fail(err, err_size, error, "engine %s: cannot create key context "
             "for %s: %s", sa->engine->name, si->name, strerror(error));
        goto error;
    }
    if (p->dir == ESP_DIR_IN) {
        error = replay_init(&sa->replay, p->replay_window, p->esn, p->seq);
        if (error) {
            fail(err, err_size, error, "replay window: %s", strerror(error));
            goto error;
        }
    }
    *sap = sa;
    return 0;

error:
    esp_sa_destroy(sa);
    return error;
}

void
esp_sa_destroy(struct esp_sa *sa)
{
    if (!sa) {
        return;
    }
    if (sa->ctx) {
        sa->engine->ctx_destroy(sa->ctx);
    }
    replay_destroy(&sa->replay);
    explicit_bzero(sa, sizeof *sa);
    free(sa);
}

uint32_t
esp_sa_spi(const struct esp_sa *sa)
{
    return sa->spi;
}

enum esp_dir
esp_sa_dir(const struct esp_sa *sa)
{
    return sa->dir;
}

void
esp_sa_get_stats(const struct esp_sa *sa, struct esp_sa_stats *st)
{
    st->packets = atomic_load_explicit(&sa->packets, memory_order_relaxed);
    st->bytes = atomic_load_explicit(&sa->bytes, memory_order_relaxed);
    for (int i = 0; i < ESP_N_VERDICTS; i++) {
        st->drops[i] = atomic_load_explicit(&sa->drops[i],
                                            memory_order_relaxed);
    }
    if (sa->dir == ESP_DIR_OUT) {
        uint64_t seq = atomic_load_explicit(&sa->seq, memory_order_relaxed);

        st->seq = seq < sa->seq_max ? seq : sa->seq_max;
    } else {
        st->seq = __atomic_load_n(&sa->replay.top, __ATOMIC_RELAXED);
    }
    st->offload_sw = atomic_load_explicit(&sa->offload_sw,
                                          memory_order_relaxed);
}

void
esp_sa_set_inline_crypto(struct esp_sa *sa, bool on)
{
    sa->inline_crypto = on;
}

bool
esp_sa_inline_crypto(const struct esp_sa *sa)
{
    return sa->inline_crypto;
}

/* Events. */

void
esp_sa_raise(struct esp_sa *sa, uint32_t events)
{
    uint32_t old = atomic_fetch_or(&sa->events_raised, events);
    uint32_t new = events & ~old;

    if (new) {
        atomic_fetch_or(&sa->events_pending, new);
    }
}

uint32_t
esp_sa_take_events(struct esp_sa *sa)
{
    return atomic_exchange(&sa->events_pending, 0);
}

static bool
over(uint64_t value, uint64_t limit)
{
    return limit && value >= limit;
}

static bool
lifetime_reached(const struct esp_sa *sa, const struct esp_lifetime *lt,
                 uint64_t now)
{
    return over(atomic_load_explicit(&sa->packets, memory_order_relaxed),
                lt->packets)
           || over(atomic_load_explicit(&sa->bytes, memory_order_relaxed),
                   lt->bytes)
           || (lt->seconds && now >= sa->created
               && now - sa->created >= lt->seconds);
}

/* Whether the hard lifetime has run out; raises the event if so. */
bool
esp_sa_hard_expired(struct esp_sa *sa, uint64_t now)
{
    if (lifetime_reached(sa, &sa->hard, now)) {
        esp_sa_raise(sa, ESP_EV_HARD_EXPIRED | ESP_EV_SOFT_EXPIRED);
        return true;
    }
    return false;
}

void
esp_sa_check_soft(struct esp_sa *sa, uint64_t now)
{
    if (lifetime_reached(sa, &sa->soft, now)) {
        esp_sa_raise(sa, ESP_EV_SOFT_EXPIRED);
    }
}

void
esp_sa_tick(struct esp_sa *sa, uint64_t now)
{
    if (!esp_sa_hard_expired(sa, now)) {
        esp_sa_check_soft(sa, now);
    }
}

void
esp_sa_count(struct esp_sa *sa, uint64_t packets, uint64_t bytes,
             const uint32_t drops[ESP_N_VERDICTS])
{
    if (packets) {
        atomic_fetch_add_explicit(&sa->packets, packets,
                                  memory_order_relaxed);
        atomic_fetch_add_explicit(&sa->bytes, bytes, memory_order_relaxed);
    }
    for (int i = 0; i < ESP_N_VERDICTS; i++) {
        if (drops[i]) {
            atomic_fetch_add_explicit(&sa->drops[i], drops[i],
                                      memory_order_relaxed);
        }
    }
}

/* The SA database: a fixed hash of SPI buckets with singly linked chains.
 * Readers (data path) walk chains with acquire loads; the one writer
 * publishes with release stores.  A removed SA may still be in use by a
 * reader until the caller's grace period ends (RCU in OVS). */

enum { SAD_BUCKETS = 1024 };

struct esp_sad {
    struct esp_sa *_Atomic buckets[SAD_BUCKETS];
    _Atomic uint64_t drops[ESP_N_VERDICTS];
};

static unsigned int
sad_hash(uint32_t spi)
{
    return (spi * 2654435761u) >> 22;
}

static bool
addr_eq(const struct esp_addr *a, const struct esp_addr *b)
{
    if (a->family != b->family) {
        return false;
    }
    return a->family == AF_INET
           ? a->v4.s_addr == b->v4.s_addr
           : !memcmp(&a->v6, &b->v6, sizeof a->v6);
}

/* An SA without a destination matches any destination. */
static bool
dst_match(const struct esp_sa *sa, const struct esp_addr *dst)
{
    return !sa->dst.family || !dst || !dst->family
           || addr_eq(&sa->dst, dst);
}

struct esp_sad *
esp_sad_create(void)
{
    return calloc(1, sizeof(struct esp_sad));
}

void
esp_sad_destroy(struct esp_sad *sad)
{
    if (!sad) {
        return;
    }
    for (int i = 0; i < SAD_BUCKETS; i++) {
        struct esp_sa *sa = atomic_load(&sad->buckets[i]);

        while (sa) {
            struct esp_sa *next = atomic_load(&sa->next);

            esp_sa_destroy(sa);
            sa = next;
        }
    }
    free(sad);
}

/* Adds inbound SA 'sa'; the SAD owns it from then on.  Returns 0, EINVAL
 * for an outbound SA, or EEXIST if an SA with the same SPI could receive
 * the same packets (same or unspecified destination). */
int
esp_sad_add(struct esp_sad *sad, struct esp_sa *sa)
{
    unsigned int h = sad_hash(sa->spi);

    if (sa->dir != ESP_DIR_IN) {
        return EINVAL;
    }
    for (struct esp_sa *s = atomic_load(&sad->buckets[h]); s;
         s = atomic_load(&s->next)) {
        if (s->spi == sa->spi
            && (!s->dst.family || !sa->dst.family
                || addr_eq(&s->dst, &sa->dst))) {
            return EEXIST;
        }
    }
    atomic_store_explicit(&sa->next, atomic_load(&sad->buckets[h]),
                          memory_order_relaxed);
    atomic_store_explicit(&sad->buckets[h], sa, memory_order_release);
    return 0;
}

/* Unlinks and returns the SA, which the caller destroys once no reader
 * can hold it any more; null if none. */
struct esp_sa *
esp_sad_remove(struct esp_sad *sad, uint32_t spi, const struct esp_addr *dst)
{
    struct esp_sa *_Atomic *prev = &sad->buckets[sad_hash(spi)];

    for (struct esp_sa *s = atomic_load(prev); s;
         prev = &s->next, s = atomic_load(prev)) {
        if (s->spi == spi && (!dst || addr_eq(&s->dst, dst))) {
            atomic_store_explicit(prev, atomic_load(&s->next),
                                  memory_order_release);
            return s;
        }
    }
    return NULL;
}

struct esp_sa *
esp_sad_lookup(const struct esp_sad *sad, uint32_t spi,
               const struct esp_addr *dst)
{
    struct esp_sa *s = atomic_load_explicit(&sad->buckets[sad_hash(spi)],
                                            memory_order_acquire);

    for (; s; s = atomic_load_explicit(&s->next, memory_order_acquire)) {
        if (s->spi == spi && dst_match(s, dst)) {
            return s;
        }
    }
    return NULL;
}

void
esp_sad_count(struct esp_sad *sad, enum esp_verdict v)
{
    atomic_fetch_add_explicit(&sad->drops[v], 1, memory_order_relaxed);
}

void
esp_sad_get_drops(const struct esp_sad *sad,
                  uint64_t drops[ESP_N_VERDICTS])
{
    for (int i = 0; i < ESP_N_VERDICTS; i++) {
        drops[i] = atomic_load_explicit(&sad->drops[i],
                                        memory_order_relaxed);
    }
}

/* Packet helpers. */

bool
esp_ipv6_ext(uint8_t nh)
{
    /* Hop-by-hop, routing, destination options (RFC 8200 section 4). */
    return nh == 0 || nh == 43 || nh == 60;
}

/* Extracts the selector fields of the IP packet at 'ip'.  Returns false if
 * it is not a well-formed IPv4 or IPv6 header. */
bool
esp_parse_flow(const uint8_t *ip, size_t len, struct esp_flow *f)
{
    size_t l4;
    bool first_frag = true;

    memset(f, 0, sizeof *f);
    if (len < 1) {
        return false;
    }
    if (ip[0] >> 4 == 4) {
        size_t ihl = (ip[0] & 0xf) * 4;

        if (len < IPV4_HDR_LEN || ihl < IPV4_HDR_LEN || ihl > len) {
            return false;
        }
        f->src.family = f->dst.family = AF_INET;
        memcpy(&f->src.v4, ip + 12, 4);
        memcpy(&f->dst.v4, ip + 16, 4);
        f->proto = ip[9];
        first_frag = !(get_be16(ip + 6) & IPV4_FRAG_OFF_MASK);
        l4 = ihl;
    } else if (ip[0] >> 4 == 6) {
        uint8_t nh;

        if (len < IPV6_HDR_LEN) {
            return false;
        }
        f->src.family = f->dst.family = AF_INET6;
        memcpy(&f->src.v6, ip + 8, 16);
        memcpy(&f->dst.v6, ip + 24, 16);
        nh = ip[6];
        l4 = IPV6_HDR_LEN;
        while (esp_ipv6_ext(nh) || nh == 44) {
            if (l4 + 8 > len) {
                return true;        /* Selector without ports. */
            }
            if (nh == 44) {
                first_frag = !(get_be16(ip + l4 + 2) & 0xfff8);
                nh = ip[l4];
                l4 += 8;
            } else {
                nh = ip[l4];
                l4 += (ip[l4 + 1] + 1) * 8;
            }
        }
        f->proto = nh;
    } else {
        return false;
    }
    if ((f->proto == 6 || f->proto == 17 || f->proto == 132)
        && first_frag && l4 + 4 <= len) {
        f->has_ports = true;
        f->sport = get_be16(ip + l4);
        f->dport = get_be16(ip + l4 + 2);
    }
    return true;
}

static bool
prefix_match(const struct esp_addr *net, uint8_t plen,
             const struct esp_addr *a)
{
    if (!net->family) {
        return true;
    }
    if (net->family != a->family) {
        return false;
    }
    for (unsigned int i = 0; plen; i++) {
        uint8_t bits = plen >= 8 ? 8 : plen;
        uint8_t mask = 0xff << (8 - bits);

        if ((net->bytes[i] ^ a->bytes[i]) & mask) {
            return false;
        }
        plen -= bits;
    }
    return true;
}

static bool
port_match(uint16_t lo, uint16_t hi, bool has_ports, uint16_t port)
{
    if (!lo && !hi) {
        return true;
    }
    return has_ports && port >= lo && port <= hi;
}

/* RFC 4301 section 4.4.1: a packet matches an SA if it matches any of its
 * selectors; an SA without selectors matches everything. */
bool
esp_flow_match(const struct esp_sa *sa, const struct esp_flow *f)
{
    if (!sa->n_sel) {
        return true;
    }
    for (unsigned int i = 0; i < sa->n_sel; i++) {
        const struct esp_selector *s = &sa->sel[i];

        if (prefix_match(&s->src, s->src_plen, &f->src)
            && prefix_match(&s->dst, s->dst_plen, &f->dst)
            && (!s->proto || s->proto == f->proto)
            && port_match(s->sport_lo, s->sport_hi, f->has_ports, f->sport)
            && port_match(s->dport_lo, s->dport_hi, f->has_ports,
                          f->dport)) {
            return true;
        }
    }
    return false;
}

bool
esp_sa_match(const struct esp_sa *sa, const uint8_t *ip, size_t len)
{
    struct esp_flow f;

    if (!sa->n_sel) {
        return true;
    }
    return esp_parse_flow(ip, len, &f) && esp_flow_match(sa, &f);
}

/* Internet checksum (RFC 1071) of 'data', folded with 'sum' (a sum of
 * big-endian 16-bit words).  The one's complement sum does not depend on
 * byte order (RFC 1071 section 2(B)), so words are added as the CPU loads
 * them, 8 bytes at a time, and the result swapped once at the end. */
uint16_t
esp_csum(const void *data, size_t len, uint32_t sum)
{
    const uint8_t *p = data;
    uint64_t acc = 0;

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    for (; len >= 8; p += 8, len -= 8) {
        uint64_t w;

        memcpy(&w, p, 8);
        acc += w;
        acc += acc < w;         /* End-around carry. */
    }
    if (len >= 4) {
        uint32_t w;

        memcpy(&w, p, 4);
        acc += w;
        acc += acc < w;
        p += 4;
        len -= 4;
    }
    if (len >= 2) {
        uint16_t w;

        memcpy(&w, p, 2);
        acc += w;
        acc += acc < w;
        p += 2;
        len -= 2;
    }
    if (len) {
        acc += p[0];
        acc += acc < p[0];
    }
    acc = (acc & 0xffffffff) + (acc >> 32);
    acc = (acc & 0xffffffff) + (acc >> 32);
    acc = (acc & 0xffff) + (acc >> 16);
    acc = (acc & 0xffff) + (acc >> 16);
    acc = __builtin_bswap16((uint16_t) acc);
#else
    for (; len >= 2; p += 2, len -= 2) {
        acc += get_be16(p);
    }
    if (len) {
        acc += p[0] << 8;
    }
#endif
    acc += sum;
    while (acc >> 16) {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    return ~acc & 0xffff;
}
