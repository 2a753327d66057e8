/*
 * IPsec offload registry: providers, ports, preference orders and the
 * per-SA choice.  See ipsec-offload.h.
 */
#include "ipsec-offload.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ipsec-offload-provider.h"

enum {
    PREF_MAX = IPSEC_OFFLOAD_MAX_PROVIDERS * 2,
    NAME_MAX_LEN = 32,
};

struct pref {
    char names[PREF_MAX][NAME_MAX_LEN];
    unsigned int n;
};

/* One provider's view of one port. */
struct port_probe {
    int error;                  /* probe() result. */
    void *caps;                 /* probe() result when 'error' is 0. */
    char reason[IPSEC_OFFLOAD_REASON_SIZE];  /* When 'error' is set. */
};

struct port {
    struct port *next;
    char *name;
    char *type;
    struct ipsec_offload_port_info info;
    bool allow;
    bool has_pref;
    struct pref pref;
    unsigned int n_sas;
    struct port_probe probes[IPSEC_OFFLOAD_MAX_PROVIDERS];
};

struct ipsec_offload {
    const struct ipsec_offload_class *classes[IPSEC_OFFLOAD_MAX_PROVIDERS];
    unsigned int n_classes;
    struct pref pref;
    bool enabled;
    struct port *ports;
    struct ipsec_offload_sa *sas;       /* All installed SAs. */
};

struct ipsec_offload_sa {
    struct ipsec_offload_sa *next, *prev;
    struct ipsec_offload *reg;
    const struct ipsec_offload_class *class;
    struct port *port;          /* Null: no port (sw only). */
    unsigned int class_idx;
    void *priv;
    struct esp_sa *sa;          /* The caller's (may be null). */
    char reason[IPSEC_OFFLOAD_REASON_SIZE];
};

/* Formatting helpers shared with the providers (ipsec-offload-provider.h). */
void
ipsec_offload_fmt(char *buf, size_t size, const char *format, ...)
{
    va_list args;

    va_start(args, format);
    vsnprintf(buf, size, format, args);
    va_end(args);
}

void
ipsec_offload_append(char *buf, size_t size, const char *format, ...)
{
    size_t len = strnlen(buf, size);
    va_list args;

    if (len + 1 >= size) {
        return;
    }
    va_start(args, format);
    vsnprintf(buf + len, size - len, format, args);
    va_end(args);
}


static int
find_class(const struct ipsec_offload *reg, const char *name)
{
    for (unsigned int i = 0; i < reg->n_classes; i++) {
        if (!strcmp(reg->classes[i]->name, name)) {
            return i;
        }
    }
    return -1;
}

static struct port *
find_port(const struct ipsec_offload *reg, const char *name)
{
    for (struct port *p = reg->ports; p; p = p->next) {
        if (!strcmp(p->name, name)) {
            return p;
        }
    }
    return NULL;
}

static int
parse_pref(const char *list, struct pref *pref, char *err, size_t err_size)
{
    struct pref new = { .n = 0 };
    const char *s = list ? list : "";
    bool has_sw = false;

    for (;;) {
        size_t len = strcspn(s, ",");

        while (len && (*s == ' ' || *s == '\t')) {
            s++;
            len--;
        }
        while (len && (s[len - 1] == ' ' || s[len - 1] == '\t')) {
            len--;
        }
        if (!len) {
            ipsec_offload_fmt(err, err_size,
                              "empty provider name in \"%s\"", list);
            return EINVAL;
        }
        if (len >= NAME_MAX_LEN) {
            ipsec_offload_fmt(err, err_size,
                              "provider name too long in \"%s\"", list);
            return EINVAL;
        }
        for (size_t i = 0; i < len; i++) {
            char c = s[i];

            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
                  || c == '-' || c == '_')) {
                ipsec_offload_fmt(err, err_size,
                                  "bad character '%c' in provider name", c);
                return EINVAL;
            }
        }
        if (new.n >= PREF_MAX - 1) {
            ipsec_offload_fmt(err, err_size, "more than %d providers",
                              PREF_MAX - 1);
            return EINVAL;
        }
        memcpy(new.names[new.n], s, len);
        new.names[new.n][len] = '\0';
        for (unsigned int i = 0; i < new.n; i++) {
            if (!strcmp(new.names[i], new.names[new.n])) {
                ipsec_offload_fmt(err, err_size,
                                  "provider \"%s\" listed twice",
                                  new.names[i]);
                return EINVAL;
            }
        }
        if (!strcmp(new.names[new.n], "sw")) {
            has_sw = true;
        }
        new.n++;

        s += strcspn(s, ",");
        if (!*s) {
            break;
        }
        s++;
    }
    if (!has_sw) {
        strcpy(new.names[new.n++], "sw");
    }
    *pref = new;
    return 0;
}

