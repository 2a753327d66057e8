/*
 * SA specification parser.  See esp-spec.h for the grammar and
 * docs/espcap.md for the reference with examples.
 */
#include "esp-spec.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>

#include "esp-crypto.h"

enum {
    SPEC_MAX_LEN = 4096,        /* Longest spec string accepted. */
    FIELD_NAME_ECHO_MAX = 24,   /* Longest unknown field name echoed. */
    AEAD_IV_LEN = 8,            /* RFC 4106 / RFC 7634 explicit IV. */
    CBC_IV_LEN = 16,            /* RFC 3602. */
};

/* Fields, in the order of the table below. */
enum field {
    F_SPI, F_MODE, F_SRC, F_DST, F_AEAD, F_KEY, F_ENC, F_ENC_KEY, F_AUTH,
    F_AUTH_KEY, F_ESN, F_SEQ, F_REPLAY_WINDOW, F_ENCAP, F_SPORT, F_DPORT,
    F_IV, F_SEL_SRC, F_SEL_DST, F_SEL_PROTO, F_ENGINE, F_TTL, F_DF, F_DSCP,
    F_ECN, F_SOFT_PACKETS, F_HARD_PACKETS, F_SOFT_BYTES, F_HARD_BYTES,
    F_SOFT_SECONDS, F_HARD_SECONDS,
    N_FIELDS
};

static const char *const field_names[N_FIELDS] = {
    [F_SPI] = "spi", [F_MODE] = "mode", [F_SRC] = "src", [F_DST] = "dst",
    [F_AEAD] = "aead", [F_KEY] = "key", [F_ENC] = "enc",
    [F_ENC_KEY] = "enc-key", [F_AUTH] = "auth", [F_AUTH_KEY] = "auth-key",
    [F_ESN] = "esn", [F_SEQ] = "seq", [F_REPLAY_WINDOW] = "replay-window",
    [F_ENCAP] = "encap", [F_SPORT] = "sport", [F_DPORT] = "dport",
    [F_IV] = "iv", [F_SEL_SRC] = "sel-src", [F_SEL_DST] = "sel-dst",
    [F_SEL_PROTO] = "sel-proto", [F_ENGINE] = "engine", [F_TTL] = "ttl",
    [F_DF] = "df", [F_DSCP] = "dscp", [F_ECN] = "ecn",
    [F_SOFT_PACKETS] = "soft-packets", [F_HARD_PACKETS] = "hard-packets",
    [F_SOFT_BYTES] = "soft-bytes", [F_HARD_BYTES] = "hard-bytes",
    [F_SOFT_SECONDS] = "soft-seconds", [F_HARD_SECONDS] = "hard-seconds",
};

/* Text names of the suites, with the key sizes the spec expects. */
struct suite_info {
    const char *name;
    enum esp_suite suite;
    bool aead;
    size_t key_len;             /* Including the 4-byte salt for AEAD. */
};

static const struct suite_info suites[] = {
    { "aes-gcm-128", ESP_SUITE_AES_GCM_128, true, 16 + ESP_SALT_LEN },
    { "aes-gcm-256", ESP_SUITE_AES_GCM_256, true, 32 + ESP_SALT_LEN },
    { "chacha20-poly1305", ESP_SUITE_CHACHA20_POLY1305, true,
      32 + ESP_SALT_LEN },
    { "aes-cbc-128", ESP_SUITE_AES_CBC_128_HMAC_SHA256, false, 16 },
    { "aes-cbc-256", ESP_SUITE_AES_CBC_256_HMAC_SHA256, false, 32 },
};

enum { HMAC_SHA256_KEY_LEN = 32 };   /* RFC 4868 section 2.1.1. */

/* Everything gathered while walking the fields; checked at the end. */
struct spec_state {
    bool seen[N_FIELDS];
    const struct suite_info *aead, *enc;
    size_t key_len, enc_key_len, auth_key_len, iv_len;
    uint64_t seq;
    bool dscp_copy;
};

static void __attribute__((format(printf, 3, 4)))
set_err(char *err, size_t err_size, const char *format, ...)
{
    if (err && err_size) {
        va_list args;

        va_start(args, format);
        vsnprintf(err, err_size, format, args);
        va_end(args);
    }
}

