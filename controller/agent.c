/*
 * The long-running agent: event loop, restarts, reload, unixctl server.
 * See agent.h and docs/operations.md.
 */
#include <config.h>

#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "apply.h"
#include "dirs.h"
#include "jsonrpc.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/json.h"
#include "openvswitch/poll-loop.h"
#include "timeval.h"
#include "unixctl.h"
#include "util.h"

enum {
    EXIT_USAGE = 2,
    EXIT_UNREACHABLE = 3,
    EXIT_APPLY = 4,
    RETRY_MS = 50,              /* Retry while a switch is coming up. */
    FAST_WINDOW_MS = 10000,     /* ... for this long after it came back. */
};

struct agent {
    const struct ctl_agent_options *opts;
    char *policy_file;
    struct ctl_policy *policy;
    struct ctl_state *state;
    long long int loaded_wall;

    /* One unixctl connection per site (NULL for gateways and while the
     * site's ovs-vswitchd is away), kept open only to learn when it goes
     * away and comes back. */
    struct jsonrpc **watch;
    long long int *next_try;
    size_t n_watch;

    long long int next_apply;   /* time_msec() of the next reconcile. */
    long long int retry_ms;
    long long int fast_until;   /* Retry every RETRY_MS until then. */
    bool apply_now;

    struct ctl_rekey_stats rs;
    size_t n_applies, n_failures;
    long long int last_ok_wall;
    char *last_error;
    long long int last_error_wall;

    struct unixctl_server *server;
    char *server_path;
};

static int sig_pipe[2] = { -1, -1 };
static volatile sig_atomic_t stop_signal;
static volatile sig_atomic_t reload_signal;

static void
on_signal(int sig)
{
    int saved = errno;
    if (sig == SIGHUP) {
        reload_signal = 1;
    } else {
        stop_signal = sig;
    }
    ignore(write(sig_pipe[1], "", 1));
    errno = saved;
}

static long long int
wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long int) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
print_stats(const struct ctl_apply_stats *st, const char *what)
{
    size_t n = ctl_apply_stats_changes(st);
    if (!n) {
        printf("esp-agent: %sno changes (%zu SAs adopted)\n", what,
               st->sas_adopted);
    } else {
        printf("esp-agent: %s%zu changes: SAs +%zu -%zu, ports +%zu ~%zu "
               "-%zu, flows +%zu -%zu", what, n, st->sas_added,
               st->sas_deleted, st->ports_added, st->ports_changed,
               st->ports_deleted, st->flows_added, st->flows_deleted);
        if (st->bridges_changed) {
            printf(", bridges ~%zu", st->bridges_changed);
        }
        if (st->links_restored) {
            printf(", links rekeyed after an SA loss %zu",
                   st->links_restored);
        }
        putchar('\n');
    }
    fflush(stdout);
}

/* Runs ctl_apply() on 'state', its log to stderr; on failure, keeps the
 * last line logged as the agent's last error. */
static int
agent_apply(struct agent *a, struct ctl_state *state,
            struct ctl_apply_stats *st)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    if (!mem) {
        out_of_memory();
    }
    int error = ctl_apply(state, st, mem);
    fclose(mem);
    fputs(buf, stderr);
    fflush(stderr);
    a->n_applies++;
    if (error) {
        a->n_failures++;
        /* The last line that is not the summary. */
        char *end = buf + len;
        while (end > buf && end[-1] == '\n') {
            *--end = '\0';
        }
        char *line = strrchr(buf, '\n');
        line = line ? line + 1 : buf;
        if (!strcmp(line, "esp-agent: not every site is reachable: nothing "
                    "changed") && line > buf) {
            line[-1] = '\0';
            char *prev = strrchr(buf, '\n');
            line = prev ? prev + 1 : buf;
        }
        if (!strncmp(line, "esp-agent: ", 11)) {
            line += 11;
        }
        free(a->last_error);
        a->last_error = xstrdup(line);
        a->last_error_wall = wall_ms();
    } else {
        a->rs.rekeys += st->links_restored;
        a->last_ok_wall = wall_ms();
    }
    free(buf);
    return error;
}

/* One reconcile round: rekeys due, then apply.  Returns 0 or the apply's
 * positive errno. */
