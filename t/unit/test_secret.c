/* Sealed provider credentials, the key file, bytea text, and the .p8 check. */
#include <ctype.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "core/secret.h"
#include "unit.h"

static apr_array_header_t *made;   /* temporary files, removed at the end */

static const char *temp_file(apr_pool_t *p, const void *data, size_t n, mode_t mode)
{
    const char *dir = getenv("TMPDIR");
    char *path = apr_pstrcat(p, dir && *dir ? dir : "/tmp", "/push-secret-XXXXXX", NULL);
    int fd = mkstemp(path);
    if (fd < 0)
        return NULL;
    if (write(fd, data, n) != (ssize_t)n || fchmod(fd, mode) != 0) {
        close(fd);
        return NULL;
    }
    close(fd);
    APR_ARRAY_PUSH(made, const char *) = path;
    return path;
}

static int has(const char *s, const char *part)
{
    return s && strstr(s, part) != NULL;
}

/* Loads a key written as data; returns its id, or NULL with *error. */
static const char *load_id(apr_pool_t *p, const void *data, size_t n, mode_t mode,
                           const char **error, const char **warning)
{
    const char *path = temp_file(p, data, n, mode);
    push_secret_key_t *k;
    *error = "the test could not write its key file";
    if (!path)
        return NULL;
    k = push_secret_key_load(p, path, error, warning);
    return k ? push_secret_key_id(k) : NULL;
}

/* A key as PEM text in the pool: PKCS#8 unless traditional; encrypted if password. */
static const char *key_pem(apr_pool_t *p, EVP_PKEY *k, int traditional, const char *password)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data = NULL;
    const char *out = NULL;
    long len;
    int ok;
    if (!b || !k)
        return NULL;
    if (password)
        ok = PEM_write_bio_PKCS8PrivateKey(b, k, EVP_aes_256_cbc(), NULL, 0, NULL,
                                           (void *)password);
    else if (traditional)
        ok = PEM_write_bio_PrivateKey_traditional(b, k, NULL, NULL, 0, NULL, NULL);
    else
        ok = PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
    if (ok && (len = BIO_get_mem_data(b, &data)) > 0)
        out = apr_pstrmemdup(p, data, (apr_size_t)len);
    BIO_free(b);
    return out;
}