/* Returns 'value' if it is safe to repeat in a message, otherwise a
 * placeholder.  A value that holds '=' or a long run of hex digits may be
 * a key that lost its comma ("mode=tunnelkey=0x..."): never echo it. */
static const char *
echo(const char *value)
{
    size_t run = 0;

    if (strlen(value) > 46 || strchr(value, '=')) {
        return "(value not shown)";
    }
    for (const char *c = value; *c; c++) {
        run = isxdigit((unsigned char) *c) ? run + 1 : 0;
        if (run >= 12 || !isprint((unsigned char) *c)) {
            return "(value not shown)";
        }
    }
    return value;
}

/* Parses an unsigned decimal or 0x-hex number no larger than 'max'. */
static bool
parse_uint(const char *s, uint64_t max, uint64_t *valuep)
{
    uint64_t value = 0;
    int base = 10;

    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    if (!*s) {
        return false;
    }
    for (; *s; s++) {
        int digit;

        if (*s >= '0' && *s <= '9') {
            digit = *s - '0';
        } else if (base == 16 && isxdigit((unsigned char) *s)) {
            digit = tolower((unsigned char) *s) - 'a' + 10;
        } else {
            return false;
        }
        if (value > (UINT64_MAX - digit) / base) {
            return false;
        }
        value = value * base + digit;
    }
    if (value > max) {
        return false;
    }
    *valuep = value;
    return true;
}

static int
hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    } else if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Decodes hex 's' (with or without "0x") into 'out'.  Never puts a byte of
 * 's' in the message. */
static bool
parse_hex(const char *name, const char *s, uint8_t *out, size_t out_size,
          size_t *lenp, char *err, size_t err_size)
{
    size_t n_digits, i;

    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        s += 2;
    }
    n_digits = strlen(s);
    if (!n_digits) {
        set_err(err, err_size, "%s: empty value", name);
        return false;
    }
    if (n_digits % 2) {
        set_err(err, err_size, "%s: odd number of hex digits (%zu)",
                name, n_digits);
        return false;
    }
    if (n_digits / 2 > out_size) {
        set_err(err, err_size, "%s: longer than %zu bytes", name, out_size);
        return false;
    }
    for (i = 0; i < n_digits / 2; i++) {
        int hi = hex_value(s[2 * i]);
        int lo = hex_value(s[2 * i + 1]);

        if (hi < 0 || lo < 0) {
            set_err(err, err_size, "%s: not a hex string (bad digit at "
                    "position %zu)", name, 2 * i + (hi < 0 ? 0 : 1));
            return false;
        }
        out[i] = hi << 4 | lo;
    }
    *lenp = n_digits / 2;
    return true;
}

static bool
parse_addr(const char *s, struct esp_addr *addr)
{
    memset(addr, 0, sizeof *addr);
    if (inet_pton(AF_INET, s, &addr->v4) == 1) {
        addr->family = AF_INET;
        return true;
    } else if (inet_pton(AF_INET6, s, &addr->v6) == 1) {
        addr->family = AF_INET6;
        return true;
    }
    return false;
}

/* Parses ADDR or ADDR/PLEN.  Host bits beyond the prefix must be zero, as
 * a selector with them set is almost always a typo. */
static bool
parse_prefix(const char *name, const char *s, struct esp_addr *addr,
             uint8_t *plenp, char *err, size_t err_size)
{
    char buf[INET6_ADDRSTRLEN + 8];
    const char *slash = strchr(s, '/');
    unsigned int max_plen;
    uint64_t plen;
    size_t addr_len = slash ? (size_t) (slash - s) : strlen(s);

    if (addr_len >= sizeof buf) {
        set_err(err, err_size, "%s: not an IPv4 or IPv6 prefix", name);
        return false;
    }
    memcpy(buf, s, addr_len);
    buf[addr_len] = '\0';
    if (!parse_addr(buf, addr)) {
        set_err(err, err_size, "%s: '%s' is not an IPv4 or IPv6 address",
                name, echo(buf));
        return false;
    }
    max_plen = addr->family == AF_INET ? 32 : 128;
    if (!slash) {
        plen = max_plen;
    } else if (!slash[1] || strlen(slash + 1) > 3
               || strspn(slash + 1, "0123456789") != strlen(slash + 1)
               || !parse_uint(slash + 1, max_plen, &plen)) {
        set_err(err, err_size, "%s: prefix length must be 0 to %u",
                name, max_plen);
        return false;
    }
    for (unsigned int bit = plen; bit < max_plen; bit++) {
        if (addr->bytes[bit / 8] & (0x80 >> (bit % 8))) {
            set_err(err, err_size, "%s: address has bits set beyond the "
                    "/%u prefix", name, (unsigned int) plen);
            return false;
        }
    }
    *plenp = plen;
    return true;
}

