/*
 * Policy parser and validator: YAML (libyaml's document API, which keeps
 * the position of every node) to struct ctl_policy.  Every problem is
 * reported with its position; parsing goes on after a problem so that one
 * run shows them all.  docs/policy.md is the reference for the schema.
 */
#include "policy.h"
#include "ctl-util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

enum {
    POLICY_VERSION = 1,
    NAME_MAX_LEN = 32,
    PORT_NAME_MAX_LEN = 15,     /* IFNAMSIZ - 1, as OVS port names. */
    REPLAY_WINDOW_MAX = 65536,  /* The engine's largest window. */
    VNI_MAX = 0xffffff,
    ERRORS_MAX = 50,
};

struct perr {
    struct ctl_mark mark;
    size_t seq;
    char *msg;
};

struct pctx {
    const char *file;
    yaml_document_t *doc;
    struct ctl_policy *policy;
    struct perr *errs;
    size_t n_errs;
};

static struct ctl_mark
node_mark(const yaml_node_t *node)
{
    return (struct ctl_mark) { node->start_mark.line + 1,
                               node->start_mark.column + 1 };
}

static void __attribute__((format(printf, 3, 4)))
error_at(struct pctx *ctx, struct ctl_mark mark, const char *fmt, ...)
{
    if (ctx->n_errs >= ERRORS_MAX) {
        return;
    }
    va_list args;
    va_start(args, fmt);
    char *msg;
    if (vasprintf(&msg, fmt, args) < 0) {
        abort();
    }
    va_end(args);

    ctx->errs = realloc(ctx->errs, (ctx->n_errs + 1) * sizeof *ctx->errs);
    if (!ctx->errs) {
        abort();
    }
    ctx->errs[ctx->n_errs] = (struct perr) { mark, ctx->n_errs, msg };
    ctx->n_errs++;
}

#define ERROR(CTX, NODE, ...) error_at(CTX, node_mark(NODE), __VA_ARGS__)

/* --- Names of enumerations --------------------------------------------- */

static const char *const mode_names[] = {
    [CTL_MODE_ESP_TUNNEL] = "esp-tunnel",
    [CTL_MODE_VXLAN_ESP] = "vxlan+esp",
    [CTL_MODE_GENEVE_ESP] = "geneve+esp",
};

static const char *const suite_names[] = {
    [CTL_SUITE_AES_GCM_128] = "aes-gcm-128",
    [CTL_SUITE_AES_GCM_256] = "aes-gcm-256",
    [CTL_SUITE_CHACHA20_POLY1305] = "chacha20-poly1305",
    [CTL_SUITE_AES_CBC_128_HMAC_SHA256] = "aes-cbc-128-hmac-sha256",
    [CTL_SUITE_AES_CBC_256_HMAC_SHA256] = "aes-cbc-256-hmac-sha256",
};

const char *
ctl_mode_name(enum ctl_mode mode)
{
    return mode_names[mode];
}

const char *
ctl_suite_name(enum ctl_suite suite)
{
    return suite_names[suite];
}

size_t
ctl_suite_key_len(enum ctl_suite suite, size_t *auth_len)
{
    *auth_len = 0;
    switch (suite) {
    case CTL_SUITE_AES_GCM_128:
        return 16 + 4;
    case CTL_SUITE_AES_GCM_256:
    case CTL_SUITE_CHACHA20_POLY1305:
        return 32 + 4;
    case CTL_SUITE_AES_CBC_128_HMAC_SHA256:
        *auth_len = 32;
        return 16;
    case CTL_SUITE_AES_CBC_256_HMAC_SHA256:
        *auth_len = 32;
        return 32;
    }
    abort();
}

/* --- Addresses ----------------------------------------------------------- */

const char *
ctl_addr_format(const struct ctl_addr *a, char *buf, size_t size)
{
    if (!inet_ntop(a->family, a->bytes, buf, size)) {
        snprintf(buf, size, "?");
    }
    return buf;
}

const char *
ctl_prefix_format(const struct ctl_prefix *p, char *buf, size_t size)
{
    char addr[INET6_ADDRSTRLEN];
    snprintf(buf, size, "%s/%u", ctl_addr_format(&p->addr, addr, sizeof addr),
             p->plen);
    return buf;
}

static bool
bits_equal(const uint8_t *a, const uint8_t *b, unsigned int plen)
{
    unsigned int bytes = plen / 8, rem = plen % 8;
    if (memcmp(a, b, bytes)) {
        return false;
    }
    if (rem) {
        uint8_t mask = 0xff << (8 - rem);
        return ((a[bytes] ^ b[bytes]) & mask) == 0;
    }
    return true;
}

bool
ctl_prefix_overlap(const struct ctl_prefix *a, const struct ctl_prefix *b)
{
    return a->addr.family == b->addr.family
           && bits_equal(a->addr.bytes, b->addr.bytes,
                         a->plen < b->plen ? a->plen : b->plen);
}

bool
ctl_prefix_contains(const struct ctl_prefix *p, const struct ctl_addr *a)
{
    return p->addr.family == a->family
           && bits_equal(p->addr.bytes, a->bytes, p->plen);
}

static bool
parse_addr(const char *s, struct ctl_addr *a)
{
    memset(a, 0, sizeof *a);
    if (inet_pton(AF_INET, s, a->bytes) == 1) {
        a->family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, s, a->bytes) == 1) {
        a->family = AF_INET6;
        return true;
    }
    return false;
}

/* --- Scalars ------------------------------------------------------------- */

/* Returns the text of scalar 'node', or NULL after reporting an error. */
static const char *
get_scalar(struct pctx *ctx, const yaml_node_t *node, const char *what)
{
    if (node->type != YAML_SCALAR_NODE) {
        ERROR(ctx, node, "%s: expected a single value, got a %s", what,
              node->type == YAML_SEQUENCE_NODE ? "list" : "mapping");
        return NULL;
    }
    const char *s = (const char *) node->data.scalar.value;
    if (!s[0] || (node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE
                  && (!strcmp(s, "~") || !strcmp(s, "null")))) {
        ERROR(ctx, node, "%s: missing value", what);
        return NULL;
    }
    return s;
}

