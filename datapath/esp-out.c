/*
 * Outbound ESP processing (RFC 4303 section 3.3, RFC 3948 section 2).
 *
 * A burst goes through three passes: lay out every packet and check it
 * fits; reserve the burst's sequence numbers with one atomic operation;
 * write headers and trailers and hand all packets to the engine in one
 * call.
 */
#include <errno.h>
#include <sys/random.h>
#include <sys/socket.h>
#include "esp-private.h"

struct out_layout {
    uint32_t l3_len;        /* Outer IP header (tunnel) or the original IP
                             * header incl. options/extensions (transport). */
    uint32_t nh_off;        /* Transport: offset of the next header byte. */
    uint32_t payload;       /* Bytes to protect. */
    uint8_t pad;
    uint8_t next_header;
};

/* RFC 4303 section 2.4: padding bytes are 1, 2, 3, ... */
static const uint8_t pad_bytes[16] = {
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
};

/* RFC 4303 section 2.4: pad so that the payload, pad length and next
 * header end on the cipher's block (CBC) or a 4-byte boundary (AEAD). */
static uint8_t
pad_len(const struct esp_sa *sa, uint32_t payload)
{
    return -(payload + 2) & (sa->align - 1);   /* align: 4 or 16. */
}

/* Length of the IP packet at 'ip' by its own header, which may be less
 * than 'len' (link-layer padding); 0 if malformed. */
static uint32_t
ip_len(const uint8_t *ip, uint32_t len)
{
    uint32_t l;

    if (len < 1) {
        return 0;
    }
    if (ip[0] >> 4 == 4) {
        if (len < IPV4_HDR_LEN || (ip[0] & 0xf) < 5) {
            return 0;
        }
        l = get_be16(ip + 2);
        return l >= (uint32_t) (ip[0] & 0xf) * 4 && l <= len ? l : 0;
    } else if (ip[0] >> 4 == 6) {
        if (len < IPV6_HDR_LEN) {
            return 0;
        }
        l = IPV6_HDR_LEN + get_be16(ip + 4);
        /* Payload length 0 is a jumbogram (RFC 2675): not supported. */
        return l > IPV6_HDR_LEN && l <= len ? l : 0;
    }
    return 0;
}

/* Transport mode: where ESP goes in the original header (RFC 4303
 * section 3.1.1: after hop-by-hop, routing and fragment headers; a
 * destination options header before a routing header stays in front). */
static enum esp_verdict
transport_layout(const uint8_t *ip, uint32_t len, struct out_layout *lo)
{
    if (ip[0] >> 4 == 4) {
        uint16_t frag = get_be16(ip + 6);

        if (frag & (IPV4_MF | IPV4_FRAG_OFF_MASK)) {
            return ESP_DROP_FRAGMENT;
        }
        lo->l3_len = (ip[0] & 0xf) * 4;
        lo->nh_off = 9;
        lo->next_header = ip[9];
    } else {
        uint32_t off = IPV6_HDR_LEN, nh_off = 6;
        uint8_t nh = ip[6];

        for (;;) {
            if (nh == 44) {
                return ESP_DROP_FRAGMENT;
            }
            if (!esp_ipv6_ext(nh)) {
                break;
            }
            if (off + 8 > len) {
                return ESP_DROP_MALFORMED;
            }
            if (nh == 60 && ip[off] != 43) {
                break;          /* Destination options for the final
                                 * destination: protected. */
            }
            nh_off = off;
            nh = ip[off];
            off += (ip[off + 1] + 1) * 8;
        }
        if (off > len) {
            return ESP_DROP_MALFORMED;
        }
        lo->l3_len = off;
        lo->nh_off = nh_off;
        lo->next_header = nh;
    }
    return ESP_OK;
}

static uint8_t
inner_tos(const uint8_t *ip)
{
    return ip[0] >> 4 == 4 ? ip[1] : (ip[0] & 0xf) << 4 | ip[1] >> 4;
}

/* RFC 6438: a flow label from the inner flow when it has none. */
static uint32_t
flow_label(const uint8_t *inner, uint32_t len)
{
    uint32_t h = 2166136261u;
    struct esp_flow f;

    if (inner[0] >> 4 == 6) {
        uint32_t fl = get_be32(inner) & 0xfffff;

        if (fl) {
            return fl;
        }
    }
    if (!esp_parse_flow(inner, len, &f)) {
        return 0;
    }
    for (int i = 0; i < 16; i++) {
        h = (h ^ f.src.bytes[i]) * 16777619u;
        h = (h ^ f.dst.bytes[i]) * 16777619u;
    }
    h = (h ^ f.proto) * 16777619u;
    h = (h ^ f.sport) * 16777619u;
    h = (h ^ f.dport) * 16777619u;
    return (h ^ h >> 20) & 0xfffff;
}

