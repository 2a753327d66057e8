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

    /* The connections to the sites, kept open across rounds; their
     * unixctl connection also tells when a switch goes away and comes
     * back. */
    struct ctl_conns *conns;

    long long int next_apply;   /* time_msec() of the next reconcile. */
    long long int retry_ms;
    long long int fast_until;   /* Retry every RETRY_MS until then. */
    bool apply_now;

    struct ctl_rekey_stats rs;
    size_t n_applies, n_failures;
    long long int last_round_us;    /* Duration of the last round. */
    long long int sum_round_us;     /* ... and of all, for the mean. */
    size_t n_rounds;
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

static long long int
mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long int) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Runs ctl_apply() on 'state' through 'conns' in 'mode', its log to
 * stderr; on failure, keeps the first site's error as the agent's last
 * error. */
static int
agent_apply(struct agent *a, struct ctl_state *state,
            struct ctl_conns *conns, enum ctl_apply_mode mode,
            struct ctl_apply_stats *st)
{
    int error = ctl_apply(state, conns, mode, st, stderr);
    fflush(stderr);
    a->n_applies++;
    if (error) {
        a->n_failures++;
        char *msg = NULL;
        for (size_t i = 0; i < state->n_sites && !msg; i++) {
            struct ctl_site_status ss;
            ctl_conns_site_status(conns, state->sites[i].name, &ss);
            if (ss.error) {
                msg = xasprintf("%s: %s", state->sites[i].name, ss.error);
            }
        }
        free(a->last_error);
        a->last_error = msg ? msg : xstrdup(ovs_strerror(error));
        a->last_error_wall = wall_ms();
    } else {
        a->last_ok_wall = wall_ms();
    }
    a->rs.rekeys += st->links_restored;
    return error;
}

/* One reconcile round: rekeys due, then apply, every reachable site.
 * Returns 0 or the apply's positive errno. */