static bool
parse_onoff(const char *s, bool *value)
{
    if (!strcmp(s, "on") || !strcmp(s, "yes") || !strcmp(s, "true")) {
        *value = true;
        return true;
    } else if (!strcmp(s, "off") || !strcmp(s, "no")
               || !strcmp(s, "false")) {
        *value = false;
        return true;
    }
    return false;
}

static const struct suite_info *
find_suite(const char *name, bool aead)
{
    for (size_t i = 0; i < sizeof suites / sizeof suites[0]; i++) {
        if (suites[i].aead == aead && !strcmp(suites[i].name, name)) {
            return &suites[i];
        }
    }
    return NULL;
}

/* Names the suites of one kind, for messages: "a|b|c". */
static void
suite_list(bool aead, char *buf, size_t size)
{
    size_t len = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < sizeof suites / sizeof suites[0]; i++) {
        if (suites[i].aead == aead) {
            int n = snprintf(buf + len, size - len, "%s%s",
                             len ? "|" : "", suites[i].name);
            if (n < 0 || (size_t) n >= size - len) {
                break;
            }
            len += n;
        }
    }
}

static bool
is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'
           || c == '_';
}

/* The member of p->soft or p->hard that lifetime field 'f' sets. */
static uint64_t *
lifetime_field(struct esp_sa_params *p, enum field f)
{
    switch (f) {
    case F_SOFT_PACKETS:
        return &p->soft.packets;
    case F_HARD_PACKETS:
        return &p->hard.packets;
    case F_SOFT_BYTES:
        return &p->soft.bytes;
    case F_HARD_BYTES:
        return &p->hard.bytes;
    case F_SOFT_SECONDS:
        return &p->soft.seconds;
    case F_HARD_SECONDS:
    default:
        return &p->hard.seconds;
    }
}

/* Parses one "name=value" field into 'p' / 'keys' / 'st'.  'index' is the
 * field's 1-based position, used to name fields we cannot echo. */
static bool
parse_field(char *field, unsigned int index, enum esp_dir dir,
            struct esp_sa_params *p, struct esp_spec_keys *keys,
            struct spec_state *st, char *err, size_t err_size)
{
    char *eq = strchr(field, '=');
    const char *name, *value;
    enum field f;
    uint64_t n;

    if (!*field) {
        set_err(err, err_size, "field %u is empty", index);
        return false;
    }
    if (!eq) {
        /* Could be a stray key: never echo it. */
        set_err(err, err_size, "field %u: expected name=value", index);
        return false;
    }
    *eq = '\0';
    name = field;
    value = eq + 1;

    for (f = 0; f < N_FIELDS; f++) {
        if (!strcmp(name, field_names[f])) {
            break;
        }
    }
    if (f == N_FIELDS) {
        bool printable = *name && strlen(name) <= FIELD_NAME_ECHO_MAX;

        for (const char *c = name; *c && printable; c++) {
            printable = is_name_char(*c);
        }
        if (printable) {
            set_err(err, err_size, "unknown field '%s'", name);
        } else {
            set_err(err, err_size, "field %u: unknown field name", index);
        }
        return false;
    }
    if (st->seen[f]) {
        set_err(err, err_size, "%s: given twice", name);
        return false;
    }
    st->seen[f] = true;
    if (!*value && f != F_KEY && f != F_ENC_KEY && f != F_AUTH_KEY
        && f != F_IV) {
        set_err(err, err_size, "%s: empty value", name);
        return false;
    }

