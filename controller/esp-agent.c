/*
 * esp-agent: the IPsec policy agent for Open vSwitch.
 *
 *   esp-agent --check POLICY   validate and print what it compiles to
 *   esp-agent apply POLICY     make every site match it, once
 *   esp-agent run POLICY       apply, then keep the sites so (agent.h):
 *                              reconcile, rekey, restore after a switch
 *                              restart, reload on SIGHUP, answer
 *                              esp-agent/... unixctl commands, until
 *                              SIGTERM or SIGINT
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "agent.h"
#include "apply.h"
#include "compile.h"
#include "policy.h"
#include "rekey.h"

enum {
    EXIT_INVALID = 1,           /* The policy has problems. */
    EXIT_USAGE = 2,             /* Bad command line, unreadable file. */
    EXIT_UNREACHABLE = 3,       /* A site cannot be reached: no change. */
    EXIT_APPLY = 4,             /* A site refused a change. */
};

enum {
    DEFAULT_INTERVAL_MS = 1000,
};

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: esp-agent --check [--seed=N] POLICY.yaml\n"
            "       esp-agent apply POLICY.yaml\n"
            "       esp-agent run [--interval=MS] [--rekey-grace=SECONDS]\n"
            "                     [--rekey-every=SECONDS] [--unixctl=PATH]\n"
            "                     POLICY.yaml\n"
            "\n"
            "  --check        validate POLICY.yaml and print the ports,\n"
            "                 flows and SAs it compiles to (keys are never\n"
            "                 shown);\n"
            "                 changes nothing\n"
            "  apply          make every site's ovs-vswitchd and OVSDB hold\n"
            "                 that state, changing only what differs; if a\n"
            "                 site cannot be reached, change nothing\n"
            "  run            apply to the sites that can be reached, then\n"
            "                 reconcile every MS milliseconds (default 1000)\n"
            "                 and at once when a switch comes back, rekey\n"
            "                 each link before its soft lifetime, reload\n"
            "                 POLICY.yaml on SIGHUP, until SIGTERM or\n"
            "                 SIGINT; a site that is down holds up only its\n"
            "                 links\n"
            "  --unixctl=PATH the agent's control socket for ovs-appctl -t\n"
            "                 PATH esp-agent/status [--json], esp-agent/\n"
            "                 reload [FILE], esp-agent/rekey LINK (default\n"
            "                 OVS_RUNDIR/esp-agent.PID.ctl)\n"
            "  --rekey-grace=SECONDS  keep a replaced SA pair this long\n"
            "                 after its successor is installed (default 3)\n"
            "  --rekey-every=SECONDS  rekey every link this often whatever\n"
            "                 its lifetimes (testing)\n"
            "  --seed=N       allocate SPIs deterministically from N (tests;\n"
            "                 keys always come from the kernel CSPRNG)\n"
            "  -h, --help     this help\n"
            "\n"
            "Exit status: 0 done, 1 invalid policy, 2 usage or I/O error,\n"
            "3 a site unreachable (nothing changed), 4 a site refused a "
            "change\n"
            "(apply only: run reports unreachable sites and refusals in its\n"
            "status and log, and keeps trying).\n");
}

static void
print_stats(const struct ctl_apply_stats *st)
{
    size_t n = ctl_apply_stats_changes(st);
    if (!n) {
        printf("esp-agent: no changes (%zu SAs adopted)\n",
               st->sas_adopted);
    } else {
        printf("esp-agent: %zu changes: SAs +%zu"
               " -%zu, ports +%zu ~%zu -%zu"
               ", flows +%zu -%zu%s\n", n, st->sas_added,
               st->sas_deleted, st->ports_added, st->ports_changed,
               st->ports_deleted, st->flows_added, st->flows_deleted,
               st->bridges_changed ? ", bridges ~1+" : "");
    }
    fflush(stdout);
}

/* 'apply': once. */
static int
apply_once(struct ctl_state *state)
{
    struct ctl_apply_stats st;

    /* The process holds keys: no core dump, no ptrace by other processes
     * of the same user. */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    ctl_apply_init();
    int error = ctl_apply(state, NULL, CTL_APPLY_ALL_OR_NOTHING, &st,
                          stderr);
    if (error) {
        return error == ENOTCONN ? EXIT_UNREACHABLE : EXIT_APPLY;
    }
    print_stats(&st);
    return 0;
}