static bool
get_name(struct pctx *ctx, const yaml_node_t *node, const char *what,
         size_t max_len, char **namep)
{
    const char *s = get_scalar(ctx, node, what);
    if (!s) {
        return false;
    }
    bool ok = isalnum((unsigned char) s[0]) && strlen(s) <= max_len;
    for (const char *p = s; ok && *p; p++) {
        ok = isalnum((unsigned char) *p) || *p == '-' || *p == '_'
             || *p == '.';
    }
    if (!ok) {
        ERROR(ctx, node, "%s: '%s' is not a valid name (letters, digits, "
              "'-', '_', '.'; starting with a letter or digit; at most %zu "
              "characters)", what, s, max_len);
        return false;
    }
    *namep = ctl_xstrdup(s);
    return true;
}

static bool
get_string(struct pctx *ctx, const yaml_node_t *node, const char *what,
           char **strp)
{
    const char *s = get_scalar(ctx, node, what);
    if (!s) {
        return false;
    }
    *strp = ctl_xstrdup(s);
    return true;
}

static bool
get_bool(struct pctx *ctx, const yaml_node_t *node, const char *what,
         bool *b)
{
    const char *s = get_scalar(ctx, node, what);
    if (!s) {
        return false;
    }
    if (!strcmp(s, "true")) {
        *b = true;
    } else if (!strcmp(s, "false")) {
        *b = false;
    } else {
        ERROR(ctx, node, "%s: '%s' is not true or false", what, s);
        return false;
    }
    return true;
}

enum unit {
    UNIT_NONE,
    UNIT_SECONDS,               /* s, m, h, d */
    UNIT_BYTES,                 /* KiB, MiB, GiB, TiB */
};

struct suffix {
    const char *name;
    uint64_t mult;
};

static const struct suffix time_suffixes[] = {
    { "s", 1 }, { "m", 60 }, { "h", 3600 }, { "d", 86400 }, { NULL, 0 },
};

static const struct suffix byte_suffixes[] = {
    { "KiB", 1ULL << 10 }, { "MiB", 1ULL << 20 }, { "GiB", 1ULL << 30 },
    { "TiB", 1ULL << 40 }, { NULL, 0 },
};

static bool
get_uint(struct pctx *ctx, const yaml_node_t *node, const char *what,
         enum unit unit, uint64_t min, uint64_t max, uint64_t *valuep)
{
    const char *s = get_scalar(ctx, node, what);
    if (!s) {
        return false;
    }

    uint64_t value = 0;
    const char *p = s;
    bool overflow = false;
    for (; isdigit((unsigned char) *p); p++) {
        if (value > (UINT64_MAX - (*p - '0')) / 10) {
            overflow = true;
        }
        value = value * 10 + (*p - '0');
    }
    const struct suffix *suffixes = (unit == UNIT_SECONDS ? time_suffixes
                                     : unit == UNIT_BYTES ? byte_suffixes
                                     : NULL);
    bool ok = p != s;
    if (ok && *p) {
        ok = false;
        for (const struct suffix *sf = suffixes; sf && sf->name; sf++) {
            if (!strcmp(p, sf->name)) {
                if (value > UINT64_MAX / sf->mult) {
                    overflow = true;
                }
                value *= sf->mult;
                ok = true;
                break;
            }
        }
    }
    if (!ok) {
        ERROR(ctx, node, "%s: '%s' is not a number%s", what, s,
              unit == UNIT_SECONDS ? " of seconds (suffixes s, m, h, d)"
              : unit == UNIT_BYTES ? " of bytes (suffixes KiB, MiB, GiB, TiB)"
              : "");
        return false;
    }
    if (overflow || value < min || value > max) {
        ERROR(ctx, node, "%s: %s is out of range %"PRIu64"..%"PRIu64,
              what, s, min, max);
        return false;
    }
    *valuep = value;
    return true;
}

static bool
get_addr(struct pctx *ctx, const yaml_node_t *node, const char *what,
         struct ctl_addr *a)
{
    const char *s = get_scalar(ctx, node, what);
    if (!s) {
        return false;
    }
    if (!parse_addr(s, a)) {
        ERROR(ctx, node, "%s: '%s' is not an IPv4 or IPv6 address", what, s);
        return false;
    }
    return true;
}

static bool
get_prefix(struct pctx *ctx, const yaml_node_t *node, const char *what,
           struct ctl_prefix *pfx)
{
    const char *s = get_scalar(ctx, node, what);
    if (!s) {
        return false;
    }

    char buf[INET6_ADDRSTRLEN + 8];
    if (strlen(s) >= sizeof buf) {
        ERROR(ctx, node, "%s: '%s' is not an IP prefix (ADDRESS/LENGTH)",
              what, s);
        return false;
    }
    strcpy(buf, s);
    char *slash = strchr(buf, '/');
    if (slash) {
        *slash = '\0';
    }
    if (!parse_addr(buf, &pfx->addr)) {
        ERROR(ctx, node, "%s: '%s' is not an IP prefix (ADDRESS/LENGTH)",
              what, s);
        return false;
    }
    unsigned int max = pfx->addr.family == AF_INET ? 32 : 128;
    pfx->plen = max;
    if (slash) {
        char *end;
        errno = 0;
        unsigned long plen = strtoul(slash + 1, &end, 10);
        if (!isdigit((unsigned char) slash[1]) || *end || errno
            || plen > max) {
            ERROR(ctx, node, "%s: '%s': prefix length must be 0..%u", what,
                  s, max);
            return false;
        }
        pfx->plen = plen;
    }

    struct ctl_prefix net = *pfx;
    for (unsigned int i = pfx->plen; i < max; i++) {
        net.addr.bytes[i / 8] &= ~(0x80 >> (i % 8));
    }
    if (memcmp(&net.addr, &pfx->addr, sizeof net.addr)) {
        char fixed[64];
        ERROR(ctx, node, "%s: '%s' has host bits set (did you mean %s?)",
              what, s, ctl_prefix_format(&net, fixed, sizeof fixed));
        return false;
    }
    pfx->mark = node_mark(node);
    return true;
}

/* --- Mappings ------------------------------------------------------------ */

/* Levenshtein distance, for "did you mean" on misspelt keys; long or
 * far-off strings just give a large number. */