    switch (f) {
    case F_SPI:
        /* RFC 4303 section 2.1: 1..255 are reserved, 0 is local use. */
        if (!parse_uint(value, UINT32_MAX, &n)) {
            set_err(err, err_size, "spi: '%s' is not a 32-bit number",
                    echo(value));
            return false;
        }
        if (n < 256) {
            set_err(err, err_size, "spi: %"PRIu64" is reserved (RFC 4303 "
                    "section 2.1: use 256 or more)", n);
            return false;
        }
        p->spi = n;
        break;

    case F_MODE:
        if (!strcmp(value, "tunnel")) {
            p->mode = ESP_MODE_TUNNEL;
        } else if (!strcmp(value, "transport")) {
            p->mode = ESP_MODE_TRANSPORT;
        } else {
            set_err(err, err_size, "mode: '%s' is not tunnel or transport",
                    echo(value));
            return false;
        }
        break;

    case F_SRC:
    case F_DST:
        if (!parse_addr(value, f == F_SRC ? &p->src : &p->dst)) {
            set_err(err, err_size, "%s: '%s' is not an IPv4 or IPv6 "
                    "address", name, echo(value));
            return false;
        }
        break;

    case F_AEAD:
    case F_ENC: {
        const struct suite_info *si = find_suite(value, f == F_AEAD);

        if (!si) {
            char list[128];

            suite_list(f == F_AEAD, list, sizeof list);
            if (find_suite(value, f != F_AEAD)) {
                set_err(err, err_size, "%s: '%s' is %s; use %s=%s", name,
                        echo(value), f == F_AEAD ? "not an AEAD" : "an AEAD",
                        f == F_AEAD ? "enc" : "aead", echo(value));
            } else {
                set_err(err, err_size, "%s: '%s' is not one of %s", name,
                        echo(value), list);
            }
            return false;
        }
        if (f == F_AEAD) {
            st->aead = si;
        } else {
            st->enc = si;
        }
        p->suite = si->suite;
        break;
    }

    case F_KEY:
        if (!parse_hex(name, value, keys->key, sizeof keys->key,
                       &st->key_len, err, err_size)) {
            return false;
        }
        break;

    case F_ENC_KEY:
        if (!parse_hex(name, value, keys->key, sizeof keys->key,
                       &st->enc_key_len, err, err_size)) {
            return false;
        }
        break;

    case F_AUTH:
        if (strcmp(value, "hmac-sha256-128")) {
            set_err(err, err_size, "auth: '%s' is not hmac-sha256-128",
                    echo(value));
            return false;
        }
        break;

    case F_AUTH_KEY:
        if (!parse_hex(name, value, keys->auth_key, sizeof keys->auth_key,
                       &st->auth_key_len, err, err_size)) {
            return false;
        }
        break;

    case F_ESN:
        if (!parse_onoff(value, &p->esn)) {
            set_err(err, err_size, "esn: '%s' is not on or off", echo(value));
            return false;
        }
        break;

    case F_SEQ:
        if (!parse_uint(value, UINT64_MAX, &st->seq)) {
            set_err(err, err_size, "seq: '%s' is not a 64-bit number",
                    echo(value));
            return false;
        }
        break;

    case F_REPLAY_WINDOW:
        if (dir != ESP_DIR_IN) {
            set_err(err, err_size, "replay-window: only for decrypt "
                    "(inbound) SAs");
            return false;
        }
        if (!parse_uint(value, ESP_REPLAY_WINDOW_MAX, &n)) {
            set_err(err, err_size, "replay-window: '%s' is not a number "
                    "from 0 to %d", echo(value), ESP_REPLAY_WINDOW_MAX);
            return false;
        }
        p->replay_window = n;
        break;

    case F_ENCAP:
        if (strcmp(value, "udp")) {
            set_err(err, err_size, "encap: '%s' is not udp", echo(value));
            return false;
        }
        p->udp_encap = true;
        break;

    case F_SPORT:
    case F_DPORT:
        if (!parse_uint(value, UINT16_MAX, &n) || !n) {
            set_err(err, err_size, "%s: '%s' is not a port from 1 to "
                    "65535", name, echo(value));
            return false;
        }
        if (f == F_SPORT) {
            p->sport = n;
        } else {
            p->dport = n;
        }
        break;

    case F_IV:
        if (dir != ESP_DIR_OUT) {
            set_err(err, err_size, "iv: only for encrypt (outbound) SAs");
            return false;
        }
        if (!parse_hex(name, value, keys->iv, sizeof keys->iv, &st->iv_len,
                       err, err_size)) {
            return false;
        }
        break;

    case F_SEL_SRC:
        if (!parse_prefix(name, value, &p->sel[0].src, &p->sel[0].src_plen,
                          err, err_size)) {
            return false;
        }
        break;

    case F_SEL_DST:
        if (!parse_prefix(name, value, &p->sel[0].dst, &p->sel[0].dst_plen,
                          err, err_size)) {
            return false;
        }
        break;

    case F_SEL_PROTO:
        if (!strcmp(value, "tcp")) {
            n = IPPROTO_TCP;
        } else if (!strcmp(value, "udp")) {
            n = IPPROTO_UDP;
        } else if (!strcmp(value, "icmp")) {
            n = IPPROTO_ICMP;
        } else if (!strcmp(value, "icmpv6") || !strcmp(value, "icmp6")) {
            n = IPPROTO_ICMPV6;
        } else if (!strcmp(value, "sctp")) {
            n = IPPROTO_SCTP;
        } else if (!parse_uint(value, 255, &n) || !n) {
            set_err(err, err_size, "sel-proto: '%s' is not tcp, udp, icmp, "
                    "icmpv6, sctp or a number from 1 to 255", echo(value));
            return false;
        }
        p->sel[0].proto = n;
        break;

    case F_ENGINE:
        p->engine = esp_crypto_by_name(value);
        if (!p->engine) {
            set_err(err, err_size, "engine: '%s' is not ipsec-mb or openssl",
                    echo(value));
            return false;
        }
        break;

    case F_TTL:
        if (!parse_uint(value, 255, &n) || !n) {
            set_err(err, err_size, "ttl: '%s' is not a number from 1 to 255",
                    echo(value));
            return false;
        }
        p->ttl = n;
        break;

    case F_DF:
        if (!strcmp(value, "copy")) {
            p->df = ESP_DF_COPY;
        } else if (!strcmp(value, "set")) {
            p->df = ESP_DF_SET;
        } else if (!strcmp(value, "clear")) {
            p->df = ESP_DF_CLEAR;
        } else {
            set_err(err, err_size, "df: '%s' is not copy, set or clear",
                    echo(value));
            return false;
        }
        break;

    case F_DSCP:
        if (!strcmp(value, "copy")) {
            p->dscp_fixed = false;
        } else if (parse_uint(value, 63, &n)) {
            p->dscp_fixed = true;
            p->dscp = n;
        } else {
            set_err(err, err_size, "dscp: '%s' is not copy or a number from "
                    "0 to 63", echo(value));
            return false;
        }
        break;

    case F_ECN:
        if (!strcmp(value, "normal")) {
            p->ecn = ESP_ECN_NORMAL;
        } else if (!strcmp(value, "compat")) {
            p->ecn = ESP_ECN_COMPAT;
        } else {
            set_err(err, err_size, "ecn: '%s' is not normal or compat",
                    echo(value));
            return false;
        }
        break;

    case F_SOFT_PACKETS:
    case F_HARD_PACKETS:
    case F_SOFT_BYTES:
    case F_HARD_BYTES:
    case F_SOFT_SECONDS:
    case F_HARD_SECONDS:
        if (!parse_uint(value, UINT64_MAX, &n)) {
            set_err(err, err_size, "%s: '%s' is not a 64-bit number (0 for "
                    "no limit)", name, echo(value));
            return false;
        }
        *lifetime_field(p, f) = n;
        break;

    case N_FIELDS:
    default:
        return false;
    }
    return true;
}