static int
agent_round(struct agent *a)
{
    struct ctl_apply_stats st;
    size_t rekeys = a->rs.rekeys;
    long long int now = time_msec();

    int error = ctl_rekey_run(a->state, &a->opts->rekey, now, &a->rs,
                              stderr);
    if (error) {
        fprintf(stderr, "esp-agent: rekey failed: %s\n", ovs_strerror(error));
    }
    error = agent_apply(a, a->state, &st);
    now = time_msec();
    if (!error) {
        ctl_rekey_commit(a->state, &a->opts->rekey, now);
        if (a->rs.rekeys != rekeys) {
            fprintf(stderr, "esp-agent: %zu rekeys so far\n", a->rs.rekeys);
        }
        if (ctl_apply_stats_changes(&st)) {
            print_stats(&st, "");
        }
        a->next_apply = now + a->opts->interval_ms;
        a->retry_ms = RETRY_MS;
    } else {
        long long int wait = now < a->fast_until ? RETRY_MS : a->retry_ms;
        a->next_apply = now + wait;
        a->retry_ms = MIN(a->retry_ms * 2, a->opts->interval_ms);
    }
    return error;
}

/* --- Watching the switches ---------------------------------------------- */

static void
watch_run(struct agent *a)
{
    long long int now = time_msec();
    for (size_t i = 0; i < a->n_watch; i++) {
        const struct ctl_site_state *ss = &a->state->sites[i];
        if (ss->gateway) {
            continue;
        }
        if (a->watch[i]) {
            struct jsonrpc_msg *msg;
            jsonrpc_run(a->watch[i]);
            int error = jsonrpc_recv(a->watch[i], &msg);
            if (!error) {
                jsonrpc_msg_destroy(msg);
            } else if (error != EAGAIN) {
                fprintf(stderr, "esp-agent: %s: ovs-vswitchd went away "
                        "(%s); its bridge fails closed until it is back\n",
                        ss->name, ovs_retval_to_string(error));
                jsonrpc_close(a->watch[i]);
                a->watch[i] = NULL;
                a->next_try[i] = now;
                free(a->last_error);
                a->last_error = xasprintf("%s: ovs-vswitchd not reachable",
                                          ss->name);
                a->last_error_wall = wall_ms();
            }
        }
        if (!a->watch[i] && now >= a->next_try[i]) {
            struct jsonrpc *rpc;
            if (!unixctl_client_create(ss->site->unixctl, &rpc)) {
                fprintf(stderr, "esp-agent: %s: ovs-vswitchd is up: "
                        "reconciling now\n", ss->name);
                a->watch[i] = rpc;
                a->apply_now = true;
                a->fast_until = now + FAST_WINDOW_MS;
            } else {
                a->next_try[i] = now + RETRY_MS;
            }
        }
    }
}

static bool
watch_all_up(const struct agent *a)
{
    for (size_t i = 0; i < a->n_watch; i++) {
        if (!a->state->sites[i].gateway && !a->watch[i]) {
            return false;
        }
    }
    return true;
}

static void
watch_wait(const struct agent *a)
{
    for (size_t i = 0; i < a->n_watch; i++) {
        if (a->watch[i]) {
            jsonrpc_wait(a->watch[i]);
            jsonrpc_recv_wait(a->watch[i]);
        } else if (!a->state->sites[i].gateway) {
            poll_timer_wait_until(a->next_try[i]);
        }
    }
}

/* The watches follow the sites of a new policy (by name). */
static void
watch_reset(struct agent *a, const struct ctl_state *new)
{
    for (size_t i = 0; i < a->n_watch; i++) {
        if (a->watch[i]) {
            jsonrpc_close(a->watch[i]);
        }
    }
    free(a->watch);
    free(a->next_try);
    a->n_watch = new->n_sites;
    a->watch = xcalloc(a->n_watch ? a->n_watch : 1, sizeof *a->watch);
    a->next_try = xcalloc(a->n_watch ? a->n_watch : 1, sizeof *a->next_try);
    for (size_t i = 0; i < a->n_watch; i++) {
        if (!new->sites[i].gateway
            && unixctl_client_create(new->sites[i].site->unixctl,
                                     &a->watch[i])) {
            a->watch[i] = NULL;
        }
    }
}

/* --- Reload ------------------------------------------------------------- */

/* Loads 'file' (the current policy file if NULL), and makes the sites
 * match it, changing only what it changes.  Reports to 'out'.  An invalid
 * policy, or one with an unreachable site, changes nothing. */
