/*
 * Crypto engine "openssl": libcrypto (3.0) EVP, one operation at a time.
 *
 * This is the cross-check engine of the tests, written for obviousness
 * rather than speed: the context keeps the raw keys and every operation
 * initializes a cipher context from them.  Thread-safe because nothing
 * but the (read-only) key context is shared.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "esp-crypto.h"

enum {
    AES_BLOCK = 16,
    SHA256_LEN = 32,
};

struct ossl_ctx {
    enum esp_suite suite;
    size_t key_len;
    uint8_t key[32];
    uint8_t auth_key[32];
};

static bool
ossl_supports(enum esp_suite suite)
{
    return suite < ESP_N_SUITES;
}

static bool
is_cbc(enum esp_suite suite)
{
    return (suite == ESP_SUITE_AES_CBC_128_HMAC_SHA256
            || suite == ESP_SUITE_AES_CBC_256_HMAC_SHA256);
}

static size_t
suite_key_len(enum esp_suite suite)
{
    switch (suite) {
    case ESP_SUITE_AES_GCM_128:
    case ESP_SUITE_AES_CBC_128_HMAC_SHA256:
        return 16;
    case ESP_SUITE_AES_GCM_256:
    case ESP_SUITE_CHACHA20_POLY1305:
    case ESP_SUITE_AES_CBC_256_HMAC_SHA256:
        return 32;
    case ESP_N_SUITES:
    default:
        return 0;
    }
}

static int
ossl_ctx_create(enum esp_suite suite, const uint8_t *key, size_t key_len,
                const uint8_t *auth_key, size_t auth_key_len, void **ctxp)
{
    struct ossl_ctx *ctx;

    *ctxp = NULL;
    if (!ossl_supports(suite)) {
        return EOPNOTSUPP;
    }
    if (!key || key_len != suite_key_len(suite)) {
        return EINVAL;
    }
    if (is_cbc(suite) ? !auth_key || auth_key_len != 32 : auth_key_len) {
        return EINVAL;
    }
    ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        return ENOMEM;
    }
    ctx->suite = suite;
    ctx->key_len = key_len;
    memcpy(ctx->key, key, key_len);
    if (is_cbc(suite)) {
        memcpy(ctx->auth_key, auth_key, auth_key_len);
    }
    *ctxp = ctx;
    return 0;
}

static void
ossl_ctx_destroy(void *ctx_)
{
    struct ossl_ctx *ctx = ctx_;

    if (ctx) {
        explicit_bzero(ctx, sizeof *ctx);
        free(ctx);
    }
}

static const EVP_CIPHER *
aead_cipher(enum esp_suite suite)
{
    switch (suite) {
    case ESP_SUITE_AES_GCM_128:
        return EVP_aes_128_gcm();
    case ESP_SUITE_AES_GCM_256:
        return EVP_aes_256_gcm();
    case ESP_SUITE_CHACHA20_POLY1305:
        return EVP_chacha20_poly1305();
    case ESP_SUITE_AES_CBC_128_HMAC_SHA256:
    case ESP_SUITE_AES_CBC_256_HMAC_SHA256:
    case ESP_N_SUITES:
    default:
        return NULL;
    }
}

/* RFC 4106 / RFC 7634 AEAD, one op. */
static int
aead_op(EVP_CIPHER_CTX *c, struct esp_crypto_op *op, int enc)
{
    const struct ossl_ctx *ctx = op->ctx;
    uint8_t tag[ESP_ICV_LEN];
    int outl;

    if (!EVP_CipherInit_ex(c, aead_cipher(ctx->suite), NULL, NULL, NULL,
                           enc)
        || !EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL)
        || !EVP_CipherInit_ex(c, NULL, NULL, ctx->key, op->nonce, enc)) {
        return EIO;
    }
    if (op->aad_len
        && !EVP_CipherUpdate(c, NULL, &outl, op->aad, op->aad_len)) {
        return EIO;
    }
    if (op->data_len
        && !EVP_CipherUpdate(c, op->data, &outl, op->data, op->data_len)) {
        return EIO;
    }
    if (enc) {
        if (!EVP_CipherFinal_ex(c, tag, &outl)
            || !EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, ESP_ICV_LEN,
                                    tag)) {
            return EIO;
        }
        memcpy(op->icv, tag, ESP_ICV_LEN);
        return 0;
    }
    memcpy(tag, op->icv, ESP_ICV_LEN);
    if (!EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, ESP_ICV_LEN, tag)) {
        return EIO;
    }
    /* The tag comparison inside is constant time. */
    return EVP_CipherFinal_ex(c, tag, &outl) > 0 ? 0 : EBADMSG;
}

static const EVP_CIPHER *
cbc_cipher(const struct ossl_ctx *ctx, bool ecb)
{
    if (ctx->key_len == 16) {
        return ecb ? EVP_aes_128_ecb() : EVP_aes_128_cbc();
    }
    return ecb ? EVP_aes_256_ecb() : EVP_aes_256_cbc();
}

