/* sha256: the SHA-256 digest (FIPS 180-4) of a buffer, and its base64 form.
 *
 * Exists for the HTML report's Content-Security-Policy, which names its inline scripts by hash
 * ('sha256-<base64>') instead of allowing every inline script. Pure: no allocation, no I/O.
 */
#ifndef HEADROOM_SHA256_H
#define HEADROOM_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_BYTES 32
#define SHA256_B64_LEN 45   /* 44 base64 characters and the NUL */

void sha256_digest(const void *data, size_t len, uint8_t ret[SHA256_BYTES]);
/* base64 (RFC 4648, with padding) of the digest, as CSP writes it. Returns out. */
char *sha256_base64(const void *data, size_t len, char out[SHA256_B64_LEN]);

#endif
