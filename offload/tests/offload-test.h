/* Helpers shared by the offload tests. */
#ifndef OFFLOAD_TEST_H
#define OFFLOAD_TEST_H 1

#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <rte_eal.h>
#include "esp.h"
#include "testlib.h"

/* The EAL is needed for the session and mbuf mempools and the mbuf
 * dynamic field.  No hugepages (the test machines have none reserved),
 * no PCI scan, one lcore.  --in-memory would leave no files behind, but
 * the EAL refuses it together with --no-huge (which implies
 * --legacy-mem), so a per-process --file-prefix keeps parallel runs
 * apart and --no-shconf avoids shared config files; the empty runtime
 * directory is removed at exit. */
static char offload_test_runtime_dir[512];

/* Initializes the EAL as above, with the arguments 'extra' (a
 * NULL-terminated list of at most 8, e.g. "--vdev=crypto_aesni_mb0"; or
 * NULL) too. */
static inline int
offload_test_eal_init_args(const char *name, const char *const *extra)
{
    enum { N_BASE = 12, N_EXTRA = 8 };
    char prefix[64];
    char *argv[N_BASE + N_EXTRA + 1] = {
        (char *) name, "--no-huge", "--no-pci", "-l", "0", "-m", "64",
        "--no-shconf", "--no-telemetry", prefix,
        "--log-level=error", "--log-level=lib.ethdev:critical",
    };
    int argc = N_BASE;

    for (; extra && *extra; extra++) {
        if (argc == N_BASE + N_EXTRA) {
            printf("%s: too many EAL arguments\n", name);
            return -1;
        }
        argv[argc++] = (char *) *extra;
    }
    argv[argc] = NULL;
    snprintf(prefix, sizeof prefix, "--file-prefix=%s-%ld", name,
             (long) getpid());
    if (rte_eal_init(argc, argv) < 0) {
        printf("%s: rte_eal_init failed\n", name);
        return -1;
    }
    snprintf(offload_test_runtime_dir, sizeof offload_test_runtime_dir,
             "%s", rte_eal_get_runtime_dir());
    return 0;
}

static inline int
offload_test_eal_init(const char *name)
{
    return offload_test_eal_init_args(name, NULL);
}

static inline void
offload_test_eal_fini(void)
{
    rte_eal_cleanup();
    if (offload_test_runtime_dir[0]) {
        rmdir(offload_test_runtime_dir);
    }
}

/* Key bytes for tests: 32-byte key + 4-byte salt, 32-byte HMAC key. */
static const uint8_t offload_test_key[36] = {
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
    0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
    0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
    0xca, 0xfe, 0xba, 0xbe,
};
static const uint8_t offload_test_auth_key[32] = { 0x5a };

/* SA parameters: 'suite', 'dir', tunnel mode over IPv4 unless
 * 'transport'. */
static inline struct esp_sa_params
offload_test_sa(uint32_t spi, enum esp_suite suite, enum esp_dir dir,
                bool transport)
{
    struct esp_sa_params p;
    bool aead = (suite == ESP_SUITE_AES_GCM_128
                 || suite == ESP_SUITE_AES_GCM_256
                 || suite == ESP_SUITE_CHACHA20_POLY1305);
    size_t key_len = esp_suite_key_len(suite);

    memset(&p, 0, sizeof p);
    p.spi = spi;
    p.dir = dir;
    p.suite = suite;
    p.mode = transport ? ESP_MODE_TRANSPORT : ESP_MODE_TUNNEL;
    p.src.family = AF_INET;
    p.src.v4.s_addr = htonl(0xc0000201);
    p.dst.family = AF_INET;
    p.dst.v4.s_addr = htonl(0xc6336402);
    /* Key then salt: the salt always sits right after the key. */
    p.key = aead ? offload_test_key + 32 - (key_len - 4) : offload_test_key;
    p.key_len = key_len;
    if (!aead) {
        p.auth_key = offload_test_auth_key;
        p.auth_key_len = esp_suite_auth_key_len(suite);
    }
    p.replay_window = dir == ESP_DIR_IN ? 64 : 0;
    p.df = ESP_DF_SET;
    p.dscp_fixed = true;
    p.ecn = ESP_ECN_COMPAT;
    return p;
}

#endif /* offload-test.h */