static size_t
edit_distance(const char *a, const char *b)
{
    enum { MAX = 32 };
    size_t la = strlen(a), lb = strlen(b);
    size_t row[MAX + 1];

    if (la > MAX || lb > MAX) {
        return SIZE_MAX;
    }
    for (size_t j = 0; j <= lb; j++) {
        row[j] = j;
    }
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) {
                best = up + 1;
            }
            if (row[j - 1] + 1 < best) {
                best = row[j - 1] + 1;
            }
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

struct field {
    const char *name;
    bool required;
    const yaml_node_t *value;   /* Filled in by get_fields(). */
    bool misspelt;              /* An unknown key looked like this one. */
};

/* Matches the keys of mapping 'node' against 'fields' (terminated by a
 * null name), reporting unknown, duplicate and missing keys.  Returns false
 * if 'node' is not a mapping at all. */
static bool
get_fields(struct pctx *ctx, const yaml_node_t *node, const char *what,
           struct field *fields)
{
    for (struct field *f = fields; f->name; f++) {
        f->value = NULL;
        f->misspelt = false;
    }
    if (node->type != YAML_MAPPING_NODE) {
        ERROR(ctx, node, "%s: expected a mapping (key: value)", what);
        return false;
    }

    for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
         pair < node->data.mapping.pairs.top; pair++) {
        yaml_node_t *key = yaml_document_get_node(ctx->doc, pair->key);
        yaml_node_t *value = yaml_document_get_node(ctx->doc, pair->value);
        if (key->type != YAML_SCALAR_NODE) {
            ERROR(ctx, key, "%s: keys must be plain words", what);
            continue;
        }
        const char *name = (const char *) key->data.scalar.value;
        struct field *f;
        for (f = fields; f->name; f++) {
            if (!strcmp(f->name, name)) {
                break;
            }
        }
        if (!f->name) {
            struct field *close = NULL;
            char known[256] = "";
            for (struct field *k = fields; k->name; k++) {
                size_t len = strlen(known);
                snprintf(known + len, sizeof known - len, "%s%s",
                         len ? ", " : "", k->name);
                if (!close && edit_distance(name, k->name) <= 2) {
                    close = k;
                }
            }
            if (close) {
                ERROR(ctx, key, "%s: unknown key '%s' (did you mean '%s'?)",
                      what, name, close->name);
                close->misspelt = true;
            } else {
                ERROR(ctx, key, "%s: unknown key '%s' (known keys: %s)",
                      what, name, known);
            }
        } else if (f->value) {
            ERROR(ctx, key, "%s: duplicate key '%s' (first at line %u)",
                  what, name, node_mark(f->value).line);
        } else {
            f->value = value;
        }
    }

    for (struct field *f = fields; f->name; f++) {
        /* A misspelt key was reported already; "missing" would be
         * noise. */
        if (f->required && !f->value && !f->misspelt) {
            ERROR(ctx, node, "%s: missing required key '%s'", what, f->name);
        }
    }
    return true;
}

/* Returns the number of items of sequence 'node' (0 after reporting an
 * error if it is not a sequence or, with 'nonempty', if it is empty). */
static size_t
get_seq(struct pctx *ctx, const yaml_node_t *node, const char *what,
        bool nonempty)
{
    if (node->type != YAML_SEQUENCE_NODE) {
        ERROR(ctx, node, "%s: expected a list", what);
        return 0;
    }
    size_t n = node->data.sequence.items.top - node->data.sequence.items.start;
    if (!n && nonempty) {
        ERROR(ctx, node, "%s: the list must not be empty", what);
    }
    return n;
}

static yaml_node_t *
seq_item(struct pctx *ctx, const yaml_node_t *seq, size_t i)
{
    return yaml_document_get_node(ctx->doc, seq->data.sequence.items.start[i]);
}

/* --- Link parameters (defaults and links) -------------------------------- */

static const char *const lt_names[CTL_LT_N] = {
    [CTL_LT_BYTES] = "bytes",
    [CTL_LT_PACKETS] = "packets",
    [CTL_LT_SECONDS] = "seconds",
};

static const enum unit lt_units[CTL_LT_N] = {
    [CTL_LT_BYTES] = UNIT_BYTES,
    [CTL_LT_PACKETS] = UNIT_NONE,
    [CTL_LT_SECONDS] = UNIT_SECONDS,
};

/* A soft limit not given is 90% of the hard limit: the rekey starts with a
 * tenth of the SA's life left. */
static void
parse_lifetime(struct pctx *ctx, const yaml_node_t *node,
               struct ctl_lifetime *lt)
{
    struct field fields[] = {
        { "seconds", false, NULL, false }, { "bytes", false, NULL, false },
        { "packets", false, NULL, false }, { "soft", false, NULL, false },
        { NULL, false, NULL, false },
    };
    struct field soft_fields[] = {
        { "seconds", false, NULL, false }, { "bytes", false, NULL, false },
        { "packets", false, NULL, false }, { NULL, false, NULL, false },
    };
    const yaml_node_t *hard_nodes[CTL_LT_N] = { NULL };

    memset(lt, 0, sizeof *lt);
    if (!get_fields(ctx, node, "lifetime", fields)) {
        return;
    }
    for (int k = 0; k < CTL_LT_N; k++) {
        for (struct field *f = fields; f->name; f++) {
            if (!strcmp(f->name, lt_names[k]) && f->value) {
                char what[32];
                snprintf(what, sizeof what, "lifetime %s", lt_names[k]);
                get_uint(ctx, f->value, what, lt_units[k], 0, UINT64_MAX,
                         &lt->hard[k]);
                hard_nodes[k] = f->value;
            }
        }
        lt->soft[k] = lt->hard[k] - lt->hard[k] / 10;
    }

    if (!fields[3].value || !get_fields(ctx, fields[3].value, "lifetime soft",
                                        soft_fields)) {
        return;
    }
    for (int k = 0; k < CTL_LT_N; k++) {
        const yaml_node_t *v = soft_fields[k == CTL_LT_SECONDS ? 0
                                           : k == CTL_LT_BYTES ? 1 : 2].value;
        if (!v) {
            continue;
        }
        char what[32];
        snprintf(what, sizeof what, "lifetime soft %s", lt_names[k]);
        uint64_t soft;
        if (!get_uint(ctx, v, what, lt_units[k], 1, UINT64_MAX, &soft)) {
            continue;
        }
        if (lt->hard[k] && soft >= lt->hard[k]) {
            ERROR(ctx, v, "%s: %s must be below the hard limit %s (line %u)",
                  what, (const char *) v->data.scalar.value,
                  (const char *) hard_nodes[k]->data.scalar.value,
                  node_mark(hard_nodes[k]).line);
            continue;
        }
        lt->soft[k] = soft;
    }
}

