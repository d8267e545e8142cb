/* The .p12 checks: the iteration caps (read before any key is derived, so a file that
 * declares 40 million iterations is refused at once), opening a file into PEM, and what
 * the settings API shows of it. Every file is made here with OpenSSL. Files that declare
 * more than they were made with are edited after the fact: their MACs or ciphertexts do
 * not match what they declare, which is the point (nothing may derive a key to notice). */
#include <limits.h>
#include <stdlib.h>
#include <time.h>

#include <apr_general.h>
#include <apr_strings.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/pkcs7.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "core/p12.h"
#include "unit.h"

#define HUGE_ITER 40000000L   /* ~3.5 s of CPU per derivation on this machine */
#define FAST 0.5              /* seconds: a refusal that derived nothing */

static EVP_PKEY *key, *ca_key;
static time_t made_at;   /* the certificates' notBefore */
static X509 *cert, *anon, *ca;

static int has(const char *s, const char *part)
{
    return s && strstr(s, part) != NULL;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static X509 *self_signed(EVP_PKEY *k, const char *field, const char *value, time_t t0, long days)
{
    X509 *x = X509_new();
    X509_NAME *n;
    if (!x)
        return NULL;
    n = X509_get_subject_name(x);
    if (X509_set_version(x, X509_VERSION_3) != 1
        || ASN1_INTEGER_set(X509_get_serialNumber(x), 1) != 1
        || !X509_time_adj_ex(X509_getm_notBefore(x), 0, 0, &t0)
        || !X509_time_adj_ex(X509_getm_notAfter(x), (int)days, 0, &t0)
        || X509_NAME_add_entry_by_txt(n, field, MBSTRING_UTF8, (const unsigned char *)value,
                                      -1, -1, 0) != 1
        || X509_set_issuer_name(x, n) != 1 || X509_set_pubkey(x, k) != 1
        || X509_sign(x, k, EVP_sha256()) <= 0) {
        X509_free(x);
        return NULL;
    }
    return x;
}

/* DER in the pool; frees p12. */
static unsigned char *der_of(apr_pool_t *p, PKCS12 *p12, size_t *n)
{
    unsigned char *der = NULL, *copy = NULL;
    int len = p12 ? i2d_PKCS12(p12, &der) : -1;
    if (len > 0) {
        copy = apr_pmemdup(p, der, (size_t)len);
        *n = (size_t)len;
    }
    OPENSSL_free(der);
    PKCS12_free(p12);
    return copy;
}

/* nid 0: OpenSSL's default (PBES2, AES-256, PBKDF2); -1: in the clear. mac_iter -1: no MAC. */
static PKCS12 *made(EVP_PKEY *k, X509 *x, STACK_OF(X509) *chain, const char *pw, int nid_key,
                    int nid_cert, int iter, int mac_iter)
{
    return PKCS12_create(pw, "push test", k, x, chain, nid_key, nid_cert, iter, mac_iter, 0);
}

/* Rewrites the count in a PBE or PBES2 (PBKDF2) algorithm identifier, deriving nothing. */
static int set_iter(X509_ALGOR *alg, long iter)
{
    int ok = 0;
    if (OBJ_obj2nid(alg->algorithm) == NID_pbes2) {
        PBE2PARAM *pbe2 = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBE2PARAM), alg->parameter);
        PBKDF2PARAM *kdf = pbe2 ? ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBKDF2PARAM),
                                                            pbe2->keyfunc->parameter) : NULL;
        ok = kdf && ASN1_INTEGER_set(kdf->iter, iter) == 1
             && ASN1_TYPE_pack_sequence(ASN1_ITEM_rptr(PBKDF2PARAM), kdf, &pbe2->keyfunc->parameter)
             && ASN1_TYPE_pack_sequence(ASN1_ITEM_rptr(PBE2PARAM), pbe2, &alg->parameter);
        PBKDF2PARAM_free(kdf);
        PBE2PARAM_free(pbe2);
    } else {
        PBEPARAM *pbe = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBEPARAM), alg->parameter);
        ok = pbe && ASN1_INTEGER_set(pbe->iter, iter) == 1
             && ASN1_TYPE_pack_sequence(ASN1_ITEM_rptr(PBEPARAM), pbe, &alg->parameter);
        PBEPARAM_free(pbe);
    }
    return ok;
}

