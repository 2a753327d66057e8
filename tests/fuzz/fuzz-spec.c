/*
 * libFuzzer target: the SA spec parser (datapath/esp-spec.c).  Parses the
 * input for both directions; a spec that parses must create an SA or be
 * refused with a message, and on failure the parser must have wiped the
 * key storage.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "esp.h"
#include "esp-spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;

    for (size_t i = 0; i < n; i++) {
        if (b[i]) {
            return false;
        }
    }
    return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *spec;

    if (size > 8192) {
        return 0;
    }
    spec = malloc(size + 1);
    if (!spec) {
        return 0;
    }
    memcpy(spec, data, size);
    spec[size] = '\0';

    for (int dir = ESP_DIR_OUT; dir <= ESP_DIR_IN; dir++) {
        struct esp_spec_keys keys;
        struct esp_sa_params p;
        struct esp_sa *sa;
        char err[128];

        memset(&keys, 0xa5, sizeof keys);
        if (esp_spec_parse(spec, &p, &keys, dir, err, sizeof err)) {
            if (!all_zero(&keys, sizeof keys) || !err[0]
                || !memchr(err, '\0', sizeof err)) {
                abort();
            }
            continue;
        }
        if (p.dir != (enum esp_dir) dir || !p.key
            || (p.key != keys.key)) {
            abort();
        }
        if (!esp_sa_create(&p, &sa, err, sizeof err)) {
            esp_sa_destroy(sa);
        }
        esp_spec_keys_wipe(&keys);
    }
    free(spec);
    return 0;
}
