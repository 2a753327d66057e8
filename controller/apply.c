/*
 * Apply and reconcile the desired state on each site, with Open vSwitch's
 * own library (build/ovs): unixctl client, OVSDB IDL, vconn.
 *
 * Order, so that no protected packet is ever sent in clear (RFC 4301 5):
 * SAs first (every inbound SA of every site before any outbound one), then
 * ports, then flows; stale SAs are deleted last.  The fail-closed flows
 * and the esp port's own no-SA drop cover every moment in between.
 */
#include <config.h>

#include "apply.h"
#include "rekey.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "byte-order.h"
#include "fatal-signal.h"
#include "flow.h"
#include "jsonrpc.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/json.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-errors.h"
#include "openvswitch/ofp-flow.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofp-port.h"
#include "openvswitch/ofp-protocol.h"
#include "openvswitch/ofp-util.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/shash.h"
#include "openvswitch/vconn.h"
#include "openvswitch/vlog.h"
#include "ovsdb-idl.h"
#include "smap.h"
#include "sset.h"
#include "socket-util.h"
#include "timeval.h"
#include "unixctl.h"
#include "util.h"
#include "vswitch-idl.h"

/* The external_ids key that marks a Port as the agent's (value: the link
 * name), so that a port of a link removed from the policy is found and
 * deleted. */
#define CTL_PORT_OWNER_KEY "esp-agent-link"

/* Mask of the cookie bits that say "this flow is the agent's". */
#define CTL_COOKIE_MASK UINT64_C(0xffffffff00000000)

/* One site's connections, kept from one apply to the next. */
struct site_conn {
    /* What the connections go to (a site of a new policy with other
     * values gets new connections). */
    char *name, *unixctl, *ovsdb, *bridge;

    struct jsonrpc *rpc;                /* ovs-vswitchd unixctl. */
    struct ovsdb_idl *idl;
    bool idl_up;                        /* At the last look. */
    struct vconn *vconn;                /* OpenFlow 1.3, bridge's mgmt. */
    enum ofputil_protocol proto;
    long long int next_try;             /* Reconnect to ovs-vswitchd then
                                         * (time_msec()). */

    /* Reachability, for ctl_conns_site_status(). */
    bool reachable;
    char *error;                        /* The last apply's, or NULL. */
    char *prev_error;                   /* The one before, during an apply:
                                         * the same error is not logged
                                         * again at every round. */
    long long int since_wall;

    /* During one apply. */
    struct ctl_site_state *ss;
    bool failed;                        /* Left out for the rest of it. */
    bool lost;                          /* ... because it is unreachable. */
    const struct ovsrec_bridge *br;
    struct json *sa_root;               /* `ipsec/sa-show --json`. */
    const struct json_array *sas;
};

struct ctl_conns {
    struct site_conn **conns;
    size_t n;
    size_t n_failed;                    /* Sites failed at the last apply. */
};

static long long int
wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long int) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Logs "esp-agent: SITE: MESSAGE" and keeps the first one of the apply as
 * the site's error.  Returns nothing: the caller returns its errno. */
static void OVS_PRINTF_FORMAT(3, 4)
site_error(struct site_conn *c, FILE *log, const char *format, ...)
{
    va_list args;

    va_start(args, format);
    char *msg = xvasprintf(format, args);
    va_end(args);
    if (!c->prev_error || strcmp(c->prev_error, msg)) {
        fprintf(log, "esp-agent: %s: %s\n", c->name, msg);
    }
    if (!c->failed && !c->error) {
        c->error = msg;
    } else {
        free(msg);
    }
}

/* Whether 'error', from a connection to ovs-vswitchd, means that it went
 * away (stopped or restarted), rather than that a request failed: then
 * every such error is logged as "ovs-vswitchd went away", however far the
 * round had got when it happened. */
static bool
conn_lost(int error)
{
    return error == EOF || error == ECONNRESET || error == EPIPE;
}

void
ctl_apply_init(void)
{
    /* OVS installs its own SIGTERM/SIGINT handlers the first time it needs
     * them; have that happen now, so that the caller's handlers, installed
     * after this, stay. */
    fatal_signal_init();
    vlog_set_levels(NULL, VLF_CONSOLE, VLL_WARN);
    vlog_set_levels(NULL, VLF_SYSLOG, VLL_OFF);
    /* The agent reports connection failures itself. */
    vlog_set_levels(vlog_module_from_name("unixctl"), VLF_CONSOLE, VLL_ERR);
}

size_t
ctl_apply_stats_changes(const struct ctl_apply_stats *s)
{
    return (s->sas_added + s->sas_deleted + s->links_restored
            + s->bridges_changed + s->ports_added
            + s->ports_changed + s->ports_deleted + s->flows_added
            + s->flows_deleted);
}

/* --- unixctl: the ipsec commands ----------------------------------------- */

/* Runs 'cmd' with 'argv' on 'c''s ovs-vswitchd.  On success returns 0 and
 * '*result' (caller frees); otherwise logs and returns an errno value.
 * The arguments are never logged (sa-add's hold a key). */
static int
unixctl_call(struct site_conn *c, const char *cmd, int argc, char *argv[],
             char **result, FILE *log)
{
    char *res = NULL, *err = NULL;
    int error = unixctl_client_transact(c->rpc, cmd, argc, argv, &res, &err);

    if (error) {
        site_error(c, log, conn_lost(error) ? "ovs-vswitchd went away (%s: %s)"
                   : "%s: %s", cmd, ovs_retval_to_string(error));
        /* The connection is no good any more: the next call opens a new
         * one. */
        jsonrpc_close(c->rpc);
        c->rpc = NULL;
    } else if (err) {
        size_t len = strlen(err);
        while (len && err[len - 1] == '\n') {
            err[--len] = '\0';
        }
        site_error(c, log, "%s refused: %s", cmd, err);
        error = EPROTO;
    }
    free(err);
    if (error) {
        free(res);
        res = NULL;
    }
    if (result) {
        *result = res;
    } else {
        free(res);
    }
    return error;
}

static int
read_sas(struct site_conn *c, FILE *log)
{
    char *argv[] = { "--json" };
    char *res;
    int error = unixctl_call(c, "ipsec/sa-show", 1, argv, &res, log);
    if (error) {
        return error;
    }
    json_destroy(c->sa_root);
    c->sa_root = json_from_string(res);
    free(res);
    const struct json *sas = (c->sa_root->type == JSON_OBJECT
                              ? shash_find_data(json_object(c->sa_root),
                                                "sas")
                              : NULL);
    if (!sas || sas->type != JSON_ARRAY) {
        site_error(c, log, "ipsec/sa-show --json: unexpected answer");
        return EPROTO;
    }
    c->sas = json_array(sas);
    return 0;
}