static int set_mac_iter(PKCS12 *p12, long iter)
{
    const ASN1_INTEGER *i = NULL;
    PKCS12_get0_mac(NULL, NULL, NULL, &i, p12);
    return i && ASN1_INTEGER_set((ASN1_INTEGER *)i, iter) == 1;
}

/* Sets the count of every encrypted safe contents (and, with keys, of every shrouded key
 * bag in plain contents) to iter. */
static int set_safe_iters(PKCS12 *p12, long iter, int keys)
{
    STACK_OF(PKCS7) *safes = PKCS12_unpack_authsafes(p12);
    int ok = safes != NULL;
    for (int i = 0; ok && i < sk_PKCS7_num(safes); i++) {
        PKCS7 *p7 = sk_PKCS7_value(safes, i);
        if (OBJ_obj2nid(p7->type) == NID_pkcs7_encrypted) {
            if (!keys)
                ok = set_iter(p7->d.encrypted->enc_data->algorithm, iter);
        } else if (keys) {
            STACK_OF(PKCS12_SAFEBAG) *bags = PKCS12_unpack_p7data(p7);
            PKCS7 *again;
            ok = bags != NULL;
            for (int j = 0; ok && j < sk_PKCS12_SAFEBAG_num(bags); j++) {
                PKCS12_SAFEBAG *bag = sk_PKCS12_SAFEBAG_value(bags, j);
                X509_ALGOR *alg;
                if (PKCS12_SAFEBAG_get_nid(bag) != NID_pkcs8ShroudedKeyBag)
                    continue;
                X509_SIG_getm((X509_SIG *)PKCS12_SAFEBAG_get0_pkcs8(bag), &alg, NULL);
                ok = set_iter(alg, iter);
            }
            again = ok ? PKCS12_pack_p7data(bags) : NULL;
            sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
            ok = again != NULL && sk_PKCS7_set(safes, i, again) != NULL;
            if (ok)
                PKCS7_free(p7);
            else
                PKCS7_free(again);
        }
    }
    ok = ok && PKCS12_pack_authsafes(p12, safes) == 1;
    sk_PKCS7_pop_free(safes, PKCS7_free);
    return ok;
}

/* A file made bag by bag: the certificate and the key k (its bag declaring key_iter
 * iterations, made with that many up to the cap, with 2048 above) in one safe contents, encrypted (PBES2, 2048) so that only
 * the password shows the key bag, or in the clear when nid_safe is -1. */
static unsigned char *assembled(apr_pool_t *p, EVP_PKEY *k, long key_iter, int nid_safe, size_t *n)
{
    STACK_OF(PKCS12_SAFEBAG) *bags = NULL;
    STACK_OF(PKCS7) *safes = NULL;
    PKCS12_SAFEBAG *bag;
    PKCS12 *p12 = NULL;
    X509_ALGOR *alg;
    int ok = PKCS12_add_cert(&bags, cert) != NULL
             && (bag = PKCS12_add_key(&bags, k, 0, key_iter > PUSH_P12_MAX_ITER ? 2048 : (int)key_iter,
                                      NID_aes_256_cbc, "pw")) != NULL;
    if (ok && key_iter > PUSH_P12_MAX_ITER) {
        X509_SIG_getm((X509_SIG *)PKCS12_SAFEBAG_get0_pkcs8(bag), &alg, NULL);
        ok = set_iter(alg, key_iter);
    }
    ok = ok && PKCS12_add_safe(&safes, bags, nid_safe, 2048, "pw")
         && (p12 = PKCS12_add_safes(safes, 0)) != NULL
         && PKCS12_set_mac(p12, "pw", -1, NULL, 0, 2048, NULL) == 1;
    sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
    sk_PKCS7_pop_free(safes, PKCS7_free);
    if (!ok) {
        PKCS12_free(p12);
        return NULL;
    }
    return der_of(p, p12, n);
}

