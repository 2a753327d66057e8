/*
 * SA specification strings: "spi=0x1001,aead=aes-gcm-128,key=0x...".
 *
 * One parser for every text door into the SAD: `espcap --sa SPEC` and
 * `ovs-appctl ipsec/sa-add SPEC`.  The grammar is documented in
 * docs/espcap.md.  In short, comma-separated key=value fields:
 *
 *   spi=N                      required, decimal or 0x-hex, >= 256
 *   mode=tunnel|transport      default tunnel
 *   src=ADDR, dst=ADDR         IPv4 or IPv6 (tunnel encrypt: both required)
 *   aead=aes-gcm-128|aes-gcm-256|chacha20-poly1305, key=0xHEX
 *                              key includes the 4-byte salt at the end
 *   enc=aes-cbc-128|aes-cbc-256, enc-key=0xHEX,
 *   auth=hmac-sha256-128, auth-key=0xHEX
 *   esn=on|off                 default off
 *   seq=N                      out: first sequence number to send
 *                              (default 1); in: highest already seen
 *                              (default 0)
 *   replay-window=N            in: default 64, 0 disables
 *   encap=udp, sport=N, dport=N  RFC 3948, ports default 4500
 *   iv=0xHEX                   out only, testing only: first explicit IV
 *   sel-src=PREFIX, sel-dst=PREFIX, sel-proto=tcp|udp|icmp|N
 *   engine=ipsec-mb|openssl
 *   ttl=N, df=copy|set|clear, dscp=copy|N, ecn=normal|compat
 *   soft-packets=N, hard-packets=N, soft-bytes=N, hard-bytes=N,
 *   soft-seconds=N, hard-seconds=N
 *                              lifetimes (struct esp_sa_params .soft,
 *                              .hard), 0 = no limit (default); a soft
 *                              limit must be below its hard limit when
 *                              both are set.  Seconds count from the
 *                              params' 'now', which the parser leaves 0
 *                              for the caller to set.
 *
 * Secrets: error messages name the field and say what is wrong with it,
 * but never contain a key or IV byte, nor any text of a field the parser
 * could not identify.  The parser's own working copy of the spec is wiped
 * before it returns.
 */
#ifndef ESP_SPEC_H
#define ESP_SPEC_H 1

#include <stddef.h>
#include <stdint.h>
#include "esp.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    ESP_SPEC_KEY_MAX = 64,      /* Longest key (or auth key) accepted. */
    ESP_SPEC_IV_MAX = 16,
    ESP_SPEC_DEFAULT_WINDOW = 64,
};

/* Storage for the secret bytes of a parsed spec.  After a successful
 * esp_spec_parse(), the params' 'key', 'auth_key' and 'iv' pointers point
 * into this structure, so it must outlive every use of the params (in
 * practice: until esp_sa_create() returned).  Wipe it with
 * esp_spec_keys_wipe() as soon as it is no longer needed. */
struct esp_spec_keys {
    uint8_t key[ESP_SPEC_KEY_MAX];
    uint8_t auth_key[ESP_SPEC_KEY_MAX];
    uint8_t iv[ESP_SPEC_IV_MAX];
};

/* Parses 'spec' into '*p' for an SA of direction 'dir', with defaults for
 * every field not given.  Returns 0 on success.  On failure returns
 * EINVAL, writes a one-line message naming the bad field to 'err' (when
 * 'err_size' > 0; no trailing newline, no "espcap:" prefix), leaves '*p'
 * zeroed and wipes 'keys'.
 *
 * The parser checks everything it can know without creating the SA (key
 * lengths per suite, field combinations, ranges); esp_sa_create() may
 * still refuse the result. */
int esp_spec_parse(const char *spec, struct esp_sa_params *p,
                   struct esp_spec_keys *keys, enum esp_dir dir,
                   char *err, size_t err_size);

/* Zeroes every byte of 'keys' (explicit_bzero).  'keys' may be null. */
void esp_spec_keys_wipe(struct esp_spec_keys *keys);

#ifdef __cplusplus
}
#endif

#endif /* esp-spec.h */
