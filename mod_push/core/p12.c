#include "p12.h"

#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <apr_strings.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/buffer.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

/* Safe contents bags may hold safe contents bags; real files never nest. */
#define MAX_DEPTH 4

/* One file being read: what OpenSSL decoded, the bags of each authenticated safe (NULL
 * while encrypted, or for a content type PKCS#12 readers skip), and the iterations
 * declared so far. */
typedef struct {
    apr_pool_t *p;
    PKCS12 *p12;
    STACK_OF(PKCS7) *safes;
    STACK_OF(PKCS12_SAFEBAG) **bags;
    int64_t total;
    const char *error;
} p12_file_t;

static int fail(p12_file_t *f, const char *why)
{
    f->error = why;
    return 0;
}

static void file_free(p12_file_t *f)
{
    for (int i = 0; f->bags && i < sk_PKCS7_num(f->safes); i++)
        sk_PKCS12_SAFEBAG_pop_free(f->bags[i], PKCS12_SAFEBAG_free);
    sk_PKCS7_pop_free(f->safes, PKCS7_free);
    PKCS12_free(f->p12);
}

/* Names and CNs end up in logs and JSON: no control characters. */
static const char *printable(char *s)
{
    for (char *c = s; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = '?';
    return s;
}

static const char *oid_name(apr_pool_t *p, const ASN1_OBJECT *o)
{
    char buf[80];
    if (!o || OBJ_obj2txt(buf, sizeof(buf), o, 0) <= 0)
        return "an unknown algorithm";
    return printable(apr_pstrdup(p, buf));
}

/* --- the caps ------------------------------------------------------------------------------------ */

/* Adds one declared iteration count (NULL: the MAC's DER default, 1) to the file's
 * total; 0 when it breaks a cap. what: "MAC", "encryption", "key encryption". */
static int count_ok(p12_file_t *f, const ASN1_INTEGER *iter, const char *what)
{
    int64_t n = 1;
    if (iter && ASN1_INTEGER_get_int64(&n, iter) != 1)
        return fail(f, apr_psprintf(f->p, "the certificate file's %s iteration count is too large "
                                    "to read", what));
    if (n < 1)
        return fail(f, apr_psprintf(f->p, "the certificate file's %s iteration count %" PRId64
                                    " is not valid", what, n));
    if (n > PUSH_P12_MAX_ITER)
        return fail(f, apr_psprintf(f->p, "the certificate file's %s iteration count %" PRId64
                                    " exceeds %d", what, n, PUSH_P12_MAX_ITER));
    f->total += n;   /* no overflow: each step adds at most the cap and stops past the total */
    if (f->total > PUSH_P12_MAX_TOTAL_ITER)
        return fail(f, apr_psprintf(f->p, "the certificate file's iteration counts add up to more "
                                    "than %d", PUSH_P12_MAX_TOTAL_ITER));
    return 1;
}

/* A sequence-typed algorithm parameter decoded as it, or NULL. */
static void *param_of(const X509_ALGOR *alg, const ASN1_ITEM *it, const ASN1_OBJECT **oid)
{
    const void *value = NULL;
    int type = V_ASN1_UNDEF;
    X509_ALGOR_get0(oid, &type, &value, alg);
    return type == V_ASN1_SEQUENCE && value ? ASN1_item_unpack(value, it) : NULL;
}

/* The parameters of a password-based encryption. OpenSSL derives keys for PBES2 (whose
 * key derivation must here be PBKDF2: scrypt's cost is not an iteration count) and for
 * the PKCS#12 and PKCS#5 v1 schemes, whose parameters are a salt and a count. */
static int pbe_ok(p12_file_t *f, const X509_ALGOR *alg, const char *what)
{
    const ASN1_OBJECT *oid = NULL, *kdf_oid = NULL;
    PBE2PARAM *pbe2;
    PBKDF2PARAM *kdf;
    int ok;

    if (!alg)
        return fail(f, apr_psprintf(f->p, "the certificate file's %s algorithm is missing", what));
    X509_ALGOR_get0(&oid, NULL, NULL, alg);
    if (OBJ_obj2nid(oid) != NID_pbes2) {
        PBEPARAM *pbe = param_of(alg, ASN1_ITEM_rptr(PBEPARAM), &oid);
        if (!pbe)
            return fail(f, apr_psprintf(f->p, "the certificate file's %s uses %s, without the "
                                        "parameters of a password-based encryption", what,
                                        oid_name(f->p, oid)));
        ok = count_ok(f, pbe->iter, what);
        PBEPARAM_free(pbe);
        return ok;
    }
    if (!(pbe2 = param_of(alg, ASN1_ITEM_rptr(PBE2PARAM), &oid)) || !pbe2->keyfunc) {
        PBE2PARAM_free(pbe2);
        return fail(f, apr_psprintf(f->p, "the certificate file's %s parameters (PBES2) cannot be "
                                    "read", what));
    }
    kdf = param_of(pbe2->keyfunc, ASN1_ITEM_rptr(PBKDF2PARAM), &kdf_oid);
    if (OBJ_obj2nid(kdf_oid) != NID_id_pbkdf2)
        ok = fail(f, apr_psprintf(f->p, "the certificate file's %s derives its key with %s; only "
                                  "PBKDF2 is accepted", what, oid_name(f->p, kdf_oid)));
    else if (!kdf)
        ok = fail(f, apr_psprintf(f->p, "the certificate file's %s parameters (PBKDF2) cannot be "
                                  "read", what));
    else
        ok = count_ok(f, kdf->iter, what);
    PBKDF2PARAM_free(kdf);
    PBE2PARAM_free(pbe2);
    return ok;
}

/* The MAC: a plain digest (PBMAC1 and the like carry their own derivation) and its count. */
static int mac_ok(p12_file_t *f)
{
    const X509_ALGOR *alg = NULL;
    const ASN1_INTEGER *iter = NULL;
    const ASN1_OBJECT *oid = NULL;

    if (!PKCS12_mac_present(f->p12))
        return 1;
    PKCS12_get0_mac(NULL, &alg, NULL, &iter, f->p12);
    if (alg)
        X509_ALGOR_get0(&oid, NULL, NULL, alg);
    if (!oid || !EVP_get_digestbynid(OBJ_obj2nid(oid)))
        return fail(f, apr_psprintf(f->p, "the certificate file's MAC uses %s, which is not a digest "
                                    "this server verifies", oid_name(f->p, oid)));
    return count_ok(f, iter, "MAC");
}

/* The shrouded key bags among bags, nested ones included. */
static int bags_ok(p12_file_t *f, const STACK_OF(PKCS12_SAFEBAG) *bags, int depth)
{
    if (depth > MAX_DEPTH)
        return fail(f, "the certificate file nests its contents too deeply");
    for (int i = 0; i < sk_PKCS12_SAFEBAG_num(bags); i++) {
        const PKCS12_SAFEBAG *bag = sk_PKCS12_SAFEBAG_value(bags, i);
        const X509_SIG *sig;
        const X509_ALGOR *alg = NULL;
        switch (PKCS12_SAFEBAG_get_nid(bag)) {
        case NID_pkcs8ShroudedKeyBag:
            if ((sig = PKCS12_SAFEBAG_get0_pkcs8(bag)) != NULL)
                X509_SIG_get0(sig, &alg, NULL);
            if (!pbe_ok(f, alg, "key encryption"))
                return 0;
            break;
        case NID_safeContentsBag:
            if (!bags_ok(f, PKCS12_SAFEBAG_get0_safes(bag), depth + 1))
                return 0;
            break;
        default:
            break;
        }
    }
    return 1;
}

/* Decodes the file and checks every count that can be read without the password. */
static int file_read(p12_file_t *f, const unsigned char *der, size_t len)
{
    const unsigned char *cur = der;

    if (!der || len == 0 || len > LONG_MAX || !(f->p12 = d2i_PKCS12(NULL, &cur, (long)len)))
        return fail(f, "the certificate file is not a PKCS#12 file");
    if (cur != der + len)
        return fail(f, "the certificate file has bytes after its PKCS#12 data");
    if (!mac_ok(f))
        return 0;
    if (!(f->safes = PKCS12_unpack_authsafes(f->p12)))
        return fail(f, "the certificate file's contents cannot be read");
    f->bags = apr_pcalloc(f->p, sizeof(*f->bags) * ((size_t)sk_PKCS7_num(f->safes) + 1));
    for (int i = 0; i < sk_PKCS7_num(f->safes); i++) {
        PKCS7 *p7 = sk_PKCS7_value(f->safes, i);
        switch (OBJ_obj2nid(p7->type)) {
        case NID_pkcs7_data:
            if (!(f->bags[i] = PKCS12_unpack_p7data(p7)))
                return fail(f, "the certificate file's contents cannot be read");
            if (!bags_ok(f, f->bags[i], 0))
                return 0;
            break;
        case NID_pkcs7_encrypted:
            if (!p7->d.encrypted || !p7->d.encrypted->enc_data)
                return fail(f, "the certificate file's encrypted contents cannot be read");
            if (!pbe_ok(f, p7->d.encrypted->enc_data->algorithm, "encryption"))
                return 0;
            break;
        default:
            break;   /* enveloped contents and the like: PKCS12_parse skips them too */
        }
    }
    return 1;
}

int push_p12_check(apr_pool_t *p, const unsigned char *der, size_t len, const char **error)
{
    p12_file_t f = {p, NULL, NULL, NULL, 0, NULL};
    int ok;
    ERR_set_mark();
    ok = file_read(&f, der, len);
    file_free(&f);
    ERR_pop_to_mark();
    if (!ok)
        *error = f.error;
    return ok;
}

/* --- opening ------------------------------------------------------------------------------------- */

/* The password that the MAC accepts, as PKCS12_parse picks it: an empty one may also
 * mean no password at all (*pass NULL). */
static int password_ok(p12_file_t *f, const char *password, const char **pass)
{
    *pass = NULL;
    if (!PKCS12_mac_present(f->p12)) {
        if (password[0])
            /* OpenSSL 3.0 will not open a MAC-less file with a password at all. */
            return fail(f, "the certificate file has no integrity MAC, which OpenSSL refuses when "
                           "there is a password; re-export it with one");
        return 1;
    }
    if (password[0]) {
        *pass = password;
        if (PKCS12_verify_mac(f->p12, password, -1) == 1)
            return 1;
    }
    else if (PKCS12_verify_mac(f->p12, NULL, 0) == 1) {
        return 1;
    }
    else if (PKCS12_verify_mac(f->p12, "", 0) == 1) {
        *pass = "";
        return 1;
    }
    return fail(f, "the password does not open the certificate");
}

/* Why decrypting failed once the MAC was right (or absent). */
static int decrypt_failed(p12_file_t *f)
{
    unsigned long e = ERR_peek_last_error();
    int reason = ERR_GET_REASON(e);
    const char *r;
    /* OpenSSL 3 keeps the RC2 and DES that old Keychain exports used in its legacy
     * provider only. */
    if (reason == ERR_R_UNSUPPORTED || reason == EVP_R_UNSUPPORTED_ALGORITHM ||
        reason == ERR_R_FETCH_FAILED)
        return fail(f, "the certificate file is encrypted with an algorithm OpenSSL 3 no longer "
                       "offers by default (RC2, from an older export); re-export it, or "
                       "convert it with: openssl pkcs12 -legacy -in OLD.p12 -nodes | "
                       "openssl pkcs12 -export -out NEW.p12");
    if (!PKCS12_mac_present(f->p12))
        return fail(f, "the password does not open the certificate");
    r = e ? ERR_reason_error_string(e) : NULL;
    return fail(f, apr_psprintf(f->p, "the certificate file cannot be read: %s",
                                r ? r : "OpenSSL gave no reason"));
}

/* The first private key and every X.509 certificate among bags, in file order. */
static int collect(p12_file_t *f, const STACK_OF(PKCS12_SAFEBAG) *bags, const char *pass,
                   EVP_PKEY **key, STACK_OF(X509) *certs, int depth)
{
    for (int i = 0; i < sk_PKCS12_SAFEBAG_num(bags); i++) {
        const PKCS12_SAFEBAG *bag = sk_PKCS12_SAFEBAG_value(bags, i);
        const PKCS8_PRIV_KEY_INFO *plain;
        PKCS8_PRIV_KEY_INFO *p8;
        X509 *x;
        switch (PKCS12_SAFEBAG_get_nid(bag)) {
        case NID_keyBag:
            if (*key)
                break;
            if (!(plain = PKCS12_SAFEBAG_get0_p8inf(bag)) || !(*key = EVP_PKCS82PKEY(plain)))
                return fail(f, "the certificate file's private key cannot be read");
            break;
        case NID_pkcs8ShroudedKeyBag:
            if (*key)
                break;
            if (!(p8 = PKCS12_decrypt_skey(bag, pass, -1)))
                return decrypt_failed(f);
            *key = EVP_PKCS82PKEY(p8);
            PKCS8_PRIV_KEY_INFO_free(p8);
            if (!*key)
                return fail(f, "the certificate file's private key cannot be read");
            break;
        case NID_certBag:
            if (PKCS12_SAFEBAG_get_bag_nid(bag) != NID_x509Certificate)
                break;
            if (!(x = PKCS12_SAFEBAG_get1_cert(bag)))
                return fail(f, "a certificate in the certificate file cannot be read");
            if (!sk_X509_push(certs, x)) {
                X509_free(x);
                return fail(f, "out of memory");
            }
            break;
        case NID_safeContentsBag:
            if (depth < MAX_DEPTH &&
                !collect(f, PKCS12_SAFEBAG_get0_safes(bag), pass, key, certs, depth + 1))
                return 0;
            break;
        default:
            break;
        }
    }
    return 1;
}

/* The whole file: the private key, the certificate that matches it and the others.
 * Every count is checked before the first derivation (the MAC), and the key bags inside
 * encrypted contents before any key is decrypted. */
static int file_open(p12_file_t *f, const unsigned char *der, size_t len, const char *password,
                     EVP_PKEY **key, X509 **leaf, STACK_OF(X509) *others)
{
    STACK_OF(X509) *certs = NULL;
    const char *pass;
    int ok = 1;

    if (!file_read(f, der, len) || !password_ok(f, password ? password : "", &pass))
        return 0;
    for (int i = 0; i < sk_PKCS7_num(f->safes); i++) {
        PKCS7 *p7 = sk_PKCS7_value(f->safes, i);
        if (OBJ_obj2nid(p7->type) != NID_pkcs7_encrypted)
            continue;
        if (!(f->bags[i] = PKCS12_unpack_p7encdata(p7, pass, -1)))
            return decrypt_failed(f);
        if (!bags_ok(f, f->bags[i], 0))
            return 0;
    }
    if (!(certs = sk_X509_new_null()))
        return fail(f, "out of memory");
    for (int i = 0; ok && i < sk_PKCS7_num(f->safes); i++)
        ok = collect(f, f->bags[i], pass, key, certs, 0);
    for (int i = 0; i < sk_X509_num(certs); i++) {
        X509 *x = sk_X509_value(certs, i);
        if (ok && *key && !*leaf && X509_check_private_key(x, *key) == 1) {
            *leaf = x;
        } else if (!sk_X509_push(others, x)) {
            X509_free(x);
            ok = fail(f, "out of memory");
        }
    }
    sk_X509_free(certs);
    if (!ok)
        return 0;
    if (!*key)
        return fail(f, "the certificate holds no private key");
    if (!*leaf)
        return fail(f, "the certificate file holds a private key but no certificate that matches it");
    return 1;
}

static apr_status_t wipe(void *data)
{
    OPENSSL_cleanse(data, strlen(data));
    return APR_SUCCESS;
}

/* What b holds, as a string in p (wiped with the pool when secret). */
static const char *bio_text(apr_pool_t *p, BIO *b, int secret)
{
    BUF_MEM *m = NULL;
    char *s;
    if (BIO_get_mem_ptr(b, &m) != 1 || !m || m->length == 0)
        return NULL;
    s = apr_pstrmemdup(p, m->data, m->length);
    if (secret)
        apr_pool_cleanup_register(p, s, wipe, apr_pool_cleanup_null);
    return s;
}

int push_p12_open(apr_pool_t *p, const unsigned char *der, size_t len, const char *password,
                  const char **cert_pem, const char **key_pem, const char **chain_pem,
                  const char **error)
{
    p12_file_t f = {p, NULL, NULL, NULL, 0, NULL};
    STACK_OF(X509) *others = sk_X509_new_null();
    EVP_PKEY *key = NULL;
    X509 *leaf = NULL;
    BIO *cb = NULL, *kb = NULL, *chb = NULL;
    const char *c = NULL, *k = NULL, *ch = NULL;
    int ok;

    ERR_set_mark();
    ok = others ? file_open(&f, der, len, password, &key, &leaf, others) : fail(&f, "out of memory");
    if (ok) {
        /* the key goes through secure memory: its buffer is cleared when it grows or goes */
        ok = (cb = BIO_new(BIO_s_mem())) && (kb = BIO_new(BIO_s_secmem())) &&
             PEM_write_bio_X509(cb, leaf) == 1 &&
             PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL) == 1 &&
             (c = bio_text(p, cb, 0)) && (k = bio_text(p, kb, 1));
        if (ok && chain_pem && sk_X509_num(others) > 0) {
            ok = (chb = BIO_new(BIO_s_mem())) != NULL;
            for (int i = 0; ok && i < sk_X509_num(others); i++)
                ok = PEM_write_bio_X509(chb, sk_X509_value(others, i)) == 1;
            ok = ok && (ch = bio_text(p, chb, 0));
        }
        if (!ok)
            fail(&f, "the certificate and its key cannot be written as PEM (OpenSSL failed)");
    }
    BIO_free(cb);
    BIO_free(kb);
    BIO_free(chb);
    EVP_PKEY_free(key);
    X509_free(leaf);
    sk_X509_pop_free(others, X509_free);
    file_free(&f);
    ERR_pop_to_mark();
    if (!ok) {
        *error = f.error;
        return 0;
    }
    *cert_pem = c;
    *key_pem = k;
    if (chain_pem)
        *chain_pem = ch;
    return 1;
}

