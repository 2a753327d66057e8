/*
 * Policy compiler: struct ctl_policy to struct ctl_state.  See compile.h
 * and docs/policy.md ("What the policy becomes").
 */
#include "compile.h"
#include "ctl-util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

void (*ctl_key_free_hook)(const uint8_t *key, size_t len);

/* The OVSDB interface type of the ESP tunnel-mode port and the option
 * that makes a vxlan/geneve port IPsec-required with SAs installed through
 * ipsec/sa-add (ovs-patches, issue #3). */
static const char esp_port_type[] = "esp";
static const char ipsec_option[] = "ipsec";
static const char ipsec_option_value[] = "required";

enum {
    IP_PROTO_ESP = 50,
    IKE_PORT = 500,
    VXLAN_PORT = 4789,
    GENEVE_PORT = 6081,
};

static char * __attribute__((format(printf, 1, 2)))
xasprintf(const char *fmt, ...)
{
    va_list args;
    char *s;
    va_start(args, fmt);
    if (vasprintf(&s, fmt, args) < 0) {
        abort();
    }
    va_end(args);
    return s;
}

/* --- SPIs ---------------------------------------------------------------- */

struct spi_alloc {
    const struct ctl_compile_options *opts;
    uint64_t state;
    uint32_t *used;
    size_t n_used;
};

/* splitmix64: a deterministic sequence for tests (--seed).  SPIs are not
 * secret (they are sent in clear in every packet); keys never come from
 * here. */
static uint64_t
splitmix64(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static int
random_bytes(void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno;
        }
        p += n;
        len -= n;
    }
    return 0;
}

int
ctl_random_bytes(void *buf, size_t len)
{
    return random_bytes(buf, len);
}

/* Allocates an SPI >= CTL_SPI_MIN, unique in the whole policy, so unique
 * among the inbound SAs of every site (RFC 4301 4.1: the receiver's SPI
 * identifies the SA). */
static int
spi_next(struct spi_alloc *sa, uint32_t *spip)
{
    for (;;) {
        uint32_t spi;
        if (sa->opts->seeded) {
            spi = splitmix64(&sa->state);
        } else {
            int error = random_bytes(&spi, sizeof spi);
            if (error) {
                return error;
            }
        }
        if (spi < CTL_SPI_MIN) {
            continue;
        }
        bool dup = false;
        for (size_t i = 0; i < sa->n_used && !dup; i++) {
            dup = sa->used[i] == spi;
        }
        if (!dup) {
            sa->used = ctl_xrealloc(sa->used, (sa->n_used + 1) * sizeof *sa->used);
            sa->used[sa->n_used++] = spi;
            *spip = spi;
            return 0;
        }
    }
}

static uint32_t
fnv1a32(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h = (h ^ (uint8_t) *s) * 16777619u;
    }
    return h;
}

/* --- Building the state -------------------------------------------------- */

static void
add_option(struct ctl_port *port, const char *key, char *value)
{
    port->options = ctl_xrealloc(port->options,
                             (port->n_options + 1) * sizeof *port->options);
    port->options[port->n_options++] = (struct ctl_port_option) {
        ctl_xstrdup(key), value
    };
}

static void
add_flow_table(struct ctl_site_state *ss, unsigned int table, uint64_t cookie,
               unsigned int priority, char *match, char *actions)
{
    /* A site-wide flow may be asked for by several links (two links to
     * the same remote subnet from different local subnets): keep one. */
    for (size_t i = 0; i < ss->n_flows; i++) {
        struct ctl_flow *f = &ss->flows[i];
        if (f->table == table && f->priority == priority
            && !strcmp(f->match, match)) {
            free(match);
            free(actions);
            return;
        }
    }
    ss->flows = ctl_xrealloc(ss->flows, (ss->n_flows + 1) * sizeof *ss->flows);
    ss->flows[ss->n_flows++] = (struct ctl_flow) {
        cookie, table, priority, match, actions
    };
}

static void
add_flow(struct ctl_site_state *ss, uint64_t cookie, unsigned int priority,
         char *match, char *actions)
{
    add_flow_table(ss, 0, cookie, priority, match, actions);
}

static struct ctl_sa *
add_sa(struct ctl_site_state *ss)
{
    ss->sas = ctl_xrealloc(ss->sas, (ss->n_sas + 1) * sizeof *ss->sas);
    struct ctl_sa *sa = &ss->sas[ss->n_sas++];
    memset(sa, 0, sizeof *sa);
    return sa;
}

static const char *
ip_kw(int family)
{
    return family == AF_INET ? "ip" : "ipv6";
}

static const char *
udp_kw(int family)
{
    return family == AF_INET ? "udp" : "udp6";
}

static const char *
src_kw(int family)
{
    return family == AF_INET ? "nw_src" : "ipv6_src";
}