static bool
agent_reload(struct agent *a, const char *file, struct ds *out)
{
    const char *path = file ? file : a->policy_file;
    struct ctl_policy *policy;
    struct ctl_errors errors;

    int error = ctl_policy_load(path, true, &policy, &errors);
    if (error) {
        for (size_t i = 0; i < errors.n; i++) {
            ds_put_format(out, "%s\n", errors.msgs[i]);
        }
        ds_put_format(out, "esp-agent: %s: %s, nothing changed\n", path,
                      error == EINVAL ? "invalid policy"
                      : ovs_strerror(error));
        ctl_errors_destroy(&errors);
        return false;
    }
    ctl_errors_destroy(&errors);

    struct ctl_state *state;
    error = ctl_compile(policy, NULL, &state);
    if (error) {
        ds_put_format(out, "esp-agent: cannot generate keys: %s, nothing "
                      "changed\n", ovs_strerror(error));
        ctl_policy_destroy(policy);
        return false;
    }
    ctl_state_carry_over(state, a->state);

    struct ctl_apply_stats st;
    error = agent_apply(a, state, &st);
    if (error == ENOTCONN) {
        ds_put_format(out, "esp-agent: %s: %s; nothing changed\n", path,
                      a->last_error ? a->last_error : "a site unreachable");
        ctl_state_destroy(state);
        ctl_policy_destroy(policy);
        return false;
    }

    /* From here on 'state' is what the sites must hold, even if a site
     * refused part of it (the next rounds retry). */
    ctl_state_destroy(a->state);
    ctl_policy_destroy(a->policy);
    a->state = state;
    a->policy = policy;
    if (file) {
        free(a->policy_file);
        a->policy_file = xstrdup(file);
    }
    a->loaded_wall = wall_ms();
    watch_reset(a, state);
    if (error) {
        ds_put_format(out, "esp-agent: %s: loaded, but a site refused a "
                      "change (%s); retrying\n", path,
                      a->last_error ? a->last_error : "");
        a->next_apply = time_msec() + RETRY_MS;
        return false;
    }
    ctl_rekey_commit(state, &a->opts->rekey, time_msec());
    a->next_apply = time_msec() + a->opts->interval_ms;
    size_t n = ctl_apply_stats_changes(&st);
    ds_put_format(out, "esp-agent: reloaded %s: %zu changes: SAs +%zu -%zu, "
                  "ports +%zu ~%zu -%zu, flows +%zu -%zu\n", path, n,
                  st.sas_added, st.sas_deleted, st.ports_added,
                  st.ports_changed, st.ports_deleted, st.flows_added,
                  st.flows_deleted);
    return true;
}

/* --- Status ------------------------------------------------------------- */

static struct json *
lifetime_json(const uint64_t lt[CTL_LT_N])
{
    struct json *j = json_object_create();
    json_object_put(j, "seconds", json_integer_create(lt[CTL_LT_SECONDS]));
    json_object_put(j, "packets", json_integer_create(lt[CTL_LT_PACKETS]));
    json_object_put(j, "bytes", json_integer_create(lt[CTL_LT_BYTES]));
    return j;
}

static const char *
sa_role(const struct ctl_sa *sa)
{
    return sa->retiring ? "retiring" : "current";
}

