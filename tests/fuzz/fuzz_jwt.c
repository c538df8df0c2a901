/*
 * libFuzzer target: JWT verification and base64url, the first thing every
 * stranger's bytes meet (hello, and Bearer tokens on the HTTP API).
 *
 * A fuzzer cannot forge HMACs, so random tokens stop at the signature
 * check. The first input byte therefore picks a mode:
 *   0  the rest is a token, verified as it is (shape, header, alg, sig);
 *   1  the rest is a claims payload (any bytes, JSON or not), wrapped in a
 *      valid HS256 header and signed with the right secret, so the claims
 *      checks are fuzzed behind a good signature;
 *   2  the rest is "<header>\n<payload>", both any bytes, signed: headers
 *      with other algorithms, duplicate keys, non-objects;
 *   3  the rest is base64url text, decoded into a buffer of exactly the
 *      documented size.
 * Every mode also runs the decoder over the raw input. Invariants checked
 * (abort on breach): a verified token has valid ids, a known role, a name
 * and an unexpired exp; a token whose header alg is not exactly "HS256"
 * never verifies; decode then encode gives the input back (one token, one
 * encoding); nothing crashes or leaks.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "icebreaker/ib_err.h"
#include "icebreaker/ib_ids.h"
#include "icebreaker/ib_jwt.h"

static const unsigned char secret[] = "fuzz-secret";
#define SECRET_LEN (sizeof(secret) - 1)
#define NOW_S 1700000000

/* Decode into a buffer of exactly the size ib_jwt.h promises is enough
 * (ASan catches a byte more), and check the round trip. */
static void check_b64(const char *in, size_t len)
{
    unsigned char *out = malloc((len * 3) / 4 + 1);
    if (!out)
        return;
    long n = ib_b64url_decode(in, len, out);
    if (n >= 0) {
        if ((size_t)n > (len * 3) / 4)
            abort();
        char *back = malloc(len + 4);
        if (!back)
            abort();
        size_t m = ib_b64url_encode(out, (size_t)n, back);
        if (m != len || memcmp(back, in, len) != 0)
            abort(); /* two encodings would decode to the same bytes */
        free(back);
    }
    free(out);
}

static char *b64(const unsigned char *in, size_t len)
{
    char *out = malloc((len * 4) / 3 + 4);
    if (out)
        ib_b64url_encode(in, len, out);
    return out;
}

/* "<b64 header>.<b64 payload>.<b64 HMAC-SHA256>" with the fuzz secret. */
static char *signed_token(const unsigned char *hdr, size_t hlen, const unsigned char *pl,
                          size_t plen)
{
    char *h = b64(hdr, hlen), *p = b64(pl, plen);
    char *tok = NULL;
    if (!h || !p)
        goto out;
    size_t hl = strlen(h), pll = strlen(p);
    tok = malloc(hl + pll + 2 + 48);
    if (!tok)
        goto out;
    memcpy(tok, h, hl);
    tok[hl] = '.';
    memcpy(tok + hl + 1, p, pll);
    size_t n = hl + 1 + pll;
    unsigned char mac[32];
    unsigned int maclen = sizeof(mac);
    HMAC(EVP_sha256(), secret, (int)SECRET_LEN, (const unsigned char *)tok, n, mac, &maclen);
    tok[n++] = '.';
    ib_b64url_encode(mac, sizeof(mac), tok + n);
out:
    free(h);
    free(p);
    return tok;
}

/* Whether a header (raw bytes) is a JSON object whose alg is exactly
 * "HS256", by jansson's reading, which is also the verifier's. */
static int header_is_hs256(const unsigned char *hdr, size_t hlen)
{
    json_error_t err;
    json_t *h = json_loadb((const char *)hdr, hlen, 0, &err);
    const char *alg = json_string_value(json_object_get(h, "alg"));
    int ok = json_is_object(h) && alg && !strcmp(alg, "HS256");
    json_decref(h);
    return ok;
}

static void verify(const char *tok, int hs256_header)
{
    ib_claims_t c;
    int rc = ib_jwt_verify(tok, secret, SECRET_LEN, NOW_S, &c);
    if (rc == 0) {
        if (!hs256_header)
            abort();
        if (!c.sub || !ib_id_valid(c.sub) || !c.event || !ib_id_valid(c.event) || !c.name ||
            c.role == IB_ROLE_NONE || c.exp < NOW_S - IB_JWT_LEEWAY_S ||
            (c.booth && !ib_id_valid(c.booth)) || !json_is_array(c.interests) ||
            !json_is_array(c.offers) || !json_is_array(c.seeks) || !json_is_object(c.contact))
            abort();
        ib_claims_clear(&c);
    } else {
        /* A refused token leaves nothing behind. */
        if (c.sub || c.name || c.event || c.booth || c.headline || c.interests || c.contact)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 3 * IB_JWT_MAX_LEN)
        return 0;
    const unsigned char *in = data + 1;
    size_t len = size - 1;
    check_b64((const char *)in, len);

    static const char good_header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    char *tok = NULL;
    switch (data[0] & 3) {
    case 0:
        tok = malloc(len + 1);
        if (!tok)
            return 0;
        memcpy(tok, in, len);
        tok[len] = 0;
        /* Unsigned by us: whatever it says, the signature will not hold,
         * except by a collision libFuzzer will not find. */
        verify(tok, 1);
        break;
    case 1:
        tok = signed_token((const unsigned char *)good_header, sizeof(good_header) - 1, in, len);
        if (tok)
            verify(tok, 1);
        break;
    case 2: {
        const unsigned char *nl = memchr(in, '\n', len);
        size_t hlen = nl ? (size_t)(nl - in) : len;
        const unsigned char *pl = nl ? nl + 1 : in + len;
        size_t plen = nl ? len - hlen - 1 : 0;
        tok = signed_token(in, hlen, pl, plen);
        if (tok)
            verify(tok, header_is_hs256(in, hlen));
        break;
    }
    default:
        break; /* mode 3: the decoder alone, done above */
    }
    free(tok);
    return 0;
}
