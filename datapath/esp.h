/*
 * ESP engine: public API (RFC 4303, RFC 4301, RFC 3948).
 *
 * The library never calls OVS or DPDK; callers hand it bursts of packets
 * that start at the IP header and get a verdict for each.  Packets are
 * processed in place: encap grows the packet into its headroom and
 * tailroom, decap shrinks it.  The library owns a packet only for the
 * duration of a call and never allocates on the per-packet path.
 *
 * Thread-safety model (see docs/architecture.md):
 *   - Control plane (esp_sa_create/destroy, esp_sad_add/remove) is one
 *     writer; the caller serializes it and must not destroy an SA while a
 *     burst may still use it (OVS defers with RCU).
 *   - Outbound: any number of threads may call esp_encap_burst() on the
 *     same SA.  Sequence numbers are reserved with one atomic add per
 *     burst, so they stay unique.
 *   - Inbound: any number of threads may call esp_decap_burst() on the same
 *     SAD/SA.  The replay check before crypto is a lock-free read; the
 *     commit after the ICV verified takes a per-SA spinlock and re-checks,
 *     so a duplicate racing on two threads is still dropped once.
 *   - Counters are per-SA relaxed atomics, added once per burst.
 */
#ifndef ESP_H
#define ESP_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#ifdef __cplusplus
extern "C" {
#endif

struct esp_crypto_engine;
struct esp_sa;
struct esp_sad;

enum {
    ESP_BURST_MAX = 64,         /* Most packets one burst call takes. */
    ESP_MAX_SELECTORS = 4,      /* Traffic selectors per SA. */
    ESP_REPLAY_WINDOW_MAX = 65536,
    ESP_NATT_PORT = 4500,       /* RFC 3948. */

    /* Room a caller must leave around a packet for esp_encap_burst():
     * outer IPv6 (40) + UDP (8) + ESP (8) + IV (16) in front; pad (15) +
     * pad length and next header (2) + ICV (16) behind. */
    ESP_HEADROOM = 72,
    ESP_TAILROOM = 36,
};

enum esp_dir {
    ESP_DIR_OUT,
    ESP_DIR_IN,
};

enum esp_mode {
    ESP_MODE_TUNNEL,
    ESP_MODE_TRANSPORT,
};

enum esp_suite {
    ESP_SUITE_AES_GCM_128,          /* RFC 4106, 16-byte ICV. */
    ESP_SUITE_AES_GCM_256,          /* RFC 4106, 16-byte ICV. */
    ESP_SUITE_CHACHA20_POLY1305,    /* RFC 7634. */
    ESP_SUITE_AES_CBC_128_HMAC_SHA256, /* RFC 3602 + RFC 4868. */
    ESP_SUITE_AES_CBC_256_HMAC_SHA256, /* RFC 3602 + RFC 4868. */
    ESP_N_SUITES
};

/* Outer IPv4 DF bit in tunnel mode (RFC 4301 section 8.1). */
enum esp_df_mode {
    ESP_DF_COPY,                /* Copy from an IPv4 inner header; set for
                                 * an IPv6 inner packet. */
    ESP_DF_SET,
    ESP_DF_CLEAR,
};

/* ECN handling in tunnel mode (RFC 6040). */
enum esp_ecn_mode {
    ESP_ECN_NORMAL,             /* RFC 6040 section 4.1 normal mode. */
    ESP_ECN_COMPAT,             /* Compatibility mode: outer Not-ECT. */
};

/* Per-packet verdicts.  Every drop has its own reason and counter. */
enum esp_verdict {
    ESP_OK,
    ESP_PASS_KEEPALIVE,     /* NAT-T keepalive 0xFF: hand back, no error. */
    ESP_PASS_NON_ESP,       /* UDP 4500 with non-ESP marker (IKE). */
    ESP_DROP_NO_SA,         /* No SA for the SPI (and destination). */
    ESP_DROP_ENCAP,         /* UDP-encapsulated ESP on a raw-ESP SA or
                             * the reverse (RFC 3948 section 3.1). */
    ESP_DROP_SHORT,         /* Truncated: too short for its headers. */
    ESP_DROP_MALFORMED,     /* Bad IP/UDP header or ESP length. */
    ESP_DROP_FRAGMENT,      /* Inbound ESP arrived as an IP fragment. */
    ESP_DROP_REPLAY,        /* Duplicate inside the replay window. */
    ESP_DROP_STALE,         /* Left of the replay window. */
    ESP_DROP_AUTH,          /* ICV did not verify. */
    ESP_DROP_PAD,           /* Padding bytes not 1, 2, 3, ... */
    ESP_DROP_NEXT_HEADER,   /* Next header not allowed for the mode. */
    ESP_DROP_SELECTOR,      /* Inner packet outside the SA's selectors. */
    ESP_DROP_ECN,           /* RFC 6040: CE outer on a Not-ECT inner. */
    ESP_DROP_SEQ_OVERFLOW,  /* Outbound sequence number would cycle. */
    ESP_DROP_LIFETIME,      /* Hard lifetime expired. */
    ESP_DROP_NO_ROOM,       /* Not enough headroom/tailroom to encap. */
    ESP_DROP_TOO_BIG,       /* Result would exceed 65535 bytes. */
    ESP_DROP_WRONG_DIR,     /* SA of the wrong direction for the call. */
    ESP_DROP_CRYPTO,        /* Engine failure (not an auth failure). */
    ESP_DROP_DUMMY,         /* Next header 59: a dummy packet (RFC 4303
                             * section 2.6), valid but discarded. */
    ESP_DROP_OFFLOAD_AUTH,  /* Inline crypto: the NIC reported that the
                             * ICV did not verify (ESP_RX_CRYPTO_FAILED). */
    ESP_DROP_OFFLOAD_MISMATCH, /* The NIC decrypted a packet whose SA is
                             * not in inline-crypto mode. */
    ESP_N_VERDICTS
};

/* Events, raised once on the transition and collected with
 * esp_sa_take_events(). */
enum esp_event {
    ESP_EV_SOFT_EXPIRED = 1 << 0,
    ESP_EV_HARD_EXPIRED = 1 << 1,
    ESP_EV_SEQ_OVERFLOW = 1 << 2,
};

struct esp_addr {
    uint8_t family;             /* AF_INET, AF_INET6, or 0 for none. */
    union {
        struct in_addr v4;
        struct in6_addr v6;
        uint8_t bytes[16];
    };
};

/* A traffic selector (RFC 4301 section 4.4.1).  Zero prefix lengths and
 * zero protocol match anything; port ranges apply to TCP, UDP and SCTP. */
struct esp_selector {
    struct esp_addr src, dst;   /* family 0: any address. */
    uint8_t src_plen, dst_plen;
    uint8_t proto;              /* 0 = any. */
    uint16_t sport_lo, sport_hi;  /* 0, 0 = any. */
    uint16_t dport_lo, dport_hi;
};

/* Lifetime limits; 0 means no limit. */
struct esp_lifetime {
    uint64_t packets;
    uint64_t bytes;
    uint64_t seconds;
};

struct esp_sa_params {
    uint32_t spi;
    enum esp_dir dir;
    enum esp_mode mode;
    enum esp_suite suite;

    /* Tunnel mode: outer source and destination.  Transport mode: may be
     * left unset.  Inbound: a set 'dst' is part of the SAD key. */
    struct esp_addr src, dst;

    /* AEAD suites: key followed by the 4-byte salt (16+4, 32+4, 32+4).
     * CBC suites: the AES key (16 or 32 bytes).  Copied; the caller may
     * wipe its copy after esp_sa_create() returns. */
    const uint8_t *key;
    size_t key_len;
    const uint8_t *auth_key;    /* CBC suites: HMAC-SHA-256 key (32). */
    size_t auth_key_len;

    bool esn;                   /* RFC 4303 extended sequence numbers. */
    /* Outbound: the last sequence number already sent (next is seq+1).
     * Inbound: the highest sequence number already seen. */
    uint64_t seq;
    uint32_t replay_window;     /* Inbound, in packets; 0 disables. */

    bool udp_encap;             /* RFC 3948 UDP encapsulation. */
    uint16_t sport, dport;      /* Outbound UDP ports; 0 = 4500. */

    struct esp_lifetime soft, hard;
    uint64_t now;               /* Caller's clock (seconds) at creation. */

    /* Outbound tunnel-mode outer header. */
    uint8_t ttl;                /* 0 = 64. */
    enum esp_df_mode df;
    bool dscp_fixed;            /* false: copy inner DSCP. */
    uint8_t dscp;               /* Used when dscp_fixed. */
    enum esp_ecn_mode ecn;

    struct esp_selector sel[ESP_MAX_SELECTORS];
    unsigned int n_sel;         /* 0: the SA matches any packet. */

    /* Testing only (reproducing published vectors): the first explicit IV,
     * incremented per packet.  Unsafe for anything else: it gives up the
     * guarantee that an IV is never reused under one key. */
    const uint8_t *iv;
    size_t iv_len;

    const struct esp_crypto_engine *engine;  /* NULL: the default. */

    /* Inline crypto (rte_security INLINE_CRYPTO): the NIC encrypts and
     * verifies/decrypts this SA's packets on the wire; see "Inline
     * crypto" below.  The keys are still required: the engine decrypts
     * inbound packets the NIC left alone.  May also be set later with
     * esp_sa_set_inline_crypto(). */
    bool inline_crypto;
};

struct esp_sa_stats {
    uint64_t packets;           /* Packets protected or verified. */
    uint64_t bytes;             /* Their inner (cleartext) bytes. */
    uint64_t drops[ESP_N_VERDICTS];
    uint64_t seq;               /* Out: last sent.  In: highest seen. */
    uint64_t offload_sw;        /* Inline-crypto SA, inbound: packets the
                                 * NIC left encrypted, decrypted here. */
};

/* A packet in a caller-owned buffer.  The packet (starting at its IP
 * header) is at base + off, 'len' bytes long; the buffer is 'size' bytes.
 * Encap moves 'off' down and grows 'len'; decap moves 'off' up and
 * shrinks 'len'. */
struct esp_buf {
    uint8_t *base;
    uint32_t size;
    uint32_t off;
    uint32_t len;
};

/* SAs. */
int esp_sa_create(const struct esp_sa_params *, struct esp_sa **sap,
                  char *err, size_t err_size);
void esp_sa_destroy(struct esp_sa *);

uint32_t esp_sa_spi(const struct esp_sa *);
enum esp_dir esp_sa_dir(const struct esp_sa *);
void esp_sa_get_stats(const struct esp_sa *, struct esp_sa_stats *);
/* Returns and clears the events raised since the last call. */
uint32_t esp_sa_take_events(struct esp_sa *);
/* Evaluates time lifetimes of an SA that may see no traffic. */
void esp_sa_tick(struct esp_sa *, uint64_t now);
/* Whether the IP packet 'ip' matches one of the SA's selectors. */
bool esp_sa_match(const struct esp_sa *, const uint8_t *ip, size_t len);

/* SA database for inbound lookup by SPI (and destination). */
struct esp_sad *esp_sad_create(void);
void esp_sad_destroy(struct esp_sad *);        /* Destroys its SAs. */
int esp_sad_add(struct esp_sad *, struct esp_sa *);
struct esp_sa *esp_sad_remove(struct esp_sad *, uint32_t spi,
                              const struct esp_addr *dst);
struct esp_sa *esp_sad_lookup(const struct esp_sad *, uint32_t spi,
                              const struct esp_addr *dst);
void esp_sad_get_drops(const struct esp_sad *,
                       uint64_t drops[ESP_N_VERDICTS]);

/* Data path.  Both return the number of packets with verdict ESP_OK;
 * 'n' is at most ESP_BURST_MAX.  'now' is the caller's clock in seconds,
 * used only for lifetimes. */
unsigned int esp_encap_burst(struct esp_sa *, struct esp_buf *pkts[],
                             enum esp_verdict verdicts[], unsigned int n,
                             uint64_t now);
unsigned int esp_decap_burst(struct esp_sad *, struct esp_buf *pkts[],
                             enum esp_verdict verdicts[],
                             struct esp_sa *sas[], unsigned int n,
                             uint64_t now);

/* Inline crypto.
 *
 * Outbound, an SA with 'inline_crypto' is encapsulated exactly as in
 * software (outer header, UDP, SPI, the SA's next sequence number, IV,
 * padding 1, 2, 3, ..., pad length, next header, room for the ICV: RFC
 * 4303 sections 2 and 3.3) except that nothing is encrypted: the payload
 * and trailer stay in clear and the 16 ICV bytes are zero.  The IV is the
 * 64-bit sequence number for the AEAD suites (RFC 4106 section 3.1, as in
 * software) and random bytes for the CBC suites (or the testing 'iv').
 * With UDP encapsulation over IPv6 the UDP checksum is left 0: it covers
 * ciphertext, so the NIC fills it in.  esp_encap_burst_ex() also returns
 * per packet what the NIC needs, in 'md' (null: not wanted):
 *
 *   offsets from the start of the packet (the IP header at base + off):
 *   esp_off   the ESP header;
 *   data_off  the first byte to encrypt (after the IV);
 *   data_len  bytes to encrypt: payload, padding, pad length and next
 *             header;
 *   icv_off   where the 16-byte ICV goes (data_off + data_len);
 *   and the SPI, the full 64-bit sequence number (ESN: the high half is
 *   authenticated but not sent, RFC 4303 section 2.2.1), the pad length.
 *
 * Inbound, the NIC (the software model in offload/sec-model.c is the
 * reference) either leaves a packet alone, or decrypts it in place and
 * verifies its ICV.  What it leaves after decrypting (RFC 4303 section 3.4
 * up to "Packet Decryption"): the packet's length and every header
 * unchanged (outer IP, UDP, ESP header, IV); the ciphertext replaced by
 * the plaintext, with the padding, pad length and next header still at
 * the end; the 16 ICV bytes as received (not read).  The caller passes
 * the NIC's per-packet result in 'rx_flags' of esp_decap_burst_ex():
 *
 *   ESP_RX_CRYPTO_DONE    decrypted, ICV verified (DPDK
 *                         RTE_MBUF_F_RX_SEC_OFFLOAD): no software crypto;
 *                         the SA lookup, anti-replay check and window
 *                         update, lifetimes, padding and next header,
 *                         selectors and counters all still run here;
 *   ESP_RX_CRYPTO_FAILED  the NIC's ICV check failed
 *                         (RTE_MBUF_F_RX_SEC_OFFLOAD_FAILED): dropped as
 *                         ESP_DROP_OFFLOAD_AUTH, never retried here (the
 *                         payload may have been overwritten);
 *   0                     not touched by the NIC: decrypted in software as
 *                         usual (counted in esp_sa_stats.offload_sw when
 *                         the SA is an inline-crypto SA).
 *
 * A packet flagged ESP_RX_CRYPTO_DONE whose SA (found here by SPI and
 * destination) is not an inline-crypto SA is dropped as
 * ESP_DROP_OFFLOAD_MISMATCH.  The flags are trusted: they must come from
 * the NIC's descriptors, never from the packet. */
enum esp_rx_flags {
    ESP_RX_CRYPTO_DONE = 1 << 0,
    ESP_RX_CRYPTO_FAILED = 1 << 1,
};

struct esp_inline_md {
    uint64_t seq;
    uint32_t spi;
    uint32_t esp_off;
    uint32_t data_off;
    uint32_t data_len;
    uint32_t icv_off;
    uint8_t pad_len;
};

/* esp_encap_burst() with the per-packet inline-crypto metadata: 'md[i]'
 * is written for each packet with verdict ESP_OK ('md' may be null; for
 * a software SA it describes what was encrypted). */
unsigned int esp_encap_burst_ex(struct esp_sa *, struct esp_buf *pkts[],
                                enum esp_verdict verdicts[],
                                struct esp_inline_md md[], unsigned int n,
                                uint64_t now);
/* esp_decap_burst() with the NIC's per-packet ESP_RX_* bits in
 * 'rx_flags' (null: none).  esp_decap_burst() is this with null. */
unsigned int esp_decap_burst_ex(struct esp_sad *, struct esp_buf *pkts[],
                                const uint8_t rx_flags[],
                                enum esp_verdict verdicts[],
                                struct esp_sa *sas[], unsigned int n,
                                uint64_t now);
/* Switches an SA to or from inline crypto, e.g. once an offload provider
 * took it.  Control plane, before any burst uses the SA. */
void esp_sa_set_inline_crypto(struct esp_sa *, bool);
bool esp_sa_inline_crypto(const struct esp_sa *);

/* Names. */
const char *esp_verdict_name(enum esp_verdict);
const char *esp_suite_name(enum esp_suite);
int esp_suite_from_name(const char *, enum esp_suite *);
size_t esp_suite_key_len(enum esp_suite);     /* Including AEAD salt. */
size_t esp_suite_auth_key_len(enum esp_suite);

#ifdef __cplusplus
}
#endif

#endif /* esp.h */
