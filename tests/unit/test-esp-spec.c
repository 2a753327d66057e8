/*
 * SA spec parser: exact parsed values for good specs, the field named for
 * bad ones, no key bytes in any message.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include "esp-crypto.h"
#include "esp-spec.h"
#include "testlib.h"

#define GCM128 "key=0x000102030405060708090a0b0c0d0e0f10111213"
#define GCM256 "key=0x000102030405060708090a0b0c0d0e0f" \
               "101112131415161718191a1b1c1d1e1f20212223"
#define CBCKEY "enc-key=0x00112233445566778899aabbccddeeff"
#define HMACKEY "auth-key=0x000102030405060708090a0b0c0d0e0f" \
                "101112131415161718191a1b1c1d1e1f"

/* 1. Good specs and the values they must produce. */
static void
test_good(void)
{
    struct esp_sa_params p;
    struct esp_spec_keys k;
    char err[256];

    test_case = "defaults, out";
    CHECK_EQ(esp_spec_parse("spi=0x1001,src=192.0.2.1,dst=192.0.2.2,"
                            "aead=aes-gcm-128," GCM128, &p, &k, ESP_DIR_OUT,
                            err, sizeof err), 0);
    CHECK_EQ(p.spi, 0x1001);
    CHECK_EQ(p.dir, ESP_DIR_OUT);
    CHECK_EQ(p.mode, ESP_MODE_TUNNEL);
    CHECK_EQ(p.suite, ESP_SUITE_AES_GCM_128);
    CHECK_EQ(p.key_len, 20);
    CHECK(p.key && p.key[0] == 0x00 && p.key[19] == 0x13);
    CHECK_EQ(p.seq, 0);                 /* First sent is seq + 1 = 1. */
    CHECK_EQ(p.esn, 0);
    CHECK_EQ(p.udp_encap, 0);
    CHECK_EQ(p.src.family, AF_INET);
    CHECK_EQ(p.dst.family, AF_INET);
    CHECK_EQ(ntohl(p.dst.v4.s_addr), 0xc0000202);
    CHECK(p.iv == NULL);
    esp_spec_keys_wipe(&k);

    test_case = "defaults, in";
    CHECK_EQ(esp_spec_parse("spi=4097,aead=aes-gcm-128," GCM128, &p, &k,
                            ESP_DIR_IN, err, sizeof err), 0);
    CHECK_EQ(p.spi, 4097);
    CHECK_EQ(p.replay_window, ESP_SPEC_DEFAULT_WINDOW);
    CHECK_EQ(p.seq, 0);

    test_case = "seq on both sides";
    CHECK_EQ(esp_spec_parse("spi=0x1001,src=::1,dst=::2,esn=on,seq=100,"
                            "aead=aes-gcm-256," GCM256, &p, &k, ESP_DIR_OUT,
                            err, sizeof err), 0);
    CHECK_EQ(p.seq, 99);
    CHECK_EQ(p.esn, 1);
    CHECK_EQ(p.src.family, AF_INET6);
    CHECK_EQ(p.key_len, 36);
    CHECK_EQ(esp_spec_parse("spi=0x1001,seq=100,replay-window=4096,"
                            "aead=aes-gcm-256," GCM256, &p, &k, ESP_DIR_IN,
                            err, sizeof err), 0);
    CHECK_EQ(p.seq, 100);
    CHECK_EQ(p.replay_window, 4096);

    test_case = "cbc, transport, udp";
    CHECK_EQ(esp_spec_parse("spi=0x2000,mode=transport,enc=aes-cbc-128,"
                            CBCKEY ",auth=hmac-sha256-128," HMACKEY
                            ",encap=udp,sport=1234", &p, &k, ESP_DIR_OUT,
                            err, sizeof err), 0);
    CHECK_EQ(p.suite, ESP_SUITE_AES_CBC_128_HMAC_SHA256);
    CHECK_EQ(p.mode, ESP_MODE_TRANSPORT);
    CHECK_EQ(p.key_len, 16);
    CHECK_EQ(p.auth_key_len, 32);
    CHECK_EQ(p.udp_encap, 1);
    CHECK_EQ(p.sport, 1234);
    CHECK_EQ(p.dport == 0 || p.dport == 4500, 1);

    test_case = "selector, engine, outer header";
    CHECK_EQ(esp_spec_parse("spi=0x3000,src=192.0.2.1,dst=192.0.2.2,"
                            "aead=chacha20-poly1305," GCM256 ",sel-src="
                            "10.0.0.0/8,sel-dst=10.1.2.0/24,sel-proto=udp,"
                            "engine=openssl,ttl=7,df=set,dscp=46,ecn=compat",
                            &p, &k, ESP_DIR_OUT, err, sizeof err), 0);
    CHECK_EQ(p.suite, ESP_SUITE_CHACHA20_POLY1305);
    CHECK_EQ(p.n_sel, 1);
    CHECK_EQ(p.sel[0].src_plen, 8);
    CHECK_EQ(p.sel[0].dst_plen, 24);
    CHECK_EQ(p.sel[0].proto, 17);
    CHECK(p.engine == esp_crypto_by_name("openssl"));
    CHECK_EQ(p.ttl, 7);
    CHECK_EQ(p.df, ESP_DF_SET);
    CHECK_EQ(p.dscp_fixed, 1);
    CHECK_EQ(p.dscp, 46);
    CHECK_EQ(p.ecn, ESP_ECN_COMPAT);

    test_case = "fixed iv";
    CHECK_EQ(esp_spec_parse("spi=0x3000,src=192.0.2.1,dst=192.0.2.2,"
                            "aead=aes-gcm-128," GCM128
                            ",iv=0x0102030405060708", &p, &k, ESP_DIR_OUT,
                            err, sizeof err), 0);
    CHECK_EQ(p.iv_len, 8);
    CHECK(p.iv && p.iv[7] == 8);
    esp_spec_keys_wipe(&k);

    test_case = "no lifetimes by default";
    CHECK_EQ(esp_spec_parse("spi=4097,aead=aes-gcm-128," GCM128, &p, &k,
                            ESP_DIR_IN, err, sizeof err), 0);
    CHECK_EQ(p.soft.packets | p.soft.bytes | p.soft.seconds, 0);
    CHECK_EQ(p.hard.packets | p.hard.bytes | p.hard.seconds, 0);
    CHECK_EQ(p.now, 0);
    esp_spec_keys_wipe(&k);
}

