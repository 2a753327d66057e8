/*
 * Inbound ESP processing (RFC 4303 section 3.4, RFC 3948 section 3).
 *
 * Pass 1 parses each packet, finds its SA and checks the replay window
 * (check before crypto).  Pass 2 hands the packets to the engines, one
 * call per engine and suite family.  Pass 3, for packets whose ICV
 * verified, commits the sequence number to the window.  Pass 4 checks
 * padding, next header and traffic selectors, and strips the ESP
 * framing.  Packets the NIC already decrypted and verified (inline
 * crypto, esp.h) skip pass 2 only.
 */
#include <errno.h>
#include <sys/socket.h>
#include "esp-private.h"

struct in_state {
    struct esp_sa *sa;
    uint32_t l3_len;            /* Outer IP header with extensions. */
    uint32_t nh_off;            /* Byte that named ESP or UDP. */
    uint32_t esp_off;
    uint32_t ct_len;            /* Payload + padding + 2. */
    uint64_t seq;
    uint8_t group;
    bool nic;                   /* Decrypted and verified by the NIC. */
    uint8_t icv[ESP_ICV_LEN];   /* CBC + ESN: received ICV. */
};

static void
lock(struct esp_sa *sa)
{
    while (atomic_flag_test_and_set_explicit(&sa->lock,
                                             memory_order_acquire)) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }
}

static void
unlock(struct esp_sa *sa)
{
    atomic_flag_clear_explicit(&sa->lock, memory_order_release);
}

/* Parses the outer headers up to the ESP header. */
static inline __attribute__((always_inline)) enum esp_verdict
parse_outer(struct esp_buf *b, struct in_state *st, struct esp_addr *dst)
{
    uint8_t *ip = b->base + b->off;
    uint32_t len = b->len;
    uint8_t proto;

    if (len < IPV4_HDR_LEN) {
        return ESP_DROP_SHORT;
    }
    if (ip[0] >> 4 == 4) {
        uint32_t ihl = (ip[0] & 0xf) * 4, tot = get_be16(ip + 2);

        if (ihl < IPV4_HDR_LEN || tot < ihl) {
            return ESP_DROP_MALFORMED;
        }
        if (tot > len) {
            return ESP_DROP_SHORT;
        }
        if (get_be16(ip + 6) & (IPV4_MF | IPV4_FRAG_OFF_MASK)) {
            return ESP_DROP_FRAGMENT;
        }
        len = b->len = tot;
        proto = ip[9];
        st->l3_len = ihl;
        st->nh_off = 9;
        dst->family = AF_INET;
        memcpy(&dst->v4, ip + 16, 4);
    } else if (ip[0] >> 4 == 6) {
        uint32_t off = IPV6_HDR_LEN, nh_off = 6;

        if (len < IPV6_HDR_LEN) {
            return ESP_DROP_SHORT;
        }
        if (!get_be16(ip + 4)) {
            return ESP_DROP_MALFORMED;      /* Jumbogram. */
        }
        if ((uint32_t) IPV6_HDR_LEN + get_be16(ip + 4) > len) {
            return ESP_DROP_SHORT;
        }
        len = b->len = IPV6_HDR_LEN + get_be16(ip + 4);
        proto = ip[6];
        while (esp_ipv6_ext(proto) || proto == 44) {
            if (proto == 44) {
                return ESP_DROP_FRAGMENT;
            }
            if (off + 8 > len) {
                return ESP_DROP_SHORT;
            }
            nh_off = off;
            proto = ip[off];
            off += (ip[off + 1] + 1) * 8;
        }
        if (off > len) {
            return ESP_DROP_SHORT;
        }
        st->l3_len = off;
        st->nh_off = nh_off;
        dst->family = AF_INET6;
        memcpy(&dst->v6, ip + 24, 16);
    } else {
        return ESP_DROP_MALFORMED;
    }

    if (proto == IPPROTO_UDP) {
        uint8_t *udp = ip + st->l3_len;
        uint32_t ulen;

        if (st->l3_len + UDP_HDR_LEN > len) {
            return ESP_DROP_SHORT;
        }
        ulen = get_be16(udp + 4);
        if (ulen < UDP_HDR_LEN || st->l3_len + ulen > len) {
            return ESP_DROP_MALFORMED;
        }
        /* RFC 3948 section 2.2 and 2.3. */
        if (ulen == UDP_HDR_LEN + 1 && udp[8] == 0xff) {
            return ESP_PASS_KEEPALIVE;
        }
        if (ulen >= UDP_HDR_LEN + 4 && !get_be32(udp + 8)) {
            return ESP_PASS_NON_ESP;
        }
        st->esp_off = st->l3_len + UDP_HDR_LEN;
        b->len = len = st->l3_len + ulen;
    } else if (proto == IPPROTO_ESP_) {
        st->esp_off = st->l3_len;
    } else {
        return ESP_DROP_MALFORMED;
    }
    if (len - st->esp_off < ESP_HDR_LEN) {
        return ESP_DROP_SHORT;
    }
    return ESP_OK;
}