static const char *
dst_kw(int family)
{
    return family == AF_INET ? "nw_dst" : "ipv6_dst";
}

/* Flows every site has whatever its links: let the WAN's own IPsec traffic
 * through (ESP, NAT-T, IKE: RFC 4301 5.1 BYPASS for the key exchange) and
 * forward what no policy protects. */
static void
site_flows(struct ctl_site_state *ss, const struct ctl_site *site)
{
    char w[INET6_ADDRSTRLEN];
    int fam = site->wan.family;
    const char *ip = ip_kw(fam), *udp = udp_kw(fam);
    char in_port[32] = "";

    ctl_addr_format(&site->wan, w, sizeof w);
    if (site->wan_port) {
        snprintf(in_port, sizeof in_port, "in_port=%s,", site->wan_port);
    }
    add_flow(ss, CTL_COOKIE_BASE, CTL_PRIO_BYPASS,
             xasprintf("%s%s,%s=%s,nw_proto=%d", in_port, ip, dst_kw(fam), w,
                       IP_PROTO_ESP), ctl_xstrdup("NORMAL"));
    add_flow(ss, CTL_COOKIE_BASE, CTL_PRIO_BYPASS,
             xasprintf("%s,%s=%s,nw_proto=%d", ip, src_kw(fam), w,
                       IP_PROTO_ESP), ctl_xstrdup("NORMAL"));
    static const int udp_ports[] = { IKE_PORT, 4500 };
    for (size_t i = 0; i < 2; i++) {
        add_flow(ss, CTL_COOKIE_BASE, CTL_PRIO_BYPASS,
                 xasprintf("%s%s,%s=%s,tp_dst=%d", in_port, udp, dst_kw(fam),
                           w, udp_ports[i]), ctl_xstrdup("NORMAL"));
        add_flow(ss, CTL_COOKIE_BASE, CTL_PRIO_BYPASS,
                 xasprintf("%s,%s=%s,tp_src=%d", udp, src_kw(fam), w,
                           udp_ports[i]), ctl_xstrdup("NORMAL"));
    }
    add_flow(ss, CTL_COOKIE_BASE, CTL_PRIO_DEFAULT, ctl_xstrdup(""),
             ctl_xstrdup("NORMAL"));
}

static void
link_port(struct ctl_site_state *ss, const struct ctl_link *link, size_t li,
          const struct ctl_addr *local, const struct ctl_addr *remote)
{
    char buf[INET6_ADDRSTRLEN];
    ss->ports = ctl_xrealloc(ss->ports, (ss->n_ports + 1) * sizeof *ss->ports);
    struct ctl_port *port = &ss->ports[ss->n_ports++];
    memset(port, 0, sizeof *port);
    port->name = ctl_xstrdup(link->port);
    port->link = li;
    switch (link->params.mode) {
    case CTL_MODE_ESP_TUNNEL:
        port->type = ctl_xstrdup(esp_port_type);
        break;
    case CTL_MODE_VXLAN_ESP:
        port->type = ctl_xstrdup("vxlan");
        break;
    case CTL_MODE_GENEVE_ESP:
        port->type = ctl_xstrdup("geneve");
        break;
    }
    add_option(port, "local_ip", ctl_xstrdup(ctl_addr_format(local, buf,
                                                         sizeof buf)));
    add_option(port, "remote_ip", ctl_xstrdup(ctl_addr_format(remote, buf,
                                                          sizeof buf)));
    if (link->params.mode != CTL_MODE_ESP_TUNNEL) {
        add_option(port, "key", xasprintf("%"PRIu32, link->vni));
        add_option(port, ipsec_option, ctl_xstrdup(ipsec_option_value));
    }
}

/* The flows of link 'link' at the site of endpoint 'l' (the other end is
 * 'r'): steer each (local, remote) selector pair into the port and accept
 * it back out of the port; drop everything else from the port, and drop
 * traffic to or from the remote protected subnets that took any other
 * path (fail closed: never in clear). */