static const struct json *
member(const struct json *obj, const char *name)
{
    return obj->type == JSON_OBJECT ? shash_find_data(json_object(obj), name)
                                    : NULL;
}

static const char *
member_string(const struct json *obj, const char *name)
{
    const struct json *j = member(obj, name);
    return j && j->type == JSON_STRING ? json_string(j) : NULL;
}

static bool
member_uint(const struct json *obj, const char *name, uint64_t *v)
{
    const struct json *j = member(obj, name);
    if (!j || j->type != JSON_INTEGER) {
        return false;
    }
    *v = json_integer(j);
    return true;
}

static bool
member_bool(const struct json *obj, const char *name)
{
    const struct json *j = member(obj, name);
    return j && j->type == JSON_TRUE;
}

static bool
lifetime_equal(const struct json *obj, const char *name,
               const uint64_t lt[CTL_LT_N])
{
    const struct json *l = member(obj, name);
    uint64_t b, p, s;
    return (l && member_uint(l, "bytes", &b) && member_uint(l, "packets", &p)
            && member_uint(l, "seconds", &s)
            && b == lt[CTL_LT_BYTES] && p == lt[CTL_LT_PACKETS]
            && s == lt[CTL_LT_SECONDS]);
}

/* Does the installed SA 'j' (an element of sa-show's "sas") have the
 * parameters of 'sa', SPI and key aside? */
static bool
sa_params_match(const struct json *j, const struct ctl_sa *sa)
{
    const char *port = member_string(j, "port");
    const char *dir = member_string(j, "dir");
    const char *suite = member_string(j, "suite");
    const char *mode = member_string(j, "mode");
    const char *encap = member_string(j, "encap");
    const char *want_suite = ctl_suite_name(sa->suite);
    size_t n = strlen(want_suite);

    if (!port || !dir || !suite || !mode || !encap
        || strcmp(port, sa->port)
        || strcmp(dir, sa->inbound ? "in" : "out")
        || strncmp(suite, want_suite, n)
        || (suite[n] && strcmp(suite + n, "-128"))
        || strcmp(mode, sa->tunnel ? "tunnel" : "transport")
        || member_bool(j, "esn") != sa->esn
        || strcmp(encap, sa->udp_encap ? "udp" : "none")
        || !lifetime_equal(j, "lifetime_hard", sa->lifetime.hard)
        || !lifetime_equal(j, "lifetime_soft", sa->lifetime.soft)) {
        return false;
    }
    if (sa->tunnel) {
        char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
        const char *js = member_string(j, "src");
        const char *jd = member_string(j, "dst");
        ctl_addr_format(&sa->src, s, sizeof s);
        ctl_addr_format(&sa->dst, d, sizeof d);
        if (!js || !jd || strcmp(js, s) || strcmp(jd, d)) {
            return false;
        }
    }
    if (sa->inbound) {
        uint64_t w;
        if (!member_uint(j, "replay_window", &w) || w != sa->replay_window) {
            return false;
        }
    } else {
        if (!member_bool(j, "active")) {
            return false;
        }
        if (sa->udp_encap) {
            uint64_t sp, dp;
            if (!member_uint(j, "sport", &sp) || !member_uint(j, "dport", &dp)
                || sp != sa->udp_port || dp != sa->udp_port) {
                return false;
            }
        }
    }
    return true;
}

/* The installed SA of 'c' with 'sa''s port, direction and SPI, if its
 * parameters are those of 'sa'. */
static bool
sa_installed(const struct site_conn *c, const struct ctl_sa *sa,
             uint32_t spi)
{
    for (size_t i = 0; i < c->sas->n; i++) {
        const struct json *j = c->sas->elems[i];
        uint64_t s;
        if (member_uint(j, "spi", &s) && s == spi
            && sa_params_match(j, sa)) {
            return true;
        }
    }
    return false;
}

static int
sa_add(struct site_conn *c, const struct ctl_sa *sa, FILE *log)
{
    char spec[2048];
    if (!ctl_sa_format_secret(sa, spec, sizeof spec)) {
        site_error(c, log, "SA spec too long");
        return EINVAL;
    }
    char *argv[] = { sa->port, sa->inbound ? "in" : "out", spec };
    int error = unixctl_call(c, "ipsec/sa-add", 3, argv, NULL, log);
    explicit_bzero(spec, sizeof spec);
    if (!error) {
        fprintf(log, "esp-agent: %s: added %s SA 0x%08"PRIx32" on %s\n",
                c->ss->name, sa->inbound ? "in" : "out", sa->spi, sa->port);
    }
    return error;
}

/* --- OVSDB --------------------------------------------------------------- */

/* Runs 'idl' until it has the database's contents, or times out. */
static int
idl_sync(struct ovsdb_idl *idl, unsigned int seqno, long long int deadline)
{
    for (;;) {
        ovsdb_idl_run(idl);
        if (ovsdb_idl_has_ever_connected(idl)
            && ovsdb_idl_get_seqno(idl) != seqno) {
            return 0;
        }
        if (time_msec() >= deadline) {
            return ETIMEDOUT;
        }
        ovsdb_idl_wait(idl);
        poll_timer_wait_until(deadline);
        poll_block();
    }
}

static const struct ovsrec_bridge *
find_bridge(struct ovsdb_idl *idl, const char *name)
{
    const struct ovsrec_bridge *br;
    OVSREC_BRIDGE_FOR_EACH (br, idl) {
        if (!strcmp(br->name, name)) {
            return br;
        }
    }
    return NULL;
}

static const struct ovsrec_port *
find_port(const struct ovsrec_bridge *br, const char *name)
{
    for (size_t i = 0; i < br->n_ports; i++) {
        if (!strcmp(br->ports[i]->name, name)) {
            return br->ports[i];
        }
    }
    return NULL;
}

static void
port_options(const struct ctl_port *p, struct smap *options)
{
    smap_init(options);
    for (size_t i = 0; i < p->n_options; i++) {
        smap_add(options, p->options[i].key, p->options[i].value);
    }
}

static bool
port_desired(const struct ctl_site_state *ss, const char *name)
{
    for (size_t i = 0; i < ss->n_ports; i++) {
        if (!strcmp(ss->ports[i].name, name)) {
            return true;
        }
    }
    return false;
}

/* Makes the bridge's ports match the desired ones, in one transaction:
 * adds and updates them (then waits until ovs-vswitchd has given each an
 * OpenFlow port number, which the flows refer to), or with 'deleting'
 * deletes the agent's ports the desired state no longer has. */
static int
reconcile_ports(struct site_conn *c, bool deleting,
                struct ctl_apply_stats *st, FILE *log)
{
    struct ovsdb_idl_txn *txn = ovsdb_idl_txn_create(c->idl);
    size_t changes = 0;