static void
write_outer(const struct esp_sa *sa, uint8_t *outer, const uint8_t *inner,
            uint32_t inner_len, uint32_t total, uint16_t ip_id)
{
    uint8_t proto = sa->udp_encap ? IPPROTO_UDP : IPPROTO_ESP_;
    uint8_t tos = inner_tos(inner);
    uint8_t dscp = sa->dscp_fixed ? sa->dscp : tos >> 2;
    /* RFC 6040 section 4.1: normal mode copies the inner ECN field. */
    uint8_t ecn = sa->ecn == ESP_ECN_NORMAL ? tos & 3 : 0;

    if (sa->src.family == AF_INET) {
        bool df;

        switch (sa->df) {
        case ESP_DF_COPY:
            df = inner[0] >> 4 == 6 || (get_be16(inner + 6) & IPV4_DF);
            break;
        case ESP_DF_SET:
            df = true;
            break;
        case ESP_DF_CLEAR:
        default:
            df = false;
            break;
        }
        /* The checksum from the fields in registers: reading back the
         * header just written stalls on store forwarding. */
        uint32_t sum = sa->outer_csum + (0x4500 | dscp << 2 | ecn) + total
                       + ip_id + (df ? IPV4_DF : 0);

        sum = (sum & 0xffff) + (sum >> 16);
        sum = (sum & 0xffff) + (sum >> 16);
        outer[0] = 0x45;
        outer[1] = dscp << 2 | ecn;
        put_be16(outer + 2, total);
        put_be16(outer + 4, ip_id);
        put_be16(outer + 6, df ? IPV4_DF : 0);
        outer[8] = sa->ttl;
        outer[9] = proto;
        put_be16(outer + 10, ~sum);
        memcpy(outer + 12, &sa->src.v4, 4);
        memcpy(outer + 16, &sa->dst.v4, 4);
    } else {
        uint8_t tc = dscp << 2 | ecn;

        put_be32(outer, 6u << 28 | (uint32_t) tc << 20
                        | flow_label(inner, inner_len));
        put_be16(outer + 4, total - IPV6_HDR_LEN);
        outer[6] = proto;
        outer[7] = sa->ttl;
        memcpy(outer + 8, &sa->src.v6, 16);
        memcpy(outer + 24, &sa->dst.v6, 16);
    }
}

/* UDP checksum over IPv6 (mandatory there, RFC 8200 section 8.1). */
static void
udp6_csum(uint8_t *ip, uint8_t *udp, uint32_t udp_len)
{
    uint32_t sum = 0;

    for (int i = 8; i < 40; i += 2) {
        sum += get_be16(ip + i);
    }
    sum += udp_len + IPPROTO_UDP;
    udp[6] = udp[7] = 0;
    uint16_t c = esp_csum(udp, udp_len, sum);
    put_be16(udp + 6, c ? c : 0xffff);
}