/* The last SAD lookup of a burst, reused while packets keep coming for
 * the same SPI and destination. */
struct last_lookup {
    struct esp_sa *sa;
    uint32_t spi;
    struct esp_addr dst;
};

/* Compares only the bytes parse_outer() wrote, at the width it wrote
 * them: a wider load of a freshly written address stalls on store
 * forwarding. */
static inline bool
same_dst(const struct esp_addr *a, const struct esp_addr *b)
{
    if (a->family != b->family) {
        return false;
    }
    return a->family == AF_INET ? a->v4.s_addr == b->v4.s_addr
                                : !memcmp(&a->v6, &b->v6, sizeof a->v6);
}

static inline __attribute__((always_inline)) enum esp_verdict
prepare(struct esp_sad *sad, struct esp_buf *b, uint8_t rx_flags,
        struct in_state *st, struct esp_crypto_op *op, uint8_t *aad,
        uint64_t now, struct esp_sa **alive, struct last_lookup *last)
{
    struct esp_addr dst;
    enum esp_verdict v;
    struct esp_sa *sa;
    uint8_t *esp, *iv;
    uint32_t esp_len;
    bool nic = false;

    st->sa = NULL;
    v = parse_outer(b, st, &dst);
    if (v != ESP_OK) {
        return v;
    }
    esp = b->base + b->off + st->esp_off;
    esp_len = b->len - st->esp_off;
    if (last->sa && last->spi == get_be32(esp)
        && same_dst(&last->dst, &dst)) {
        sa = last->sa;          /* Same SA as the packet before. */
    } else {
        sa = esp_sad_lookup(sad, get_be32(esp), &dst);
        if (!sa) {
            return ESP_DROP_NO_SA;
        }
        last->sa = sa;
        last->spi = get_be32(esp);
        last->dst = dst;
    }
    st->sa = sa;
    /* The SA says whether its peer sends ESP in UDP; the packet's ports
     * are the caller's to classify (a NAT may change the source). */
    if (sa->udp_encap != (st->esp_off != st->l3_len)) {
        return ESP_DROP_ENCAP;
    }
    if (rx_flags) {
        /* Inline crypto (esp.h).  A failed packet is not retried here:
         * the NIC may have overwritten its payload. */
        if (rx_flags & ESP_RX_CRYPTO_FAILED) {
            return ESP_DROP_OFFLOAD_AUTH;
        }
        if (rx_flags & ESP_RX_CRYPTO_DONE) {
            if (!sa->inline_crypto) {
                return ESP_DROP_OFFLOAD_MISMATCH;
            }
            nic = true;
        }
    }
    if (esp_len < (uint32_t) ESP_HDR_LEN + sa->iv_len + sa->align
                  + ESP_ICV_LEN) {
        return ESP_DROP_SHORT;
    }
    st->ct_len = esp_len - ESP_HDR_LEN - sa->iv_len - ESP_ICV_LEN;
    if (st->ct_len & (sa->align - 1)) {     /* align: 4 or 16. */
        return ESP_DROP_MALFORMED;
    }
    if (sa != *alive) {
        /* Once per SA run in the burst, not per packet. */
        if (esp_sa_hard_expired(sa, now)) {
            return ESP_DROP_LIFETIME;
        }
        *alive = sa;
    }

    /* RFC 4303 section 3.4.3: the replay check comes before the ICV. */
    st->seq = replay_infer(&sa->replay, get_be32(esp + 4));
    switch (replay_check(&sa->replay, st->seq)) {
    case REPLAY_OK:
        break;
    case REPLAY_DUPLICATE:
        return ESP_DROP_REPLAY;
    case REPLAY_STALE:
    default:
        return ESP_DROP_STALE;
    }

    if (nic) {
        st->nic = true;
        op->status = 0;
        return ESP_OK;
    }
    iv = esp + ESP_HDR_LEN;
    op->ctx = sa->ctx;
    op->data = iv + sa->iv_len;
    op->data_len = st->ct_len;
    op->iv_out = NULL;
    op->aad = op->auth = NULL;
    op->aad_len = op->auth_len = 0;
    op->status = 0;
    if (sa->aead) {
        memcpy(op->nonce, sa->salt, ESP_SALT_LEN);
        memcpy(op->nonce + ESP_SALT_LEN, iv, 8);
        memcpy(aad, esp, 4);
        if (sa->esn) {
            put_be64(aad + 4, st->seq);
        } else {
            memcpy(aad + 4, esp + 4, 4);
        }
        op->aad = aad;
        op->aad_len = sa->esn ? 12 : 8;
        op->icv = op->data + st->ct_len;
    } else {
        memcpy(op->iv, iv, 16);
        op->auth = esp;
        op->auth_len = ESP_HDR_LEN + 16 + st->ct_len;
        op->icv = op->data + st->ct_len;
        if (sa->esn) {
            /* RFC 4303 section 3.4.4.1: authenticate the inferred high
             * bits, placed after the ciphertext where the ICV was. */
            memcpy(st->icv, op->icv, ESP_ICV_LEN);
            put_be32(op->icv, st->seq >> 32);
            op->auth_len += 4;
            op->icv = st->icv;
        }
    }
    return ESP_OK;
}