/* Checks field combinations once every field is known, and fills in what
 * depends on several of them. */
static bool
finish(enum esp_dir dir, struct esp_sa_params *p, struct esp_spec_keys *keys,
       struct spec_state *st, char *err, size_t err_size)
{
    const bool *seen = st->seen;
    const struct suite_info *si;

    if (!seen[F_SPI]) {
        set_err(err, err_size, "spi: missing (required)");
        return false;
    }

    /* Suite and keys. */
    if (st->aead && st->enc) {
        set_err(err, err_size, "aead: cannot be combined with enc=");
        return false;
    }
    if (!st->aead && !st->enc) {
        set_err(err, err_size, "aead: missing (give aead=... with key=, or "
                "enc=... with enc-key=, auth=, auth-key=)");
        return false;
    }
    si = st->aead ? st->aead : st->enc;
    if (st->aead) {
        static const char *const cbc_only[] = { "enc-key", "auth",
                                                "auth-key" };
        const enum field cbc_fields[] = { F_ENC_KEY, F_AUTH, F_AUTH_KEY };

        for (size_t i = 0; i < 3; i++) {
            if (seen[cbc_fields[i]]) {
                set_err(err, err_size, "%s: not used with aead= (the AEAD "
                        "key goes in key=)", cbc_only[i]);
                return false;
            }
        }
        if (!seen[F_KEY]) {
            set_err(err, err_size, "key: missing (%s needs %zu bytes: %zu "
                    "key + 4 salt)", si->name, si->key_len,
                    si->key_len - ESP_SALT_LEN);
            return false;
        }
        if (st->key_len != si->key_len) {
            set_err(err, err_size, "key: %s needs %zu bytes (%zu key + 4 "
                    "salt), got %zu", si->name, si->key_len,
                    si->key_len - ESP_SALT_LEN, st->key_len);
            return false;
        }
        p->key = keys->key;
        p->key_len = st->key_len;
    } else {
        if (seen[F_KEY]) {
            set_err(err, err_size, "key: not used with enc= (use enc-key= "
                    "and auth-key=)");
            return false;
        }
        if (!seen[F_ENC_KEY]) {
            set_err(err, err_size, "enc-key: missing (%s needs %zu bytes)",
                    si->name, si->key_len);
            return false;
        }
        if (st->enc_key_len != si->key_len) {
            set_err(err, err_size, "enc-key: %s needs %zu bytes, got %zu",
                    si->name, si->key_len, st->enc_key_len);
            return false;
        }
        if (!seen[F_AUTH]) {
            set_err(err, err_size, "auth: missing (enc= needs "
                    "auth=hmac-sha256-128)");
            return false;
        }
        if (!seen[F_AUTH_KEY]) {
            set_err(err, err_size, "auth-key: missing (hmac-sha256-128 "
                    "needs %d bytes)", HMAC_SHA256_KEY_LEN);
            return false;
        }
        if (st->auth_key_len != HMAC_SHA256_KEY_LEN) {
            set_err(err, err_size, "auth-key: hmac-sha256-128 needs %d "
                    "bytes, got %zu", HMAC_SHA256_KEY_LEN, st->auth_key_len);
            return false;
        }
        p->key = keys->key;
        p->key_len = st->enc_key_len;
        p->auth_key = keys->auth_key;
        p->auth_key_len = st->auth_key_len;
    }