static struct json *
status_json(const struct agent *a)
{
    const struct ctl_state *st = a->state;
    const struct ctl_policy *pol = a->policy;
    long long int now = time_msec(), wall = wall_ms();
    struct json *top = json_object_create();

    json_object_put_string(top, "policy", a->policy_file);
    json_object_put(top, "policy_age_s",
                    json_integer_create((wall - a->loaded_wall) / 1000));
    json_object_put(top, "applies", json_integer_create(a->n_applies));
    json_object_put(top, "apply_failures",
                    json_integer_create(a->n_failures));
    json_object_put(top, "rekeys", json_integer_create(a->rs.rekeys));
    json_object_put(top, "last_ok_s_ago", a->last_ok_wall
                    ? json_integer_create((wall - a->last_ok_wall) / 1000)
                    : json_null_create());
    if (a->last_error) {
        struct json *e = json_object_create();
        json_object_put_string(e, "message", a->last_error);
        json_object_put(e, "s_ago", json_integer_create(
                            (wall - a->last_error_wall) / 1000));
        json_object_put(top, "last_error", e);
    } else {
        json_object_put(top, "last_error", json_null_create());
    }

    struct json *sites = json_array_create_empty();
    for (size_t i = 0; i < st->n_sites; i++) {
        const struct ctl_site_state *ss = &st->sites[i];
        struct json *s = json_object_create();
        json_object_put_string(s, "name", ss->name);
        json_object_put_string(s, "kind", ss->gateway ? "gateway" : "site");
        if (!ss->gateway) {
            json_object_put_string(s, "unixctl", ss->site->unixctl);
            json_object_put(s, "connected", json_boolean_create(
                                i < a->n_watch && a->watch[i]));
        }
        json_array_add(sites, s);
    }
    json_object_put(top, "sites", sites);

    struct json *links = json_array_create_empty();
    for (size_t li = 0; li < pol->n_links; li++) {
        const struct ctl_link *link = &pol->links[li];
        const struct ctl_link_info *info = &st->links[li];
        struct json *l = json_object_create();
        json_object_put_string(l, "name", link->name);
        json_object_put_string(l, "mode", ctl_mode_name(link->params.mode));
        json_object_put_string(l, "suite",
                               ctl_suite_name(link->params.suite));
        json_object_put_string(l, "port", link->port);
        json_object_put(l, "rekeys", json_integer_create(info->rekeys));
        json_object_put(l, "last_rekey_s_ago", info->last_rekey
                        ? json_integer_create((now - info->last_rekey)
                                              / 1000)
                        : json_null_create());
        struct json *sas = json_array_create_empty();
        for (size_t i = 0; i < st->n_sites; i++) {
            const struct ctl_site_state *ss = &st->sites[i];
            for (size_t k = 0; k < ss->n_sas; k++) {
                const struct ctl_sa *sa = &ss->sas[k];
                if (sa->link != li) {
                    continue;
                }
                struct json *j = json_object_create();
                json_object_put_string(j, "site", ss->name);
                json_object_put_string(j, "dir", sa->inbound ? "in" : "out");
                json_object_put(j, "spi", json_integer_create(sa->spi));
                json_object_put_format(j, "spi_hex", "0x%08"PRIx32, sa->spi);
                json_object_put_string(j, "state", sa_role(sa));
                json_object_put(j, "adopted", json_boolean_create(
                                    sa->adopted));
                json_object_put(j, "installed", json_boolean_create(
                                    sa->installed));
                json_object_put(j, "age_s", sa->created
                                ? json_integer_create((now - sa->created)
                                                      / 1000)
                                : json_null_create());
                json_object_put(j, "packets",
                                json_integer_create(sa->packets));
                json_object_put(j, "bytes", json_integer_create(sa->bytes));
                json_object_put(j, "lifetime_soft",
                                lifetime_json(sa->lifetime.soft));
                json_object_put(j, "lifetime_hard",
                                lifetime_json(sa->lifetime.hard));
                json_array_add(sas, j);
            }
        }
        json_object_put(l, "sas", sas);
        json_array_add(links, l);
    }
    json_object_put(top, "links", links);
    return top;
}

static void
status_text(const struct agent *a, struct ds *s)
{
    const struct ctl_state *st = a->state;
    const struct ctl_policy *pol = a->policy;
    long long int now = time_msec(), wall = wall_ms();

    ds_put_format(s, "policy: %s (loaded %llds ago)\n", a->policy_file,
                  (wall - a->loaded_wall) / 1000);
    ds_put_format(s, "reconciles: %zu, failed %zu; rekeys: %zu\n",
                  a->n_applies, a->n_failures, a->rs.rekeys);
    if (a->last_ok_wall) {
        ds_put_format(s, "last good reconcile: %llds ago\n",
                      (wall - a->last_ok_wall) / 1000);
    }
    if (a->last_error) {
        ds_put_format(s, "last error (%llds ago): %s\n",
                      (wall - a->last_error_wall) / 1000, a->last_error);
    }
    for (size_t i = 0; i < st->n_sites; i++) {
        const struct ctl_site_state *ss = &st->sites[i];
        if (ss->gateway) {
            ds_put_format(s, "gateway %s (SAs configured out of band)\n",
                          ss->name);
        } else {
            ds_put_format(s, "site %s: ovs-vswitchd %s (%s)\n", ss->name,
                          i < a->n_watch && a->watch[i] ? "connected"
                          : "NOT REACHABLE", ss->site->unixctl);
        }
    }
    for (size_t li = 0; li < pol->n_links; li++) {
        const struct ctl_link *link = &pol->links[li];
        const struct ctl_link_info *info = &st->links[li];
        ds_put_format(s, "link %s: %s, %s, port %s, %zu rekeys", link->name,
                      ctl_mode_name(link->params.mode),
                      ctl_suite_name(link->params.suite), link->port,
                      info->rekeys);
        if (info->last_rekey) {
            ds_put_format(s, ", last %llds ago",
                          (now - info->last_rekey) / 1000);
        }
        ds_put_char(s, '\n');
        for (size_t i = 0; i < st->n_sites; i++) {
            const struct ctl_site_state *ss = &st->sites[i];
            for (size_t k = 0; k < ss->n_sas; k++) {
                const struct ctl_sa *sa = &ss->sas[k];
                if (sa->link != li) {
                    continue;
                }
                ds_put_format(s, "  %-8s %-3s SA 0x%08"PRIx32" %-8s%s",
                              ss->name, sa->inbound ? "in" : "out", sa->spi,
                              sa_role(sa), sa->adopted ? " adopted" : "");
                if (sa->created) {
                    ds_put_format(s, " age %llds",
                                  (now - sa->created) / 1000);
                }
                ds_put_format(s, " soft %"PRIu64"s hard %"PRIu64"s"
                              " packets %"PRIu64" bytes %"PRIu64"\n",
                              sa->lifetime.soft[CTL_LT_SECONDS],
                              sa->lifetime.hard[CTL_LT_SECONDS],
                              sa->packets, sa->bytes);
            }
        }
    }
}