static void
link_flows(struct ctl_site_state *ss, const struct ctl_link *link,
           const struct ctl_endpoint *l, const struct ctl_endpoint *r,
           const struct ctl_addr *local, const struct ctl_addr *remote)
{
    uint64_t cookie = CTL_COOKIE_BASE | fnv1a32(link->name);
    const char *port = link->port;
    bool l3 = link->params.mode == CTL_MODE_ESP_TUNNEL;
    const uint8_t *m = ss->site->router_mac;
    char ls[64], rs[64];
    char *accept;

    if (l3) {
        /* The esp port is L3: decrypted packets come out of it with a
         * dummy Ethernet header, and the site is the protected hosts' L3
         * gateway.  Their source MAC becomes the router MAC; the
         * destination MAC and port are those learned from the host's own
         * traffic into the tunnel (table CTL_TABLE_HOSTS), else the
         * table's miss flow (broadcast to the LAN port, or drop). */
        accept = xasprintf("mod_dl_src:%02x:%02x:%02x:%02x:%02x:%02x,"
                           "resubmit(,%d)", m[0], m[1], m[2], m[3], m[4],
                           m[5], CTL_TABLE_HOSTS);
        add_flow_table(ss, CTL_TABLE_HOSTS, CTL_COOKIE_BASE,
                       CTL_PRIO_DEFAULT, ctl_xstrdup(""),
                       (ss->site->lan_port
                        ? xasprintf("mod_dl_dst:ff:ff:ff:ff:ff:ff,output:%s",
                                    ss->site->lan_port)
                        : ctl_xstrdup("drop")));
    } else {
        accept = (ss->site->lan_port
                  ? xasprintf("output:%s", ss->site->lan_port)
                  : ctl_xstrdup("NORMAL"));
    }

    for (size_t i = 0; i < l->n_subnets; i++) {
        for (size_t j = 0; j < r->n_subnets; j++) {
            const struct ctl_prefix *lp = &l->subnets[i], *rp = &r->subnets[j];
            int fam = lp->addr.family;
            if (fam != rp->addr.family) {
                continue;
            }
            ctl_prefix_format(lp, ls, sizeof ls);
            ctl_prefix_format(rp, rs, sizeof rs);
            add_flow(ss, cookie, CTL_PRIO_STEER,
                     xasprintf("%s,%s=%s,%s=%s", ip_kw(fam), src_kw(fam), ls,
                               dst_kw(fam), rs),
                     (l3
                      ? xasprintf("learn(table=%d,idle_timeout=%d,"
                                  "priority=%d,eth_type=0x%04x,"
                                  "%s[]=%s[],load:NXM_OF_ETH_SRC[]->"
                                  "NXM_OF_ETH_DST[],"
                                  "output:NXM_OF_IN_PORT[]),output:%s",
                                  CTL_TABLE_HOSTS, CTL_HOST_IDLE_TIMEOUT,
                                  CTL_PRIO_STEER,
                                  fam == AF_INET ? 0x0800 : 0x86dd,
                                  fam == AF_INET ? "NXM_OF_IP_DST"
                                                 : "NXM_NX_IPV6_DST",
                                  fam == AF_INET ? "NXM_OF_IP_SRC"
                                                 : "NXM_NX_IPV6_SRC", port)
                      : xasprintf("output:%s", port)));
            add_flow(ss, cookie, CTL_PRIO_STEER,
                     xasprintf("in_port=%s,%s,%s=%s,%s=%s", port, ip_kw(fam),
                               src_kw(fam), rs, dst_kw(fam), ls),
                     ctl_xstrdup(accept));
        }
    }
    add_flow(ss, cookie, CTL_PRIO_TUNNEL_OTHER,
             xasprintf("in_port=%s", port), ctl_xstrdup("drop"));

    for (size_t j = 0; j < r->n_subnets; j++) {
        const struct ctl_prefix *rp = &r->subnets[j];
        int fam = rp->addr.family;
        ctl_prefix_format(rp, rs, sizeof rs);
        add_flow(ss, CTL_COOKIE_BASE, CTL_PRIO_FAIL_CLOSED,
                 xasprintf("%s,%s=%s", ip_kw(fam), dst_kw(fam), rs),
                 ctl_xstrdup("drop"));
        add_flow(ss, CTL_COOKIE_BASE, CTL_PRIO_FAIL_CLOSED,
                 xasprintf("%s,%s=%s", ip_kw(fam), src_kw(fam), rs),
                 ctl_xstrdup("drop"));
    }

    /* The tunnel protocol itself must arrive inside ESP; clear vxlan or
     * geneve from the peer is refused before the tunnel could pop it. */
    if (link->params.mode != CTL_MODE_ESP_TUNNEL) {
        char la[INET6_ADDRSTRLEN], ra[INET6_ADDRSTRLEN];
        int fam = local->family;
        add_flow(ss, cookie, CTL_PRIO_CLEAR_TUNNEL,
                 xasprintf("%s,%s=%s,%s=%s,tp_dst=%d", udp_kw(fam),
                           src_kw(fam), ctl_addr_format(remote, ra, sizeof ra),
                           dst_kw(fam), ctl_addr_format(local, la, sizeof la),
                           link->params.mode == CTL_MODE_VXLAN_ESP
                           ? VXLAN_PORT : GENEVE_PORT),
                 ctl_xstrdup("drop"));
    }
    free(accept);
}

/* Fills in one SA of 'link' going from endpoint 'from' to endpoint 'to',
 * as seen by the end 'inbound' or not. */
