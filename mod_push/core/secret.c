#include "secret.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_errno.h>
#include <apr_strings.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "core/hex.h"

struct push_secret_key {
    unsigned char key[PUSH_SECRET_KEY_LEN];
    char id[17];
};

/* The largest key file worth reading: 64 hex digits and a CRLF, with room to spare. */
#define KEY_FILE_MAX 128

/* Exactly 2n hex digits into n bytes. */
static int from_hex(unsigned char *out, const char *in, apr_size_t n)
{
    for (apr_size_t i = 0; i < n; i++) {
        int hi = OPENSSL_hexchar2int((unsigned char)in[2 * i]);
        int lo = OPENSSL_hexchar2int((unsigned char)in[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return 0;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 1;
}

/* Key bytes must not outlive the pool in freed memory. */
static apr_status_t key_wipe(void *data)
{
    OPENSSL_cleanse(((push_secret_key_t *)data)->key, PUSH_SECRET_KEY_LEN);
    return APR_SUCCESS;
}

push_secret_key_t *push_secret_key_from_bytes(apr_pool_t *p, const unsigned char *key32)
{
    /* The id hashes a label with the key so that it is never a plain hash of the key
     * that some other tool might also print. */
    static const char label[] = "mod_push secret key id";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    push_secret_key_t *k;
    int ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1
             && EVP_DigestUpdate(c, label, sizeof(label)) == 1
             && EVP_DigestUpdate(c, key32, PUSH_SECRET_KEY_LEN) == 1
             && EVP_DigestFinal_ex(c, md, &mdlen) == 1 && mdlen >= 8;
    EVP_MD_CTX_free(c);
    if (!ok)
        return NULL;
    k = apr_palloc(p, sizeof(*k));
    memcpy(k->key, key32, PUSH_SECRET_KEY_LEN);
    push_hex_into(k->id, md, 8);
    apr_pool_cleanup_register(p, k, key_wipe, apr_pool_cleanup_null);
    return k;
}

const char *push_secret_key_id(const push_secret_key_t *k)
{
    return k->id;
}

/* The key in buf, or a reason (completing "the key file X ..."). */
static const char *parse_key(apr_pool_t *p, const unsigned char *buf, apr_size_t len,
                             unsigned char *key)
{
    apr_size_t text = len;
    if (len == PUSH_SECRET_KEY_LEN) {
        memcpy(key, buf, len);
        return NULL;
    }
    if (text > 0 && buf[text - 1] == '\n') {
        text--;
        if (text > 0 && buf[text - 1] == '\r')
            text--;
    }
    if (text == 2 * PUSH_SECRET_KEY_LEN) {
        if (!from_hex(key, (const char *)buf, PUSH_SECRET_KEY_LEN))
            return "holds 64 characters that are not all hex digits";
        return NULL;
    }
    if (text == 44) {
        /* EVP_DecodeBlock skips blanks and ignores stray low bits, so only a value
         * that encodes back to the same 44 characters counts. */
        unsigned char raw[48];
        unsigned char again[48];
        int ok = EVP_DecodeBlock(raw, buf, 44) == 33
                 && EVP_EncodeBlock(again, raw, PUSH_SECRET_KEY_LEN) == 44
                 && memcmp(again, buf, 44) == 0;
        if (ok)
            memcpy(key, raw, PUSH_SECRET_KEY_LEN);
        OPENSSL_cleanse(raw, sizeof(raw));
        OPENSSL_cleanse(again, sizeof(again));
        return ok ? NULL : "holds 44 characters that are not the base64 of 32 bytes";
    }
    return apr_psprintf(p, "holds %s%" APR_SIZE_T_FMT " bytes; a key is 32 raw bytes, 64 hex "
                        "digits or 44 characters of base64 (openssl rand -out FILE 32)",
                        len > KEY_FILE_MAX ? "more than " : "",
                        len > KEY_FILE_MAX ? (apr_size_t)KEY_FILE_MAX : len);
}

static int all_printable(const unsigned char *b, apr_size_t n)
{
    for (apr_size_t i = 0; i < n; i++)
        if (b[i] < 0x20 || b[i] > 0x7e)
            return 0;
    return 1;
}

push_secret_key_t *push_secret_key_load(apr_pool_t *p, const char *path, const char **error,
                                        const char **warning)
{
    unsigned char buf[KEY_FILE_MAX + 1], key[PUSH_SECRET_KEY_LEN];
    apr_size_t len = 0;
    struct stat st = {0};
    const char *why = NULL, *warn = NULL;
    push_secret_key_t *k = NULL;
    char msg[120];
    int fd;

    if (warning)
        *warning = NULL;
    /* O_NONBLOCK: a FIFO in the directive must not hang httpd's start-up. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        apr_strerror(APR_FROM_OS_ERROR(errno), msg, sizeof(msg));
        *error = apr_psprintf(p, "the key file %s cannot be opened: %s", path, msg);
        return NULL;
    }
    if (fstat(fd, &st) != 0) {
        apr_strerror(APR_FROM_OS_ERROR(errno), msg, sizeof(msg));
        why = apr_psprintf(p, "cannot be examined: %s", msg);
    }
    else if (!S_ISREG(st.st_mode)) {
        why = "is not a regular file";
    }
    else {
        while (len < sizeof(buf)) {
            ssize_t r = read(fd, buf + len, sizeof(buf) - len);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0) {
                apr_strerror(APR_FROM_OS_ERROR(errno), msg, sizeof(msg));
                why = apr_psprintf(p, "cannot be read: %s", msg);
                break;
            }
            if (r == 0)
                break;
            len += (apr_size_t)r;
        }
    }
    close(fd);

    if (!why)
        why = parse_key(p, buf, len, key);
    if (!why && !(k = push_secret_key_from_bytes(p, key)))
        why = "could not be turned into a key (OpenSSL failed)";
    if (!why && len == PUSH_SECRET_KEY_LEN && all_printable(buf, len))
        /* 32 random bytes are practically never all printable: this is a typed
         * password or a short hex key, with far less strength than a real key. */
        warn = apr_psprintf(p, "the key file %s holds 32 printable characters, used as raw "
                            "key bytes; a random key is made with: openssl rand -out FILE 32",
                            path);
    if (!why && (st.st_mode & 077))
        warn = apr_psprintf(p, "%s%sthe key file %s may be accessed by group or others "
                            "(mode %04o); chmod 600 it", warn ? warn : "", warn ? "; " : "",
                            path, (unsigned)(st.st_mode & 07777));
    OPENSSL_cleanse(buf, sizeof(buf));
    OPENSSL_cleanse(key, sizeof(key));
    if (why) {
        *error = apr_psprintf(p, "the key file %s %s", path, why);
        return NULL;
    }
    if (warning)
        *warning = warn;
    return k;
}

int push_secret_seal(apr_pool_t *p, const push_secret_key_t *k, const unsigned char *plain,
                     apr_size_t n, const char *aad, unsigned char **out, apr_size_t *outlen)
{
    const unsigned char version = PUSH_SECRET_VERSION;
    apr_size_t alen = aad ? strlen(aad) : 0;
    unsigned char *o, *nonce, *body;
    EVP_CIPHER_CTX *c = NULL;
    int w = 0, f = 0, ok;

    if (n > INT_MAX - PUSH_SECRET_OVERHEAD || alen > INT_MAX)
        return 0;
    o = apr_palloc(p, n + PUSH_SECRET_OVERHEAD);
    o[0] = version;
    nonce = o + 1;
    body = nonce + PUSH_SECRET_NONCE_LEN;

    ERR_set_mark();
    /* The version byte is authenticated along with the caller's aad, so a value
     * cannot be relabelled as another format later. */
    ok = RAND_bytes(nonce, PUSH_SECRET_NONCE_LEN) == 1
         && (c = EVP_CIPHER_CTX_new()) != NULL
         && EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, k->key, nonce) == 1
         && EVP_EncryptUpdate(c, NULL, &w, &version, 1) == 1
         && (alen == 0 || EVP_EncryptUpdate(c, NULL, &w, (const unsigned char *)aad,
                                            (int)alen) == 1);
    w = 0;
    ok = ok && (n == 0 || EVP_EncryptUpdate(c, body, &w, plain, (int)n) == 1)
         && EVP_EncryptFinal_ex(c, body + w, &f) == 1
         && (apr_size_t)w + (apr_size_t)f == n
         && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, PUSH_SECRET_TAG_LEN, body + n) == 1;
    EVP_CIPHER_CTX_free(c);
    ERR_pop_to_mark();
    if (!ok)
        return 0;
    *out = o;
    *outlen = n + PUSH_SECRET_OVERHEAD;
    return 1;
}

int push_secret_open(apr_pool_t *p, const push_secret_key_t *k, const unsigned char *sealed,
                     apr_size_t n, const char *aad, unsigned char **plain, apr_size_t *plainlen,
                     const char **error)
{
    apr_size_t alen = aad ? strlen(aad) : 0, m;
    const unsigned char *nonce, *body;
    unsigned char tag[PUSH_SECRET_TAG_LEN], *o;
    EVP_CIPHER_CTX *c = NULL;
    int w = 0, f = 0, ok;

    if (n < PUSH_SECRET_OVERHEAD) {
        *error = apr_psprintf(p, "the sealed secret is %" APR_SIZE_T_FMT " bytes, too short "
                              "to be one", n);
        return 0;
    }
    if (sealed[0] != PUSH_SECRET_VERSION) {
        *error = apr_psprintf(p, "the sealed secret has format version %u; this build reads "
                              "version %d", (unsigned)sealed[0], PUSH_SECRET_VERSION);
        return 0;
    }
    m = n - PUSH_SECRET_OVERHEAD;
    if (m > INT_MAX || alen > INT_MAX) {
        *error = "the sealed secret or its associated data is too large";
        return 0;
    }
    nonce = sealed + 1;
    body = nonce + PUSH_SECRET_NONCE_LEN;
    memcpy(tag, body + m, PUSH_SECRET_TAG_LEN);
    o = apr_palloc(p, m + 1);

    ERR_set_mark();
    ok = (c = EVP_CIPHER_CTX_new()) != NULL
         && EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, k->key, nonce) == 1
         && EVP_DecryptUpdate(c, NULL, &w, sealed, 1) == 1
         && (alen == 0 || EVP_DecryptUpdate(c, NULL, &w, (const unsigned char *)aad,
                                            (int)alen) == 1);
    w = 0;
    ok = ok && (m == 0 || EVP_DecryptUpdate(c, o, &w, body, (int)m) == 1)
         && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, PUSH_SECRET_TAG_LEN, tag) == 1
         && EVP_DecryptFinal_ex(c, o + w, &f) == 1
         && (apr_size_t)w + (apr_size_t)f == m;
    EVP_CIPHER_CTX_free(c);
    ERR_pop_to_mark();
    if (!ok) {
        /* GCM hands out plaintext before the tag is checked: leave none of it behind. */
        OPENSSL_cleanse(o, m + 1);
        *error = apr_psprintf(p, "the sealed secret does not open with key %s: a different "
                              "key sealed it, it belongs to another row, or it was altered",
                              k->id);
        return 0;
    }
    o[m] = '\0';
    *plain = o;
    *plainlen = m;
    return 1;
}