/* The keys a link shares with 'defaults', in the order parse_params()
 * expects them at the start of its 'fields'. */
static const struct field param_fields[] = {
    { "mode", false, NULL, false }, { "suite", false, NULL, false },
    { "udp-encap", false, NULL, false }, { "udp-port", false, NULL, false },
    { "replay-window", false, NULL, false }, { "esn", false, NULL, false },
    { "lifetime", false, NULL, false },
};
enum { N_PARAM_FIELDS = sizeof param_fields / sizeof param_fields[0] };

/* Parses the parameters found in 'fields' (laid out as param_fields) into
 * 'p', which holds the defaults on entry. */
static void
parse_params(struct pctx *ctx, const struct field *fields,
             struct ctl_link_params *p)
{
    const yaml_node_t *v;
    const char *s;

    if ((v = fields[0].value) && (s = get_scalar(ctx, v, "mode"))) {
        size_t i;
        for (i = 0; i < sizeof mode_names / sizeof mode_names[0]; i++) {
            if (!strcmp(s, mode_names[i])) {
                p->mode = i;
                break;
            }
        }
        if (i == sizeof mode_names / sizeof mode_names[0]) {
            ERROR(ctx, v, "mode: '%s' is not one of esp-tunnel, vxlan+esp, "
                  "geneve+esp", s);
        }
    }
    if ((v = fields[1].value) && (s = get_scalar(ctx, v, "suite"))) {
        size_t i;
        for (i = 0; i < sizeof suite_names / sizeof suite_names[0]; i++) {
            if (!strcmp(s, suite_names[i])) {
                p->suite = i;
                break;
            }
        }
        if (i < sizeof suite_names / sizeof suite_names[0]) {
            /* Found. */
        } else if (!strncmp(s, "aes-gcm-", 8) || !strncmp(s, "aes-cbc-", 8)) {
            ERROR(ctx, v, "suite: '%s': unsupported key size (AES keys are "
                  "128 or 256 bits)", s);
        } else {
            ERROR(ctx, v, "suite: unsupported suite '%s' (supported: "
                  "aes-gcm-128, aes-gcm-256, chacha20-poly1305, "
                  "aes-cbc-128-hmac-sha256, aes-cbc-256-hmac-sha256)", s);
        }
    }
    if ((v = fields[2].value)) {
        get_bool(ctx, v, "udp-encap", &p->udp_encap);
    }
    uint64_t n;
    if ((v = fields[3].value)
        && get_uint(ctx, v, "udp-port", UNIT_NONE, 1, 65535, &n)) {
        p->udp_port = n;
    }
    if ((v = fields[4].value)
        && get_uint(ctx, v, "replay-window", UNIT_NONE, 0, REPLAY_WINDOW_MAX,
                    &n)) {
        p->replay_window = n;
    }
    if ((v = fields[5].value)) {
        get_bool(ctx, v, "esn", &p->esn);
    }
    if ((v = fields[6].value)) {
        parse_lifetime(ctx, v, &p->lifetime);
    }
}

/* --- Sites, gateways, links ---------------------------------------------- */

/* A unicast Ethernet address "xx:xx:xx:xx:xx:xx". */
static void
get_mac(struct pctx *ctx, const yaml_node_t *node, const char *what,
        uint8_t mac[6])
{
    const char *s = get_scalar(ctx, node, what);
    unsigned int b[6];
    char end;

    if (!s) {
        return;
    }
    if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
               &b[4], &b[5], &end) != 6 || strlen(s) != 17) {
        ERROR(ctx, node, "%s: '%s' is not an Ethernet address "
              "(xx:xx:xx:xx:xx:xx)", what, s);
    } else if (b[0] & 1) {
        ERROR(ctx, node, "%s: '%s' is a multicast address", what, s);
    } else {
        for (int i = 0; i < 6; i++) {
            mac[i] = b[i];
        }
    }
}

static void
parse_site(struct pctx *ctx, const yaml_node_t *node, struct ctl_site *site)
{
    struct field fields[] = {
        { "name", true, NULL, false }, { "wan", true, NULL, false },
        { "bridge", true, NULL, false }, { "ovs", true, NULL, false },
        { "wan-port", false, NULL, false }, { "lan-port", false, NULL, false },
        { "router-mac", false, NULL, false },
        { NULL, false, NULL, false },
    };
    static const uint8_t default_mac[6] = CTL_ROUTER_MAC_DEFAULT;
    memcpy(site->router_mac, default_mac, sizeof site->router_mac);
    site->mark = node_mark(node);
    if (!get_fields(ctx, node, "site", fields)) {
        return;
    }
    if (fields[0].value) {
        get_name(ctx, fields[0].value, "site name", NAME_MAX_LEN,
                 &site->name);
    }
    if (fields[1].value) {
        get_addr(ctx, fields[1].value, "wan", &site->wan);
    }
    if (fields[2].value) {
        get_name(ctx, fields[2].value, "bridge", PORT_NAME_MAX_LEN,
                 &site->bridge);
    }
    if (fields[3].value) {
        struct field ovs[] = {
            { "unixctl", true, NULL, false }, { "ovsdb", true, NULL, false },
            { NULL, false, NULL, false },
        };
        if (get_fields(ctx, fields[3].value, "ovs", ovs)) {
            if (ovs[0].value
                && get_string(ctx, ovs[0].value, "ovs unixctl",
                              &site->unixctl)
                && site->unixctl[0] != '/') {
                ERROR(ctx, ovs[0].value, "ovs unixctl: '%s' is not an "
                      "absolute path", site->unixctl);
            }
            if (ovs[1].value
                && get_string(ctx, ovs[1].value, "ovs ovsdb", &site->ovsdb)
                && strncmp(site->ovsdb, "unix:/", 6)
                && strncmp(site->ovsdb, "ssl:", 4)
                && strncmp(site->ovsdb, "tcp:", 4)) {
                ERROR(ctx, ovs[1].value, "ovs ovsdb: '%s' is not an OVSDB "
                      "remote (unix:/PATH, ssl:HOST:PORT or tcp:HOST:PORT)",
                      site->ovsdb);
            }
        }
    }
    if (fields[4].value) {
        get_name(ctx, fields[4].value, "wan-port", PORT_NAME_MAX_LEN,
                 &site->wan_port);
    }
    if (fields[5].value) {
        get_name(ctx, fields[5].value, "lan-port", PORT_NAME_MAX_LEN,
                 &site->lan_port);
    }
    if (fields[6].value) {
        get_mac(ctx, fields[6].value, "router-mac", site->router_mac);
    }
}