/* A file with `count` encrypted certificate contents, each declaring iter iterations. */
static unsigned char *many_safes(apr_pool_t *p, int count, long iter, size_t *n)
{
    STACK_OF(PKCS7) *safes = NULL;
    PKCS12 *p12 = NULL;
    int ok = 1;
    for (int i = 0; ok && i < count; i++) {
        STACK_OF(PKCS12_SAFEBAG) *bags = NULL;
        ok = PKCS12_add_cert(&bags, cert) && PKCS12_add_safe(&safes, bags, NID_aes_256_cbc, 1, "pw");
        sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
    }
    ok = ok && (p12 = PKCS12_add_safes(safes, 0)) != NULL
         && PKCS12_set_mac(p12, "pw", -1, NULL, 0, 1, NULL) == 1 && set_safe_iters(p12, iter, 0);
    sk_PKCS7_pop_free(safes, PKCS7_free);
    if (!ok) {
        PKCS12_free(p12);
        return NULL;
    }
    return der_of(p, p12, n);
}

/* Refused by both entry points, fast, with a message holding want. */
static void refused(apr_pool_t *p, const unsigned char *der, size_t n, const char *pw,
                    const char *want, int by_check, const char *name)
{
    const char *err = NULL, *c = NULL, *k = NULL, *ch = NULL;
    double t0 = now(), t1, t2;
    int checked = push_p12_check(p, der, n, &err);
    t1 = now();
    if (by_check)
        CHECK(der && !checked && has(err, want), apr_psprintf(p, "%s: push_p12_check refuses it", name));
    else
        CHECK(der && checked, apr_psprintf(p, "%s: push_p12_check cannot see it", name));
    err = NULL;
    CHECK(der && !push_p12_open(p, der, n, pw, &c, &k, &ch, &err) && has(err, want) && !k,
          apr_psprintf(p, "%s: push_p12_open refuses it", name));
    t2 = now();
    if (err && !has(err, want))
        printf("# got: %s\n", err);
    CHECK(t2 - t0 < FAST, apr_psprintf(p, "%s: in %.3f s and %.3f s, less than %.1f s", name,
                                       t1 - t0, t2 - t1, FAST));
}