    /* Explicit IV (testing only). */
    if (seen[F_IV]) {
        size_t want = si->aead ? AEAD_IV_LEN : CBC_IV_LEN;

        if (st->iv_len != want) {
            set_err(err, err_size, "iv: %s needs %zu bytes, got %zu",
                    si->name, want, st->iv_len);
            return false;
        }
        p->iv = keys->iv;
        p->iv_len = st->iv_len;
    }

    /* Addresses. */
    if (p->src.family && p->dst.family && p->src.family != p->dst.family) {
        set_err(err, err_size, "dst: address family differs from src");
        return false;
    }
    if (p->mode == ESP_MODE_TUNNEL && dir == ESP_DIR_OUT
        && (!p->src.family || !p->dst.family)) {
        set_err(err, err_size, "%s: missing (tunnel mode encrypt needs the "
                "outer src= and dst=)", p->src.family ? "dst" : "src");
        return false;
    }

    /* Selector. */
    if (seen[F_SEL_SRC] || seen[F_SEL_DST] || seen[F_SEL_PROTO]) {
        struct esp_selector *sel = &p->sel[0];

        if (sel->src.family && sel->dst.family
            && sel->src.family != sel->dst.family) {
            set_err(err, err_size, "sel-dst: address family differs from "
                    "sel-src");
            return false;
        }
        p->n_sel = 1;
    }

    /* Sequence numbers.  Out: 'seq' is the first to send, the library
     * wants the last sent.  In: the highest already seen. */
    if (dir == ESP_DIR_OUT) {
        uint64_t first = seen[F_SEQ] ? st->seq : 1;

        if (first == 0) {
            set_err(err, err_size, "seq: the first sequence number is 1 or "
                    "more (RFC 4303 section 3.3.3)");
            return false;
        }
        if (!p->esn && first > UINT32_MAX) {
            set_err(err, err_size, "seq: %"PRIu64" does not fit in 32 bits "
                    "(use esn=on)", first);
            return false;
        }
        p->seq = first - 1;
    } else {
        if (!p->esn && st->seq > UINT32_MAX) {
            set_err(err, err_size, "seq: %"PRIu64" does not fit in 32 bits "
                    "(use esn=on)", st->seq);
            return false;
        }
        p->seq = st->seq;
    }