/* --- what the settings API shows ------------------------------------------------------------------- */

static const char *cert_subject(apr_pool_t *p, X509 *cert)
{
    X509_NAME *name = X509_get_subject_name(cert);
    int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    const char *s = NULL;
    BIO *b;

    if (i >= 0) {
        unsigned char *u = NULL;
        int ulen = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
        if (ulen > 0)
            s = printable(apr_pstrmemdup(p, (const char *)u, (apr_size_t)ulen));
        OPENSSL_free(u);
        if (s && *s)
            return s;
    }
    /* No usable CN: the whole subject, with UTF-8 kept readable. */
    if ((b = BIO_new(BIO_s_mem())) == NULL)
        return "";
    s = "";
    if (X509_NAME_print_ex(b, name, 0, XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
        char *data = NULL;
        long dlen = BIO_get_mem_data(b, &data);
        if (dlen > 0)
            s = printable(apr_pstrmemdup(p, data, (apr_size_t)dlen));
    }
    BIO_free(b);
    return s;
}

static const char *iso_time(apr_pool_t *p, const ASN1_TIME *t)
{
    struct tm tm;
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
        return NULL;
    return apr_psprintf(p, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                        tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

int push_p12_inspect(apr_pool_t *p, const unsigned char *der, apr_size_t n, const char *password,
                     const char **subject, const char **not_after, const char **error)
{
    p12_file_t f = {p, NULL, NULL, NULL, 0, NULL};
    STACK_OF(X509) *others = sk_X509_new_null();
    EVP_PKEY *key = NULL;
    X509 *leaf = NULL;
    const char *until = NULL, *subj = NULL;
    int ok;

    ERR_set_mark();
    ok = others ? file_open(&f, der, n, password, &key, &leaf, others) : fail(&f, "out of memory");
    if (ok && !(until = iso_time(p, X509_get0_notAfter(leaf))))
        ok = fail(&f, "the certificate's expiry date cannot be read");
    if (ok)
        subj = cert_subject(p, leaf);
    EVP_PKEY_free(key);
    X509_free(leaf);
    sk_X509_pop_free(others, X509_free);
    file_free(&f);
    ERR_pop_to_mark();
    if (!ok) {
        *error = f.error;
        return 0;
    }
    if (subject)
        *subject = subj;
    if (not_after)
        *not_after = until;
    return 1;
}