/* RFC 6040 section 4.2: combine outer and inner ECN on decapsulation. */
static inline __attribute__((always_inline)) enum esp_verdict
decap_ecn(uint8_t outer_tos, uint8_t *inner)
{
    uint8_t outer = outer_tos & 3, in, new;
    bool v4 = inner[0] >> 4 == 4;

    in = v4 ? inner[1] & 3 : (inner[1] >> 4) & 3;
    if (outer == 3) {
        if (!in) {
            return ESP_DROP_ECN;
        }
        new = 3;
    } else if (outer == 1 && in == 2) {
        new = 1;
    } else {
        return ESP_OK;
    }
    if (new != in) {
        if (v4) {
            uint16_t old_w = get_be16(inner);
            uint16_t new_w = (old_w & ~3) | new;

            /* Only the ECN bits change (RFC 1624 eqn. 3, esp-private.h):
             * an inner checksum the peer got wrong stays wrong. */
            inner[1] = new_w;
            put_be16(inner + 10,
                     esp_csum_replace16(get_be16(inner + 10), old_w, new_w));
        } else {
            inner[1] = (inner[1] & ~0x30) | new << 4;
        }
    }
    return ESP_OK;
}

/* RFC 3948 section 3.1.2: transport mode through a NAT leaves the TCP/UDP
 * checksum covering the peer's original addresses.  The ICV already
 * vouched for the segment, so a checksum that no longer verifies can only
 * be the NAT's doing: recompute it then, and leave a valid one (and a zero
 * UDP checksum) alone. */
static void
fix_l4_csum(uint8_t *ip, uint32_t l3_len, uint32_t len, uint8_t proto)
{
    uint8_t *l4 = ip + l3_len;
    uint32_t l4_len = len - l3_len, sum = 0;
    unsigned int ck;

    if (proto == IPPROTO_TCP && l4_len >= 20) {
        ck = 16;
    } else if (proto == IPPROTO_UDP && l4_len >= 8) {
        ck = 6;
        if (!get_be16(l4 + 6)) {
            return;
        }
    } else {
        return;
    }
    if (ip[0] >> 4 == 4) {
        for (int i = 12; i < 20; i += 2) {
            sum += get_be16(ip + i);
        }
    } else {
        for (int i = 8; i < 40; i += 2) {
            sum += get_be16(ip + i);
        }
    }
    sum += proto + l4_len;
    if (!esp_csum(l4, l4_len, sum)) {
        return;
    }
    l4[ck] = l4[ck + 1] = 0;
    uint16_t c = esp_csum(l4, l4_len, sum);
    put_be16(l4 + ck, proto == IPPROTO_UDP && !c ? 0xffff : c);
}