static void
cmd_status(struct unixctl_conn *conn, int argc, const char *argv[],
           void *a_)
{
    struct agent *a = a_;
    if (argc > 1 && strcmp(argv[1], "--json")) {
        unixctl_command_reply_error(conn, "usage: esp-agent/status [--json]");
        return;
    }
    if (argc > 1) {
        struct json *j = status_json(a);
        char *s = json_to_string(j, JSSF_SORT);
        unixctl_command_reply(conn, s);
        free(s);
        json_destroy(j);
    } else {
        struct ds s = DS_EMPTY_INITIALIZER;
        status_text(a, &s);
        unixctl_command_reply(conn, ds_cstr(&s));
        ds_destroy(&s);
    }
}

static void
cmd_reload(struct unixctl_conn *conn, int argc, const char *argv[],
           void *a_)
{
    struct agent *a = a_;
    struct ds out = DS_EMPTY_INITIALIZER;
    bool ok = agent_reload(a, argc > 1 ? argv[1] : NULL, &out);
    fputs(ds_cstr(&out), stderr);
    fflush(stderr);
    if (ok) {
        unixctl_command_reply(conn, ds_cstr(&out));
    } else {
        unixctl_command_reply_error(conn, ds_cstr(&out));
    }
    ds_destroy(&out);
}

static void
cmd_rekey(struct unixctl_conn *conn, int argc OVS_UNUSED,
          const char *argv[], void *a_)
{
    struct agent *a = a_;
    for (size_t li = 0; li < a->policy->n_links; li++) {
        if (!strcmp(a->policy->links[li].name, argv[1])) {
            int error = ctl_rekey_link(a->state, li, time_msec(), stderr);
            if (error) {
                char *msg = xasprintf("link %s: cannot rekey now: %s",
                                      argv[1], error == EBUSY
                                      ? "the previous pair is still in its "
                                        "grace period"
                                      : ovs_strerror(error));
                unixctl_command_reply_error(conn, msg);
                free(msg);
                return;
            }
            a->rs.rekeys++;
            unixctl_command_reply(conn, agent_round(a)
                                  ? "rekey started; a site refused a change, "
                                    "retrying (see esp-agent/status)\n"
                                  : "rekeyed\n");
            return;
        }
    }
    unixctl_command_reply_error(conn, "no such link");
}

/* Refuses a socket directory where others could replace the socket. */
static int
check_socket_dir(const char *path)
{
    char *copy = xstrdup(path);
    const char *dir = dirname(copy);
    struct stat st;
    int error = 0;

    if (stat(dir, &st)) {
        error = errno;
        fprintf(stderr, "esp-agent: unixctl socket directory %s: %s\n", dir,
                ovs_strerror(error));
    } else if ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX)) {
        fprintf(stderr, "esp-agent: unixctl socket directory %s is writable "
                "by anyone (mode %04o): refused\n", dir,
                (unsigned int) (st.st_mode & 07777));
        error = EPERM;
    } else if (st.st_uid != 0 && st.st_uid != geteuid()) {
        fprintf(stderr, "esp-agent: unixctl socket directory %s belongs to "
                "another user (uid %u): refused\n", dir,
                (unsigned int) st.st_uid);
        error = EPERM;
    }
    free(copy);
    return error;
}