static void
parse_gateway(struct pctx *ctx, const yaml_node_t *node,
              struct ctl_gateway *gw)
{
    struct field fields[] = {
        { "name", true, NULL, false }, { "address", true, NULL, false },
        { NULL, false, NULL, false },
    };
    gw->mark = node_mark(node);
    if (!get_fields(ctx, node, "gateway", fields)) {
        return;
    }
    if (fields[0].value) {
        get_name(ctx, fields[0].value, "gateway name", NAME_MAX_LEN,
                 &gw->name);
    }
    if (fields[1].value) {
        get_addr(ctx, fields[1].value, "gateway address", &gw->addr);
    }
}

static void
parse_endpoint(struct pctx *ctx, const yaml_node_t *node,
               struct ctl_endpoint *ep)
{
    struct field fields[] = {
        { "site", false, NULL, false }, { "gateway", false, NULL, false },
        { "subnets", true, NULL, false }, { NULL, false, NULL, false },
    };
    ep->site = ep->gateway = -1;
    ep->mark = node_mark(node);
    if (!get_fields(ctx, node, "endpoint", fields)) {
        return;
    }

    const struct ctl_policy *pol = ctx->policy;
    if (fields[0].value && fields[1].value) {
        ERROR(ctx, fields[1].value, "endpoint: give either 'site' or "
              "'gateway', not both");
    } else if (!fields[0].value && !fields[1].value) {
        ERROR(ctx, node, "endpoint: missing required key 'site' or "
              "'gateway'");
    } else if (fields[0].value) {
        if (get_name(ctx, fields[0].value, "endpoint site", NAME_MAX_LEN,
                     &ep->ref)) {
            for (size_t i = 0; i < pol->n_sites; i++) {
                if (pol->sites[i].name
                    && !strcmp(pol->sites[i].name, ep->ref)) {
                    ep->site = i;
                }
            }
            if (ep->site < 0) {
                ERROR(ctx, fields[0].value, "endpoint: unknown site '%s'",
                      ep->ref);
            }
        }
    } else if (get_name(ctx, fields[1].value, "endpoint gateway",
                        NAME_MAX_LEN, &ep->ref)) {
        for (size_t i = 0; i < pol->n_gateways; i++) {
            if (pol->gateways[i].name
                && !strcmp(pol->gateways[i].name, ep->ref)) {
                ep->gateway = i;
            }
        }
        if (ep->gateway < 0) {
            ERROR(ctx, fields[1].value, "endpoint: unknown gateway '%s'",
                  ep->ref);
        }
    }

    const yaml_node_t *subnets = fields[2].value;
    size_t n = subnets ? get_seq(ctx, subnets, "subnets", true) : 0;
    ep->subnets = ctl_xcalloc(n, sizeof *ep->subnets);
    for (size_t i = 0; i < n; i++) {
        const yaml_node_t *item = seq_item(ctx, subnets, i);
        struct ctl_prefix *p = &ep->subnets[ep->n_subnets];
        if (!get_prefix(ctx, item, "subnet", p)) {
            continue;
        }
        for (size_t j = 0; j < ep->n_subnets; j++) {
            if (ctl_prefix_overlap(p, &ep->subnets[j])) {
                char a[64], b[64];
                ERROR(ctx, item, "subnet: %s overlaps %s (line %u) of the "
                      "same endpoint", ctl_prefix_format(p, a, sizeof a),
                      ctl_prefix_format(&ep->subnets[j], b, sizeof b),
                      ep->subnets[j].mark.line);
                goto next;
            }
        }
        ep->n_subnets++;
    next:;
    }
}

static void
parse_link(struct pctx *ctx, const yaml_node_t *node, struct ctl_link *link)
{
    struct field fields[N_PARAM_FIELDS + 5];
    memcpy(fields, param_fields, sizeof param_fields);
    static const struct field link_fields[] = {
        { "name", true, NULL, false }, { "endpoints", true, NULL, false },
        { "port", false, NULL, false }, { "vni", false, NULL, false },
        { NULL, false, NULL, false },
    };
    memcpy(fields + N_PARAM_FIELDS, link_fields, sizeof link_fields);
    const yaml_node_t *name = NULL, *endpoints = NULL, *port = NULL;
    const yaml_node_t *vni = NULL;

    link->mark = node_mark(node);
    link->params = ctx->policy->defaults;
    link->ep[0].site = link->ep[1].site = -1;
    link->ep[0].gateway = link->ep[1].gateway = -1;
    if (!get_fields(ctx, node, "link", fields)) {
        return;
    }
    name = fields[N_PARAM_FIELDS + 0].value;
    endpoints = fields[N_PARAM_FIELDS + 1].value;
    port = fields[N_PARAM_FIELDS + 2].value;
    vni = fields[N_PARAM_FIELDS + 3].value;

    if (name) {
        get_name(ctx, name, "link name", NAME_MAX_LEN, &link->name);
    }
    parse_params(ctx, fields, &link->params);

    if (endpoints) {
        size_t n = get_seq(ctx, endpoints, "endpoints", false);
        if (endpoints->type == YAML_SEQUENCE_NODE && n != 2) {
            ERROR(ctx, endpoints, "endpoints: a link has exactly 2 "
                  "endpoints, got %zu", n);
        } else if (n == 2) {
            parse_endpoint(ctx, seq_item(ctx, endpoints, 0), &link->ep[0]);
            parse_endpoint(ctx, seq_item(ctx, endpoints, 1), &link->ep[1]);
        }
    }

    if (port) {
        get_name(ctx, port, "port", PORT_NAME_MAX_LEN, &link->port);
    } else if (link->name) {
        static const char *const prefixes[] = {
            [CTL_MODE_ESP_TUNNEL] = "esp-",
            [CTL_MODE_VXLAN_ESP] = "vx-",
            [CTL_MODE_GENEVE_ESP] = "gnv-",
        };
        if (asprintf(&link->port, "%s%s", prefixes[link->params.mode],
                     link->name) < 0) {
            abort();
        }
        if (strlen(link->port) > PORT_NAME_MAX_LEN) {
            ERROR(ctx, name, "link name: port name '%s' would be longer than "
                  "%d characters; shorten the name or set 'port'",
                  link->port, PORT_NAME_MAX_LEN);
        }
    }

    if (vni) {
        uint64_t v;
        if (link->params.mode == CTL_MODE_ESP_TUNNEL) {
            ERROR(ctx, vni, "vni: applies only to vxlan+esp and geneve+esp "
                  "links");
        } else if (get_uint(ctx, vni, "vni", UNIT_NONE, 0, VNI_MAX, &v)) {
            link->vni = v;
        }
    }
}