static void test_caps(apr_pool_t *p)
{
    unsigned char *der;
    const char *err = NULL, *c, *k;
    size_t n = 0;
    PKCS12 *p12;
    BIGNUM *bn;
    double t0;

    der = der_of(p, made(key, cert, NULL, "pw", 0, 0, 2048, 2048), &n);
    CHECK(der && push_p12_check(p, der, n, &err), "an OpenSSL default export (2048) passes the check");

    t0 = now();
    der = der_of(p, made(key, cert, NULL, "pw", 0, 0, PUSH_P12_MAX_ITER, PUSH_P12_MAX_ITER), &n);
    CHECK(der && push_p12_check(p, der, n, &err), "100000 iterations everywhere pass the check");
    CHECK(der && push_p12_open(p, der, n, "pw", &c, &k, NULL, &err), "and open");
    printf("# made and opened at 100000 iterations in %.3f s\n", now() - t0);

    der = der_of(p, made(key, cert, NULL, "pw", 0, 0, 2048, PUSH_P12_MAX_ITER + 1), &n);
    refused(p, der, n, "pw", "MAC iteration count 100001 exceeds 100000", 1, "a MAC at 100001");
    der = der_of(p, made(key, cert, NULL, "pw", 0, 0, PUSH_P12_MAX_ITER + 1, 2048), &n);
    refused(p, der, n, "pw", "encryption iteration count 100001 exceeds 100000", 1,
            "PBES2 contents at 100001");

    p12 = made(key, cert, NULL, "pw", 0, 0, 2048, 2048);
    CHECK(p12 && set_mac_iter(p12, HUGE_ITER), "the test declared 40000000 MAC iterations");
    der = der_of(p, p12, &n);
    refused(p, der, n, "pw", "MAC iteration count 40000000 exceeds 100000", 1, "a MAC at 40000000");
    CHECK(!push_p12_inspect(p, der, n, "pw", NULL, NULL, &err) && has(err, "40000000"),
          "push_p12_inspect applies the cap too");

    p12 = made(key, cert, NULL, "pw", NID_pbe_WithSHA1And3_Key_TripleDES_CBC,
               NID_pbe_WithSHA1And3_Key_TripleDES_CBC, 2048, 2048);
    CHECK(p12 && set_safe_iters(p12, HUGE_ITER, 0), "the test declared legacy PBE contents at 40000000");
    der = der_of(p, p12, &n);
    refused(p, der, n, "pw", "encryption iteration count 40000000", 1, "legacy PBE contents at 40000000");

    p12 = made(key, cert, NULL, "pw", 0, 0, 2048, 2048);
    CHECK(p12 && set_safe_iters(p12, HUGE_ITER, 0), "the test declared PBES2 contents at 40000000");
    der = der_of(p, p12, &n);
    refused(p, der, n, "pw", "encryption iteration count 40000000", 1, "PBES2 contents at 40000000");

    p12 = made(key, cert, NULL, "pw", 0, 0, 2048, 2048);
    CHECK(p12 && set_safe_iters(p12, HUGE_ITER, 1), "the test declared a PBES2 key bag at 40000000");
    der = der_of(p, p12, &n);
    refused(p, der, n, "pw", "key encryption iteration count 40000000", 1, "a PBES2 key bag at 40000000");

    p12 = made(key, cert, NULL, "pw", NID_pbe_WithSHA1And3_Key_TripleDES_CBC, -1, 2048, 2048);
    CHECK(p12 && set_safe_iters(p12, HUGE_ITER, 1), "the test declared a legacy PBE key bag at 40000000");
    der = der_of(p, p12, &n);
    refused(p, der, n, "pw", "key encryption iteration count 40000000", 1,
            "a legacy PBE key bag at 40000000");

    der = assembled(p, key, HUGE_ITER, NID_aes_256_cbc, &n);
    refused(p, der, n, "pw", "key encryption iteration count 40000000", 0,
            "a key bag at 40000000 inside encrypted contents");
    der = assembled(p, key, PUSH_P12_MAX_ITER, NID_aes_256_cbc, &n);
    CHECK(der && push_p12_open(p, der, n, "pw", &c, &k, NULL, &err),
          "a key bag at 100000 inside encrypted contents opens");

    der = many_safes(p, 3, PUSH_P12_MAX_ITER, &n);
    CHECK(der && push_p12_check(p, der, n, &err), "three contents at 100000 stay within the total");
    der = many_safes(p, 4, PUSH_P12_MAX_ITER, &n);
    refused(p, der, n, "pw", "add up to more than 400000", 1, "four contents at 100000 and a MAC");
    der = many_safes(p, 200, 2048, &n);
    refused(p, der, n, "pw", "add up to more than 400000", 1, "two hundred contents at 2048");

    p12 = made(key, cert, NULL, "pw", 0, 0, 2048, 2048);
    CHECK(p12 && set_mac_iter(p12, 0), "the test declared 0 MAC iterations");
    der = der_of(p, p12, &n);
    refused(p, der, n, "pw", "MAC iteration count 0 is not valid", 1, "a MAC count of 0");
    p12 = made(key, cert, NULL, "pw", 0, 0, 2048, 2048);
    CHECK(p12 && set_mac_iter(p12, -5), "the test declared -5 MAC iterations");
    der = der_of(p, p12, &n);
    refused(p, der, n, "pw", "is not valid", 1, "a negative MAC count");
    p12 = made(key, cert, NULL, "pw", 0, 0, 2048, 2048);
    bn = BN_new();
    {
        const ASN1_INTEGER *i = NULL;
        if (p12)
            PKCS12_get0_mac(NULL, NULL, NULL, &i, p12);
        CHECK(bn && i && BN_set_bit(bn, 70) && BN_to_ASN1_INTEGER(bn, (ASN1_INTEGER *)i),
              "the test declared 2^70 MAC iterations");
    }
    BN_free(bn);
    der = der_of(p, p12, &n);
    refused(p, der, n, "pw", "too large to read", 1, "a MAC count of 2^70");

    /* scrypt in PBES2: its cost is memory and rounds, not an iteration count */
    p12 = made(key, cert, NULL, "pw", 0, 0, 2048, 2048);
    {
        STACK_OF(PKCS7) *safes = p12 ? PKCS12_unpack_authsafes(p12) : NULL;
        X509_ALGOR *scrypt = PKCS5_pbe2_set_scrypt(EVP_aes_256_cbc(), NULL, 0, NULL, 1 << 14, 8, 1);
        int ok = safes && scrypt;
        for (int i = 0; ok && i < sk_PKCS7_num(safes); i++) {
            PKCS7 *p7 = sk_PKCS7_value(safes, i);
            if (OBJ_obj2nid(p7->type) == NID_pkcs7_encrypted) {
                X509_ALGOR_free(p7->d.encrypted->enc_data->algorithm);
                p7->d.encrypted->enc_data->algorithm = X509_ALGOR_dup(scrypt);
            }
        }
        CHECK(ok && PKCS12_pack_authsafes(p12, safes) == 1, "the test made scrypt contents");
        X509_ALGOR_free(scrypt);
        sk_PKCS7_pop_free(safes, PKCS7_free);
    }
    der = der_of(p, p12, &n);
    refused(p, der, n, "pw", "only PBKDF2 is accepted", 1, "PBES2 with scrypt");
}