static void test_seal(apr_pool_t *p)
{
    static const char pem[] = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49\n"
                              "-----END PRIVATE KEY-----\n";
    unsigned char raw[PUSH_SECRET_KEY_LEN], other[PUSH_SECRET_KEY_LEN];
    push_secret_key_t *k, *k2;
    unsigned char *sealed = NULL, *again = NULL, *plain = NULL;
    apr_size_t slen = 0, alen = 0, plen = 0, refused = 0, tries = 0;
    const char *err = NULL;

    for (int i = 0; i < PUSH_SECRET_KEY_LEN; i++) {
        raw[i] = (unsigned char)(i * 37 + 11);
        other[i] = raw[i];
    }
    other[31] ^= 1;
    k = push_secret_key_from_bytes(p, raw);
    k2 = push_secret_key_from_bytes(p, other);
    CHECK(k && k2, "keys from raw bytes");
    CHECK(strlen(push_secret_key_id(k)) == 16, "a key id is 16 hex digits");
    CHECK(strcmp(push_secret_key_id(k), push_secret_key_id(k2)) != 0, "keys one bit apart have different ids");

    CHECK(push_secret_seal(p, k, (const unsigned char *)pem, sizeof(pem) - 1, "app1/apns",
                           &sealed, &slen), "seal");
    CHECK(slen == sizeof(pem) - 1 + PUSH_SECRET_OVERHEAD, "sealing adds 29 bytes");
    CHECK(sealed[0] == 1, "the first byte is the format version");
    CHECK(push_secret_open(p, k, sealed, slen, "app1/apns", &plain, &plen, &err)
          && plen == sizeof(pem) - 1 && !memcmp(plain, pem, plen) && plain[plen] == '\0',
          "open gives back the plaintext, NUL-terminated");

    for (apr_size_t i = 0; i < slen; i++)
        for (int bit = 0; bit < 8; bit++) {
            sealed[i] ^= (unsigned char)(1 << bit);
            tries++;
            if (!push_secret_open(p, k, sealed, slen, "app1/apns", &plain, &plen, &err))
                refused++;
            sealed[i] ^= (unsigned char)(1 << bit);
        }
    CHECK(tries == slen * 8 && refused == tries, "every single-bit flip is refused");
    CHECK(push_secret_open(p, k, sealed, slen, "app1/apns", &plain, &plen, &err),
          "the restored value still opens");

    err = NULL;
    CHECK(!push_secret_open(p, k2, sealed, slen, "app1/apns", &plain, &plen, &err)
          && has(err, push_secret_key_id(k2)), "another key is refused, naming the key");
    CHECK(!push_secret_open(p, k, sealed, slen, "app2/apns", &plain, &plen, &err),
          "another application's aad is refused");
    CHECK(!push_secret_open(p, k, sealed, slen, "app1/fcm", &plain, &plen, &err),
          "another provider's aad is refused");
    CHECK(!push_secret_open(p, k, sealed, slen, NULL, &plain, &plen, &err), "no aad is refused");

    err = NULL;
    CHECK(!push_secret_open(p, k, sealed, PUSH_SECRET_OVERHEAD - 1, "app1/apns", &plain, &plen,
                            &err) && has(err, "too short"), "a short value is refused");
    sealed[0] = 2;
    err = NULL;
    CHECK(!push_secret_open(p, k, sealed, slen, "app1/apns", &plain, &plen, &err)
          && has(err, "version 2"), "an unknown version is refused by name");
    sealed[0] = 1;
    err = NULL;
    CHECK(!push_secret_open(p, k, sealed, slen - 1, "app1/apns", &plain, &plen, &err)
          && has(err, "does not open"), "a truncated tag is refused");

    CHECK(push_secret_seal(p, k, (const unsigned char *)pem, sizeof(pem) - 1, "app1/apns",
                           &again, &alen)
          && alen == slen && memcmp(again, sealed, slen) != 0
          && memcmp(again + 1, sealed + 1, PUSH_SECRET_NONCE_LEN) != 0,
          "two seals of the same input differ in nonce and ciphertext");

    CHECK(push_secret_seal(p, k, NULL, 0, NULL, &again, &alen) && alen == PUSH_SECRET_OVERHEAD
          && push_secret_open(p, k, again, alen, "", &plain, &plen, &err) && plen == 0
          && plain[0] == '\0', "an empty secret round-trips, and NULL aad is \"\"");
}

/* The stored form: sealed to its row, as bytea text, opened only with the same binding. */
static void test_sealed_text(apr_pool_t *p)
{
    unsigned char raw[PUSH_SECRET_KEY_LEN], *plain = NULL;
    apr_size_t n = 0;
    const char *err = NULL, *text, *aad = push_secret_aad_credential(p, "app1", "apns");
    push_secret_key_t *k;

    for (int i = 0; i < PUSH_SECRET_KEY_LEN; i++)
        raw[i] = (unsigned char)(i * 7 + 3);
    k = push_secret_key_from_bytes(p, raw);
    CHECK(!strcmp(aad, "app1/apns"), "a credential's secret is bound to app/provider");
    CHECK(!strcmp(push_secret_aad_webhook(p, "app1", "h"), "app1/webhook/h"),
          "a webhook's secret to app/webhook/name");
    text = push_secret_seal_text(p, k, "{\"p12\":\"x\"}", aad);
    CHECK(text && !strncmp(text, "\\x", 2), "sealed text is bytea text");
    CHECK(text && push_secret_open_text(p, k, text, aad, &plain, &n, &err) && n == 11 &&
          !strcmp((const char *)plain, "{\"p12\":\"x\"}"), "and opens with the same binding");
    CHECK(text && !push_secret_open_text(p, k, text, push_secret_aad_credential(p, "app2", "apns"),
                                         &plain, &n, &err), "but not bound to another application");
    CHECK(!push_secret_open_text(p, k, "not bytea", aad, &plain, &n, &err) && err,
          "text that is not bytea is refused with a reason");
    CHECK(!push_secret_open_text(p, k, NULL, aad, &plain, &n, &err), "as is NULL");
}

