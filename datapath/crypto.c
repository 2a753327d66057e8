/*
 * Crypto engine registry.
 */
#include <string.h>

#include "esp-crypto.h"

static const struct esp_crypto_engine *const engines[] = {
    &esp_crypto_ipsecmb,
    &esp_crypto_openssl,
};

const struct esp_crypto_engine *
esp_crypto_default(void)
{
    return &esp_crypto_ipsecmb;
}

const struct esp_crypto_engine *
esp_crypto_by_name(const char *name)
{
    if (!name) {
        return NULL;
    }
    for (size_t i = 0; i < sizeof engines / sizeof engines[0]; i++) {
        if (!strcmp(engines[i]->name, name)) {
            return engines[i];
        }
    }
    return NULL;
}