static void
format_pref(const struct pref *pref, char *buf, size_t size)
{
    ipsec_offload_fmt(buf, size, "%s", "");
    for (unsigned int i = 0; i < pref->n; i++) {
        ipsec_offload_append(buf, size, "%s%s", i ? "," : "", pref->names[i]);
    }
}

static void
probe_one(struct port *p, const struct ipsec_offload_class *class,
          struct port_probe *probe)
{
    memset(probe, 0, sizeof *probe);
    if (class->probe) {
        probe->error = class->probe(&p->info, &probe->caps, probe->reason,
                                    sizeof probe->reason);
        if (probe->error) {
            probe->caps = NULL;
            if (!probe->reason[0]) {
                ipsec_offload_fmt(probe->reason, sizeof probe->reason,
                    "port %s: probe failed (%s)", p->name,
                    strerror(probe->error));
            }
        }
    }
}

static void
unprobe_one(const struct ipsec_offload_class *class,
            struct port_probe *probe)
{
    if (!probe->error && probe->caps && class->caps_destroy) {
        class->caps_destroy(probe->caps);
    }
    probe->caps = NULL;
}

struct ipsec_offload *
ipsec_offload_create(void)
{
    struct ipsec_offload *reg = calloc(1, sizeof *reg);

    if (!reg) {
        return NULL;
    }
    reg->enabled = true;
    reg->classes[reg->n_classes++] = &ipsec_offload_sw_class;
    parse_pref("sw", &reg->pref, NULL, 0);
    return reg;
}

void
ipsec_offload_destroy(struct ipsec_offload *reg)
{
    if (!reg) {
        return;
    }
    while (reg->sas) {
        ipsec_offload_sa_remove(reg->sas);
    }
    while (reg->ports) {
        ipsec_offload_port_remove(reg, reg->ports->name);
    }
    free(reg);
}

int
ipsec_offload_register(struct ipsec_offload *reg,
                       const struct ipsec_offload_class *class)
{
    if (find_class(reg, class->name) >= 0) {
        return EEXIST;
    }
    if (reg->n_classes >= IPSEC_OFFLOAD_MAX_PROVIDERS) {
        return ENOSPC;
    }
    for (struct port *p = reg->ports; p; p = p->next) {
        probe_one(p, class, &p->probes[reg->n_classes]);
    }
    reg->classes[reg->n_classes++] = class;
    return 0;
}

int
ipsec_offload_set_preference(struct ipsec_offload *reg, const char *list,
                             char *err, size_t err_size)
{
    return parse_pref(list, &reg->pref, err, err_size);
}

void
ipsec_offload_get_preference(const struct ipsec_offload *reg,
                             char *buf, size_t size)
{
    format_pref(&reg->pref, buf, size);
}

void
ipsec_offload_set_enabled(struct ipsec_offload *reg, bool enabled)
{
    reg->enabled = enabled;
}

int
ipsec_offload_port_add(struct ipsec_offload *reg, const char *name,
                       const char *type, int dpdk_port_id)
{
    struct port *p;

    if (find_port(reg, name)) {
        return EEXIST;
    }
    p = calloc(1, sizeof *p);
    if (!p) {
        return ENOMEM;
    }
    p->name = strdup(name);
    p->type = strdup(type ? type : "");
    if (!p->name || !p->type) {
        free(p->name);
        free(p->type);
        free(p);
        return ENOMEM;
    }
    p->info.name = p->name;
    p->info.type = p->type;
    p->info.dpdk_port_id = dpdk_port_id;
    p->allow = true;
    for (unsigned int i = 0; i < reg->n_classes; i++) {
        probe_one(p, reg->classes[i], &p->probes[i]);
    }
    p->next = reg->ports;
    reg->ports = p;
    return 0;
}

int
ipsec_offload_port_set_config(struct ipsec_offload *reg, const char *name,
                              bool allow, const char *preference,
                              char *err, size_t err_size)
{
    struct port *p = find_port(reg, name);
    struct pref pref;

    if (!p) {
        ipsec_offload_fmt(err, err_size, "no port %s", name);
        return ENOENT;
    }
    if (preference) {
        int error = parse_pref(preference, &pref, err, err_size);

        if (error) {
            return error;
        }
        p->pref = pref;
    }
    p->has_pref = preference != NULL;
    p->allow = allow;
    return 0;
}

