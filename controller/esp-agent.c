/*
 * esp-agent: the IPsec policy agent for Open vSwitch.
 *
 * This first slice validates and compiles a policy (`--check`); applying
 * it to ovs-vswitchd and reconciling are the next slices (controller/
 * README.md).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "policy.h"

enum {
    EXIT_INVALID = 1,           /* The policy has problems. */
    EXIT_USAGE = 2,             /* Bad command line, unreadable file. */
};

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: esp-agent --check [--seed=N] POLICY.yaml\n"
            "\n"
            "  --check      validate POLICY.yaml and print the ports, flows\n"
            "               and SAs it compiles to (keys are never shown);\n"
            "               changes nothing\n"
            "  --seed=N     allocate SPIs deterministically from N (tests;\n"
            "               keys always come from the kernel CSPRNG)\n"
            "  -h, --help   this help\n"
            "\n"
            "Exit status: 0 valid, 1 invalid policy, 2 usage or I/O "
            "error.\n");
}

int
main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        { "check", no_argument, NULL, 'c' },
        { "seed", required_argument, NULL, 's' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct ctl_compile_options opts = { .seeded = false };
    bool check = false;
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
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (!check || optind != argc - 1) {
        if (!check) {
            fprintf(stderr, "esp-agent: only --check exists so far\n");
        }
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
    ctl_state_print(state, stdout);
    ctl_state_destroy(state);
    ctl_policy_destroy(policy);
    return fflush(stdout) ? EXIT_USAGE : 0;
}