    /* UDP encapsulation. */
    if ((seen[F_SPORT] || seen[F_DPORT]) && !p->udp_encap) {
        set_err(err, err_size, "%s: needs encap=udp",
                seen[F_SPORT] ? "sport" : "dport");
        return false;
    }
    if (p->udp_encap) {
        if (!p->sport) {
            p->sport = ESP_NATT_PORT;
        }
        if (!p->dport) {
            p->dport = ESP_NATT_PORT;
        }
    }

    /* Lifetimes (RFC 4301 section 4.4.2.1): the soft limit warns before
     * the hard one stops the SA, so it must come first.  0 is no limit. */
    static const enum field soft_hard[][2] = {
        { F_SOFT_PACKETS, F_HARD_PACKETS },
        { F_SOFT_BYTES, F_HARD_BYTES },
        { F_SOFT_SECONDS, F_HARD_SECONDS },
    };
    for (size_t i = 0; i < sizeof soft_hard / sizeof soft_hard[0]; i++) {
        uint64_t soft = *lifetime_field(p, soft_hard[i][0]);
        uint64_t hard = *lifetime_field(p, soft_hard[i][1]);

        if (soft && hard && soft >= hard) {
            set_err(err, err_size, "%s: %"PRIu64" is not below %s %"PRIu64,
                    field_names[soft_hard[i][0]], soft,
                    field_names[soft_hard[i][1]], hard);
            return false;
        }
    }

    /* Outer-header options only mean something for tunnel encrypt. */
    if (p->mode != ESP_MODE_TUNNEL || dir != ESP_DIR_OUT) {
        static const enum field outer[] = { F_TTL, F_DF, F_DSCP, F_ECN };

        for (size_t i = 0; i < sizeof outer / sizeof outer[0]; i++) {
            if (seen[outer[i]] && (outer[i] != F_ECN
                                   || p->mode != ESP_MODE_TUNNEL)) {
                set_err(err, err_size, "%s: only for tunnel mode%s",
                        field_names[outer[i]],
                        outer[i] == F_ECN ? "" : " encrypt");
                return false;
            }
        }
    }
    return true;
}

int
esp_spec_parse(const char *spec, struct esp_sa_params *p,
               struct esp_spec_keys *keys, enum esp_dir dir,
               char *err, size_t err_size)
{
    struct spec_state st;
    size_t len;
    char *copy, *field, *save = NULL;
    unsigned int index = 0;
    bool ok = true;

    memset(p, 0, sizeof *p);
    memset(&st, 0, sizeof st);
    esp_spec_keys_wipe(keys);
    set_err(err, err_size, "(no error)");

    p->dir = dir;
    p->mode = ESP_MODE_TUNNEL;
    p->replay_window = ESP_SPEC_DEFAULT_WINDOW;
    p->df = ESP_DF_COPY;
    p->ecn = ESP_ECN_NORMAL;

    len = strnlen(spec, SPEC_MAX_LEN + 1);
    if (len > SPEC_MAX_LEN) {
        set_err(err, err_size, "longer than %d characters", SPEC_MAX_LEN);
        return EINVAL;
    }
    if (!len) {
        set_err(err, err_size, "empty SA spec");
        return EINVAL;
    }
    copy = malloc(len + 1);
    if (!copy) {
        set_err(err, err_size, "out of memory");
        return ENOMEM;
    }
    memcpy(copy, spec, len + 1);

    /* strsep(), unlike strtok_r(), keeps empty fields so ",," is caught. */
    save = copy;
    while (ok && (field = strsep(&save, ",")) != NULL) {
        ok = parse_field(field, ++index, dir, p, keys, &st, err, err_size);
    }
    if (ok) {
        ok = finish(dir, p, keys, &st, err, err_size);
    }

    explicit_bzero(copy, len + 1);
    free(copy);
    if (!ok) {
        memset(p, 0, sizeof *p);
        esp_spec_keys_wipe(keys);
        return EINVAL;
    }
    return 0;
}

void
esp_spec_keys_wipe(struct esp_spec_keys *keys)
{
    if (keys) {
        explicit_bzero(keys, sizeof *keys);
    }
}