/* 1b. Lifetime fields: each lands in its own member, exactly. */
static void
test_lifetimes(void)
{
    static const struct {
        const char *fields;
        enum esp_dir dir;
        struct esp_lifetime soft, hard;
    } cases[] = {
        { "hard-packets=6", ESP_DIR_OUT, { 0, 0, 0 }, { 6, 0, 0 } },
        { "soft-packets=1,hard-packets=2", ESP_DIR_IN,
          { 1, 0, 0 }, { 2, 0, 0 } },
        { "soft-bytes=1000000,hard-bytes=0x100000", ESP_DIR_OUT,
          { 0, 1000000, 0 }, { 0, 0x100000, 0 } },
        { "soft-seconds=3600,hard-seconds=4000", ESP_DIR_IN,
          { 0, 0, 3600 }, { 0, 0, 4000 } },
        /* A soft limit alone, or beside a hard limit of 0 (none). */
        { "soft-bytes=5,hard-bytes=0", ESP_DIR_OUT,
          { 0, 5, 0 }, { 0, 0, 0 } },
        /* Limits of different kinds are not compared with each other. */
        { "soft-packets=500,hard-bytes=10,hard-seconds=1", ESP_DIR_IN,
          { 500, 0, 0 }, { 0, 10, 1 } },
        { "hard-packets=18446744073709551615,"
          "soft-packets=18446744073709551614", ESP_DIR_OUT,
          { UINT64_MAX - 1, 0, 0 }, { UINT64_MAX, 0, 0 } },
        { "soft-packets=1,hard-packets=2,soft-bytes=3,hard-bytes=4,"
          "soft-seconds=5,hard-seconds=6", ESP_DIR_OUT,
          { 1, 3, 5 }, { 2, 4, 6 } },
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct esp_sa_params p;
        struct esp_spec_keys k;
        char spec[512], err[256] = "", name[32];

        snprintf(name, sizeof name, "lifetime %zu", i);
        test_case = name;
        snprintf(spec, sizeof spec, "spi=0x1001,src=192.0.2.1,"
                 "dst=192.0.2.2,aead=aes-gcm-128," GCM128 ",%s",
                 cases[i].fields);
        CHECK_EQ(esp_spec_parse(spec, &p, &k, cases[i].dir, err,
                                sizeof err), 0);
        if (err[0] && strcmp(err, "(no error)")) {
            printf("  message: %s\n", err);
        }
        CHECK(p.soft.packets == cases[i].soft.packets);
        CHECK(p.soft.bytes == cases[i].soft.bytes);
        CHECK(p.soft.seconds == cases[i].soft.seconds);
        CHECK(p.hard.packets == cases[i].hard.packets);
        CHECK(p.hard.bytes == cases[i].hard.bytes);
        CHECK(p.hard.seconds == cases[i].hard.seconds);
        CHECK_EQ(p.now, 0);
        esp_spec_keys_wipe(&k);
    }
}

