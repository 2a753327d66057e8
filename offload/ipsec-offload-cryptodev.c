/*
 * The "dpdk-lookaside" and "dpdk-cpu-crypto" providers.  See
 * ipsec-offload-cryptodev.h.
 */
#include "ipsec-offload-cryptodev.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "crypto-cryptodev.h"
#include "ipsec-offload-provider.h"

struct cd_sa {
    struct esp_sa *sa;          /* Ours, with the cryptodev engine. */
};

static int
cd_can_take(enum crypto_cryptodev_mode mode,
            const struct esp_sa_params *params, char *reason, size_t size)
{
    return crypto_cryptodev_check(mode, params->suite, params->dir,
                                  params->esn, reason, size);
}

static int
cd_sa_install(enum crypto_cryptodev_mode mode,
              const struct esp_sa_params *params, void **privp,
              char *reason, size_t size)
{
    struct esp_sa_params copy = *params;
    char err[IPSEC_OFFLOAD_REASON_SIZE] = "";
    struct cd_sa *cs;
    int error;

    *privp = NULL;
    cs = calloc(1, sizeof *cs);
    if (!cs) {
        ipsec_offload_fmt(reason, size, "out of memory");
        return ENOMEM;
    }
    copy.engine = crypto_cryptodev_engine(mode);
    crypto_cryptodev_expect(params->dir, params->esn);
    error = esp_sa_create(&copy, &cs->sa, err, sizeof err);
    crypto_cryptodev_expect_clear();
    if (error) {
        const char *why = crypto_cryptodev_last_error();

        /* Session creation refused (pool exhausted, device error) or
         * anything else our esp_sa could not do: not a reason to fail
         * the install, the next provider may take it. */
        ipsec_offload_fmt(reason, size, "%s", why[0] ? why : err);
        free(cs);
        return EOPNOTSUPP;
    }
    *privp = cs;
    return 0;
}

static void
cd_sa_remove(void *caps, void *priv)
{
    struct cd_sa *cs = priv;

    if (cs) {
        /* Wipes the keys and frees the device sessions. */
        esp_sa_destroy(cs->sa);
        free(cs);
    }
}

static int
cd_sa_get_stats(void *priv, struct ipsec_offload_stats *stats)
{
    struct cd_sa *cs = priv;
    struct esp_sa_stats s;
    uint64_t errors = 0;

    esp_sa_get_stats(cs->sa, &s);
    for (int i = 0; i < ESP_N_VERDICTS; i++) {
        errors += s.drops[i];
    }
    if (esp_sa_dir(cs->sa) == ESP_DIR_OUT) {
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

static struct esp_sa *
cd_sa_esp(void *priv)
{
    struct cd_sa *cs = priv;

    return cs ? cs->sa : NULL;
}

/* dpdk-lookaside. */

static void
la_caps_format(const void *caps, char *buf, size_t size)
{
    crypto_cryptodev_format(CRYPTO_CRYPTODEV_LOOKASIDE, buf, size);
}

static int
la_can_take(const void *caps, const struct ipsec_offload_port_info *port,
            const struct esp_sa_params *params, char *reason, size_t size)
{
    return cd_can_take(CRYPTO_CRYPTODEV_LOOKASIDE, params, reason, size);
}

static int
la_sa_install(void *caps, const struct ipsec_offload_port_info *port,
              const struct esp_sa_params *params, struct esp_sa *sa,
              void **privp, char *reason, size_t size)
{
    return cd_sa_install(CRYPTO_CRYPTODEV_LOOKASIDE, params, privp, reason,
                         size);
}

const struct ipsec_offload_class ipsec_offload_dpdk_lookaside_class = {
    .name = "dpdk-lookaside",
    .kind = IPSEC_OFFLOAD_LOOKASIDE,
    .probe = NULL,              /* Host-wide device: nothing per port. */
    .caps_destroy = NULL,
    .caps_format = la_caps_format,
    .can_take = la_can_take,
    .sa_install = la_sa_install,
    .sa_remove = cd_sa_remove,
    .sa_get_stats = cd_sa_get_stats,
    .sa_take_events = NULL,     /* The datapath library raises them. */
    .sa_esp = cd_sa_esp,
};

/* dpdk-cpu-crypto. */

static void
cpu_caps_format(const void *caps, char *buf, size_t size)
{
    crypto_cryptodev_format(CRYPTO_CRYPTODEV_CPU, buf, size);
}

static int
cpu_can_take(const void *caps, const struct ipsec_offload_port_info *port,
             const struct esp_sa_params *params, char *reason, size_t size)
{
    return cd_can_take(CRYPTO_CRYPTODEV_CPU, params, reason, size);
}

static int
cpu_sa_install(void *caps, const struct ipsec_offload_port_info *port,
               const struct esp_sa_params *params, struct esp_sa *sa,
               void **privp, char *reason, size_t size)
{
    return cd_sa_install(CRYPTO_CRYPTODEV_CPU, params, privp, reason, size);
}

const struct ipsec_offload_class ipsec_offload_dpdk_cpu_crypto_class = {
    .name = "dpdk-cpu-crypto",
    .kind = IPSEC_OFFLOAD_CPU_CRYPTO,
    .probe = NULL,
    .caps_destroy = NULL,
    .caps_format = cpu_caps_format,
    .can_take = cpu_can_take,
    .sa_install = cpu_sa_install,
    .sa_remove = cd_sa_remove,
    .sa_get_stats = cd_sa_get_stats,
    .sa_take_events = NULL,
    .sa_esp = cd_sa_esp,
};

int
ipsec_offload_cryptodev_register(struct ipsec_offload *reg)
{
    int error = ipsec_offload_register(reg,
                                       &ipsec_offload_dpdk_lookaside_class);

    if (!error) {
        error = ipsec_offload_register(reg,
                                       &ipsec_offload_dpdk_cpu_crypto_class);
    }
    return error;
}