static void
fill_sa(struct ctl_sa *sa, const struct ctl_link *link, size_t li,
        bool inbound, uint32_t spi,
        const struct ctl_endpoint *from, const struct ctl_addr *from_addr,
        const struct ctl_endpoint *to, const struct ctl_addr *to_addr,
        const uint8_t *key, size_t key_len, size_t auth_len, bool at_site)
{
    const struct ctl_link_params *p = &link->params;
    sa->port = at_site ? ctl_xstrdup(link->port) : NULL;
    sa->inbound = inbound;
    sa->spi = spi;
    sa->suite = p->suite;
    sa->tunnel = p->mode == CTL_MODE_ESP_TUNNEL;
    if (sa->tunnel) {
        sa->src = *from_addr;
        sa->dst = *to_addr;
    }
    sa->esn = p->esn;
    sa->replay_window = inbound ? p->replay_window : 0;
    sa->udp_encap = p->udp_encap;
    sa->udp_port = p->udp_port;
    if (sa->tunnel && from->n_subnets == 1 && to->n_subnets == 1) {
        sa->has_selector = true;
        sa->sel_src = from->subnets[0];
        sa->sel_dst = to->subnets[0];
    }
    sa->lifetime = p->lifetime;
    sa->link = li;
    sa->key_len = key_len + auth_len;
    sa->auth_key_len = auth_len;
    sa->key = malloc(sa->key_len);
    if (!sa->key) {
        abort();
    }
    memcpy(sa->key, key, sa->key_len);
}

static struct ctl_site_state *
endpoint_state(struct ctl_state *st, const struct ctl_policy *pol,
               const struct ctl_endpoint *ep)
{
    return &st->sites[ep->site >= 0 ? (size_t) ep->site
                      : pol->n_sites + ep->gateway];
}

static const struct ctl_addr *
endpoint_addr(const struct ctl_policy *pol, const struct ctl_endpoint *ep)
{
    return (ep->site >= 0 ? &pol->sites[ep->site].wan
            : &pol->gateways[ep->gateway].addr);
}

static int
compile_link(struct ctl_state *st, size_t li, struct spi_alloc *spis)
{
    const struct ctl_policy *pol = st->policy;
    const struct ctl_link *link = &pol->links[li];
    size_t auth_len;
    size_t key_len = ctl_suite_key_len(link->params.suite, &auth_len);
    uint8_t key[128];

    for (int e = 0; e < 2; e++) {
        const struct ctl_endpoint *l = &link->ep[e], *r = &link->ep[!e];
        if (l->site < 0) {
            continue;
        }
        struct ctl_site_state *ss = endpoint_state(st, pol, l);
        link_port(ss, link, li, endpoint_addr(pol, l), endpoint_addr(pol, r));
        link_flows(ss, link, l, r, endpoint_addr(pol, l),
                   endpoint_addr(pol, r));
    }

    /* One SA per direction, 'from' -> 'to', each with its own fresh key:
     * outbound at 'from', inbound at 'to'. */
    for (int dir = 0; dir < 2; dir++) {
        const struct ctl_endpoint *from = &link->ep[dir];
        const struct ctl_endpoint *to = &link->ep[!dir];
        uint32_t spi;
        int error = spi_next(spis, &spi);
        if (!error) {
            error = random_bytes(key, key_len + auth_len);
        }
        if (error) {
            explicit_bzero(key, sizeof key);
            return error;
        }
        fill_sa(add_sa(endpoint_state(st, pol, from)), link, li, false, spi,
                from, endpoint_addr(pol, from), to, endpoint_addr(pol, to),
                key, key_len, auth_len, from->site >= 0);
        fill_sa(add_sa(endpoint_state(st, pol, to)), link, li, true, spi,
                from, endpoint_addr(pol, from), to, endpoint_addr(pol, to),
                key, key_len, auth_len, to->site >= 0);
        explicit_bzero(key, sizeof key);
    }
    return 0;
}

static int
cmp_flow(const void *a_, const void *b_)
{
    const struct ctl_flow *a = a_, *b = b_;
    if (a->table != b->table) {
        return a->table < b->table ? -1 : 1;
    }
    if (a->priority != b->priority) {
        return a->priority > b->priority ? -1 : 1;
    }
    return strcmp(a->match, b->match);
}

static int
cmp_sa(const void *a_, const void *b_)
{
    const struct ctl_sa *a = a_, *b = b_;
    int c = strcmp(a->port ? a->port : "", b->port ? b->port : "");
    if (c) {
        return c;
    }
    /* Inbound first: the order in which they are installed. */
    if (a->inbound != b->inbound) {
        return a->inbound ? -1 : 1;
    }
    return a->spi < b->spi ? -1 : a->spi > b->spi;
}