    ovsdb_idl_txn_add_comment(txn, "esp-agent: reconcile ports");
    if (!deleting && (!c->br->fail_mode
                      || strcmp(c->br->fail_mode, "secure"))) {
        /* Fail closed while the switch has no flows (after a restart of
         * ovs-vswitchd, until the agent restores them): a bridge in
         * standalone mode would act as a learning switch meanwhile. */
        ovsrec_bridge_set_fail_mode(c->br, "secure");
        fprintf(log, "esp-agent: %s: setting fail_mode=secure on %s\n",
                c->ss->name, c->br->name);
        st->bridges_changed++;
        changes++;
    }
    for (size_t i = 0; i < c->ss->n_ports && !deleting; i++) {
        const struct ctl_port *p = &c->ss->ports[i];
        const struct ovsrec_port *port = find_port(c->br, p->name);
        struct smap options;

        port_options(p, &options);
        if (!port) {
            struct ovsrec_interface *iface = ovsrec_interface_insert(txn);
            ovsrec_interface_set_name(iface, p->name);
            ovsrec_interface_set_type(iface, p->type);
            ovsrec_interface_set_options(iface, &options);
            struct ovsrec_port *np = ovsrec_port_insert(txn);
            ovsrec_port_set_name(np, p->name);
            ovsrec_port_set_interfaces(np, &iface, 1);
            struct smap ids = SMAP_INITIALIZER(&ids);
            smap_add(&ids, CTL_PORT_OWNER_KEY, p->name);
            ovsrec_port_set_external_ids(np, &ids);
            smap_destroy(&ids);
            ovsrec_bridge_update_ports_addvalue(c->br, np);
            fprintf(log, "esp-agent: %s: adding port %s (type %s)\n",
                    c->ss->name, p->name, p->type);
            st->ports_added++;
            changes++;
        } else {
            const struct ovsrec_interface *iface = (port->n_interfaces == 1
                                                    ? port->interfaces[0]
                                                    : NULL);
            if (!iface) {
                fprintf(log, "esp-agent: %s: port %s exists with %"PRIuSIZE
                        " interfaces; leaving it alone\n", c->ss->name,
                        p->name, port->n_interfaces);
            } else if (strcmp(iface->type, p->type)
                       || !smap_equal(&iface->options, &options)
                       || !smap_get(&port->external_ids,
                                    CTL_PORT_OWNER_KEY)) {
                ovsrec_interface_set_type(iface, p->type);
                ovsrec_interface_set_options(iface, &options);
                ovsrec_port_update_external_ids_setkey(port,
                                                       CTL_PORT_OWNER_KEY,
                                                       p->name);
                fprintf(log, "esp-agent: %s: updating port %s\n",
                        c->ss->name, p->name);
                st->ports_changed++;
                changes++;
            }
        }
        smap_destroy(&options);
    }
    for (size_t i = 0; i < c->br->n_ports && deleting; i++) {
        const struct ovsrec_port *port = c->br->ports[i];
        if (smap_get(&port->external_ids, CTL_PORT_OWNER_KEY)
            && !port_desired(c->ss, port->name)) {
            ovsrec_bridge_update_ports_delvalue(c->br, port);
            fprintf(log, "esp-agent: %s: deleting port %s\n", c->ss->name,
                    port->name);
            st->ports_deleted++;
            changes++;
        }
    }

    int error = 0;
    if (changes) {
        enum ovsdb_idl_txn_status status = ovsdb_idl_txn_commit_block(txn);
        if (status != TXN_SUCCESS && status != TXN_UNCHANGED) {
            site_error(c, log, "OVSDB transaction failed: %s (%s)",
                       ovsdb_idl_txn_status_to_string(status),
                       ovsdb_idl_txn_get_error(txn));
            error = EPROTO;
        }
    }
    ovsdb_idl_txn_destroy(txn);
    if (error || deleting) {
        return error;
    }

    /* Wait for the OpenFlow port numbers. */
    long long int deadline = time_msec() + CTL_APPLY_TIMEOUT_MS;
    for (;;) {
        ovsdb_idl_run(c->idl);
        c->br = find_bridge(c->idl, c->ss->site->bridge);
        if (!c->br) {
            site_error(c, log, "bridge %s disappeared", c->ss->site->bridge);
            return EPROTO;
        }
        size_t missing = 0;
        for (size_t i = 0; i < c->ss->n_ports; i++) {
            const struct ovsrec_port *port = find_port(c->br,
                                                       c->ss->ports[i].name);
            if (!port || port->n_interfaces != 1
                || port->interfaces[0]->n_ofport != 1
                || port->interfaces[0]->ofport[0] <= 0) {
                missing++;
            }
        }
        if (!missing) {
            return 0;
        }
        if (time_msec() >= deadline) {
            site_error(c, log, "%"PRIuSIZE" port(s) got no OpenFlow port "
                       "number from ovs-vswitchd (see its log)", missing);
            return EPROTO;
        }
        ovsdb_idl_wait(c->idl);
        poll_timer_wait_until(deadline);
        poll_block();
    }
}

/* --- OpenFlow ------------------------------------------------------------ */

static void
port_map_from_bridge(const struct ovsrec_bridge *br,
                     struct ofputil_port_map *map)
{
    ofputil_port_map_init(map);
    for (size_t i = 0; i < br->n_ports; i++) {
        const struct ovsrec_port *port = br->ports[i];
        for (size_t j = 0; j < port->n_interfaces; j++) {
            const struct ovsrec_interface *iface = port->interfaces[j];
            if (iface->n_ofport == 1 && iface->ofport[0] > 0) {
                ofputil_port_map_put(map, u16_to_ofp(iface->ofport[0]),
                                     iface->name);
            }
        }
    }
}

static char *
flow_string(const struct ctl_flow *f)
{
    return xasprintf("cookie=0x%016"PRIx64",table=%u,priority=%u%s%s,"
                     "actions=%s", f->cookie, f->table, f->priority,
                     f->match[0] ? "," : "", f->match, f->actions);
}

static bool
flow_same_key(const struct ofputil_flow_mod *fm,
              const struct ofputil_flow_stats *fs)
{
    struct match m;
    minimatch_expand(&fm->match, &m);
    return (fm->table_id == fs->table_id && fm->priority == fs->priority
            && match_equal(&m, &fs->match));
}

/* Replaces 'fm' by what it becomes after encoding in 'proto' and decoding
 * back, which is how the switch will report it (e.g. OpenFlow 1.3 has
 * set_field where the parser made mod_dl_src), so that the comparison with
 * the dumped flows compares like with like. */