static void test_refusals(apr_pool_t *p)
{
    unsigned char *der, *longer, noise[512];
    const char *err = NULL, *c = NULL, *k = NULL;
    size_t n = 0;

    der = der_of(p, made(key, cert, NULL, "pw", 0, 0, 2048, 2048), &n);
    CHECK(der && !push_p12_open(p, der, n, "wrong", &c, &k, NULL, &err)
          && has(err, "password does not open"), "a wrong password is refused");
    err = NULL;
    CHECK(der && !push_p12_open(p, der, n, NULL, &c, &k, NULL, &err)
          && has(err, "password does not open"), "no password is refused");

    RAND_bytes(noise, sizeof(noise));
    err = NULL;
    CHECK(!push_p12_check(p, noise, sizeof(noise), &err) && has(err, "not a PKCS#12 file"),
          "garbage is not a PKCS#12 file");
    err = NULL;
    CHECK(!push_p12_open(p, noise, sizeof(noise), "pw", &c, &k, NULL, &err)
          && has(err, "not a PKCS#12 file"), "push_p12_open says so too");
    for (size_t cut = 1; der && cut < n; cut += n / 7 + 1) {
        err = NULL;
        CHECK(!push_p12_check(p, der, cut, &err) && has(err, "not a PKCS#12 file"),
              apr_psprintf(p, "truncated to %" APR_SIZE_T_FMT " of %" APR_SIZE_T_FMT
                           " bytes: not a PKCS#12 file", cut, n));
    }
    err = NULL;
    CHECK(der && !push_p12_check(p, der, 0, &err) && err, "nothing is refused");
    err = NULL;
    CHECK(!push_p12_check(p, NULL, 0, &err) && err, "NULL is refused");
    longer = der ? apr_palloc(p, n + 1) : NULL;
    if (longer) {
        memcpy(longer, der, n);
        longer[n] = 0;
    }
    err = NULL;
    CHECK(longer && !push_p12_check(p, longer, n + 1, &err) && has(err, "bytes after"),
          "a byte after the PKCS#12 data is refused");

    der = der_of(p, made(NULL, cert, NULL, "pw", 0, 0, 2048, 2048), &n);
    err = NULL;
    CHECK(der && !push_p12_open(p, der, n, "pw", &c, &k, NULL, &err) && has(err, "no private key"),
          "a certificate without its key is refused");
    der = assembled(p, ca_key, 2048, -1, &n);
    err = NULL;
    CHECK(der && !push_p12_open(p, der, n, "pw", &c, &k, NULL, &err) && has(err, "no certificate that matches"),
          "a key with someone else's certificate is refused");

    der = der_of(p, made(key, cert, NULL, "pw", -1, -1, 0, -1), &n);
    err = NULL;
    CHECK(der && !push_p12_open(p, der, n, "pw", &c, &k, NULL, &err) && has(err, "no integrity MAC"),
          "a MAC-less file with a password is refused");
    CHECK(der && push_p12_open(p, der, n, "", &c, &k, NULL, &err), "a MAC-less file in the clear opens");
}