static int
cmp_port(const void *a_, const void *b_)
{
    const struct ctl_port *a = a_, *b = b_;
    return strcmp(a->name, b->name);
}

int
ctl_compile(const struct ctl_policy *pol,
            const struct ctl_compile_options *opts,
            struct ctl_state **statep)
{
    static const struct ctl_compile_options default_opts;
    struct ctl_state *st = calloc(1, sizeof *st);
    if (!st) {
        abort();
    }
    opts = opts ? opts : &default_opts;
    st->policy = pol;
    st->n_sites = pol->n_sites + pol->n_gateways;
    st->sites = calloc(st->n_sites ? st->n_sites : 1, sizeof *st->sites);
    if (!st->sites) {
        abort();
    }
    for (size_t i = 0; i < pol->n_sites; i++) {
        st->sites[i].name = pol->sites[i].name;
        st->sites[i].site = &pol->sites[i];
        site_flows(&st->sites[i], &pol->sites[i]);
    }
    for (size_t i = 0; i < pol->n_gateways; i++) {
        st->sites[pol->n_sites + i].name = pol->gateways[i].name;
        st->sites[pol->n_sites + i].gateway = true;
    }

    st->links = calloc(pol->n_links ? pol->n_links : 1, sizeof *st->links);
    if (!st->links) {
        abort();
    }

    struct spi_alloc spis = { .opts = opts, .state = opts->seed };
    int error = 0;
    for (size_t i = 0; i < pol->n_links && !error; i++) {
        error = compile_link(st, i, &spis);
    }
    free(spis.used);
    if (error) {
        ctl_state_destroy(st);
        *statep = NULL;
        return error;
    }

    for (size_t i = 0; i < st->n_sites; i++) {
        struct ctl_site_state *ss = &st->sites[i];
        if (ss->n_flows) {
            qsort(ss->flows, ss->n_flows, sizeof *ss->flows, cmp_flow);
        }
        if (ss->n_sas) {
            qsort(ss->sas, ss->n_sas, sizeof *ss->sas, cmp_sa);
        }
        if (ss->n_ports) {
            qsort(ss->ports, ss->n_ports, sizeof *ss->ports, cmp_port);
        }
    }
    *statep = st;
    return 0;
}

void
ctl_sa_destroy(struct ctl_sa *sa)
{
    if (sa->key) {
        explicit_bzero(sa->key, sa->key_len);
        if (ctl_key_free_hook) {
            ctl_key_free_hook(sa->key, sa->key_len);
        }
        free(sa->key);
    }
    free(sa->port);
}

void
ctl_state_destroy(struct ctl_state *st)
{
    if (!st) {
        return;
    }
    for (size_t i = 0; i < st->n_sites; i++) {
        struct ctl_site_state *ss = &st->sites[i];
        for (size_t j = 0; j < ss->n_sas; j++) {
            ctl_sa_destroy(&ss->sas[j]);
        }
        for (size_t j = 0; j < ss->n_ports; j++) {
            struct ctl_port *port = &ss->ports[j];
            for (size_t k = 0; k < port->n_options; k++) {
                free(port->options[k].key);
                free(port->options[k].value);
            }
            free(port->options);
            free(port->name);
            free(port->type);
        }
        for (size_t j = 0; j < ss->n_flows; j++) {
            free(ss->flows[j].match);
            free(ss->flows[j].actions);
        }
        free(ss->sas);
        free(ss->ports);
        free(ss->flows);
    }
    free(st->sites);
    free(st->links);
    free(st);
}

void
ctl_sa_clone(struct ctl_sa *dst, const struct ctl_sa *src)
{
    *dst = *src;
    dst->port = src->port ? ctl_xstrdup(src->port) : NULL;
    dst->key = malloc(src->key_len ? src->key_len : 1);
    if (!dst->key) {
        abort();
    }
    memcpy(dst->key, src->key, src->key_len);
}

static bool
addr_equal(const struct ctl_addr *a, const struct ctl_addr *b)
{
    char as[INET6_ADDRSTRLEN], bs[INET6_ADDRSTRLEN];
    ctl_addr_format(a, as, sizeof as);
    ctl_addr_format(b, bs, sizeof bs);
    return !strcmp(as, bs);
}

static bool
prefix_equal(const struct ctl_prefix *a, const struct ctl_prefix *b)
{
    char as[64], bs[64];
    ctl_prefix_format(a, as, sizeof as);
    ctl_prefix_format(b, bs, sizeof bs);
    return !strcmp(as, bs);
}