static int
server_start(struct agent *a)
{
    const char *path = a->opts->unixctl;
    char *def = NULL;
    if (!path) {
        def = xasprintf("%s/esp-agent.%ld.ctl", ovs_rundir(),
                        (long int) getpid());
        path = def;
    }
    int error = check_socket_dir(path);
    if (!error) {
        /* OVS binds its unix sockets under umask 0077 too: only the
         * agent's user (root) may talk to it. */
        mode_t old = umask(0077);
        error = unixctl_server_create(path, &a->server);
        umask(old);
        if (error) {
            fprintf(stderr, "esp-agent: cannot create unixctl socket %s: "
                    "%s\n", path, ovs_strerror(error));
        }
    }
    if (error) {
        free(def);
        if (a->opts->unixctl) {
            return EXIT_USAGE;
        }
        fprintf(stderr, "esp-agent: running without a unixctl socket "
                "(give --unixctl=PATH)\n");
        return 0;
    }
    a->server_path = def ? def : xstrdup(path);
    fprintf(stderr, "esp-agent: unixctl socket %s\n", a->server_path);
    unixctl_command_register("esp-agent/status", "[--json]", 0, 1,
                             cmd_status, a);
    unixctl_command_register("esp-agent/reload", "[POLICY.yaml]", 0, 1,
                             cmd_reload, a);
    unixctl_command_register("esp-agent/rekey", "LINK", 1, 1, cmd_rekey, a);
    return 0;
}

/* --- Main loop ---------------------------------------------------------- */

static void
install_signals(void)
{
    if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK)) {
        ovs_fatal(errno, "pipe");
    }
    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int
ctl_agent_run(const struct ctl_agent_options *opts, struct ctl_policy *policy,
              struct ctl_state *state)
{
    struct agent a = {
        .opts = opts,
        .policy_file = xstrdup(opts->policy_file),
        .policy = policy,
        .state = state,
        .loaded_wall = wall_ms(),
        .retry_ms = RETRY_MS,
    };
    struct ctl_apply_stats st;
    int status = 0;

    ctl_apply_init();
    install_signals();

    /* The socket first: a bad --unixctl changes nothing anywhere. */
    status = server_start(&a);
    if (status) {
        goto out;
    }
    int error = agent_apply(&a, a.state, &st);
    if (error) {
        status = error == ENOTCONN ? EXIT_UNREACHABLE : EXIT_APPLY;
        goto out;
    }
    print_stats(&st, "");
    watch_reset(&a, a.state);
    a.next_apply = time_msec() + opts->interval_ms;

    while (!stop_signal) {
        char buf[16];
        while (read(sig_pipe[0], buf, sizeof buf) > 0) {
            continue;
        }
        if (reload_signal) {
            reload_signal = 0;
            struct ds out = DS_EMPTY_INITIALIZER;
            fprintf(stderr, "esp-agent: SIGHUP: reloading %s\n",
                    a.policy_file);
            agent_reload(&a, NULL, &out);
            fputs(ds_cstr(&out), stderr);
            fflush(stderr);
            ds_destroy(&out);
        }
        if (a.server) {
            unixctl_server_run(a.server);
        }
        watch_run(&a);
        if (watch_all_up(&a)
            && (a.apply_now || time_msec() >= a.next_apply)) {
            a.apply_now = false;
            agent_round(&a);
        }
        if (stop_signal) {
            break;
        }

        if (a.server) {
            unixctl_server_wait(a.server);
        }
        watch_wait(&a);
        if (watch_all_up(&a)) {
            poll_timer_wait_until(a.apply_now ? time_msec() : a.next_apply);
        }
        poll_fd_wait(sig_pipe[0], POLLIN);
        poll_block();
    }
    fprintf(stderr, "esp-agent: stopping on signal %d after %zu rekeys; "
            "the sites keep their state\n", (int) stop_signal, a.rs.rekeys);

out:
    for (size_t i = 0; i < a.n_watch; i++) {
        if (a.watch[i]) {
            jsonrpc_close(a.watch[i]);
        }
    }
    free(a.watch);
    free(a.next_try);
    if (a.server) {
        unixctl_server_destroy(a.server);
    }
    free(a.server_path);
    free(a.last_error);
    free(a.policy_file);
    ctl_state_destroy(a.state);
    ctl_policy_destroy(a.policy);
    return status;
}