/* cert_pem and key_pem are the very certificate and key; chain_pem the CA. */
static void same_as(apr_pool_t *p, const char *c, const char *k, const char *ch, X509 *want_chain,
                    const char *name)
{
    BIO *b = BIO_new_mem_buf(c ? c : "", -1), *kb = BIO_new_mem_buf(k ? k : "", -1);
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL), *y = NULL;
    EVP_PKEY *pk = PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL);
    CHECK(x && X509_cmp(x, cert) == 0, apr_psprintf(p, "%s: the certificate round-trips", name));
    CHECK(pk && EVP_PKEY_eq(pk, key) == 1, apr_psprintf(p, "%s: the key round-trips", name));
    CHECK(k && !strncmp(k, "-----BEGIN PRIVATE KEY-----\n", 28) && !has(k, "ENCRYPTED"),
          apr_psprintf(p, "%s: the key is unencrypted PKCS#8", name));
    if (want_chain) {
        BIO *cb = BIO_new_mem_buf(ch ? ch : "", -1);
        y = PEM_read_bio_X509(cb, NULL, NULL, NULL);
        CHECK(y && X509_cmp(y, want_chain) == 0, apr_psprintf(p, "%s: the chain is the CA", name));
        BIO_free(cb);
    } else {
        CHECK(ch == NULL, apr_psprintf(p, "%s: no chain", name));
    }
    X509_free(y);
    X509_free(x);
    EVP_PKEY_free(pk);
    BIO_free(kb);
    BIO_free(b);
}

static apr_status_t key_was_wiped(void *data)
{
    const char **k = data;
    int zero = *k != NULL;
    for (size_t i = 0; *k && i < 28; i++)
        zero = zero && (*k)[i] == 0;
    CHECK(zero, "the key PEM is wiped when its pool goes");
    return APR_SUCCESS;
}

static void test_open(apr_pool_t *p)
{
    STACK_OF(X509) *chain = sk_X509_new_null();
    const char *c = NULL, *k = NULL, *ch = "unset", *err = NULL;
    const char **kept;
    unsigned char *der;
    apr_pool_t *sub;
    size_t n = 0;

    der = der_of(p, made(key, cert, NULL, "pw", 0, 0, 2048, 2048), &n);
    CHECK(der && push_p12_open(p, der, n, "pw", &c, &k, &ch, &err), "PBES2 (the default) opens");
    same_as(p, c, k, ch, NULL, "PBES2");

    ch = "unset";
    der = der_of(p, made(key, cert, NULL, "pw", NID_pbe_WithSHA1And3_Key_TripleDES_CBC,
                         NID_pbe_WithSHA1And3_Key_TripleDES_CBC, 2048, 2048), &n);
    CHECK(der && push_p12_open(p, der, n, "pw", &c, &k, &ch, &err), "legacy PBE (3DES) opens");
    same_as(p, c, k, ch, NULL, "legacy PBE");

    ch = "unset";
    der = der_of(p, made(key, cert, NULL, "pw", -1, -1, 2048, 2048), &n);
    CHECK(der && push_p12_open(p, der, n, "pw", &c, &k, &ch, &err), "an unencrypted key and certificate open");
    same_as(p, c, k, ch, NULL, "in the clear");

    sk_X509_push(chain, ca);
    ch = NULL;
    der = der_of(p, made(key, cert, chain, "pw", 0, 0, 2048, 2048), &n);
    CHECK(der && push_p12_open(p, der, n, "pw", &c, &k, &ch, &err), "a file with a CA certificate opens");
    same_as(p, c, k, ch, ca, "with a chain");
    CHECK(der && push_p12_open(p, der, n, "pw", &c, &k, NULL, &err), "chain_pem may be NULL");

    ch = "unset";
    der = der_of(p, made(key, cert, NULL, "", 0, 0, 2048, 2048), &n);
    CHECK(der && push_p12_open(p, der, n, NULL, &c, &k, &ch, &err), "an empty password: NULL opens it");
    CHECK(der && push_p12_open(p, der, n, "", &c, &k, &ch, &err), "and so does \"\"");
    same_as(p, c, k, ch, NULL, "empty password");

    der = assembled(p, key, 2048, NID_aes_256_cbc, &n);
    CHECK(der && push_p12_open(p, der, n, "pw", &c, &k, &ch, &err), "a key inside encrypted contents opens");
    same_as(p, c, k, ch, NULL, "key inside");

    /* registered first, so it runs after push_p12_open's own cleanup */
    apr_pool_create(&sub, p);
    kept = apr_pcalloc(p, sizeof(*kept));
    apr_pool_cleanup_register(sub, kept, key_was_wiped, apr_pool_cleanup_null);
    der = der_of(p, made(key, cert, NULL, "pw", 0, 0, 2048, 2048), &n);
    CHECK(der && push_p12_open(sub, der, n, "pw", &c, kept, NULL, &err), "opened in a pool of its own");
    apr_pool_destroy(sub);
    sk_X509_free(chain);
}