bool
ctl_sa_same_params(const struct ctl_sa *a, const struct ctl_sa *b)
{
    if (!a->port != !b->port || (a->port && strcmp(a->port, b->port))
        || a->inbound != b->inbound || a->suite != b->suite
        || a->key_len != b->key_len || a->auth_key_len != b->auth_key_len
        || a->tunnel != b->tunnel || a->esn != b->esn
        || a->replay_window != b->replay_window
        || a->udp_encap != b->udp_encap || a->udp_port != b->udp_port
        || a->has_selector != b->has_selector
        || memcmp(&a->lifetime, &b->lifetime, sizeof a->lifetime)) {
        return false;
    }
    if (a->tunnel && (!addr_equal(&a->src, &b->src)
                      || !addr_equal(&a->dst, &b->dst))) {
        return false;
    }
    return (!a->has_selector || (prefix_equal(&a->sel_src, &b->sel_src)
                                 && prefix_equal(&a->sel_dst, &b->sel_dst)));
}

static struct ctl_site_state *
state_site(const struct ctl_state *st, const char *name, size_t *idx)
{
    for (size_t i = 0; i < st->n_sites; i++) {
        if (!strcmp(st->sites[i].name, name)) {
            *idx = i;
            return &st->sites[i];
        }
    }
    return NULL;
}

static bool
state_link(const struct ctl_state *st, const char *name, size_t *li)
{
    for (size_t i = 0; i < st->policy->n_links; i++) {
        if (!strcmp(st->policy->links[i].name, name)) {
            *li = i;
            return true;
        }
    }
    return false;
}

/* The current (not retiring) SA of 'ss' on link 'li', direction
 * 'inbound', with 'spi' unless 'any_spi'. */
static struct ctl_sa *
current_sa(const struct ctl_site_state *ss, size_t li, bool inbound,
           bool any_spi, uint32_t spi)
{
    for (size_t k = 0; k < ss->n_sas; k++) {
        struct ctl_sa *sa = &ss->sas[k];
        if (sa->link == li && sa->inbound == inbound && !sa->retiring
            && (any_spi || sa->spi == spi)) {
            return sa;
        }
    }
    return NULL;
}

struct carried {
    size_t site;                /* In the new state. */
    struct ctl_sa sa;
};

static void
carry(struct carried **v, size_t *n, size_t site, const struct ctl_sa *sa,
      size_t li, bool retire)
{
    struct carried *c = realloc(*v, (*n + 1) * sizeof **v);
    if (!c) {
        abort();
    }
    *v = c;
    c[*n].site = site;
    ctl_sa_clone(&c[*n].sa, sa);
    c[*n].sa.link = li;
    if (retire && !c[*n].sa.retiring) {
        c[*n].sa.retiring = true;
        c[*n].sa.retire_at = 0;
    }
    (*n)++;
}

/* Appends to 'v' the retiring SAs of 'oss' on old link 'oli' in direction
 * 'inbound'. */
static void
carry_retiring(struct carried **v, size_t *n, size_t site,
               const struct ctl_site_state *oss, size_t oli, size_t li,
               bool inbound)
{
    for (size_t k = 0; k < oss->n_sas; k++) {
        const struct ctl_sa *sa = &oss->sas[k];
        if (sa->link == oli && sa->inbound == inbound && sa->retiring) {
            carry(v, n, site, sa, li, true);
        }
    }
}

void
ctl_state_carry_over(struct ctl_state *new, const struct ctl_state *old)
{
    struct carried *v = NULL;
    size_t n = 0;

    for (size_t li = 0; li < new->policy->n_links; li++) {
        size_t oli;
        if (state_link(old, new->policy->links[li].name, &oli)) {
            new->links[li] = old->links[oli];
        }
    }

    /* Decide per pair (outbound at X, inbound at Y, one SPI), so that both
     * ends always agree. */
    for (size_t x = 0; x < new->n_sites; x++) {
        struct ctl_site_state *xs = &new->sites[x];
        for (size_t k = 0; k < xs->n_sas; k++) {
            struct ctl_sa *no = &xs->sas[k];
            if (no->inbound || no->retiring) {
                continue;
            }
            size_t li = no->link, oli, y = 0, ox, oy;
            struct ctl_sa *ni = NULL;
            for (y = 0; y < new->n_sites && !ni; y++) {
                ni = current_sa(&new->sites[y], li, true, false, no->spi);
            }
            if (!ni) {
                continue;
            }
            y--;
            const struct ctl_site_state *oxs, *oys;
            if (!state_link(old, new->policy->links[li].name, &oli)
                || !(oxs = state_site(old, xs->name, &ox))
                || !(oys = state_site(old, new->sites[y].name, &oy))) {
                continue;
            }
            const struct ctl_sa *oo = current_sa(oxs, oli, false, true, 0);
            const struct ctl_sa *oi = (oo ? current_sa(oys, oli, true, false,
                                                       oo->spi)
                                       : NULL);
            if (!oo || !oi) {
                continue;
            }
            if (ctl_sa_same_params(oo, no) && ctl_sa_same_params(oi, ni)) {
                /* Unchanged: the installed pair stays as it is. */
                ctl_sa_destroy(no);
                ctl_sa_clone(no, oo);
                no->link = li;
                ctl_sa_destroy(ni);
                ctl_sa_clone(ni, oi);
                ni->link = li;
            } else if (!oo->port == !no->port && !oi->port == !ni->port
                       && (!oo->port || !strcmp(oo->port, no->port))
                       && (!oi->port || !strcmp(oi->port, ni->port))) {
                /* Changed on the same ports: the old pair retires once
                 * the new one is installed everywhere. */
                carry(&v, &n, x, oo, li, true);
                carry(&v, &n, y, oi, li, true);
            } else {
                continue;       /* Other ports: they go with the old. */
            }
            carry_retiring(&v, &n, x, oxs, oli, li, false);
            carry_retiring(&v, &n, y, oys, oli, li, true);
        }
    }

    for (size_t i = 0; i < n; i++) {
        struct ctl_site_state *ss = &new->sites[v[i].site];
        struct ctl_sa *sas = realloc(ss->sas, (ss->n_sas + 1) * sizeof *sas);
        if (!sas) {
            abort();
        }
        ss->sas = sas;
        ss->sas[ss->n_sas++] = v[i].sa;
    }
    free(v);
}