const char *push_bytea_encode(apr_pool_t *p, const unsigned char *b, apr_size_t n)
{
    char *out = apr_palloc(p, 2 * n + 3);
    out[0] = '\\';
    out[1] = 'x';
    push_hex_into(out + 2, b, n);
    return out;
}

int push_bytea_decode(apr_pool_t *p, const char *text, unsigned char **b, apr_size_t *n)
{
    apr_size_t len;
    unsigned char *out;
    if (!text || text[0] != '\\' || text[1] != 'x')
        return 0;
    len = strlen(text + 2);
    if (len % 2)
        return 0;
    out = apr_palloc(p, len / 2 + 1);
    if (!from_hex(out, text + 2, len / 2))
        return 0;
    *b = out;
    *n = len / 2;
    return 1;
}

/* Names end up in logs and JSON: no control characters. */
static const char *printable(char *s)
{
    for (char *c = s; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = '?';
    return s;
}

/* Never prompt on a terminal: record that a password was wanted and refuse. */
static int no_password(char *buf, int size, int rwflag, void *u)
{
    *(int *)u = 1;
    return -1;
}

int push_p8_check(apr_pool_t *p, const char *pem, apr_size_t n, const char **error)
{
    EVP_PKEY *k = NULL;
    EVP_PKEY_CTX *c = NULL;
    const char *why = NULL;
    BIO *b = NULL;
    int asked = 0;
    char group[80];
    size_t glen = 0;

    ERR_set_mark();
    if (!pem || n == 0 || n > INT_MAX || !(b = BIO_new_mem_buf(pem, (int)n))) {
        why = "the key is empty";
    }
    else if (!(k = PEM_read_bio_PrivateKey(b, NULL, no_password, &asked))) {
        why = asked ? "the key is encrypted with a password; an APNs key (.p8) is not"
                    : "the key is not a PEM private key";
    }
    else if (EVP_PKEY_get_base_id(k) != EVP_PKEY_EC) {
        const char *type = EVP_PKEY_get0_type_name(k);
        why = apr_psprintf(p, "the key is %s, not an EC P-256 key", type ? type : "of an unknown type");
    }
    else if (EVP_PKEY_get_group_name(k, group, sizeof(group), &glen) != 1) {
        why = "the key's curve cannot be read";
    }
    else if (OBJ_sn2nid(group) != NID_X9_62_prime256v1) {
        why = apr_psprintf(p, "the key is on curve %s, not P-256", printable(group));
    }
    else if (!(c = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL)) || EVP_PKEY_check(c) != 1) {
        why = "the key fails OpenSSL's consistency check";
    }
    EVP_PKEY_CTX_free(c);
    EVP_PKEY_free(k);
    BIO_free(b);
    ERR_pop_to_mark();
    if (why) {
        *error = why;
        return 0;
    }
    return 1;
}

const char *push_secret_aad_credential(apr_pool_t *p, const char *app_id, const char *provider)
{
    return apr_pstrcat(p, app_id, "/", provider, NULL);
}

const char *push_secret_aad_webhook(apr_pool_t *p, const char *app_id, const char *name)
{
    return apr_pstrcat(p, app_id, "/webhook/", name, NULL);
}

const char *push_secret_seal_text(apr_pool_t *p, const push_secret_key_t *k, const char *plain,
                                  const char *aad)
{
    unsigned char *sealed;
    apr_size_t n;
    if (!push_secret_seal(p, k, (const unsigned char *)plain, strlen(plain), aad, &sealed, &n))
        return NULL;
    return push_bytea_encode(p, sealed, n);
}

int push_secret_open_text(apr_pool_t *p, const push_secret_key_t *k, const char *text,
                          const char *aad, unsigned char **plain, apr_size_t *plainlen,
                          const char **error)
{
    unsigned char *sealed;
    apr_size_t n;
    if (!text || !push_bytea_decode(p, text, &sealed, &n)) {
        *error = "the stored value is not bytea text";
        return 0;
    }
    return push_secret_open(p, k, sealed, n, aad, plain, plainlen, error);
}
