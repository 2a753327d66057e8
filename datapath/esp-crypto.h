/*
 * Crypto engine interface of the ESP engine.
 *
 * An engine is chosen per SA at SA creation; the data path calls it once
 * per burst with an array of operations, never once per packet.  Each
 * operation carries its own key context, so one call may mix SAs of the
 * same engine (multi-buffer engines profit from that).
 *
 * Engines: "ipsec-mb" (intel-ipsec-mb, the default) and "openssl"
 * (libcrypto EVP, the cross-check in tests).
 */
#ifndef ESP_CRYPTO_H
#define ESP_CRYPTO_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "esp.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    ESP_ICV_LEN = 16,           /* Every suite here: 16-byte ICV. */
    ESP_SALT_LEN = 4,
};

/* One packet's crypto work.  All regions are in place.
 *
 * AEAD suites (AES-GCM, ChaCha20-Poly1305):
 *   'nonce' is salt || explicit IV (12 bytes); 'aad' is the ESP AAD
 *   (SPI || seq, 8 bytes, or SPI || seq_hi || seq_lo with ESN, 12 bytes,
 *   RFC 4106 section 5 / RFC 7634 section 2.1); 'data' is the payload to
 *   encrypt or decrypt; 'icv' is where the tag goes (encrypt) or the
 *   received tag (decrypt).
 *
 * CBC + HMAC-SHA-256-128 suites (RFC 3602, RFC 4868):
 *   'iv' is the 16-byte CBC IV.  When 'iv_out' is non-null the engine
 *   derives the IV as AES_K(iv) (NIST SP 800-38A appendix C: the forward
 *   cipher of a unique nonce under the same key) and writes it to 'iv_out'
 *   before using it; otherwise 'iv' is used as is.  'data' is the region
 *   to encrypt or decrypt.  'auth' / 'auth_len' is the authenticated
 *   region (ESP header, IV, ciphertext and, with ESN, the high sequence
 *   bits the caller placed right after the ciphertext).  Encrypt: the
 *   engine encrypts first, then writes the truncated HMAC to 'icv'.
 *   Decrypt: the engine verifies 'icv' against the HMAC of the region
 *   first, and decrypts only if it matched.
 *
 * 'icv' may overlap the last 4 bytes of the authenticated region (the ESN
 * high bits): the engine reads the region fully before writing 'icv'.
 *
 * On return 'status' is 0, EBADMSG (decrypt: ICV mismatch, compared in
 * constant time) or another positive errno (engine failure; EINVAL for a
 * CBC 'data_len' that is not a multiple of 16, or a burst over
 * ESP_BURST_MAX).  After EBADMSG an AEAD op's 'data' holds garbage (the
 * engines decrypt while they verify); a CBC op's 'data' is untouched.
 * 'iv_out' means the same in both directions (the IV is derived); the
 * data path uses it only to encrypt.  'data' normally lies inside 'auth'
 * (the single chained job); engines handle it elsewhere more slowly. */
struct esp_crypto_op {
    void *ctx;                  /* From ctx_create(). */
    uint8_t *data;
    uint32_t data_len;
    const uint8_t *aad;
    uint32_t aad_len;
    const uint8_t *auth;
    uint32_t auth_len;
    uint8_t *icv;
    uint8_t *iv_out;
    union {
        uint8_t nonce[12];
        uint8_t iv[16];
    };
    int status;
};

struct esp_crypto_engine {
    const char *name;

    /* Whether this engine implements 'suite'.  Never null. */
    bool (*supports)(enum esp_suite suite);

    /* Creates a key context for 'suite'.  'key' is the cipher key without
     * the AEAD salt; 'auth_key' is the HMAC key for CBC suites (null
     * otherwise).  The engine copies both.  Returns 0 and stores the
     * context in '*ctxp', or a positive errno (EINVAL: bad key length,
     * EOPNOTSUPP: suite not supported, ENOMEM). */
    int (*ctx_create)(enum esp_suite suite,
                      const uint8_t *key, size_t key_len,
                      const uint8_t *auth_key, size_t auth_key_len,
                      void **ctxp);

    /* Wipes every key byte and frees 'ctx'.  'ctx' may be null. */
    void (*ctx_destroy)(void *ctx);

    /* Process 'n' operations (n <= ESP_BURST_MAX), all created by this
     * engine for the same suite family (AEAD or CBC+HMAC) and the same
     * direction.  Sets each op's 'status'.  Thread-safe: may be called
     * from several threads at once, also with the same contexts. */
    void (*encrypt_burst)(struct esp_crypto_op *ops[], unsigned int n);
    void (*decrypt_burst)(struct esp_crypto_op *ops[], unsigned int n);

    /* Optional (may be null).  CBC suites only: for each op, writes
     * AES_K(iv) to 'iv_out' under the cipher key of 'ctx', the IV that
     * encrypt_burst() would derive, and nothing else ('data', 'auth' and
     * 'icv' are ignored).  Inline crypto uses it for the IVs the NIC
     * encrypts with (esp-out.c).  Sets each op's 'status' (EINVAL: not a
     * CBC context, or n > ESP_BURST_MAX).  Thread-safe like the above. */
    void (*derive_iv)(struct esp_crypto_op *ops[], unsigned int n);

    /* Optional (may be null).  One line saying how the engine runs on this
     * machine (library version, the code the CPU allows, what the
     * environment turned off), for logs.  Static storage. */
    const char *(*describe)(void);
};

extern const struct esp_crypto_engine esp_crypto_ipsecmb;
extern const struct esp_crypto_engine esp_crypto_openssl;

/* The default engine (intel-ipsec-mb). */
const struct esp_crypto_engine *esp_crypto_default(void);
/* "ipsec-mb" or "openssl"; null if unknown. */
const struct esp_crypto_engine *esp_crypto_by_name(const char *name);

#ifdef __cplusplus
}
#endif

#endif /* esp-crypto.h */