/* --- Checks across objects ----------------------------------------------- */

static const struct ctl_addr *
endpoint_addr(const struct ctl_policy *pol, const struct ctl_endpoint *ep)
{
    return (ep->site >= 0 ? &pol->sites[ep->site].wan
            : ep->gateway >= 0 ? &pol->gateways[ep->gateway].addr
            : NULL);
}

static bool
endpoint_ok(const struct ctl_endpoint *ep)
{
    return ep->site >= 0 || ep->gateway >= 0;
}

static void
check_link(struct pctx *ctx, size_t li)
{
    const struct ctl_policy *pol = ctx->policy;
    const struct ctl_link *link = &pol->links[li];
    const struct ctl_endpoint *a = &link->ep[0], *b = &link->ep[1];
    char s1[64], s2[64];

    if (!endpoint_ok(a) || !endpoint_ok(b)) {
        return;
    }
    if (a->site >= 0 && a->site == b->site) {
        error_at(ctx, b->mark, "link '%s': connects site '%s' to itself",
                 link->name, a->ref);
        return;
    }
    if (a->site < 0 && b->site < 0) {
        error_at(ctx, link->mark, "link '%s': needs at least one site "
                 "endpoint (both are gateways)", link->name);
        return;
    }
    if ((a->gateway >= 0 || b->gateway >= 0)
        && link->params.mode != CTL_MODE_ESP_TUNNEL) {
        error_at(ctx, (a->gateway >= 0 ? a : b)->mark, "link '%s': mode "
                 "%s needs Open vSwitch at both ends; a gateway link must "
                 "be esp-tunnel", link->name,
                 ctl_mode_name(link->params.mode));
    }

    const struct ctl_addr *aa = endpoint_addr(pol, a);
    const struct ctl_addr *ba = endpoint_addr(pol, b);
    if (aa->family && ba->family && aa->family != ba->family) {
        error_at(ctx, b->mark, "link '%s': '%s' has an %s address but '%s' "
                 "has an %s address", link->name, b->ref,
                 ba->family == AF_INET ? "IPv4" : "IPv6", a->ref,
                 aa->family == AF_INET ? "IPv4" : "IPv6");
    }

    /* Every selector needs a partner of its family on the other side, and
     * the two sides must not overlap (the traffic would loop back). */
    for (int side = 0; side < 2; side++) {
        const struct ctl_endpoint *e = &link->ep[side];
        const struct ctl_endpoint *o = &link->ep[!side];
        for (size_t i = 0; i < e->n_subnets; i++) {
            bool partner = false;
            for (size_t j = 0; j < o->n_subnets; j++) {
                partner |= (e->subnets[i].addr.family
                            == o->subnets[j].addr.family);
                if (side == 1
                    && ctl_prefix_overlap(&e->subnets[i], &o->subnets[j])) {
                    error_at(ctx, e->subnets[i].mark, "link '%s': subnet %s "
                             "overlaps %s (line %u) on the other endpoint",
                             link->name,
                             ctl_prefix_format(&e->subnets[i], s1, sizeof s1),
                             ctl_prefix_format(&o->subnets[j], s2, sizeof s2),
                             o->subnets[j].mark.line);
                }
            }
            if (!partner && o->n_subnets) {
                error_at(ctx, e->subnets[i].mark, "link '%s': subnet %s has "
                         "no %s subnet on the other endpoint to pair with",
                         link->name,
                         ctl_prefix_format(&e->subnets[i], s1, sizeof s1),
                         e->subnets[i].addr.family == AF_INET
                         ? "IPv4" : "IPv6");
            }
        }
    }

    /* A site's WAN address must not be a protected destination: the
     * fail-closed drop rules would cut the site off its own WAN. */
    for (int side = 0; side < 2; side++) {
        const struct ctl_endpoint *e = &link->ep[side];
        for (size_t k = 0; k < pol->n_sites; k++) {
            for (size_t i = 0; i < e->n_subnets; i++) {
                if (ctl_prefix_contains(&e->subnets[i], &pol->sites[k].wan)) {
                    error_at(ctx, e->subnets[i].mark, "link '%s': subnet %s "
                             "contains the WAN address of site '%s'",
                             link->name,
                             ctl_prefix_format(&e->subnets[i], s1, sizeof s1),
                             pol->sites[k].name);
                }
            }
        }
    }
}

/* True if 'x' and 'y' steer overlapping traffic at one site: some packet
 * would match a (local, remote) selector pair of both links. */
static bool
pairs_overlap(const struct ctl_endpoint *xl, const struct ctl_endpoint *xr,
              const struct ctl_endpoint *yl, const struct ctl_endpoint *yr,
              const struct ctl_prefix **xp, const struct ctl_prefix **yp)
{
    for (size_t i = 0; i < xl->n_subnets; i++) {
        for (size_t j = 0; j < yl->n_subnets; j++) {
            if (!ctl_prefix_overlap(&xl->subnets[i], &yl->subnets[j])) {
                continue;
            }
            for (size_t k = 0; k < xr->n_subnets; k++) {
                for (size_t l = 0; l < yr->n_subnets; l++) {
                    if (ctl_prefix_overlap(&xr->subnets[k],
                                           &yr->subnets[l])) {
                        *xp = &xr->subnets[k];
                        *yp = &yr->subnets[l];
                        return true;
                    }
                }
            }
        }
    }
    return false;
}