static int
agent_round(struct agent *a)
{
    struct ctl_apply_stats st;
    size_t rekeys = a->rs.rekeys;
    long long int now = time_msec();

    ctl_conns_freeze(a->conns, a->state);
    int error = ctl_rekey_run(a->state, &a->opts->rekey, now, &a->rs,
                              stderr);
    if (error) {
        fprintf(stderr, "esp-agent: rekey failed: %s\n", ovs_strerror(error));
    }
    long long int t0 = mono_us();
    error = agent_apply(a, a->state, a->conns, CTL_APPLY_REACHABLE, &st);
    a->last_round_us = mono_us() - t0;
    a->sum_round_us += a->last_round_us;
    a->n_rounds++;
    now = time_msec();

    /* The links the apply did not freeze have their new pairs on both
     * ends now: their old pairs' grace period starts. */
    ctl_rekey_commit(a->state, &a->opts->rekey, now);
    if (a->rs.rekeys != rekeys) {
        fprintf(stderr, "esp-agent: %zu rekeys so far\n", a->rs.rekeys);
    }
    if (ctl_apply_stats_changes(&st)) {
        print_stats(&st, "");
    }
    if (!error) {
        a->next_apply = now + a->opts->interval_ms;
        a->retry_ms = RETRY_MS;
    } else {
        long long int wait = now < a->fast_until ? RETRY_MS : a->retry_ms;
        a->next_apply = now + wait;
        a->retry_ms = MIN(a->retry_ms * 2, a->opts->interval_ms);
    }
    return error;
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

    /* Connections of its own, as `esp-agent apply` does: the rounds' ones
     * stay with the current policy's sites until it is replaced. */
    struct ctl_apply_stats st;
    struct ctl_conns *conns = ctl_conns_create();
    error = agent_apply(a, state, conns, CTL_APPLY_ALL_OR_NOTHING, &st);
    ctl_conns_destroy(conns);
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
    ctl_rekey_commit(state, &a->opts->rekey, time_msec());
    if (error) {
        ds_put_format(out, "esp-agent: %s: loaded, but a site refused a "
                      "change (%s); retrying\n", path,
                      a->last_error ? a->last_error : "");
        a->next_apply = time_msec() + RETRY_MS;
        return false;
    }
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
    json_object_put(top, "rounds", json_integer_create(a->n_rounds));
    json_object_put(top, "last_round_ms", json_real_create(
                        a->last_round_us / 1000.0));
    json_object_put(top, "mean_round_ms", json_real_create(
                        a->n_rounds
                        ? a->sum_round_us / 1000.0 / a->n_rounds : 0.0));
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
            struct ctl_site_status cs;
            ctl_conns_site_status(a->conns, ss->name, &cs);
            json_object_put_string(s, "unixctl", ss->site->unixctl);
            json_object_put(s, "reachable", json_boolean_create(
                                cs.reachable));
            json_object_put(s, "since_s", json_integer_create(
                                (wall - cs.since_wall) / 1000));
            json_object_put(s, "error", cs.error
                            ? json_string_create(cs.error)
                            : json_null_create());
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
        json_object_put(l, "frozen", json_boolean_create(info->frozen));
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
    if (a->n_rounds) {
        ds_put_format(s, "round: last %.1f ms, mean %.1f ms over %zu\n",
                      a->last_round_us / 1000.0,
                      a->sum_round_us / 1000.0 / a->n_rounds, a->n_rounds);
    }
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
            struct ctl_site_status cs;
            ctl_conns_site_status(a->conns, ss->name, &cs);
            if (cs.reachable) {
                ds_put_format(s, "site %s: reachable (%s)", ss->name,
                              ss->site->unixctl);
                if (cs.error) {
                    ds_put_format(s, "; last round failed: %s", cs.error);
                }
            } else {
                ds_put_format(s, "site %s: NOT REACHABLE for %llds (%s): %s",
                              ss->name, (wall - cs.since_wall) / 1000,
                              ss->site->unixctl,
                              cs.error ? cs.error : "not tried yet");
            }
            ds_put_char(s, '\n');
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
        if (info->frozen) {
            ds_put_cstr(s, ", FROZEN (an end failed: left as it is, no "
                        "rekey)");
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
                                      : error == ENOTCONN
                                      ? "an end's site is unreachable"
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
    /* Every site that can be reached is configured now; the others as
     * soon as they can be (a daemon that refused to start while one of
     * its sites is down would leave all the others unmanaged). */
    a.conns = ctl_conns_create();
    long long int t0 = mono_us();
    int error = agent_apply(&a, a.state, a.conns, CTL_APPLY_REACHABLE,
                            &st);
    a.last_round_us = mono_us() - t0;
    a.sum_round_us += a.last_round_us;
    a.n_rounds++;
    ctl_rekey_commit(a.state, &opts->rekey, time_msec());
    print_stats(&st, "");
    if (error) {
        fprintf(stderr, "esp-agent: starting with %zu site(s) failing "
                "(%s); their links are configured once they answer\n",
                st.sites_failed, a.last_error ? a.last_error : "");
        a.next_apply = time_msec() + RETRY_MS;
    } else {
        a.next_apply = time_msec() + opts->interval_ms;
    }

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
        if (ctl_conns_run(a.conns, stderr)) {
            a.apply_now = true;
            a.fast_until = time_msec() + FAST_WINDOW_MS;
        }
        if (a.apply_now || time_msec() >= a.next_apply) {
            a.apply_now = false;
            agent_round(&a);
        }
        if (stop_signal) {
            break;
        }

        if (a.server) {
            unixctl_server_wait(a.server);
        }
        ctl_conns_wait(a.conns);
        poll_timer_wait_until(a.apply_now ? time_msec() : a.next_apply);
        poll_fd_wait(sig_pipe[0], POLLIN);
        poll_block();
    }
    fprintf(stderr, "esp-agent: stopping on signal %d after %zu rekeys; "
            "the sites keep their state\n", (int) stop_signal, a.rs.rekeys);

out:
    ctl_conns_destroy(a.conns);
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