/* What the settings API shows, and its refusals. */
static void test_inspect(apr_pool_t *p)
{
    time_t end = made_at + 365 * 86400L;
    const char *subject = NULL, *until = NULL, *err = NULL;
    unsigned char *der;
    char want[32];
    size_t n = 0;
    struct tm tm;

    gmtime_r(&end, &tm);
    strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%SZ", &tm);
    der = der_of(p, made(key, cert, NULL, "secret", 0, 0, 0, 0), &n);
    CHECK(der && push_p12_inspect(p, der, n, "secret", &subject, &until, &err), "the right password opens it");
    CHECK(subject && !strcmp(subject, "com.example.app"), "the subject is the CN");
    CHECK(until && strlen(until) == 20 && until[4] == '-' && until[10] == 'T' && until[19] == 'Z',
          "notAfter is ISO-8601 UTC");
    CHECK(until && !strcmp(until, want), "notAfter is a year on");
    CHECK(der && push_p12_inspect(p, der, n, "secret", NULL, NULL, &err), "outputs may be NULL");
    err = NULL;
    CHECK(der && !push_p12_inspect(p, der, n, "wrong", &subject, &until, &err)
          && has(err, "password does not open"), "a wrong password is refused");
    err = NULL;
    CHECK(der && !push_p12_inspect(p, der, n / 2, "secret", &subject, &until, &err)
          && has(err, "not a PKCS#12 file"), "half a PKCS#12 is refused");

    /* No CN: the whole subject. A date past 2049 is a GeneralizedTime. */
    ASN1_TIME_set_string_X509(X509_getm_notAfter(anon), "20510102030405Z");
    X509_sign(anon, key, EVP_sha256());
    der = der_of(p, made(key, anon, NULL, "", 0, 0, 0, 0), &n);
    CHECK(der && push_p12_inspect(p, der, n, "", &subject, &until, &err)
          && has(subject, "O = Example Org") && !strcmp(until, "2051-01-02T03:04:05Z"),
          "without a CN the subject is one line; an empty password works");
    CHECK(der && push_p12_inspect(p, der, n, NULL, &subject, &until, &err), "NULL is the empty password");
}

/* The stored form round-trips the file and its password, and refuses other text. */
static void test_stored(apr_pool_t *p)
{
    static const unsigned char der[] = {0x30, 0x82, 0x00, 0x01, 0xff, 0x00, 0x7f};
    unsigned char *back = NULL;
    size_t n = 0;
    const char *pass = NULL, *text = push_p12_stored(p, der, sizeof(der), "pa\"ss");
    CHECK(push_p12_stored_read(p, text, &back, &n, &pass) && n == sizeof(der) &&
          !memcmp(back, der, n) && pass && !strcmp(pass, "pa\"ss"), "the stored form round-trips");
    CHECK(push_p12_stored_read(p, "{\"p12\":\"MAE=\"}", &back, &n, &pass) && n == 2 && !pass,
          "a missing password reads as NULL");
    CHECK(!push_p12_stored_read(p, "{\"p12\":1}", &back, &n, &pass), "a p12 that is not a string is refused");
    CHECK(!push_p12_stored_read(p, "not json", &back, &n, &pass), "text that is not JSON is refused");
    CHECK(!push_p12_stored_read(p, NULL, &back, &n, &pass), "NULL is refused");
}

int main(void)
{
    time_t t0 = made_at = time(NULL);
    apr_pool_t *p;
    apr_initialize();
    apr_pool_create(&p, NULL);

    key = EVP_EC_gen("P-256");
    ca_key = EVP_EC_gen("P-256");
    cert = key ? self_signed(key, "CN", "com.example.app", t0, 365) : NULL;
    anon = key ? self_signed(key, "O", "Example Org", t0, 365) : NULL;
    ca = ca_key ? self_signed(ca_key, "CN", "Example CA", t0, 365) : NULL;
    CHECK(key && ca_key && cert && anon && ca, "the test made its keys and certificates");
    if (key && ca_key && cert && anon && ca) {
        test_caps(p);
        test_refusals(p);
        test_open(p);
        test_inspect(p);
    }
    test_stored(p);
    X509_free(ca);
    X509_free(anon);
    X509_free(cert);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(key);
    apr_pool_destroy(p);
    apr_terminate();
    UNIT_DONE();
}