static inline __attribute__((always_inline)) enum esp_verdict
finish(struct esp_buf *b, struct in_state *st, uint32_t *out_len)
{
    struct esp_sa *sa = st->sa;
    uint8_t *ip = b->base + b->off;
    uint8_t *data = ip + st->esp_off + ESP_HDR_LEN + sa->iv_len;
    uint8_t pad = data[st->ct_len - 2], nh = data[st->ct_len - 1];
    uint32_t payload_len;
    struct esp_flow f;

    /* RFC 4303 section 2.4: padding bytes are 1, 2, 3, ... */
    if (pad + 2u > st->ct_len) {
        return ESP_DROP_PAD;
    }
    payload_len = st->ct_len - 2 - pad;
    for (unsigned int k = 0; k < pad; k++) {
        if (data[payload_len + k] != k + 1) {
            return ESP_DROP_PAD;
        }
    }
    if (nh == IPPROTO_NONE_) {
        return ESP_DROP_DUMMY;
    }

    if (sa->mode == ESP_MODE_TUNNEL) {
        uint32_t inner_len;

        if (!payload_len
            || !((nh == IPPROTO_IPIP && data[0] >> 4 == 4)
                 || (nh == IPPROTO_IPV6 && data[0] >> 4 == 6))) {
            return ESP_DROP_NEXT_HEADER;
        }
        /* The inner header's length drops TFC padding (RFC 4303
         * section 2.7). */
        if (nh == IPPROTO_IPIP) {
            inner_len = payload_len >= IPV4_HDR_LEN ? get_be16(data + 2) : 0;
            if (inner_len < IPV4_HDR_LEN || (data[0] & 0xf) < 5) {
                return ESP_DROP_MALFORMED;
            }
        } else {
            inner_len = payload_len >= IPV6_HDR_LEN
                        ? IPV6_HDR_LEN + get_be16(data + 4) : 0;
            if (inner_len <= IPV6_HDR_LEN) {
                return ESP_DROP_MALFORMED;
            }
        }
        if (inner_len > payload_len) {
            return ESP_DROP_MALFORMED;
        }
        /* RFC 4301 section 5.2: the inner packet must match the SA. */
        if (sa->n_sel && (!esp_parse_flow(data, inner_len, &f)
                          || !esp_flow_match(sa, &f))) {
            return ESP_DROP_SELECTOR;
        }
        if (decap_ecn(ip[0] >> 4 == 4 ? ip[1] : (ip[0] << 4 | ip[1] >> 4),
                      data) != ESP_OK) {
            return ESP_DROP_ECN;
        }
        b->off = data - b->base;
        b->len = inner_len;
    } else {
        uint32_t l3 = st->l3_len, total = l3 + payload_len;
        uint8_t *new_ip = data - l3;
        /* IPv4: the fields the checksum update needs, read where they
         * were not just written. */
        uint16_t hc = get_be16(ip + 10), old_total = get_be16(ip + 2);
        uint8_t old_proto = ip[st->nh_off];

        memmove(new_ip, ip, l3);
        new_ip[st->nh_off] = nh;
        if (new_ip[0] >> 4 == 4) {
            /* Only the total length and protocol change: an incremental
             * update (esp-private.h), equal to a full recomputation,
             * without reading back the header just moved. */
            put_be16(new_ip + 2, total);
            put_be16(new_ip + 10,
                     esp_ipv4_csum_update(hc, old_total, total, old_proto,
                                          nh));
        } else {
            put_be16(new_ip + 4, total - IPV6_HDR_LEN);
        }
        b->off = new_ip - b->base;
        b->len = total;
        if (sa->udp_encap) {
            fix_l4_csum(new_ip, l3, total, nh);
        }
        if (sa->n_sel && (!esp_parse_flow(new_ip, total, &f)
                          || !esp_flow_match(sa, &f))) {
            return ESP_DROP_SELECTOR;
        }
    }
    *out_len = b->len;
    return ESP_OK;
}