/* --- Printing ------------------------------------------------------------ */

struct sbuf {
    char *buf;
    size_t size, len;
};

static void __attribute__((format(printf, 2, 3)))
sb_put(struct sbuf *sb, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    size_t room = sb->len < sb->size ? sb->size - sb->len : 0;
    int n = vsnprintf(sb->buf + sb->len, room, fmt, args);
    va_end(args);
    if (n > 0) {
        sb->len += n;
    }
}

static void
sb_put_key(struct sbuf *sb, const char *name, const uint8_t *key, size_t len,
           bool reveal)
{
    if (!reveal) {
        sb_put(sb, ",%s=<redacted>", name);
        return;
    }
    sb_put(sb, ",%s=0x", name);
    for (size_t i = 0; i < len; i++) {
        sb_put(sb, "%02x", key[i]);
    }
}

static void
sa_format(const struct ctl_sa *sa, char *buf, size_t size, bool reveal)
{
    struct sbuf sb = { buf, size, 0 };
    size_t enc_len = sa->key_len - sa->auth_key_len;
    char a[INET6_ADDRSTRLEN], p[64];

    if (size) {
        buf[0] = '\0';
    }
    sb_put(&sb, "spi=0x%08"PRIx32",mode=%s", sa->spi,
           sa->tunnel ? "tunnel" : "transport");
    if (sa->tunnel) {
        sb_put(&sb, ",src=%s", ctl_addr_format(&sa->src, a, sizeof a));
        sb_put(&sb, ",dst=%s", ctl_addr_format(&sa->dst, a, sizeof a));
    }
    switch (sa->suite) {
    case CTL_SUITE_AES_GCM_128:
    case CTL_SUITE_AES_GCM_256:
    case CTL_SUITE_CHACHA20_POLY1305:
        sb_put(&sb, ",aead=%s", ctl_suite_name(sa->suite));
        sb_put_key(&sb, "key", sa->key, sa->key_len, reveal);
        break;
    case CTL_SUITE_AES_CBC_128_HMAC_SHA256:
    case CTL_SUITE_AES_CBC_256_HMAC_SHA256:
        sb_put(&sb, ",enc=aes-cbc-%d",
               sa->suite == CTL_SUITE_AES_CBC_128_HMAC_SHA256 ? 128 : 256);
        sb_put_key(&sb, "enc-key", sa->key, enc_len, reveal);
        sb_put(&sb, ",auth=hmac-sha256-128");
        sb_put_key(&sb, "auth-key", sa->key + enc_len, sa->auth_key_len,
                   reveal);
        break;
    }
    sb_put(&sb, ",esn=%s", sa->esn ? "on" : "off");
    if (sa->inbound) {
        sb_put(&sb, ",replay-window=%"PRIu32, sa->replay_window);
    }
    if (sa->udp_encap) {
        sb_put(&sb, ",encap=udp");
        if (!sa->inbound) {
            sb_put(&sb, ",sport=%u,dport=%u", sa->udp_port, sa->udp_port);
        }
    }
    if (sa->has_selector) {
        sb_put(&sb, ",sel-src=%s", ctl_prefix_format(&sa->sel_src, p,
                                                     sizeof p));
        sb_put(&sb, ",sel-dst=%s", ctl_prefix_format(&sa->sel_dst, p,
                                                     sizeof p));
    }
    static const char *const lt[CTL_LT_N] = {
        [CTL_LT_BYTES] = "bytes",
        [CTL_LT_PACKETS] = "packets",
        [CTL_LT_SECONDS] = "seconds",
    };
    static const enum ctl_lt_kind order[] = {
        CTL_LT_PACKETS, CTL_LT_BYTES, CTL_LT_SECONDS,
    };
    for (size_t i = 0; i < 3; i++) {
        enum ctl_lt_kind k = order[i];
        if (sa->lifetime.soft[k]) {
            sb_put(&sb, ",soft-%s=%"PRIu64, lt[k], sa->lifetime.soft[k]);
        }
        if (sa->lifetime.hard[k]) {
            sb_put(&sb, ",hard-%s=%"PRIu64, lt[k], sa->lifetime.hard[k]);
        }
    }
}