/* AES-CBC (RFC 3602) over 'len' bytes in place, no padding. */
static int
cbc_crypt(EVP_CIPHER_CTX *c, const struct ossl_ctx *ctx, bool ecb,
          const uint8_t *iv, const uint8_t *in, uint8_t *out, size_t len,
          int enc)
{
    int outl;

    if (!len) {
        return 0;
    }
    if (!EVP_CipherInit_ex(c, cbc_cipher(ctx, ecb), NULL, ctx->key,
                           ecb ? NULL : iv, enc)
        || !EVP_CIPHER_CTX_set_padding(c, 0)
        || !EVP_CipherUpdate(c, out, &outl, in, len)
        || (size_t) outl != len) {
        return EIO;
    }
    return 0;
}

/* HMAC-SHA-256-128 (RFC 4868) of the authenticated region. */
static int
hmac128(const struct ossl_ctx *ctx, const struct esp_crypto_op *op,
        uint8_t tag[ESP_ICV_LEN])
{
    static const uint8_t empty;
    uint8_t md[SHA256_LEN];
    unsigned int md_len = 0;

    if (!HMAC(EVP_sha256(), ctx->auth_key, sizeof ctx->auth_key,
              op->auth_len ? op->auth : &empty, op->auth_len, md, &md_len)
        || md_len != SHA256_LEN) {
        return EIO;
    }
    memcpy(tag, md, ESP_ICV_LEN);
    return 0;
}

static int
cbc_op(EVP_CIPHER_CTX *c, struct esp_crypto_op *op, int enc)
{
    const struct ossl_ctx *ctx = op->ctx;
    uint8_t tag[ESP_ICV_LEN];
    const uint8_t *iv = op->iv;
    int error;

    if (op->data_len % AES_BLOCK) {
        return EINVAL;
    }
    if (op->iv_out) {
        /* NIST SP 800-38A appendix C: IV = AES_K(nonce). */
        uint8_t derived[AES_BLOCK];

        error = cbc_crypt(c, ctx, true, NULL, op->iv, derived, AES_BLOCK, 1);
        if (error) {
            return error;
        }
        memcpy(op->iv_out, derived, AES_BLOCK);
        iv = op->iv_out;
    }
    if (enc) {
        /* RFC 4303 section 3.3.2: encrypt, then MAC. */
        error = cbc_crypt(c, ctx, false, iv, op->data, op->data,
                          op->data_len, 1);
        if (!error) {
            error = hmac128(ctx, op, tag);
        }
        if (!error) {
            memcpy(op->icv, tag, ESP_ICV_LEN);
        }
        return error;
    }
    /* RFC 4303 section 3.4.4: verify first, decrypt only if it matched. */
    error = hmac128(ctx, op, tag);
    if (error) {
        return error;
    }
    if (CRYPTO_memcmp(tag, op->icv, ESP_ICV_LEN)) {
        return EBADMSG;
    }
    return cbc_crypt(c, ctx, false, iv, op->data, op->data, op->data_len, 0);
}

static void
ossl_burst(struct esp_crypto_op *ops[], unsigned int n, int enc)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();

    for (unsigned int i = 0; i < n; i++) {
        struct esp_crypto_op *op = ops[i];
        const struct ossl_ctx *ctx = op->ctx;

        if (!c) {
            op->status = ENOMEM;
        } else if (!ctx || !op->icv || (!op->data && op->data_len)
                   || (!op->aad && op->aad_len)
                   || (!op->auth && op->auth_len)) {
            op->status = EINVAL;
        } else if (is_cbc(ctx->suite)) {
            op->status = cbc_op(c, op, enc);
        } else {
            op->status = aead_op(c, op, enc);
        }
    }
    EVP_CIPHER_CTX_free(c);
}

static void
ossl_encrypt_burst(struct esp_crypto_op *ops[], unsigned int n)
{
    ossl_burst(ops, n, 1);
}

static void
ossl_decrypt_burst(struct esp_crypto_op *ops[], unsigned int n)
{
    ossl_burst(ops, n, 0);
}

static void
ossl_derive_iv(struct esp_crypto_op *ops[], unsigned int n)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();

    for (unsigned int i = 0; i < n; i++) {
        struct esp_crypto_op *op = ops[i];
        const struct ossl_ctx *ctx = op->ctx;
        uint8_t derived[AES_BLOCK];

        if (!c) {
            op->status = ENOMEM;
        } else if (n > ESP_BURST_MAX || !ctx || !op->iv_out
                   || !is_cbc(ctx->suite)) {
            op->status = EINVAL;
        } else {
            /* NIST SP 800-38A appendix C, as in cbc_op(). */
            op->status = cbc_crypt(c, ctx, true, NULL, op->iv, derived,
                                   AES_BLOCK, 1);
            if (!op->status) {
                memcpy(op->iv_out, derived, AES_BLOCK);
            }
        }
    }
    EVP_CIPHER_CTX_free(c);
}

const struct esp_crypto_engine esp_crypto_openssl = {
    .name = "openssl",
    .supports = ossl_supports,
    .ctx_create = ossl_ctx_create,
    .ctx_destroy = ossl_ctx_destroy,
    .encrypt_burst = ossl_encrypt_burst,
    .decrypt_burst = ossl_decrypt_burst,
    .derive_iv = ossl_derive_iv,
};