/* Inline-crypto SA: 'n' packets the NIC left to software (esp.h). */
static void
count_offload_sw(struct esp_sa *sa, uint64_t n)
{
    if (sa->inline_crypto && n) {
        atomic_fetch_add_explicit(&sa->offload_sw, n, memory_order_relaxed);
    }
}

/* 'nic' is a constant in each of the two callers below: without NIC flags
 * the software path compiles to what it was before inline crypto existed.
 * parse_outer(), prepare(), decap_ecn() and finish() are forced inline
 * into each copy: measured (espbench, 64-byte decap), leaving them to the
 * compiler cost about 5% once the body was duplicated. */
static inline __attribute__((always_inline)) unsigned int
decap_chunk__(struct esp_sad *sad, struct esp_buf *pkts[],
              const uint8_t rx_flags[], const bool nic,
              enum esp_verdict verdicts[], struct esp_sa *sas[],
              unsigned int n, uint64_t now)
{
    struct in_state st[ESP_BURST_MAX];
    struct esp_crypto_op ops[ESP_BURST_MAX];
    struct esp_crypto_op *opp[ESP_BURST_MAX];
    uint8_t aad[ESP_BURST_MAX][12];
    struct {
        const struct esp_crypto_engine *engine;
        bool aead;
    } groups[ESP_BURST_MAX];
    unsigned int n_groups = 0, n_ok = 0;
    uint32_t drops[ESP_N_VERDICTS];
    struct esp_sa *cur = NULL, *alive = NULL;
    struct last_lookup last = { .sa = NULL };
    uint64_t packets = 0, bytes = 0, nic_packets = 0;

    /* Pass 1. */
    for (unsigned int i = 0; i < n; i++) {
        if (nic) {
            st[i].nic = false;
        }
        enum esp_verdict v = prepare(sad, pkts[i], nic ? rx_flags[i] : 0,
                                     &st[i], &ops[i], aad[i], now, &alive,
                                     &last);

        verdicts[i] = v;
        if (v != ESP_OK || (nic && st[i].nic)) {
            continue;
        }
        unsigned int g;
        for (g = 0; g < n_groups; g++) {
            if (groups[g].engine == st[i].sa->engine
                && groups[g].aead == st[i].sa->aead) {
                break;
            }
        }
        if (g == n_groups) {
            groups[g].engine = st[i].sa->engine;
            groups[g].aead = st[i].sa->aead;
            n_groups++;
        }
        st[i].group = g;
    }

    /* Pass 2: one engine call per group (usually exactly one). */
    for (unsigned int g = 0; g < n_groups; g++) {
        unsigned int k = 0;

        for (unsigned int i = 0; i < n; i++) {
            if (verdicts[i] == ESP_OK && !(nic && st[i].nic)
                && st[i].group == g) {
                opp[k++] = &ops[i];
            }
        }
        groups[g].engine->decrypt_burst(opp, k);
    }

    /* Pass 3: commit to the replay window only now that the ICV
     * verified.  replay_commit() checks again, so a duplicate racing on
     * another thread loses here.  One lock per run of the same SA. */
    struct esp_sa *locked = NULL;
    for (unsigned int i = 0; i < n; i++) {
        struct esp_sa *sa = st[i].sa;

        if (verdicts[i] != ESP_OK) {
            continue;
        }
        if (ops[i].status) {
            verdicts[i] = ops[i].status == EBADMSG ? ESP_DROP_AUTH
                                                   : ESP_DROP_CRYPTO;
            continue;
        }
        if (sa != locked) {
            if (locked) {
                unlock(locked);
            }
            lock(sa);
            locked = sa;
        }
        switch (replay_commit(&sa->replay, st[i].seq)) {
        case REPLAY_OK:
            break;
        case REPLAY_DUPLICATE:
            verdicts[i] = ESP_DROP_REPLAY;
            break;
        case REPLAY_STALE:
        default:
            verdicts[i] = ESP_DROP_STALE;
            break;
        }
    }
    if (locked) {
        unlock(locked);
    }

    /* Pass 4: hard lifetime, trailer, selectors, headers; counters once
     * per SA run. */
    uint64_t base_packets = 0, base_bytes = 0;
    memset(drops, 0, sizeof drops);
    for (unsigned int i = 0; i < n; i++) {
        struct esp_sa *sa = st[i].sa;
        enum esp_verdict v = verdicts[i];
        uint32_t out_len = 0;

        if (sas) {
            sas[i] = sa;
        }
        if (sa && sa != cur) {
            if (cur) {
                count_offload_sw(cur, packets - nic_packets);
                esp_sa_count(cur, packets, bytes, drops);
                esp_sa_check_soft(cur, now);
            }
            cur = sa;
            packets = bytes = nic_packets = 0;
            memset(drops, 0, sizeof drops);
            base_packets = atomic_load_explicit(&sa->packets,
                                                memory_order_relaxed);
            base_bytes = atomic_load_explicit(&sa->bytes,
                                              memory_order_relaxed);
        }
        if (v == ESP_OK) {
            /* As outbound: the packet that reaches the packet limit is the
             * last accepted; the byte limit is checked before each
             * packet. */
            if ((sa->hard.packets
                 && base_packets + packets >= sa->hard.packets)
                || (sa->hard.bytes && base_bytes + bytes >= sa->hard.bytes)) {
                v = ESP_DROP_LIFETIME;
                esp_sa_raise(sa, ESP_EV_HARD_EXPIRED | ESP_EV_SOFT_EXPIRED);
            } else {
                v = finish(pkts[i], &st[i], &out_len);
            }
        }
        verdicts[i] = v;
        if (v == ESP_PASS_KEEPALIVE || v == ESP_PASS_NON_ESP) {
            continue;
        }
        if (!sa) {
            esp_sad_count(sad, v);
            continue;
        }
        if (v == ESP_OK) {
            packets++;
            bytes += out_len;
            n_ok++;
            if (nic && st[i].nic) {
                nic_packets++;
            }
        } else {
            drops[v]++;
        }
    }
    if (cur) {
        count_offload_sw(cur, packets - nic_packets);
        esp_sa_count(cur, packets, bytes, drops);
        esp_sa_check_soft(cur, now);
    }
    return n_ok;
}