static void test_bytea(apr_pool_t *p)
{
    static const unsigned char bytes[] = {0x00, 0xff, 0x10, 0xab};
    unsigned char all[256], *b = NULL;
    apr_size_t n = 0;

    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    CHECK(!strcmp(push_bytea_encode(p, bytes, sizeof(bytes)), "\\x00ff10ab"),
          "bytea text is \\x and lower-case hex");
    CHECK(!strcmp(push_bytea_encode(p, bytes, 0), "\\x"), "empty bytea");
    CHECK(push_bytea_decode(p, push_bytea_encode(p, all, sizeof(all)), &b, &n)
          && n == sizeof(all) && !memcmp(b, all, n), "every byte value round-trips");
    CHECK(push_bytea_decode(p, "\\x00FF10AB", &b, &n) && n == 4 && !memcmp(b, bytes, 4),
          "upper-case hex is read");
    CHECK(push_bytea_decode(p, "\\x", &b, &n) && n == 0, "empty bytea is read");
    CHECK(!push_bytea_decode(p, NULL, &b, &n), "NULL is refused");
    CHECK(!push_bytea_decode(p, "", &b, &n), "an empty string is refused");
    CHECK(!push_bytea_decode(p, "00ff", &b, &n), "hex without \\x is refused");
    CHECK(!push_bytea_decode(p, "\\X00", &b, &n), "\\X is refused");
    CHECK(!push_bytea_decode(p, "\\x0", &b, &n), "an odd number of digits is refused");
    CHECK(!push_bytea_decode(p, "\\x0g", &b, &n), "a non-hex digit is refused");
    CHECK(!push_bytea_decode(p, "\\x00 ff", &b, &n), "a space is refused");
    CHECK(!push_bytea_decode(p, "\\000\\377", &b, &n), "the escape form is refused");
}