static unsigned int
encap_chunk(struct esp_sa *sa, struct esp_buf *pkts[],
            enum esp_verdict verdicts[], struct esp_inline_md md[],
            unsigned int n, uint64_t now)
{
    const bool inl = sa->inline_crypto;
    /* Inline CBC: IVs derived by the engine (see pass 3), or random. */
    const bool inl_cbc = inl && !sa->aead && !sa->fixed_iv;
    const bool derive = inl_cbc && sa->engine->derive_iv;
    uint8_t rnd_iv[ESP_BURST_MAX][16];
    struct out_layout lo[ESP_BURST_MAX];
    struct esp_crypto_op ops[ESP_BURST_MAX];
    struct esp_crypto_op *opp[ESP_BURST_MAX];
    uint8_t aad[ESP_BURST_MAX][12];
    uint8_t idx[ESP_BURST_MAX];
    uint32_t drops[ESP_N_VERDICTS] = { 0 };
    uint32_t outer_len = 0, head, tail;
    uint64_t budget_pkts = UINT64_MAX, budget_bytes = UINT64_MAX;
    uint64_t seq, bytes = 0;
    unsigned int n_cand = 0, n_ok = 0, take;

    if (sa->dir != ESP_DIR_OUT || esp_sa_hard_expired(sa, now)) {
        enum esp_verdict v = sa->dir != ESP_DIR_OUT ? ESP_DROP_WRONG_DIR
                                                    : ESP_DROP_LIFETIME;

        for (unsigned int i = 0; i < n; i++) {
            verdicts[i] = v;
        }
        drops[v] = n;
        esp_sa_count(sa, 0, 0, drops);
        return 0;
    }
    if (sa->hard.packets) {
        budget_pkts = sa->hard.packets - atomic_load(&sa->packets);
    }
    if (sa->hard.bytes) {
        budget_bytes = sa->hard.bytes - atomic_load(&sa->bytes);
    }
    if (sa->mode == ESP_MODE_TUNNEL) {
        outer_len = sa->src.family == AF_INET ? IPV4_HDR_LEN : IPV6_HDR_LEN;
    }
    head = (sa->udp_encap ? UDP_HDR_LEN : 0) + ESP_HDR_LEN + sa->iv_len;

    /* Pass 1: layout and room. */
    for (unsigned int i = 0; i < n; i++) {
        struct esp_buf *b = pkts[i];
        const uint8_t *ip = b->base + b->off;
        uint32_t len = ip_len(ip, b->len), total;
        enum esp_verdict v = ESP_OK;

        if (!len) {
            v = b->len < IPV4_HDR_LEN ? ESP_DROP_SHORT : ESP_DROP_MALFORMED;
            goto drop;
        }
        b->len = len;       /* Drop link-layer padding. */
        if (sa->mode == ESP_MODE_TUNNEL) {
            lo[i].l3_len = outer_len;
            lo[i].payload = len;
            lo[i].next_header = ip[0] >> 4 == 4 ? IPPROTO_IPIP
                                                : IPPROTO_IPV6;
        } else {
            v = transport_layout(ip, len, &lo[i]);
            if (v != ESP_OK) {
                goto drop;
            }
            lo[i].payload = len - lo[i].l3_len;
        }
        lo[i].pad = pad_len(sa, lo[i].payload);
        tail = lo[i].pad + 2 + ESP_ICV_LEN;
        total = lo[i].l3_len + head + lo[i].payload + tail;
        if ((sa->mode == ESP_MODE_TUNNEL ? outer_len + head
                                         : head) > b->off
            || (uint64_t) b->off + len + tail > b->size) {
            v = ESP_DROP_NO_ROOM;
            goto drop;
        }
        if (total - ((sa->mode == ESP_MODE_TUNNEL
                      ? outer_len == IPV6_HDR_LEN : ip[0] >> 4 == 6)
                     ? IPV6_HDR_LEN : 0) > 65535) {
            v = ESP_DROP_TOO_BIG;
            goto drop;
        }
        if (!budget_pkts || bytes >= budget_bytes) {
            v = ESP_DROP_LIFETIME;
            esp_sa_raise(sa, ESP_EV_HARD_EXPIRED | ESP_EV_SOFT_EXPIRED);
            goto drop;
        }
        budget_pkts--;
        bytes += len;
        idx[n_cand++] = i;
        verdicts[i] = ESP_OK;
        continue;

    drop:
        verdicts[i] = v;
        drops[v]++;
    }

    /* Pass 2: sequence numbers, one atomic operation for the burst.  RFC
     * 4303 section 3.3.3: the counter never cycles. */
    seq = atomic_load(&sa->seq);
    do {
        take = sa->seq_max - seq < n_cand ? sa->seq_max - seq : n_cand;
    } while (!atomic_compare_exchange_weak(&sa->seq, &seq, seq + take));
    if (take < n_cand) {
        for (unsigned int c = take; c < n_cand; c++) {
            verdicts[idx[c]] = ESP_DROP_SEQ_OVERFLOW;
            drops[ESP_DROP_SEQ_OVERFLOW]++;
        }
        esp_sa_raise(sa, ESP_EV_SEQ_OVERFLOW);
        n_cand = take;
    }
    uint16_t ip_id = atomic_fetch_add_explicit(&sa->ip_id, n_cand,
                                               memory_order_relaxed);
    if (inl_cbc && !derive && n_cand
        && getrandom(rnd_iv, n_cand * sizeof rnd_iv[0], 0)
           != (ssize_t) (n_cand * sizeof rnd_iv[0])) {
        /* RFC 4303 section 3.3.2 / RFC 3602 section 2.3: a CBC IV must be
         * unpredictable; the NIC encrypts with the IV we write.  Only
         * for an engine that cannot derive one (see pass 3). */
        for (unsigned int c = 0; c < n_cand; c++) {
            verdicts[idx[c]] = ESP_DROP_CRYPTO;
        }
        drops[ESP_DROP_CRYPTO] += n_cand;
        n_cand = 0;
    }

    /* Pass 3: headers, trailers, crypto. */
    for (unsigned int c = 0; c < n_cand; c++) {
        unsigned int i = idx[c];
        struct esp_buf *b = pkts[i];
        struct esp_crypto_op *op = &ops[c];
        uint8_t *ip = b->base + b->off;
        uint32_t inner_len = b->len, new_off, total;
        uint8_t *esp, *iv, *payload, *trailer;
        uint64_t s = seq + 1 + c;
        uint16_t hc = 0;

        new_off = b->off - head - (sa->mode == ESP_MODE_TUNNEL
                                   ? outer_len : 0);
        total = inner_len + head + lo[i].pad + 2 + ESP_ICV_LEN
                + (sa->mode == ESP_MODE_TUNNEL ? outer_len : 0);
        if (sa->mode == ESP_MODE_TRANSPORT) {
            /* The IPv4 checksum, read where it was not just written. */
            hc = get_be16(ip + 10);
            memmove(b->base + new_off, ip, lo[i].l3_len);
            payload = ip + lo[i].l3_len;
        } else {
            payload = ip;
        }
        ip = b->base + new_off;
        esp = ip + lo[i].l3_len + (sa->udp_encap ? UDP_HDR_LEN : 0);
        iv = esp + ESP_HDR_LEN;

        /* Trailer: RFC 4303 section 2.4, pad bytes 1, 2, 3, ... */
        trailer = payload + lo[i].payload;
        /* A fixed 16-byte copy (pad <= 15): the pad length, next header
         * and ICV written next overwrite the excess, all in tailroom. */
        memcpy(trailer, pad_bytes, sizeof pad_bytes);
        trailer[lo[i].pad] = lo[i].pad;
        trailer[lo[i].pad + 1] = lo[i].next_header;

        put_be32(esp, sa->spi);
        put_be32(esp + 4, (uint32_t) s);

        if (md) {
            struct esp_inline_md *m = &md[i];

            m->seq = s;
            m->spi = sa->spi;
            m->esp_off = esp - ip;
            m->data_off = payload - ip;
            m->data_len = lo[i].payload + lo[i].pad + 2;
            m->icv_off = m->data_off + m->data_len;
            m->pad_len = lo[i].pad;
        }
        if (inl) {
            /* Inline crypto (esp.h): the same packet, left in clear for
             * the NIC, with a zeroed ICV. */
            if (sa->fixed_iv) {
                memcpy(iv, sa->iv_base, sa->iv_len);
                put_be64(iv + sa->iv_len - 8,
                         get_be64(sa->iv_base + sa->iv_len - 8) + s);
            } else if (sa->aead) {
                put_be64(iv, s);
            } else if (derive) {
                /* RFC 3602 section 2.3 wants a CBC IV the attacker cannot
                 * predict.  NIST SP 800-38A appendix C: the forward
                 * cipher, under the SA's own key, of a nonce that never
                 * repeats under that key.  The nonce is the sequence
                 * number, which never cycles on an SA (RFC 4303 section
                 * 3.3.3) and, a key being one SA's, is sent once; without
                 * the key the result is unpredictable.  The inline SA
                 * keeps its key (esp.h), so the engine derives the IV
                 * exactly as the software path below does, in one call
                 * for the burst after pass 3: about 20 cycles a packet
                 * against about 140 for getrandom() (crypto-ipsecmb.c,
                 * derive_iv_aesni()). */
                op->ctx = sa->ctx;
                memset(op->iv, 0, 16);
                put_be64(op->iv, s);
                op->iv_out = iv;
                op->status = 0;
                opp[c] = op;
            } else {
                memcpy(iv, rnd_iv[c], 16);
            }
            memset(trailer + lo[i].pad + 2, 0, ESP_ICV_LEN);
            goto headers;
        }

        op->ctx = sa->ctx;
        op->data = payload;
        op->data_len = lo[i].payload + lo[i].pad + 2;
        op->icv = trailer + lo[i].pad + 2;
        op->iv_out = NULL;
        op->aad = op->auth = NULL;
        op->aad_len = op->auth_len = 0;
        if (sa->fixed_iv) {
            memcpy(iv, sa->iv_base, sa->iv_len);
            put_be64(iv + sa->iv_len - 8,
                     get_be64(sa->iv_base + sa->iv_len - 8) + s);
        }
        if (sa->aead) {
            /* RFC 4106 section 3.1 / RFC 7634 section 2: the explicit IV
             * is the 64-bit sequence number, unique per key. */
            if (!sa->fixed_iv) {
                put_be64(iv, s);
            }
            memcpy(op->nonce, sa->salt, ESP_SALT_LEN);
            memcpy(op->nonce + ESP_SALT_LEN, iv, 8);
            /* RFC 4106 section 5: AAD is SPI || [seq high] || seq low. */
            put_be32(aad[c], sa->spi);
            if (sa->esn) {
                put_be64(aad[c] + 4, s);
            } else {
                put_be32(aad[c] + 4, (uint32_t) s);
            }
            op->aad = aad[c];
            op->aad_len = sa->esn ? 12 : 8;
        } else {
            if (sa->fixed_iv) {
                memcpy(op->iv, iv, 16);
            } else {
                /* SP 800-38A appendix C: IV = AES_K(unique nonce). */
                memset(op->iv, 0, 16);
                put_be64(op->iv, s);
                op->iv_out = iv;
            }
            op->auth = esp;
            op->auth_len = ESP_HDR_LEN + 16 + op->data_len;
            if (sa->esn) {
                /* RFC 4303 section 3.3.2.1: high bits are authenticated
                 * but not sent; placed where the ICV will go. */
                put_be32(op->icv, s >> 32);
                op->auth_len += 4;
            }
        }
        op->status = 0;
        opp[c] = op;

    headers:
        if (sa->udp_encap) {
            uint8_t *udp = ip + lo[i].l3_len;

            put_be16(udp, sa->sport);
            put_be16(udp + 2, sa->dport);
            put_be16(udp + 4, total - lo[i].l3_len);
            put_be16(udp + 6, 0);   /* RFC 3948 section 2.1 (IPv4). */
        }
        if (sa->mode == ESP_MODE_TUNNEL) {
            write_outer(sa, ip, payload, inner_len, total, ip_id + c);
        } else {
            uint8_t proto = sa->udp_encap ? IPPROTO_UDP : IPPROTO_ESP_;

            ip[lo[i].nh_off] = proto;
            if (ip[0] >> 4 == 4) {
                /* Only the total length and protocol change: an
                 * incremental update (esp-private.h), equal to a full
                 * recomputation, without reading back the header. */
                put_be16(ip + 2, total);
                put_be16(ip + 10,
                         esp_ipv4_csum_update(hc, inner_len, total,
                                              lo[i].next_header, proto));
            } else {
                put_be16(ip + 4, total - IPV6_HDR_LEN);
            }
        }
        b->off = new_off;
        b->len = total;
    }
    if (n_cand && !inl) {
        sa->engine->encrypt_burst(opp, n_cand);
    } else if (n_cand && derive) {
        sa->engine->derive_iv(opp, n_cand);
    }

    /* Pass 4: results and the checksums that cover ciphertext. */
    bytes = 0;
    for (unsigned int c = 0; c < n_cand; c++) {
        unsigned int i = idx[c];

        if ((!inl || derive) && ops[c].status) {
            verdicts[i] = ESP_DROP_CRYPTO;
            drops[ESP_DROP_CRYPTO]++;
            continue;
        }
        uint8_t *ip = pkts[i]->base + pkts[i]->off;

        /* Inline crypto: the checksum covers ciphertext the NIC has yet
         * to write; it stays 0 for the NIC to fill in. */
        if (sa->udp_encap && !inl && ip[0] >> 4 == 6) {
            udp6_csum(ip, ip + lo[i].l3_len, pkts[i]->len - lo[i].l3_len);
        }
        bytes += lo[i].payload
                 + (sa->mode == ESP_MODE_TRANSPORT ? lo[i].l3_len : 0);
        n_ok++;
    }
    esp_sa_count(sa, n_ok, bytes, drops);
    esp_sa_check_soft(sa, now);
    return n_ok;
}

unsigned int
esp_encap_burst_ex(struct esp_sa *sa, struct esp_buf *pkts[],
                   enum esp_verdict verdicts[], struct esp_inline_md md[],
                   unsigned int n, uint64_t now)
{
    unsigned int n_ok = 0;

    for (unsigned int i = 0; i < n; i += ESP_BURST_MAX) {
        unsigned int chunk = n - i < ESP_BURST_MAX ? n - i : ESP_BURST_MAX;

        n_ok += encap_chunk(sa, pkts + i, verdicts + i, md ? md + i : NULL,
                            chunk, now);
    }
    return n_ok;
}

unsigned int
esp_encap_burst(struct esp_sa *sa, struct esp_buf *pkts[],
                enum esp_verdict verdicts[], unsigned int n, uint64_t now)
{
    return esp_encap_burst_ex(sa, pkts, verdicts, NULL, n, now);
}