int
ipsec_offload_port_set_local(struct ipsec_offload *reg, const char *name,
                             const struct esp_addr *local)
{
    struct port *p = find_port(reg, name);

    if (!p) {
        return ENOENT;
    }
    memset(&p->info.local, 0, sizeof p->info.local);
    if (local && (local->family == AF_INET || local->family == AF_INET6)) {
        p->info.local = *local;
    }
    return 0;
}

int
ipsec_offload_port_remove(struct ipsec_offload *reg, const char *name)
{
    for (struct port **pp = &reg->ports; *pp; pp = &(*pp)->next) {
        struct port *p = *pp;

        if (!strcmp(p->name, name)) {
            if (p->n_sas) {
                return EBUSY;
            }
            *pp = p->next;
            for (unsigned int i = 0; i < reg->n_classes; i++) {
                unprobe_one(reg->classes[i], &p->probes[i]);
            }
            free(p->name);
            free(p->type);
            free(p);
            return 0;
        }
    }
    return ENOENT;
}

void
ipsec_offload_ports_format(const struct ipsec_offload *reg,
                           const char *name, char *buf, size_t size)
{
    ipsec_offload_fmt(buf, size, "%s", "");
    for (const struct port *p = reg->ports; p; p = p->next) {
        char pref[NAME_MAX_LEN * PREF_MAX];

        if (name && strcmp(name, p->name)) {
            continue;
        }
        format_pref(p->has_pref ? &p->pref : &reg->pref, pref, sizeof pref);
        ipsec_offload_append(buf, size, "port %s (type %s): offload %s, "
                             "preference %s, %u SAs\n", p->name, p->type,
                             p->allow && reg->enabled ? "allowed" : "denied",
                             pref, p->n_sas);
        for (unsigned int i = 0; i < reg->n_classes; i++) {
            const struct ipsec_offload_class *class = reg->classes[i];
            const struct port_probe *probe = &p->probes[i];
            char caps[IPSEC_OFFLOAD_REASON_SIZE] = "";

            if (probe->error) {
                ipsec_offload_append(buf, size, "  %s: unavailable: %s\n",
                                     class->name, probe->reason);
                continue;
            }
            if (class->caps_format) {
                class->caps_format(probe->caps, caps, sizeof caps);
            }
            ipsec_offload_append(buf, size, "  %s: %s\n", class->name,
                                 caps[0] ? caps : "available");
        }
    }
}

/* Records that provider 'name' declined with 'why'. */
static void
decline(char *reason, size_t size, const char *name, const char *why)
{
    ipsec_offload_append(reason, size, "%s%s: %s", reason[0] ? "; " : "",
                         name, why);
}

int
ipsec_offload_sa_install(struct ipsec_offload *reg, const char *port_name,
                         const struct esp_sa_params *params,
                         struct esp_sa *sa, struct ipsec_offload_sa **osap,
                         char *err, size_t err_size)
{
    struct port *port = port_name ? find_port(reg, port_name) : NULL;
    const struct pref *pref;
    struct ipsec_offload_sa *osa;
    struct ipsec_offload_port_info noport = {
        .name = port_name ? port_name : "", .type = "", .dpdk_port_id = -1,
    };

    *osap = NULL;
    osa = calloc(1, sizeof *osa);
    if (!osa) {
        ipsec_offload_fmt(err, err_size, "out of memory");
        return ENOMEM;
    }
    pref = port && port->has_pref ? &port->pref : &reg->pref;

    for (unsigned int i = 0; i < pref->n; i++) {
        const char *name = pref->names[i];
        int idx = find_class(reg, name);
        const struct ipsec_offload_class *class;
        const struct ipsec_offload_port_info *info;
        char why[IPSEC_OFFLOAD_REASON_SIZE] = "";
        void *caps = NULL;
        void *priv = NULL;
        int error;

        if (idx < 0) {
            decline(osa->reason, sizeof osa->reason, name,
                    "provider not available in this build");
            continue;
        }
        class = reg->classes[idx];
        if (class != &ipsec_offload_sw_class) {
            if (!port) {
                decline(osa->reason, sizeof osa->reason, name,
                        port_name ? "port not known to offload"
                                  : "SA has no port");
                continue;
            }
            if (!reg->enabled) {
                decline(osa->reason, sizeof osa->reason, name,
                        "offload disabled");
                continue;
            }
            if (!port->allow) {
                ipsec_offload_fmt(why, sizeof why,
                                  "offload disabled on port %s", port->name);
                decline(osa->reason, sizeof osa->reason, name, why);
                continue;
            }
            if (port->probes[idx].error) {
                decline(osa->reason, sizeof osa->reason, name,
                        port->probes[idx].reason);
                continue;
            }
        }
        if (port) {
            caps = port->probes[idx].caps;
            info = &port->info;
        } else {
            info = &noport;
        }

        error = class->can_take(caps, info, params, why, sizeof why);
        if (!error) {
            error = class->sa_install(caps, info, params, sa, &priv,
                                      why, sizeof why);
        }
        if (error == EOPNOTSUPP) {
            decline(osa->reason, sizeof osa->reason, name,
                    why[0] ? why : "declined");
            continue;
        } else if (error) {
            ipsec_offload_fmt(err, err_size, "%s: %s", name,
                why[0] ? why : strerror(error));
            free(osa);
            return error;
        }

        osa->reg = reg;
        osa->class = class;
        osa->class_idx = idx;
        osa->port = port;
        osa->priv = priv;
        osa->sa = sa;
        if (port) {
            port->n_sas++;
        }
        osa->next = reg->sas;
        if (reg->sas) {
            reg->sas->prev = osa;
        }
        reg->sas = osa;
        *osap = osa;
        return 0;
    }

    ipsec_offload_fmt(err, err_size,
                      "no provider can take SPI 0x%08"PRIx32": %s",
                      params->spi, osa->reason);
    free(osa);
    return EOPNOTSUPP;
}