void
ctl_sa_format(const struct ctl_sa *sa, char *buf, size_t size)
{
    sa_format(sa, buf, size, false);
}

bool
ctl_sa_format_secret(const struct ctl_sa *sa, char *buf, size_t size)
{
    sa_format(sa, buf, size, true);
    if (strlen(buf) + 1 >= size) {
        explicit_bzero(buf, size);
        return false;
    }
    return true;
}

static void
print_site(const struct ctl_site_state *ss, FILE *out)
{
    char spec[1024];

    if (ss->gateway) {
        fprintf(out, "\n# gateway %s: external, its SAs are configured out "
                "of band (keys are not shown)\n", ss->name);
        for (size_t i = 0; i < ss->n_sas; i++) {
            ctl_sa_format(&ss->sas[i], spec, sizeof spec);
            fprintf(out, "sa %s %s\n", ss->sas[i].inbound ? "in" : "out",
                    spec);
        }
        return;
    }

    const struct ctl_site *site = ss->site;
    char wan[INET6_ADDRSTRLEN];
    fprintf(out, "\n# site %s: wan %s, bridge %s\n", ss->name,
            ctl_addr_format(&site->wan, wan, sizeof wan), site->bridge);
    fprintf(out, "# ovs-vswitchd %s, ovsdb %s\n", site->unixctl, site->ovsdb);
    for (size_t i = 0; i < ss->n_sas; i++) {
        ctl_sa_format(&ss->sas[i], spec, sizeof spec);
        fprintf(out, "ovs-appctl ipsec/sa-add %s %s %s\n", ss->sas[i].port,
                ss->sas[i].inbound ? "in" : "out", spec);
    }
    for (size_t i = 0; i < ss->n_ports; i++) {
        const struct ctl_port *port = &ss->ports[i];
        fprintf(out, "ovs-vsctl add-port %s %s -- set interface %s type=%s",
                site->bridge, port->name, port->name, port->type);
        for (size_t j = 0; j < port->n_options; j++) {
            fprintf(out, " options:%s=%s", port->options[j].key,
                    port->options[j].value);
        }
        fputc('\n', out);
    }
    for (size_t i = 0; i < ss->n_flows; i++) {
        const struct ctl_flow *f = &ss->flows[i];
        fprintf(out, "ovs-ofctl add-flow %s \"cookie=0x%016"PRIx64
                ",table=%u,priority=%u%s%s actions=%s\"\n", site->bridge,
                f->cookie, f->table, f->priority, f->match[0] ? "," : "",
                f->match, f->actions);
    }
}

void
ctl_state_print(const struct ctl_state *st, FILE *out)
{
    const struct ctl_policy *pol = st->policy;
    size_t n_sas = 0, n_flows = 0, n_ports = 0;
    for (size_t i = 0; i < st->n_sites; i++) {
        n_sas += st->sites[i].n_sas;
        n_flows += st->sites[i].n_flows;
        n_ports += st->sites[i].n_ports;
    }
    fprintf(out, "# %s: policy OK: %zu site%s, %zu gateway%s, %zu link%s; "
            "%zu port%s, %zu flow%s, %zu SA%s\n", pol->file,
            pol->n_sites, pol->n_sites == 1 ? "" : "s",
            pol->n_gateways, pol->n_gateways == 1 ? "" : "s",
            pol->n_links, pol->n_links == 1 ? "" : "s",
            n_ports, n_ports == 1 ? "" : "s",
            n_flows, n_flows == 1 ? "" : "s",
            n_sas, n_sas == 1 ? "" : "s");
    for (size_t i = 0; i < pol->n_links; i++) {
        const struct ctl_link *l = &pol->links[i];
        fprintf(out, "# link %s: %s <-> %s, %s, %s%s, port %s\n", l->name,
                l->ep[0].ref, l->ep[1].ref, ctl_mode_name(l->params.mode),
                ctl_suite_name(l->params.suite),
                l->params.udp_encap ? ", udp-encap" : "", l->port);
    }
    for (size_t i = 0; i < st->n_sites; i++) {
        print_site(&st->sites[i], out);
    }
}