static int
normalize_flow_mod(struct ofputil_flow_mod *fm, enum ofputil_protocol proto)
{
    struct ofpbuf *msg = ofputil_encode_flow_mod(fm, proto);
    struct ofpbuf ofpacts;
    struct ofputil_flow_mod nfm;

    ofpbuf_init(&ofpacts, 64);
    enum ofperr err = ofputil_decode_flow_mod(&nfm, msg->data, proto, NULL,
                                              NULL, &ofpacts, OFPP_MAX, 255);
    ofpbuf_delete(msg);
    if (err) {
        ofpbuf_uninit(&ofpacts);
        return EINVAL;
    }
    minimatch_destroy(&fm->match);
    free(fm->ofpacts);
    *fm = nfm;
    fm->ofpacts = ofpbuf_steal_data(&ofpacts);
    return 0;
}

static char *
actions_string(const struct ofpact *ofpacts, size_t len)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    struct ofpact_format_params fp = { .s = &s };
    ofpacts_format(ofpacts, len, &fp);
    return ds_steal_cstr(&s);
}

/* Compares two action lists by their canonical text: ofpacts_equal()
 * compares bytes, padding included, which differs between two decodings
 * of the same set_field. */
static bool
actions_equal(const struct ofpact *a, size_t a_len,
              const struct ofpact *b, size_t b_len)
{
    char *as = actions_string(a, a_len);
    char *bs = actions_string(b, b_len);
    bool equal = !strcmp(as, bs);
    free(as);
    free(bs);
    return equal;
}

static int
reconcile_flows(struct site_conn *c, struct ctl_apply_stats *st, FILE *log)
{
    struct ofputil_port_map map;
    struct ofputil_flow_mod *fms;
    struct ofputil_flow_stats *fses = NULL;
    size_t n_fses = 0;
    int error = 0;

    port_map_from_bridge(c->br, &map);
    fms = xcalloc(c->ss->n_flows ? c->ss->n_flows : 1, sizeof *fms);
    size_t n_fms = 0;
    for (size_t i = 0; i < c->ss->n_flows; i++) {
        enum ofputil_protocol usable;
        char *s = flow_string(&c->ss->flows[i]);
        char *err = parse_ofp_flow_mod_str(&fms[i], s, &map, NULL, OFPFC_ADD,
                                           &usable);
        if (err) {
            site_error(c, log, "flow '%s': %s", s, err);
            free(err);
            free(s);
            error = EINVAL;
            break;
        }
        free(s);
        n_fms++;
        if (!(usable & c->proto)) {
            site_error(c, log, "flow %"PRIuSIZE" cannot be sent with "
                       "OpenFlow 1.3", i);
            error = EINVAL;
            break;
        }
        error = normalize_flow_mod(&fms[i], c->proto);
        if (error) {
            site_error(c, log, "flow %"PRIuSIZE" does not survive "
                       "OpenFlow 1.3 encoding", i);
            break;
        }
    }

    if (!error) {
        struct ofputil_flow_stats_request fsr = {
            .aggregate = false,
            .cookie = htonll(CTL_COOKIE_BASE),
            .cookie_mask = htonll(CTL_COOKIE_MASK),
            .out_port = OFPP_ANY,
            .out_group = OFPG_ANY,
            .table_id = 0xff,
        };
        match_init_catchall(&fsr.match);
        error = vconn_dump_flows(c->vconn, &fsr, c->proto, &fses, &n_fses);
        if (error) {
            site_error(c, log, conn_lost(error)
                       ? "ovs-vswitchd went away (reading the flows of %s: %s)"
                       : "cannot read the flows of %s: %s",
                       c->ss->site->bridge, ovs_retval_to_string(error));
            vconn_close(c->vconn);
            c->vconn = NULL;
        }
    }

    struct ovs_list requests = OVS_LIST_INITIALIZER(&requests);
    size_t added = 0, deleted = 0;
    if (!error) {
        /* Desired flows not there exactly (same key, cookie, actions):
         * add (which replaces a flow with the same key). */
        for (size_t i = 0; i < n_fms; i++) {
            const struct ofputil_flow_mod *fm = &fms[i];
            bool found = false;
            for (size_t j = 0; j < n_fses && !found; j++) {
                const struct ofputil_flow_stats *fs = &fses[j];
                found = (flow_same_key(fm, fs) && fs->cookie == fm->new_cookie
                         && actions_equal(fm->ofpacts, fm->ofpacts_len,
                                          fs->ofpacts, fs->ofpacts_len));
            }
            if (!found) {
                char *fs = flow_string(&c->ss->flows[i]);
                fprintf(log, "esp-agent: %s: adding flow %s\n",
                        c->ss->name, fs);
                free(fs);
                struct ofpbuf *msg = ofputil_encode_flow_mod(fm, c->proto);
                ovs_list_push_back(&requests, &msg->list_node);
                added++;
            }
        }
        /* The agent's flows whose key no desired flow has: delete. */
        for (size_t j = 0; j < n_fses; j++) {
            const struct ofputil_flow_stats *fs = &fses[j];
            bool wanted = false;
            for (size_t i = 0; i < n_fms && !wanted; i++) {
                wanted = flow_same_key(&fms[i], fs);
            }
            if (!wanted) {
                struct ofputil_flow_mod fm = {
                    .priority = fs->priority,
                    .cookie = fs->cookie,
                    .cookie_mask = OVS_BE64_MAX,
                    .new_cookie = OVS_BE64_MAX,
                    .table_id = fs->table_id,
                    .command = OFPFC_DELETE_STRICT,
                    .buffer_id = UINT32_MAX,
                    .out_port = OFPP_ANY,
                    .out_group = OFPG_ANY,
                };
                minimatch_init(&fm.match, &fs->match);
                struct ofpbuf *msg = ofputil_encode_flow_mod(&fm, c->proto);
                minimatch_destroy(&fm.match);
                ovs_list_push_back(&requests, &msg->list_node);
                deleted++;
            }
        }
    }

    if (!error && !ovs_list_is_empty(&requests)) {
        /* One atomic bundle (OpenFlow 1.4 bundles, as the ONF extension
         * to OpenFlow 1.3): the switch applies all of it or nothing, and
         * never forwards with half of it. */
        struct ovs_list errors;
        error = vconn_bundle_transact(c->vconn, &requests,
                                      OFPBF_ATOMIC | OFPBF_ORDERED, &errors);
        if (!ovs_list_is_empty(&errors)) {
            struct ofpbuf *reply = CONTAINER_OF(ovs_list_front(&errors),
                                                struct ofpbuf, list_node);
            site_error(c, log, "a flow was refused, none changed: %s",
                       ofperr_to_string(ofperr_decode_msg(reply->data,
                                                          NULL)));
            ofpbuf_list_delete(&errors);
            error = EPROTO;
        } else if (error) {
            site_error(c, log, conn_lost(error)
                       ? "ovs-vswitchd went away (OpenFlow: %s)"
                       : "OpenFlow: %s", ovs_retval_to_string(error));
            vconn_close(c->vconn);
            c->vconn = NULL;
        } else {
            if (added || deleted) {
                fprintf(log, "esp-agent: %s: %"PRIuSIZE" flow(s) added or "
                        "replaced, %"PRIuSIZE" deleted on %s\n", c->ss->name,
                        added, deleted, c->ss->site->bridge);
            }
            st->flows_added += added;
            st->flows_deleted += deleted;
        }
    }
    ofpbuf_list_delete(&requests);

    for (size_t i = 0; i < n_fms; i++) {
        minimatch_destroy(&fms[i].match);
        free(fms[i].ofpacts);
    }
    free(fms);
    for (size_t j = 0; j < n_fses; j++) {
        free(CONST_CAST(struct ofpact *, fses[j].ofpacts));
    }
    free(fses);
    ofputil_port_map_destroy(&map);
    return error;
}