/* Parses a number of seconds, fractions allowed, into milliseconds. */
static bool
parse_seconds(const char *opt, const char *arg, long long int min_ms,
              long long int *ms)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (errno || !*arg || *end || !(v * 1000 >= min_ms)
        || v > 86400.0 * 365) {
        fprintf(stderr, "esp-agent: %s: '%s' is not a number of seconds "
                "(at least %g)\n", opt, arg, min_ms / 1000.0);
        return false;
    }
    *ms = (long long int) (v * 1000 + 0.5);
    return true;
}

int
main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        { "check", no_argument, NULL, 'c' },
        { "seed", required_argument, NULL, 's' },
        { "interval", required_argument, NULL, 'i' },
        { "rekey-grace", required_argument, NULL, 'g' },
        { "rekey-every", required_argument, NULL, 'e' },
        { "unixctl", required_argument, NULL, 'u' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct ctl_compile_options opts = { .seeded = false };
    bool check = false;
    const char *unixctl = NULL;
    long interval = DEFAULT_INTERVAL_MS;
    struct ctl_rekey_options ropts = {
        .grace_ms = CTL_REKEY_GRACE_MS_DEFAULT,
        .every_ms = 0,
    };
    int c;

    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            check = true;
            break;
        case 's': {
            char *end;
            errno = 0;
            opts.seed = strtoull(optarg, &end, 0);
            if (errno || !*optarg || *end) {
                fprintf(stderr, "esp-agent: --seed: '%s' is not a number\n",
                        optarg);
                return EXIT_USAGE;
            }
            opts.seeded = true;
            break;
        }
        case 'i': {
            char *end;
            errno = 0;
            interval = strtol(optarg, &end, 10);
            if (errno || !*optarg || *end || interval < 10
                || interval > 3600000) {
                fprintf(stderr, "esp-agent: --interval: '%s' is not a "
                        "number of milliseconds (10..3600000)\n", optarg);
                return EXIT_USAGE;
            }
            break;
        }
        case 'g':
            if (!parse_seconds("--rekey-grace", optarg, 0, &ropts.grace_ms)) {
                return EXIT_USAGE;
            }
            break;
        case 'e':
            if (!parse_seconds("--rekey-every", optarg, 100,
                               &ropts.every_ms)) {
                return EXIT_USAGE;
            }
            break;
        case 'u':
            if (optarg[0] != '/') {
                fprintf(stderr, "esp-agent: --unixctl: '%s' is not an "
                        "absolute path\n", optarg);
                return EXIT_USAGE;
            }
            unixctl = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    const char *cmd = NULL;
    if (!check && optind < argc) {
        cmd = argv[optind++];
        if (strcmp(cmd, "apply") && strcmp(cmd, "run")) {
            fprintf(stderr, "esp-agent: unknown command '%s'\n", cmd);
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if ((!check && !cmd) || optind != argc - 1) {
        usage(stderr);
        return EXIT_USAGE;
    }

    struct ctl_policy *policy;
    struct ctl_errors errors;
    int error = ctl_policy_load(argv[optind], true, &policy, &errors);
    if (error) {
        for (size_t i = 0; i < errors.n; i++) {
            fprintf(stderr, "%s\n", errors.msgs[i]);
        }
        if (error == EINVAL) {
            fprintf(stderr, "esp-agent: %s: %zu problem%s, nothing "
                    "applied\n", argv[optind], errors.n,
                    errors.n == 1 ? "" : "s");
        }
        ctl_errors_destroy(&errors);
        return error == EINVAL || error == EPERM ? EXIT_INVALID : EXIT_USAGE;
    }

    struct ctl_state *state;
    error = ctl_compile(policy, &opts, &state);
    if (error) {
        fprintf(stderr, "esp-agent: cannot generate keys: %s\n",
                strerror(error));
        ctl_policy_destroy(policy);
        return EXIT_USAGE;
    }
    int status = 0;
    if (check) {
        ctl_state_print(state, stdout);
        status = fflush(stdout) ? EXIT_USAGE : 0;
    } else if (!strcmp(cmd, "run")) {
        struct ctl_agent_options aopts = {
            .policy_file = argv[optind],
            .interval_ms = interval,
            .rekey = ropts,
            .unixctl = unixctl,
        };
        /* The process holds keys: no core dump, no ptrace by other
         * processes of the same user. */
        prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        return ctl_agent_run(&aopts, policy, state);
    } else {
        status = apply_once(state);
    }
    ctl_state_destroy(state);
    ctl_policy_destroy(policy);
    return status;
}