/* Duplicate names and addresses: checked even when other problems were
 * found, since an "unknown site" may just be the second of two sites with
 * the same name. */
static void
check_names(struct pctx *ctx)
{
    const struct ctl_policy *pol = ctx->policy;
    char s1[64];

    for (size_t i = 0; i < pol->n_sites; i++) {
        const struct ctl_site *s = &pol->sites[i];
        for (size_t j = 0; j < i; j++) {
            const struct ctl_site *t = &pol->sites[j];
            if (s->name && t->name && !strcmp(s->name, t->name)) {
                error_at(ctx, s->mark, "site '%s': duplicate name (first at "
                         "line %u)", s->name, t->mark.line);
            }
            if (s->wan.family && !memcmp(&s->wan, &t->wan, sizeof s->wan)) {
                error_at(ctx, s->mark, "site '%s': WAN address %s is also "
                         "the WAN address of site '%s'", s->name,
                         ctl_addr_format(&s->wan, s1, sizeof s1), t->name);
            }
        }
    }
    for (size_t i = 0; i < pol->n_gateways; i++) {
        for (size_t j = 0; j < i; j++) {
            const struct ctl_gateway *g = &pol->gateways[i];
            const struct ctl_gateway *h = &pol->gateways[j];
            if (g->name && h->name && !strcmp(g->name, h->name)) {
                error_at(ctx, g->mark, "gateway '%s': duplicate name (first "
                         "at line %u)", g->name, h->mark.line);
            }
        }
    }

    for (size_t i = 0; i < pol->n_links; i++) {
        const struct ctl_link *x = &pol->links[i];
        for (size_t j = 0; j < i; j++) {
            const struct ctl_link *y = &pol->links[j];
            if (x->name && y->name && !strcmp(x->name, y->name)) {
                error_at(ctx, x->mark, "link '%s': duplicate name (first at "
                         "line %u)", x->name, y->mark.line);
            }
        }
    }
}

/* Checks of links against each other, once every object is known good. */
static void
check_across(struct pctx *ctx)
{
    const struct ctl_policy *pol = ctx->policy;
    char s1[64], s2[64];

    for (size_t i = 0; i < pol->n_links; i++) {
        const struct ctl_link *x = &pol->links[i];
        check_link(ctx, i);
        for (size_t j = 0; j < i; j++) {
            const struct ctl_link *y = &pol->links[j];
            for (int xs = 0; xs < 2; xs++) {
                for (int ys = 0; ys < 2; ys++) {
                    const struct ctl_endpoint *xe = &x->ep[xs];
                    const struct ctl_endpoint *ye = &y->ep[ys];
                    const struct ctl_prefix *xp, *yp;
                    if (xe->site < 0 || xe->site != ye->site) {
                        continue;
                    }
                    if (x->port && y->port && !strcmp(x->port, y->port)) {
                        error_at(ctx, x->mark, "link '%s': port name '%s' "
                                 "is also used by link '%s' at site '%s'",
                                 x->name, x->port, y->name, xe->ref);
                    } else if (pairs_overlap(xe, &x->ep[!xs], ye, &y->ep[!ys],
                                             &xp, &yp)) {
                        error_at(ctx, xp->mark, "link '%s': traffic from "
                                 "site '%s' to %s overlaps link '%s' (%s, "
                                 "line %u)", x->name, xe->ref,
                                 ctl_prefix_format(xp, s1, sizeof s1),
                                 y->name,
                                 ctl_prefix_format(yp, s2, sizeof s2),
                                 yp->mark.line);
                    }
                }
            }
        }
    }
}

/* --- The document -------------------------------------------------------- */

static void
parse_list(struct pctx *ctx, const yaml_node_t *node, const char *what,
           size_t size, void **arrayp, size_t *np,
           void (*parse)(struct pctx *, const yaml_node_t *, void *))
{
    size_t n = node ? get_seq(ctx, node, what, false) : 0;
    char *array = ctl_xcalloc(n, size);
    *arrayp = array;
    *np = n;
    for (size_t i = 0; i < n; i++) {
        parse(ctx, seq_item(ctx, node, i), array + i * size);
    }
}

static void
parse_site_cb(struct pctx *ctx, const yaml_node_t *node, void *site)
{
    parse_site(ctx, node, site);
}

static void
parse_gateway_cb(struct pctx *ctx, const yaml_node_t *node, void *gw)
{
    parse_gateway(ctx, node, gw);
}

static void
parse_link_cb(struct pctx *ctx, const yaml_node_t *node, void *link)
{
    parse_link(ctx, node, link);
}

static void
parse_document(struct pctx *ctx, const yaml_node_t *root)
{
    struct ctl_policy *pol = ctx->policy;
    struct field fields[] = {
        { "version", true, NULL, false }, { "defaults", false, NULL, false },
        { "sites", true, NULL, false }, { "gateways", false, NULL, false },
        { "links", true, NULL, false }, { NULL, false, NULL, false },
    };

    pol->defaults = (struct ctl_link_params) {
        .mode = CTL_MODE_ESP_TUNNEL,
        .suite = CTL_SUITE_AES_GCM_256,
        .udp_encap = false,
        .udp_port = 4500,
        .replay_window = 1024,
        .esn = true,
        .lifetime = {
            .hard = { [CTL_LT_SECONDS] = 3600 },
            .soft = { [CTL_LT_SECONDS] = 3240 },
        },
    };

    if (!get_fields(ctx, root, "policy", fields)) {
        return;
    }
    uint64_t version;
    if (fields[0].value
        && get_uint(ctx, fields[0].value, "version", UNIT_NONE, 0, UINT32_MAX,
                    &version)
        && version != POLICY_VERSION) {
        ERROR(ctx, fields[0].value, "version: unsupported policy version "
              "%"PRIu64" (this agent reads version %d)", version,
              POLICY_VERSION);
        return;
    }
    if (fields[1].value) {
        struct field dfields[N_PARAM_FIELDS + 1];
        memcpy(dfields, param_fields, sizeof param_fields);
        dfields[N_PARAM_FIELDS] = (struct field) { NULL, false, NULL, false };
        if (get_fields(ctx, fields[1].value, "defaults", dfields)) {
            parse_params(ctx, dfields, &pol->defaults);
        }
    }
    parse_list(ctx, fields[2].value, "sites", sizeof *pol->sites,
               (void **) &pol->sites, &pol->n_sites, parse_site_cb);
    parse_list(ctx, fields[3].value, "gateways", sizeof *pol->gateways,
               (void **) &pol->gateways, &pol->n_gateways, parse_gateway_cb);
    parse_list(ctx, fields[4].value, "links", sizeof *pol->links,
               (void **) &pol->links, &pol->n_links, parse_link_cb);
    if (fields[2].value && fields[2].value->type == YAML_SEQUENCE_NODE
        && !pol->n_sites) {
        ERROR(ctx, fields[2].value, "sites: the list must not be empty");
    }
    check_names(ctx);
    if (!ctx->n_errs) {
        check_across(ctx);
    }
}