/* --- Connections --------------------------------------------------------- */

static char *
mgmt_target(const struct site_conn *c)
{
    /* ovs-vswitchd puts a bridge's management socket in its run directory,
     * which is also where its unixctl socket is. */
    const char *slash = strrchr(c->unixctl, '/');
    return xasprintf("unix:%.*s/%s.mgmt", (int) (slash - c->unixctl),
                     c->unixctl, c->bridge);
}

static void
close_rpc(struct site_conn *c)
{
    if (c->rpc) {
        jsonrpc_close(c->rpc);
        c->rpc = NULL;
    }
}

static void
close_vconn(struct site_conn *c)
{
    vconn_close(c->vconn);
    c->vconn = NULL;
}

static void
set_reachable(struct site_conn *c, bool reachable)
{
    if (reachable != c->reachable) {
        c->reachable = reachable;
        c->since_wall = wall_ms();
    }
}

/* ovs-vswitchd is away: what it had is gone with it. */
static void
switch_away(struct site_conn *c, const char *why, FILE *log)
{
    fprintf(log, "esp-agent: %s: ovs-vswitchd went away (%s); its bridge "
            "fails closed until it is back, its links are left as they "
            "are\n", c->name, why);
    close_rpc(c);
    close_vconn(c);
    free(c->error);
    c->error = xasprintf("ovs-vswitchd went away (%s)", why);
    set_reachable(c, false);
    c->next_try = time_msec();
}

/* Opens the unixctl connection to ovs-vswitchd, if it is not open. */
static int
open_rpc(struct site_conn *c, FILE *log)
{
    if (c->rpc) {
        return 0;
    }
    int error = unixctl_client_create(c->unixctl, &c->rpc);
    if (error) {
        c->rpc = NULL;
        c->next_try = time_msec() + CTL_RECONNECT_MS;
        return error;
    }
    if (!c->reachable && (c->error || c->prev_error)) {
        /* It was tried before, and failed. */
        fprintf(log, "esp-agent: %s: ovs-vswitchd is up: reconciling now\n",
                c->name);
    }
    return 0;
}

/* Makes 'c''s connections usable for this apply: reconnects what is
 * closed, reads the site's SAs, and has its IDL up to date.  Waits (up to
 * CTL_APPLY_TIMEOUT_MS) for the database's contents only on a new IDL;
 * a kept IDL whose OVSDB is away makes the site unreachable at once, so
 * that one site cannot hold up the others' rounds. */
static int
site_connect(struct site_conn *c, FILE *log)
{
    int error;

    for (int attempt = 0; ; attempt++) {
        bool fresh = !c->rpc;
        error = open_rpc(c, log);
        if (error) {
            site_error(c, log, "cannot connect to ovs-vswitchd at %s: %s",
                       c->unixctl, ovs_strerror(error));
            return ENOTCONN;
        }
        error = read_sas(c, log);
        if (!error) {
            break;
        }
        if (error == EPROTO || fresh || attempt) {
            site_error(c, log, "ovs-vswitchd at %s does not answer "
                       "ipsec/sa-show (is it the patched build?)",
                       c->unixctl);
            return ENOTCONN;
        }
        /* The kept connection was stale (ovs-vswitchd restarted since):
         * once more, with a new one. */
        free(c->error);
        c->error = NULL;
    }

    bool block = !c->idl;
    if (!c->idl) {
        c->idl = ovsdb_idl_create(c->ovsdb, &ovsrec_idl_class, true, true);
        ovsdb_idl_set_leader_only(c->idl, false);
    }
    ovsdb_idl_run(c->idl);
    if (!ovsdb_idl_has_ever_connected(c->idl) && block) {
        error = idl_sync(c->idl, 0, time_msec() + CTL_APPLY_TIMEOUT_MS);
    } else if (!ovsdb_idl_has_ever_connected(c->idl)
               || !ovsdb_idl_is_connected(c->idl)) {
        error = ENOTCONN;
    }
    c->idl_up = !error;
    if (error) {
        site_error(c, log, "cannot read OVSDB at %s: %s", c->ovsdb,
                   ovs_strerror(error));
        return ENOTCONN;
    }
    c->br = find_bridge(c->idl, c->bridge);
    if (!c->br) {
        site_error(c, log, "no bridge %s in OVSDB at %s", c->bridge,
                   c->ovsdb);
        return ENOTCONN;
    }

    if (c->vconn) {
        /* Whatever the switch sent since the last apply (port status
         * messages, an echo request), and its end of file. */
        struct ofpbuf *msg;
        vconn_run(c->vconn);
        while (!(error = vconn_recv(c->vconn, &msg))) {
            ofpbuf_delete(msg);
        }
        if (error != EAGAIN) {
            close_vconn(c);
        }
    }
    if (!c->vconn) {
        char *target = mgmt_target(c);
        error = vconn_open_block(target, 1u << OFP13_VERSION, DSCP_DEFAULT,
                                 CTL_APPLY_TIMEOUT_MS, &c->vconn);
        if (error) {
            c->vconn = NULL;
            site_error(c, log, "cannot open OpenFlow 1.3 connection to "
                       "%s: %s", target, ovs_strerror(error));
            free(target);
            return ENOTCONN;
        }
        free(target);
        c->proto = ofputil_protocol_from_ofp_version(
            vconn_get_version(c->vconn));
    }
    return 0;
}

static struct site_conn *
conn_create(const struct ctl_site_state *ss)
{
    struct site_conn *c = xzalloc(sizeof *c);
    c->name = xstrdup(ss->name);
    c->unixctl = xstrdup(ss->site->unixctl);
    c->ovsdb = xstrdup(ss->site->ovsdb);
    c->bridge = xstrdup(ss->site->bridge);
    c->since_wall = wall_ms();
    return c;
}

static void
conn_destroy(struct site_conn *c)
{
    close_rpc(c);
    if (c->idl) {
        ovsdb_idl_destroy(c->idl);
    }
    close_vconn(c);
    json_destroy(c->sa_root);
    free(c->error);
    free(c->prev_error);
    free(c->name);
    free(c->unixctl);
    free(c->ovsdb);
    free(c->bridge);
    free(c);
}