static void test_key_files(apr_pool_t *p)
{
    unsigned char raw[PUSH_SECRET_KEY_LEN], b64[64];
    char hex[2 * PUSH_SECRET_KEY_LEN + 3], big[200];
    const char *id, *got, *err, *warn, *path;
    push_secret_key_t *k;
    int b64len;

    /* Control characters and high bytes, as a random key would have. */
    for (int i = 0; i < PUSH_SECRET_KEY_LEN; i++)
        raw[i] = (unsigned char)(i * 97 + 3);
    id = push_secret_key_id(push_secret_key_from_bytes(p, raw));
    for (int i = 0; i < PUSH_SECRET_KEY_LEN; i++)
        snprintf(hex + 2 * i, 3, "%02x", raw[i]);
    b64len = EVP_EncodeBlock(b64, raw, PUSH_SECRET_KEY_LEN);

    err = warn = "unset";
    got = load_id(p, raw, sizeof(raw), 0600, &err, &warn);
    CHECK(got && !strcmp(got, id) && warn == NULL, "32 raw bytes, mode 0600: no warning");

    warn = NULL;
    got = load_id(p, raw, sizeof(raw), 0640, &err, &warn);
    CHECK(got && !strcmp(got, id) && has(warn, "group or others") && has(warn, "0640"),
          "mode 0640 loads, with a warning that names the mode");

    got = load_id(p, hex, 64, 0600, &err, &warn);
    CHECK(got && !strcmp(got, id), "64 hex digits");
    memcpy(hex + 64, "\n", 2);
    got = load_id(p, hex, 65, 0600, &err, &warn);
    CHECK(got && !strcmp(got, id), "64 hex digits and a newline");
    memcpy(hex + 64, "\r\n", 3);
    got = load_id(p, hex, 66, 0600, &err, &warn);
    CHECK(got && !strcmp(got, id), "64 hex digits and CRLF");
    for (int i = 0; i < 64; i++)
        hex[i] = (char)toupper((unsigned char)hex[i]);
    got = load_id(p, hex, 64, 0600, &err, &warn);
    CHECK(got && !strcmp(got, id), "upper-case hex");

    CHECK(b64len == 44, "the test's base64 is 44 characters");
    got = load_id(p, b64, 44, 0600, &err, &warn);
    CHECK(got && !strcmp(got, id), "44 characters of base64");
    b64[44] = '\n';
    got = load_id(p, b64, 45, 0600, &err, &warn);
    CHECK(got && !strcmp(got, id), "base64 and a newline");

    err = NULL;
    got = load_id(p, raw, 31, 0600, &err, &warn);
    CHECK(!got && has(err, "holds 31 bytes") && has(err, "push-secret-"),
          "a 31-byte file is refused, naming the file and its size");
    err = NULL;
    got = load_id(p, raw, 0, 0600, &err, &warn);
    CHECK(!got && has(err, "holds 0 bytes"), "an empty file is refused");
    memset(big, 'a', sizeof(big));
    err = NULL;
    got = load_id(p, big, sizeof(big), 0600, &err, &warn);
    CHECK(!got && has(err, "more than"), "a large file is refused");
    err = NULL;
    got = load_id(p, "this is not a key, just some words that fill a line with garbage!!", 64,
                  0600, &err, &warn);
    CHECK(!got && has(err, "not all hex digits"), "64 characters of garbage are refused");
    b64[10] = '!';
    err = NULL;
    got = load_id(p, b64, 44, 0600, &err, &warn);
    CHECK(!got && has(err, "base64"), "44 characters with a non-base64 one are refused");
    EVP_EncodeBlock(b64, raw, PUSH_SECRET_KEY_LEN);
    /* The character before '=' carries two padding bits that must be zero. */
    {
        static const char alphabet[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        const char *at = strchr(alphabet, b64[42]);
        b64[42] = (unsigned char)alphabet[at ? (at - alphabet) | 1 : 1];
    }
    err = NULL;
    got = load_id(p, b64, 44, 0600, &err, &warn);
    CHECK(!got && has(err, "base64"), "base64 with stray padding bits is refused");

    warn = NULL;
    got = load_id(p, "correct horse battery staple 123", 32, 0600, &err, &warn);
    CHECK(got && has(warn, "printable"), "32 printable characters load, with a warning");

    err = NULL;
    path = apr_pstrcat(p, "/nonexistent-push-dir/key", NULL);
    k = push_secret_key_load(p, path, &err, NULL);
    CHECK(!k && has(err, path) && has(err, "cannot be opened"), "a missing file is named");
    err = NULL;
    k = push_secret_key_load(p, "/", &err, NULL);
    CHECK(!k && has(err, "not a regular file"), "a directory is refused");
}

static void test_p8(apr_pool_t *p)
{
    EVP_PKEY *ec = EVP_EC_gen("P-256"), *ec384 = EVP_EC_gen("P-384"), *rsa = EVP_RSA_gen(2048);
    const char *pem, *err = NULL;

    CHECK(ec && ec384 && rsa, "the test made its keys");
    pem = key_pem(p, ec, 0, NULL);
    CHECK(pem && has(pem, "BEGIN PRIVATE KEY") && push_p8_check(p, pem, strlen(pem), &err),
          "a PKCS#8 P-256 key passes");
    pem = key_pem(p, ec, 1, NULL);
    CHECK(pem && has(pem, "BEGIN EC PRIVATE KEY") && push_p8_check(p, pem, strlen(pem), &err),
          "a traditional P-256 key passes");

    err = NULL;
    pem = key_pem(p, rsa, 0, NULL);
    CHECK(pem && !push_p8_check(p, pem, strlen(pem), &err) && has(err, "RSA"),
          "an RSA key is refused by name");
    err = NULL;
    pem = key_pem(p, ec384, 0, NULL);
    CHECK(pem && !push_p8_check(p, pem, strlen(pem), &err) && has(err, "secp384r1"),
          "a P-384 key is refused, naming its curve");
    err = NULL;
    pem = key_pem(p, ec, 0, "pw");
    CHECK(pem && !push_p8_check(p, pem, strlen(pem), &err) && has(err, "encrypted"),
          "an encrypted key is refused without prompting");
    err = NULL;
    CHECK(!push_p8_check(p, "garbage", 7, &err) && has(err, "not a PEM private key"),
          "garbage is refused");
    err = NULL;
    pem = key_pem(p, ec, 0, NULL);
    CHECK(pem && !push_p8_check(p, pem, strlen(pem) / 2, &err), "half a PEM key is refused");
    err = NULL;
    CHECK(!push_p8_check(p, "", 0, &err) && err, "nothing is refused");

    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ec384);
    EVP_PKEY_free(ec);
}

int main(void)
{
    apr_pool_t *p;
    apr_initialize();
    apr_pool_create(&p, NULL);
    made = apr_array_make(p, 16, sizeof(const char *));

    test_seal(p);
    test_bytea(p);
    test_sealed_text(p);
    test_key_files(p);
    test_p8(p);

    for (int i = 0; i < made->nelts; i++)
        unlink(APR_ARRAY_IDX(made, i, const char *));
    apr_pool_destroy(p);
    apr_terminate();
    UNIT_DONE();
}