static int
cmp_perr(const void *a_, const void *b_)
{
    const struct perr *a = a_, *b = b_;
    if (a->mark.line != b->mark.line) {
        return a->mark.line < b->mark.line ? -1 : 1;
    }
    if (a->mark.col != b->mark.col) {
        return a->mark.col < b->mark.col ? -1 : 1;
    }
    return (a->seq > b->seq) - (a->seq < b->seq);
}

static void
move_errors(struct pctx *ctx, struct ctl_errors *errors)
{
    qsort(ctx->errs, ctx->n_errs, sizeof *ctx->errs, cmp_perr);
    errors->msgs = ctl_xcalloc(ctx->n_errs, sizeof *errors->msgs);
    for (size_t i = 0; i < ctx->n_errs; i++) {
        if (asprintf(&errors->msgs[i], "%s:%u:%u: %s", ctx->file,
                     ctx->errs[i].mark.line, ctx->errs[i].mark.col,
                     ctx->errs[i].msg) < 0) {
            abort();
        }
        free(ctx->errs[i].msg);
    }
    errors->n = ctx->n_errs;
    free(ctx->errs);
    ctx->errs = NULL;
    ctx->n_errs = 0;
}

static void
file_error(struct ctl_errors *errors, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    errors->msgs = ctl_xcalloc(1, sizeof *errors->msgs);
    if (vasprintf(&errors->msgs[0], fmt, args) < 0) {
        abort();
    }
    errors->n = 1;
    va_end(args);
}

int
ctl_policy_load(const char *file, bool check_perms,
                struct ctl_policy **policyp, struct ctl_errors *errors)
{
    *policyp = NULL;
    ctl_errors_init(errors);

    int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int error = errno;
        file_error(errors, "%s: cannot open: %s", file, strerror(error));
        return error;
    }
    /* fstat() on the descriptor we read from, so the file checked is the
     * file parsed. */
    struct stat st;
    if (fstat(fd, &st)) {
        int error = errno;
        file_error(errors, "%s: cannot stat: %s", file, strerror(error));
        close(fd);
        return error;
    }
    if (check_perms && !S_ISREG(st.st_mode)) {
        file_error(errors, "%s: not a regular file", file);
        close(fd);
        return EPERM;
    }
    if (check_perms && (st.st_mode & (S_IWGRP | S_IWOTH))) {
        file_error(errors, "%s: unsafe permissions %04o: the policy must "
                   "not be writable by group or others (chmod go-w %s)",
                   file, (unsigned int) (st.st_mode & 07777), file);
        close(fd);
        return EPERM;
    }
    if (check_perms && st.st_uid != 0 && st.st_uid != geteuid()) {
        /* Whoever owns the file can change what the agent protects. */
        file_error(errors, "%s: owned by uid %u: the policy must belong to "
                   "root or to the agent's user (uid %u)", file,
                   (unsigned int) st.st_uid, (unsigned int) geteuid());
        close(fd);
        return EPERM;
    }
    FILE *stream = fdopen(fd, "r");
    if (!stream) {
        int error = errno;
        file_error(errors, "%s: %s", file, strerror(error));
        close(fd);
        return error;
    }

    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, stream);
    if (!yaml_parser_load(&parser, &doc)) {
        const yaml_mark_t *m = (parser.problem_mark.line
                                || parser.problem_mark.column
                                ? &parser.problem_mark : &parser.mark);
        file_error(errors, "%s:%zu:%zu: YAML syntax error: %s%s%s", file,
                   m->line + 1, m->column + 1,
                   parser.problem ? parser.problem : "unknown problem",
                   parser.context ? " " : "",
                   parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        fclose(stream);
        return EINVAL;
    }
    yaml_parser_delete(&parser);
    fclose(stream);

    struct ctl_policy *pol = ctl_xcalloc(1, sizeof *pol);
    pol->file = ctl_xstrdup(file);
    struct pctx ctx = { .file = file, .doc = &doc, .policy = pol };
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
        error_at(&ctx, (struct ctl_mark) { 1, 1 }, "policy: the file is "
                 "empty");
    } else {
        parse_document(&ctx, root);
    }
    yaml_document_delete(&doc);

    if (ctx.n_errs) {
        move_errors(&ctx, errors);
        ctl_policy_destroy(pol);
        return EINVAL;
    }
    *policyp = pol;
    return 0;
}

void
ctl_policy_destroy(struct ctl_policy *pol)
{
    if (!pol) {
        return;
    }
    for (size_t i = 0; i < pol->n_sites; i++) {
        struct ctl_site *s = &pol->sites[i];
        free(s->name);
        free(s->unixctl);
        free(s->ovsdb);
        free(s->bridge);
        free(s->wan_port);
        free(s->lan_port);
    }
    for (size_t i = 0; i < pol->n_gateways; i++) {
        free(pol->gateways[i].name);
    }
    for (size_t i = 0; i < pol->n_links; i++) {
        struct ctl_link *l = &pol->links[i];
        free(l->name);
        free(l->port);
        for (int e = 0; e < 2; e++) {
            free(l->ep[e].ref);
            free(l->ep[e].subnets);
        }
    }
    free(pol->sites);
    free(pol->gateways);
    free(pol->links);
    free(pol->file);
    free(pol);
}

void
ctl_errors_init(struct ctl_errors *errors)
{
    errors->msgs = NULL;
    errors->n = 0;
}

void
ctl_errors_destroy(struct ctl_errors *errors)
{
    for (size_t i = 0; i < errors->n; i++) {
        free(errors->msgs[i]);
    }
    free(errors->msgs);
    ctl_errors_init(errors);
}