static bool
conn_matches(const struct site_conn *c, const struct ctl_site_state *ss)
{
    return (!strcmp(c->name, ss->name)
            && !strcmp(c->unixctl, ss->site->unixctl)
            && !strcmp(c->ovsdb, ss->site->ovsdb)
            && !strcmp(c->bridge, ss->site->bridge));
}

/* Makes 'conns' hold one connection per site of 'state', in its order,
 * keeping those it has; returns how many. */
static size_t
conns_sync(struct ctl_conns *conns, struct ctl_state *state)
{
    struct site_conn **new = xcalloc(state->n_sites ? state->n_sites : 1,
                                     sizeof *new);
    size_t n = 0;

    for (size_t i = 0; i < state->n_sites; i++) {
        struct ctl_site_state *ss = &state->sites[i];
        if (ss->gateway) {
            continue;
        }
        struct site_conn *c = NULL;
        for (size_t j = 0; j < conns->n && !c; j++) {
            if (conns->conns[j] && conn_matches(conns->conns[j], ss)) {
                c = conns->conns[j];
                conns->conns[j] = NULL;
            }
        }
        new[n] = c ? c : conn_create(ss);
        new[n]->ss = ss;
        n++;
    }
    for (size_t j = 0; j < conns->n; j++) {
        if (conns->conns[j]) {
            conn_destroy(conns->conns[j]);
        }
    }
    free(conns->conns);
    conns->conns = new;
    conns->n = n;
    return n;
}

struct ctl_conns *
ctl_conns_create(void)
{
    return xzalloc(sizeof(struct ctl_conns));
}

void
ctl_conns_destroy(struct ctl_conns *conns)
{
    if (conns) {
        for (size_t i = 0; i < conns->n; i++) {
            conn_destroy(conns->conns[i]);
        }
        free(conns->conns);
        free(conns);
    }
}

bool
ctl_conns_run(struct ctl_conns *conns, FILE *log)
{
    long long int now = time_msec();
    bool back = false;

    for (size_t i = 0; i < conns->n; i++) {
        struct site_conn *c = conns->conns[i];

        if (c->rpc) {
            struct jsonrpc_msg *msg;
            jsonrpc_run(c->rpc);
            int error = jsonrpc_recv(c->rpc, &msg);
            if (!error) {
                jsonrpc_msg_destroy(msg);
            } else if (error != EAGAIN) {
                switch_away(c, ovs_retval_to_string(error), log);
            }
        } else if (now >= c->next_try) {
            if (!open_rpc(c, log)) {
                back = true;
            }
        }

        if (c->idl) {
            ovsdb_idl_run(c->idl);
            bool up = (ovsdb_idl_is_connected(c->idl)
                       && ovsdb_idl_has_ever_connected(c->idl));
            if (up && !c->idl_up && !c->reachable && c->error) {
                fprintf(log, "esp-agent: %s: connected to OVSDB again: "
                        "reconciling now\n", c->name);
                back = true;
            }
            c->idl_up = up;
        }

        if (c->vconn) {
            struct ofpbuf *msg;
            int error;
            vconn_run(c->vconn);
            while (!(error = vconn_recv(c->vconn, &msg))) {
                enum ofptype type;
                if (!ofptype_decode(&type, msg->data)
                    && type == OFPTYPE_ECHO_REQUEST) {
                    struct ofpbuf *reply = ofputil_encode_echo_reply(
                        msg->data);
                    if (vconn_send(c->vconn, reply)) {
                        ofpbuf_delete(reply);
                    }
                }
                ofpbuf_delete(msg);
            }
            if (error != EAGAIN) {
                close_vconn(c);
            }
        }
    }
    return back;
}

void
ctl_conns_wait(const struct ctl_conns *conns)
{
    for (size_t i = 0; i < conns->n; i++) {
        const struct site_conn *c = conns->conns[i];
        if (c->rpc) {
            jsonrpc_wait(c->rpc);
            jsonrpc_recv_wait(c->rpc);
        } else {
            poll_timer_wait_until(c->next_try);
        }
        if (c->idl) {
            ovsdb_idl_wait(c->idl);
        }
        if (c->vconn) {
            vconn_run_wait(c->vconn);
            vconn_recv_wait(c->vconn);
        }
    }
}

void
ctl_conns_freeze(const struct ctl_conns *conns, struct ctl_state *state)
{
    const struct ctl_policy *pol = state->policy;
    for (size_t li = 0; li < pol->n_links; li++) {
        for (int e = 0; e < 2; e++) {
            int site = pol->links[li].ep[e].site;
            struct ctl_site_status s;
            if (site >= 0) {
                ctl_conns_site_status(conns, pol->sites[site].name, &s);
                if (s.known && !s.reachable) {
                    state->links[li].frozen = true;
                }
            }
        }
    }
}

void
ctl_conns_site_status(const struct ctl_conns *conns, const char *name,
                      struct ctl_site_status *s)
{
    memset(s, 0, sizeof *s);
    for (size_t i = 0; conns && i < conns->n; i++) {
        const struct site_conn *c = conns->conns[i];
        if (!strcmp(c->name, name)) {
            s->known = true;
            s->reachable = c->reachable;
            s->error = c->error;
            s->since_wall = c->since_wall;
            return;
        }
    }
}

/* --- SAs across sites ---------------------------------------------------- */

/* The connection of site 'ss' in this apply; NULL for a gateway. */
static struct site_conn *
conn_of(struct site_conn **conns, size_t n, const struct ctl_site_state *ss)
{
    for (size_t i = 0; i < n; i++) {
        if (conns[i]->ss == ss) {
            return conns[i];
        }
    }
    return NULL;
}

/* Leaves site 'c' out for the rest of this apply ('error': its errno) and
 * freezes the links with an end there. */
static void
site_fail(struct ctl_state *state, struct site_conn *c, int error)
{
    c->failed = true;
    if (error != EPROTO && error != EINVAL) {
        c->lost = true;
    }
    const struct ctl_policy *pol = state->policy;
    size_t site = c->ss - state->sites;
    for (size_t li = 0; li < pol->n_links; li++) {
        const struct ctl_link *link = &pol->links[li];
        if ((link->ep[0].site >= 0 && (size_t) link->ep[0].site == site)
            || (link->ep[1].site >= 0 && (size_t) link->ep[1].site == site)) {
            state->links[li].frozen = true;
        }
    }
}

/* The inbound partner of outbound SA 'out': same SPI, at another end. */
static struct ctl_sa *
find_partner(struct ctl_state *state, const struct ctl_sa *out,
             struct ctl_site_state **ssp)
{
    for (size_t i = 0; i < state->n_sites; i++) {
        struct ctl_site_state *ss = &state->sites[i];
        for (size_t k = 0; k < ss->n_sas; k++) {
            struct ctl_sa *sa = &ss->sas[k];
            if (sa->inbound && sa->spi == out->spi && sa->link == out->link) {
                *ssp = ss;
                return sa;
            }
        }
    }
    return NULL;
}