/* 2. Bad specs: the message names the field, never echoes key bytes. */
static void
test_bad(void)
{
    static const struct {
        const char *spec;
        enum esp_dir dir;
        const char *field;
    } cases[] = {
        { "aead=aes-gcm-128," GCM128, ESP_DIR_IN, "spi" },
        { "spi=255,aead=aes-gcm-128," GCM128, ESP_DIR_IN, "spi" },
        { "spi=0x1g,aead=aes-gcm-128," GCM128, ESP_DIR_IN, "spi" },
        { "spi=0x1001,aead=aes-gcm-128,key=0x0001020304050607080910111213"
          "1415", ESP_DIR_IN, "key" },
        { "spi=0x1001,aead=aes-gcm-512," GCM128, ESP_DIR_IN, "aead" },
        { "spi=0x1001,aead=aes-gcm-128," GCM128 ",mode=tunel", ESP_DIR_IN,
          "mode" },
        { "spi=0x1001,aead=aes-gcm-128," GCM128 ",esn=maybe", ESP_DIR_IN,
          "esn" },
        { "spi=0x1001,aead=aes-gcm-128," GCM128 ",replay-window=70000",
          ESP_DIR_IN, "replay-window" },
        { "spi=0x1001,aead=aes-gcm-128," GCM128 ",dst=10.0.0.300",
          ESP_DIR_IN, "dst" },
        { "spi=0x1001,aead=aes-gcm-128," GCM128 ",spi=0x1002", ESP_DIR_IN,
          "spi" },
        { "spi=0x1001,enc=aes-cbc-128," CBCKEY, ESP_DIR_IN, "auth" },
        { "spi=0x1001,aead=aes-gcm-128," GCM128 ",iv=0x0102030405060708",
          ESP_DIR_IN, "iv" },
        { "spi=0x1001,aead=aes-gcm-128," GCM128 ",sel-src=10.0.0.0/33",
          ESP_DIR_IN, "sel-src" },
        { "spi=0x1001,aead=aes-gcm-128," GCM128 ",bogus=1", ESP_DIR_IN,
          "bogus" },
        { "spi=0x1001,aead=aes-gcm-128," GCM128 ",seq=4294967296",
          ESP_DIR_IN, "seq" },
        /* Lifetimes: soft must be below hard, whole message checked. */
        { "spi=0x1001,aead=aes-gcm-128," GCM128 ",soft-packets=100,"
          "hard-packets=50", ESP_DIR_IN,
          "soft-packets: 100 is not below hard-packets 50" },
        { "spi=0x1001,aead=aes-gcm-128," GCM128 ",hard-packets=7,"
          "soft-packets=7", ESP_DIR_IN,
          "soft-packets: 7 is not below hard-packets 7" },
        { "spi=0x1001,aead=aes-gcm-128," GCM128 ",soft-bytes=2000,"
          "hard-bytes=1999", ESP_DIR_IN,
          "soft-bytes: 2000 is not below hard-bytes 1999" },
        { "spi=0x1001,aead=aes-gcm-128," GCM128 ",soft-seconds=60,"
          "hard-seconds=60", ESP_DIR_IN,
          "soft-seconds: 60 is not below hard-seconds 60" },
        /* Not a number, negative, empty, too large, given twice. */
        { "spi=0x1001,aead=aes-gcm-128," GCM128 ",hard-packets=ten",
          ESP_DIR_IN, "hard-packets: 'ten' is not" },
        { "spi=0x1001,aead=aes-gcm-128," GCM128 ",soft-bytes=-1",
          ESP_DIR_IN, "soft-bytes: '-1' is not" },
        { "spi=0x1001,aead=aes-gcm-128," GCM128 ",hard-bytes=1e6",
          ESP_DIR_IN, "hard-bytes: '1e6' is not" },
        { "spi=0x1001,aead=aes-gcm-128," GCM128 ",soft-seconds=",
          ESP_DIR_IN, "soft-seconds: empty value" },
        { "spi=0x1001,aead=aes-gcm-128," GCM128 ",hard-seconds="
          "18446744073709551616", ESP_DIR_IN, "hard-seconds:" },
        { "spi=0x1001,aead=aes-gcm-128," GCM128 ",hard-packets=5,"
          "hard-packets=6", ESP_DIR_IN, "hard-packets: given twice" },
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct esp_sa_params p;
        struct esp_spec_keys k;
        char err[256] = "", name[32];

        snprintf(name, sizeof name, "bad spec %zu", i);
        test_case = name;
        CHECK_EQ(esp_spec_parse(cases[i].spec, &p, &k, cases[i].dir, err,
                                sizeof err), EINVAL);
        if (!strstr(err, cases[i].field)) {
            printf("  message: %s\n", err);
        }
        CHECK(strstr(err, cases[i].field) != NULL);
        CHECK(strstr(err, "0001020304") == NULL);
        CHECK(strstr(err, "00112233") == NULL);
    }
}

int
main(void)
{
    test_good();
    test_lifetimes();
    test_bad();
    return test_summary("test-esp-spec");
}