static __attribute__((noinline)) unsigned int
decap_chunk_sw(struct esp_sad *sad, struct esp_buf *pkts[],
               enum esp_verdict verdicts[], struct esp_sa *sas[],
               unsigned int n, uint64_t now)
{
    return decap_chunk__(sad, pkts, NULL, false, verdicts, sas, n, now);
}

static __attribute__((noinline)) unsigned int
decap_chunk_nic(struct esp_sad *sad, struct esp_buf *pkts[],
                const uint8_t rx_flags[], enum esp_verdict verdicts[],
                struct esp_sa *sas[], unsigned int n, uint64_t now)
{
    return decap_chunk__(sad, pkts, rx_flags, true, verdicts, sas, n, now);
}

unsigned int
esp_decap_burst_ex(struct esp_sad *sad, struct esp_buf *pkts[],
                   const uint8_t rx_flags[], enum esp_verdict verdicts[],
                   struct esp_sa *sas[], unsigned int n, uint64_t now)
{
    unsigned int n_ok = 0;

    for (unsigned int i = 0; i < n; i += ESP_BURST_MAX) {
        unsigned int chunk = n - i < ESP_BURST_MAX ? n - i : ESP_BURST_MAX;

        if (rx_flags) {
            n_ok += decap_chunk_nic(sad, pkts + i, rx_flags + i,
                                    verdicts + i, sas ? sas + i : NULL,
                                    chunk, now);
        } else {
            n_ok += decap_chunk_sw(sad, pkts + i, verdicts + i,
                                   sas ? sas + i : NULL, chunk, now);
        }
    }
    return n_ok;
}

unsigned int
esp_decap_burst(struct esp_sad *sad, struct esp_buf *pkts[],
                enum esp_verdict verdicts[], struct esp_sa *sas[],
                unsigned int n, uint64_t now)
{
    return esp_decap_burst_ex(sad, pkts, NULL, verdicts, sas, n, now);
}