static bool
spi_in_state(const struct ctl_state *state, uint64_t spi)
{
    for (size_t i = 0; i < state->n_sites; i++) {
        const struct ctl_site_state *ss = &state->sites[i];
        for (size_t k = 0; k < ss->n_sas; k++) {
            if (ss->sas[k].spi == spi) {
                return true;
            }
        }
    }
    return false;
}

/* Copies the packet and byte counters of 'sa', installed at 'c', from the
 * last `ipsec/sa-show --json`: what the packet and byte soft lifetimes of
 * a rekey are compared with. */
static void
read_counters(const struct site_conn *c, struct ctl_sa *sa)
{
    for (size_t i = 0; i < c->sas->n; i++) {
        const struct json *j = c->sas->elems[i];
        const char *port = member_string(j, "port");
        const char *dir = member_string(j, "dir");
        uint64_t spi, packets, bytes;
        if (member_uint(j, "spi", &spi) && spi == sa->spi
            && port && !strcmp(port, sa->port)
            && dir && !strcmp(dir, sa->inbound ? "in" : "out")
            && member_uint(j, "packets", &packets)
            && member_uint(j, "bytes", &bytes)) {
            sa->packets = packets;
            sa->bytes = bytes;
            return;
        }
    }
}

/* Replaces, with fresh keys, the pairs of the links of which an SA that
 * was installed is gone from its site (ovs-vswitchd restarted, or an
 * operator deleted it): see 'installed' in compile.h.  A frozen link is
 * left for when its other end is back. */
