/* APNs certificates as PKCS#12 (.p12) files: a cap on the key-derivation work a file may
 * ask for, checked before any key is derived, and opening a file once into PEM text so
 * that nothing re-derives keys per TLS connection. The file is untrusted input (any
 * holder of an application's settings scope uploads one). No httpd headers; OpenSSL
 * parses the ASN.1 and derives the keys. */
#ifndef PUSH_P12_H
#define PUSH_P12_H

#include <stddef.h>

#include <apr_pools.h>

/* The largest iteration count accepted for the MAC and for each password-based
 * encryption (PKCS#12 PBE, PKCS#5 PBE, PBES2 with PBKDF2). Exports use 2,048 (OpenSSL,
 * older Keychain) to 10,000; 100,000 costs ~10 ms of CPU per derivation here. */
#define PUSH_P12_MAX_ITER 100000

/* All counts of one file together (the MAC, each encrypted safe contents, each shrouded
 * key): the per-count cap alone would let a file carry hundreds of encrypted parts. A
 * MAC, an encrypted certificate and a shrouded key at the cap add up to 300,000. */
#define PUSH_P12_MAX_TOTAL_ITER (4 * PUSH_P12_MAX_ITER)

/* Reads the structure of a PKCS#12 file (DER, len bytes) and refuses it when it asks for
 * more key-derivation work than the caps allow, without a password and without deriving
 * any key: the MAC's iteration count, the algorithm parameters of every encrypted safe
 * contents, and those of every shrouded key bag stored in the clear (nested safe
 * contents included). Key bags inside encrypted contents can only be seen after
 * decrypting them: push_p12_open checks those before it decrypts any key. PBES2 is
 * accepted with PBKDF2 only (scrypt's cost is not an iteration count), and a MAC only
 * with a plain digest (not PBMAC1).
 * Returns 1, or 0 with *error, a short reason ("the certificate file is not a PKCS#12
 * file", "the certificate file's MAC iteration count 40000000 exceeds 100000", ...). */
int push_p12_check(apr_pool_t *p, const unsigned char *der, size_t len, const char **error);

/* Opens a PKCS#12 file with its password (NULL counts as ""; as with OpenSSL's
 * PKCS12_parse, an empty password also tries "no password"). Applies push_p12_check
 * first, verifies the MAC, decrypts each encrypted safe contents, checks the key bags
 * found inside before decrypting any, then decrypts the private key. Every derivation is
 * within the caps, and each happens once.
 * Returns 1 with, in pool memory as NUL-terminated PEM text:
 *   *cert_pem   the certificate that matches the private key ("BEGIN CERTIFICATE");
 *   *key_pem    that private key, unencrypted PKCS#8 ("BEGIN PRIVATE KEY"), wiped when
 *               the pool is cleared or destroyed;
 *   *chain_pem  the file's other certificates, in file order, or NULL when it has none
 *               (chain_pem itself may be NULL when the caller does not want them).
 * Otherwise 0 and *error ("the password does not open the certificate", "the certificate
 * holds no private key", a cap exceeded, ...).
 * The sender calls this once per credential version (when push_credential's row
 * changes), then gives libcurl CURLOPT_SSLCERT_BLOB = cert_pem followed by chain_pem
 * (libcurl's PEM blob takes the first certificate as the client's, the rest as its
 * chain) and CURLOPT_SSLKEY_BLOB = key_pem, both with type "PEM" and no CURLOPT_KEYPASSWD:
 * OpenSSL then only parses PEM per connection, with no key derivation. */
int push_p12_open(apr_pool_t *p, const unsigned char *der, size_t len, const char *password,
                  const char **cert_pem, const char **key_pem, const char **chain_pem,
                  const char **error);

/* What the settings API shows of an uploaded certificate: push_p12_open, then the
 * certificate's CN (or its whole subject on one line if it has none) in *subject and its
 * expiry ("2027-01-02T03:04:05Z") in *not_after; either pointer may be NULL. Returns 1, or
 * 0 and *error. */
int push_p12_inspect(apr_pool_t *p, const unsigned char *der, apr_size_t n, const char *password,
                     const char **subject, const char **not_after, const char **error);

/* The stored form of an uploaded certificate, sealed as its credential's secret: the
 * JSON text {"p12": base64 of the file, "password": its password} (p12_stored.c). */
const char *push_p12_stored(apr_pool_t *p, const unsigned char *der, size_t len, const char *password);

/* Reads that form back: 1 with the file (*der, *len, in p) and *password (NULL when
 * absent), or 0 when it is not that form. */
int push_p12_stored_read(apr_pool_t *p, const char *text, unsigned char **der, size_t *len,
                         const char **password);

#endif
