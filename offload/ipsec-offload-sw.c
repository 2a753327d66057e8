/*
 * The "sw" provider: the datapath library's own engine does the crypto.
 *
 * There is nothing to install: the caller's esp_sa (esp_sa_create()) is
 * already complete.  The provider only checks that the SA's engine
 * implements the suite, and reads the library's counters.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include "esp-crypto.h"
#include "ipsec-offload-provider.h"

static int
sw_can_take(const void *caps, const struct ipsec_offload_port_info *port,
            const struct esp_sa_params *params,
            char *reason, size_t reason_size)
{
    const struct esp_crypto_engine *engine
        = params->engine ? params->engine : esp_crypto_default();

    if ((unsigned int) params->suite >= ESP_N_SUITES
        || !engine->supports(params->suite)) {
        snprintf(reason, reason_size, "engine %s does not implement %s",
                 engine->name, esp_suite_name(params->suite));
        return EOPNOTSUPP;
    }
    return 0;
}

static int
sw_sa_install(void *caps, const struct ipsec_offload_port_info *port,
              const struct esp_sa_params *params, struct esp_sa *sa,
              void **privp, char *reason, size_t reason_size)
{
    *privp = sa;
    return 0;
}

static void
sw_sa_remove(void *caps, void *priv)
{
    /* The esp_sa belongs to the caller. */
}

static int
sw_sa_get_stats(void *priv, struct ipsec_offload_stats *stats)
{
    struct esp_sa *sa = priv;
    struct esp_sa_stats s;
    uint64_t errors = 0;

    if (!sa) {
        return EOPNOTSUPP;
    }
    esp_sa_get_stats(sa, &s);
    for (int i = 0; i < ESP_N_VERDICTS; i++) {
        errors += s.drops[i];
    }
    if (esp_sa_dir(sa) == ESP_DIR_OUT) {
        stats->opackets = s.packets;
        stats->obytes = s.bytes;
        stats->oerrors = errors;
    } else {
        stats->ipackets = s.packets;
        stats->ibytes = s.bytes;
        stats->ierrors = errors;
    }
    return 0;
}

const struct ipsec_offload_class ipsec_offload_sw_class = {
    .name = "sw",
    .kind = IPSEC_OFFLOAD_SW,
    .probe = NULL,
    .caps_destroy = NULL,
    .caps_format = NULL,
    .can_take = sw_can_take,
    .sa_install = sw_sa_install,
    .sa_remove = sw_sa_remove,
    .sa_get_stats = sw_sa_get_stats,
    /* The library's events come from esp_sa_take_events(). */
    .sa_take_events = NULL,
};