void
ipsec_offload_sa_remove(struct ipsec_offload_sa *osa)
{
    struct ipsec_offload *reg;
    void *caps;

    if (!osa) {
        return;
    }
    reg = osa->reg;
    caps = osa->port ? osa->port->probes[osa->class_idx].caps : NULL;
    osa->class->sa_remove(caps, osa->priv);
    if (osa->port) {
        osa->port->n_sas--;
    }
    if (osa->prev) {
        osa->prev->next = osa->next;
    } else {
        reg->sas = osa->next;
    }
    if (osa->next) {
        osa->next->prev = osa->prev;
    }
    free(osa);
}

const char *
ipsec_offload_sa_provider(const struct ipsec_offload_sa *osa)
{
    return osa->class->name;
}

enum ipsec_offload_kind
ipsec_offload_sa_kind(const struct ipsec_offload_sa *osa)
{
    return osa->class->kind;
}

const char *
ipsec_offload_sa_reason(const struct ipsec_offload_sa *osa)
{
    return osa->reason;
}

void *
ipsec_offload_sa_priv(const struct ipsec_offload_sa *osa)
{
    return osa->priv;
}

struct esp_sa *
ipsec_offload_sa_esp(const struct ipsec_offload_sa *osa)
{
    struct esp_sa *own = (osa->class->sa_esp
                          ? osa->class->sa_esp(osa->priv) : NULL);

    return own ? own : osa->sa;
}

void
ipsec_offload_sa_format(const struct ipsec_offload_sa *osa,
                        char *buf, size_t size)
{
    ipsec_offload_fmt(buf, size, "offload=%s", osa->class->name);
    if (osa->reason[0]) {
        ipsec_offload_append(buf, size, " reason=\"%s\"", osa->reason);
    }
}

int
ipsec_offload_sa_get_stats(const struct ipsec_offload_sa *osa,
                           struct ipsec_offload_stats *stats)
{
    memset(stats, 0, sizeof *stats);
    if (!osa->class->sa_get_stats) {
        return EOPNOTSUPP;
    }
    return osa->class->sa_get_stats(osa->priv, stats);
}

uint32_t
ipsec_offload_sa_take_events(struct ipsec_offload_sa *osa)
{
    uint32_t events = 0;

    if (osa->class->sa_take_events) {
        events |= osa->class->sa_take_events(osa->priv);
    }
    return events;
}

const char *
ipsec_offload_kind_name(enum ipsec_offload_kind kind)
{
    switch (kind) {
    case IPSEC_OFFLOAD_SW:
        return "sw";
    case IPSEC_OFFLOAD_INLINE_CRYPTO:
        return "inline-crypto";
    case IPSEC_OFFLOAD_INLINE_PROTOCOL:
        return "inline-protocol";
    case IPSEC_OFFLOAD_LOOKASIDE:
        return "lookaside";
    case IPSEC_OFFLOAD_CPU_CRYPTO:
        return "cpu-crypto";
    }
    return "unknown";
}