static int
replace_lost_sas(struct ctl_state *state, struct site_conn **conns,
                 size_t n, struct ctl_apply_stats *st, FILE *log)
{
    size_t n_links = state->policy->n_links;
    bool *lost = xcalloc(n_links ? n_links : 1, sizeof *lost);
    int error = 0;

    for (size_t i = 0; i < n; i++) {
        struct site_conn *c = conns[i];
        for (size_t k = 0; k < c->ss->n_sas && !c->failed; k++) {
            struct ctl_sa *sa = &c->ss->sas[k];
            if (!sa->retiring && (sa->installed || sa->adopted)
                && !lost[sa->link] && !state->links[sa->link].frozen
                && !sa_installed(c, sa, sa->spi)) {
                fprintf(log, "esp-agent: %s: %s SA 0x%08"PRIx32" of link %s "
                        "is gone (ovs-vswitchd restarted?): replacing the "
                        "pair with fresh keys\n", c->ss->name,
                        sa->inbound ? "in" : "out", sa->spi,
                        state->policy->links[sa->link].name);
                lost[sa->link] = true;
            }
        }
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    long long int now = (long long int) ts.tv_sec * 1000
                        + ts.tv_nsec / 1000000;
    for (size_t li = 0; li < n_links && !error; li++) {
        if (!lost[li]) {
            continue;
        }
        int e = ctl_rekey_replace_lost(state, li, now, log);
        if (e == ENOTSUP) {
            /* A gateway's SAs are configured out of band with these
             * keys: reinstall them as they are. */
            for (size_t i = 0; i < state->n_sites; i++) {
                struct ctl_site_state *ss = &state->sites[i];
                for (size_t k = 0; k < ss->n_sas; k++) {
                    if (ss->sas[k].link == li && !ss->sas[k].adopted) {
                        ss->sas[k].installed = false;
                    }
                }
            }
        } else if (e) {
            fprintf(log, "esp-agent: link %s: cannot replace its SAs: %s\n",
                    state->policy->links[li].name, ovs_strerror(e));
            error = e;
        } else {
            st->links_restored++;
        }
    }
    free(lost);
    return error;
}

/* Adopts installed pairs equivalent to the desired ones, then installs
 * what is missing: every inbound SA before any outbound one.  Nothing of a
 * frozen link; a site that fails is left out, and its links frozen, before
 * any outbound SA is installed. */
static int
reconcile_sas(struct ctl_state *state, struct site_conn **conns, size_t n,
              struct ctl_apply_stats *st, FILE *log)
{
    int error = replace_lost_sas(state, conns, n, st, log);
    if (error) {
        return error;
    }
    for (size_t i = 0; i < state->n_sites; i++) {
        struct ctl_site_state *xs = &state->sites[i];
        for (size_t k = 0; k < xs->n_sas; k++) {
            struct ctl_sa *out = &xs->sas[k];
            struct ctl_site_state *ys;
            struct ctl_sa *in;
            if (out->inbound || out->retiring
                || state->links[out->link].frozen
                || !(in = find_partner(state, out, &ys))) {
                continue;
            }
            struct site_conn *x = conn_of(conns, n, xs);
            struct site_conn *y = conn_of(conns, n, ys);
            bool out_ok = !x || sa_installed(x, out, out->spi);
            bool in_ok = !y || sa_installed(y, in, in->spi);
            if ((out_ok && in_ok) || out->adopted) {
                continue;
            }
            if (!out_ok && !in_ok) {
                /* An equivalent pair under another SPI, e.g. installed by
                 * an earlier run: adopt it rather than churn. */
                const struct json_array *sas = (x ? x : y)->sas;
                for (size_t j = 0; j < sas->n; j++) {
                    uint64_t spi;
                    const struct json *e = sas->elems[j];
                    /* Never a pair the state already has (e.g. the one
                     * a rekey is replacing). */
                    if (!member_uint(e, "spi", &spi)
                        || spi_in_state(state, spi)
                        || !sa_params_match(e, x ? out : in)) {
                        continue;
                    }
                    if ((!x || sa_installed(x, out, spi))
                        && (!y || sa_installed(y, in, spi))) {
                        out->spi = in->spi = spi;
                        out->adopted = in->adopted = true;
                        out->installed = in->installed = true;
                        st->sas_adopted += 2;
                        break;
                    }
                }
            }
        }
    }

    /* Install what is missing, inbound first. */
    for (int pass = 0; pass < 2; pass++) {
        bool inbound = pass == 0;
        for (size_t i = 0; i < n; i++) {
            struct site_conn *c = conns[i];
            for (size_t k = 0; k < c->ss->n_sas && !c->failed; k++) {
                struct ctl_sa *sa = &c->ss->sas[k];
                if (sa->inbound != inbound) {
                    continue;
                }
                if (sa_installed(c, sa, sa->spi)) {
                    if (!sa->retiring) {
                        sa->installed = true;
                    }
                    read_counters(c, sa);
                    continue;
                }
                if (sa->retiring || state->links[sa->link].frozen) {
                    /* A retiring SA was replaced by a rekey: kept while
                     * it lasts, never put back (an old outbound SA would
                     * become active). */
                    continue;
                }
                if (sa->adopted) {
                    site_error(c, log, "%s SA 0x%08"PRIx32" on %s is gone "
                               "and its key is not known to this process; "
                               "restart the agent to replace the pair",
                               inbound ? "in" : "out", sa->spi, sa->port);
                    site_fail(state, c, EPROTO);
                    break;
                }
                error = sa_add(c, sa, log);
                if (error) {
                    site_fail(state, c, error);
                    break;
                }
                sa->installed = true;
                st->sas_added++;
            }
        }
    }
    return 0;
}

static bool
sa_wanted(const struct ctl_site_state *ss, const char *port, bool inbound,
          uint64_t spi)
{
    for (size_t k = 0; k < ss->n_sas; k++) {
        const struct ctl_sa *sa = &ss->sas[k];
        if (sa->inbound == inbound && sa->spi == spi
            && !strcmp(sa->port, port)) {
            return true;
        }
    }
    return false;
}

/* Is 'port' of 'ss' the port of a frozen link? */
static bool
port_frozen(const struct ctl_state *state, const struct ctl_site_state *ss,
            const char *port)
{
    for (size_t i = 0; i < ss->n_ports; i++) {
        if (!strcmp(ss->ports[i].name, port)) {
            return state->links[ss->ports[i].link].frozen;
        }
    }
    return false;
}

/* Deletes the SAs on the agent's ports that the desired state lacks
 * (replaced pairs, links removed from the policy), except on the ports of
 * frozen links. */
static int
delete_stale_sas(const struct ctl_state *state, struct site_conn *c,
                 const struct sset *owned, struct ctl_apply_stats *st,
                 FILE *log)
{
    int error = read_sas(c, log);
    if (error) {
        return error;
    }
    for (size_t i = 0; i < c->sas->n; i++) {
        const struct json *j = c->sas->elems[i];
        const char *port = member_string(j, "port");
        const char *dir = member_string(j, "dir");
        uint64_t spi;
        if (!port || !dir || !member_uint(j, "spi", &spi)) {
            continue;
        }
        bool ours = port_desired(c->ss, port) || sset_contains(owned, port);
        if (!ours || sa_wanted(c->ss, port, !strcmp(dir, "in"), spi)
            || port_frozen(state, c->ss, port)) {
            continue;
        }
        char spi_s[16];
        snprintf(spi_s, sizeof spi_s, "0x%08"PRIx64, spi);
        char *argv[] = { CONST_CAST(char *, port), spi_s,
                         CONST_CAST(char *, dir) };
        error = unixctl_call(c, "ipsec/sa-del", 3, argv, NULL, log);
        if (error) {
            return error;
        }
        fprintf(log, "esp-agent: %s: deleted %s SA %s on %s\n", c->ss->name,
                dir, spi_s, port);
        st->sas_deleted++;
    }
    return 0;
}

/* --- Entry point --------------------------------------------------------- */

int
ctl_apply(struct ctl_state *state, struct ctl_conns *conns_,
          enum ctl_apply_mode mode, struct ctl_apply_stats *st, FILE *log)
{
    struct ctl_conns *conns = conns_ ? conns_ : ctl_conns_create();
    size_t n = conns_sync(conns, state);
    struct site_conn **cs = conns->conns;
    int error = 0;

    memset(st, 0, sizeof *st);
    for (size_t li = 0; li < state->policy->n_links; li++) {
        state->links[li].frozen = false;
    }

    /* 1. Reach every site, each on its own. */
    for (size_t i = 0; i < n; i++) {
        struct site_conn *c = cs[i];
        free(c->prev_error);
        c->prev_error = c->error;
        c->error = NULL;
        c->failed = c->lost = false;
        int e = site_connect(c, log);
        if (e) {
            site_fail(state, c, e);
        }
    }
    if (mode == CTL_APPLY_ALL_OR_NOTHING) {
        for (size_t i = 0; i < n; i++) {
            if (cs[i]->failed) {
                fprintf(log, "esp-agent: not every site is reachable: "
                        "nothing changed\n");
                error = ENOTCONN;
                goto out;
            }
        }
    }

    /* The agent's ports as found, for the SAs of those about to go. */
    struct sset *owned = xcalloc(n ? n : 1, sizeof *owned);
    for (size_t i = 0; i < n; i++) {
        sset_init(&owned[i]);
        for (size_t k = 0; !cs[i]->failed && k < cs[i]->br->n_ports; k++) {
            const struct ovsrec_port *p = cs[i]->br->ports[k];
            if (smap_get(&p->external_ids, CTL_PORT_OWNER_KEY)) {
                sset_add(&owned[i], p->name);
            }
        }
    }

    /* 2. SAs, 3. ports, 4. flows; then stale 5. ports and 6. SAs.  A site
     * that fails a step skips the others. */
    error = reconcile_sas(state, cs, n, st, log);
    for (int step = 3; step <= 6 && !error; step++) {
        for (size_t i = 0; i < n; i++) {
            struct site_conn *c = cs[i];
            if (c->failed) {
                continue;
            }
            int e = (step == 3 ? reconcile_ports(c, false, st, log)
                     : step == 4 ? reconcile_flows(c, st, log)
                     : step == 5 ? reconcile_ports(c, true, st, log)
                     : delete_stale_sas(state, c, &owned[i], st, log));
            if (e) {
                site_fail(state, c, e);
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        sset_destroy(&owned[i]);
    }
    free(owned);

out:
    for (size_t i = 0; i < n; i++) {
        struct site_conn *c = cs[i];
        if (c->failed) {
            /* All or nothing: ENOTCONN only if nothing changed. */
            bool lost = c->lost && (mode == CTL_APPLY_REACHABLE
                                    || error == ENOTCONN);
            st->sites_failed++;
            if (!error) {
                error = lost ? ENOTCONN : EPROTO;
            } else if (error == ENOTCONN && !lost) {
                error = EPROTO;
            }
        }
        set_reachable(c, !c->lost);
        free(c->prev_error);
        c->prev_error = NULL;
        json_destroy(c->sa_root);
        c->sa_root = NULL;
        c->sas = NULL;
        c->br = NULL;
        c->ss = NULL;
    }
    for (size_t li = 0; li < state->policy->n_links; li++) {
        st->links_frozen += state->links[li].frozen;
    }
    if (st->sites_failed && mode == CTL_APPLY_REACHABLE
        && st->sites_failed != conns->n_failed) {
        fprintf(log, "esp-agent: %zu of %zu sites failed; %zu links left "
                "as they are until they are back\n", st->sites_failed, n,
                st->links_frozen);
    }
    conns->n_failed = st->sites_failed;
    if (!conns_) {
        ctl_conns_destroy(conns);
    }
    return error;
}
