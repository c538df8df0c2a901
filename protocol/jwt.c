/*
 * JSON Web Tokens with HS256 only.
 *
 * Verification refuses as early and as cheaply as it can: length, shape
 * (three base64url parts), a header whose alg is exactly "HS256" (so
 * "none" and algorithm confusion are out), then the HMAC, compared in
 * constant time, and only then is the payload parsed and its claims
 * checked. Claims are copied out so the caller owns plain strings.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "icebreaker/ib_err.h"
#include "icebreaker/ib_ids.h"
#include "icebreaker/ib_jwt.h"
#include "icebreaker/ib_utf8.h"

#define IB_CONTACT_MAX 200

static const char *const role_names[] = {
    [IB_ROLE_ATTENDEE] = "attendee",
    [IB_ROLE_HOST] = "host",
    [IB_ROLE_EXHIBITOR] = "exhibitor",
    [IB_ROLE_ADMIN] = "admin",
};

ib_role_t ib_role_parse(const char *s)
{
    for (size_t i = 0; i < sizeof(role_names) / sizeof(role_names[0]); i++)
        if (role_names[i] && !strcmp(s, role_names[i]))
            return (ib_role_t)i;
    return IB_ROLE_NONE;
}

const char *ib_role_name(ib_role_t r)
{
    if ((size_t)r < sizeof(role_names) / sizeof(role_names[0]) && role_names[r])
        return role_names[r];
    return "none";
}

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t ib_b64url_encode(const unsigned char *in, size_t len, char *out)
{
    size_t o = 0, i = 0;
    for (; i + 2 < len; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64url[v >> 18];
        out[o++] = b64url[(v >> 12) & 63];
        out[o++] = b64url[(v >> 6) & 63];
        out[o++] = b64url[v & 63];
    }
    if (len - i == 1) {
        unsigned v = (unsigned)in[i] << 16;
        out[o++] = b64url[v >> 18];
        out[o++] = b64url[(v >> 12) & 63];
    } else if (len - i == 2) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;
        out[o++] = b64url[v >> 18];
        out[o++] = b64url[(v >> 12) & 63];
        out[o++] = b64url[(v >> 6) & 63];
    }
    out[o] = 0;
    return o;
}

static int b64url_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

long ib_b64url_decode(const char *in, size_t len, unsigned char *out)
{
    if (len % 4 == 1)
        return -1; /* no byte ends there */
    long o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64url_value(in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)((acc >> bits) & 0xff);
        }
    }
    /* The unused low bits of the last character must be zero: one token,
     * one encoding. */
    if (bits && (acc & ((1u << bits) - 1)))
        return -1;
    return o;
}

static void hs256(const unsigned char *secret, size_t secret_len, const char *data, size_t len,
                  unsigned char mac[32])
{
    unsigned int n = 32;
    HMAC(EVP_sha256(), secret, (int)secret_len, (const unsigned char *)data, len, mac, &n);
}

char *ib_jwt_sign(const json_t *claims, const unsigned char *secret, size_t secret_len)
{
    static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    char *payload = json_dumps(claims, JSON_COMPACT);
    if (!payload)
        return NULL;
    size_t plen = strlen(payload);
    char *out = malloc(((sizeof(header) + plen) * 4) / 3 + 64);
    if (!out) {
        free(payload);
        return NULL;
    }
    size_t o = ib_b64url_encode((const unsigned char *)header, sizeof(header) - 1, out);
    out[o++] = '.';
    o += ib_b64url_encode((const unsigned char *)payload, plen, out + o);
    free(payload);
    unsigned char mac[32];
    hs256(secret, secret_len, out, o, mac);
    out[o++] = '.';
    ib_b64url_encode(mac, sizeof(mac), out + o);
    return out;
}

void ib_claims_clear(ib_claims_t *c)
{
    free(c->sub);
    free(c->name);
    free(c->event);
    free(c->booth);
    free(c->headline);
    json_decref(c->interests);
    json_decref(c->offers);
    json_decref(c->seeks);
    json_decref(c->contact);
    memset(c, 0, sizeof(*c));
}

/* A string claim of 1..max code points; NULL when absent or invalid. */
static const char *text_claim(const json_t *o, const char *key, size_t max, bool *bad)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        return NULL;
    const char *s = json_string_value(v);
    size_t n = s ? ib_utf8_count(s, json_string_length(v)) : 0;
    if (!s || n == 0 || n > max || strlen(s) != json_string_length(v)) {
        *bad = true;
        return NULL;
    }
    return s;
}

/* interests/offers/seeks: an array of 1..IB_TAG_MAX-character strings,
 * at most IB_TAGS_MAX of them; absent is empty. */
static json_t *tags_claim(const json_t *o, const char *key, bool *bad)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        return json_array();
    if (!json_is_array(v) || json_array_size(v) > IB_TAGS_MAX) {
        *bad = true;
        return NULL;
    }
    size_t i;
    json_t *t;
    json_array_foreach(v, i, t)
    {
        const char *s = json_string_value(t);
        size_t n = s ? ib_utf8_count(s, json_string_length(t)) : 0;
        if (!s || n == 0 || n > IB_TAG_MAX) {
            *bad = true;
            return NULL;
        }
    }
    return json_incref(v);
}

static int claims_from(json_t *c, int64_t now_s, ib_claims_t *out)
{
    bool bad = false;
    json_t *exp = json_object_get(c, "exp");
    if (!json_is_integer(exp))
        return IB_EBADCLAIM;
    if (json_integer_value(exp) < now_s - IB_JWT_LEEWAY_S) /* exp may be near INT64_MAX */
        return IB_EEXPIRED;
    const char *sub = json_string_value(json_object_get(c, "sub"));
    const char *event = json_string_value(json_object_get(c, "event"));
    const char *role = json_string_value(json_object_get(c, "role"));
    const char *booth = json_string_value(json_object_get(c, "booth"));
    const char *name = text_claim(c, "name", IB_NAME_MAX, &bad);
    const char *headline = text_claim(c, "headline", IB_HEADLINE_MAX, &bad);
    if (bad || !sub || !ib_id_valid(sub) || !event || !ib_id_valid(event) || !name || !role ||
        ib_role_parse(role) == IB_ROLE_NONE ||
        (json_object_get(c, "booth") && (!booth || !ib_id_valid(booth))))
        return IB_EBADCLAIM;
    out->role = ib_role_parse(role);
    out->exp = json_integer_value(exp);
    out->interests = tags_claim(c, "interests", &bad);
    out->offers = tags_claim(c, "offers", &bad);
    out->seeks = tags_claim(c, "seeks", &bad);
    out->contact = json_object();
    static const char *const contact[] = {"email", "company", "title", "url"};
    for (size_t i = 0; i < 4; i++) {
        const char *v = text_claim(c, contact[i], IB_CONTACT_MAX, &bad);
        if (v)
            json_object_set_new(out->contact, contact[i], json_string(v));
    }
    out->sub = strdup(sub);
    out->event = strdup(event);
    out->name = strdup(name);
    out->booth = booth ? strdup(booth) : NULL;
    out->headline = headline ? strdup(headline) : NULL;
    if (bad)
        return IB_EBADCLAIM;
    if (!out->interests || !out->offers || !out->seeks || !out->contact || !out->sub ||
        !out->event || !out->name || (booth && !out->booth) || (headline && !out->headline))
        return IB_ENOMEM;
    return 0;
}

int ib_jwt_verify(const char *token, const unsigned char *secret, size_t secret_len, int64_t now_s,
                  ib_claims_t *out)
{
    memset(out, 0, sizeof(*out));
    size_t len = strnlen(token, IB_JWT_MAX_LEN + 1);
    if (len > IB_JWT_MAX_LEN)
        return IB_EBADTOKEN;
    const char *dot1 = memchr(token, '.', len);
    const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
    if (!dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)))
        return IB_EBADTOKEN;

    unsigned char buf[IB_JWT_MAX_LEN];
    json_error_t jerr;
    long n = ib_b64url_decode(token, (size_t)(dot1 - token), buf);
    json_t *header = n > 0 ? json_loadb((const char *)buf, (size_t)n, 0, &jerr) : NULL;
    const char *alg = json_string_value(json_object_get(header, "alg"));
    bool hs256_alg = alg && !strcmp(alg, "HS256");
    bool is_object = json_is_object(header);
    json_decref(header);
    if (!is_object)
        return IB_EBADTOKEN;
    if (!hs256_alg)
        return IB_EBADALG;

    unsigned char mac[32], sig[IB_JWT_MAX_LEN];
    hs256(secret, secret_len, token, (size_t)(dot2 - token), mac);
    long slen = ib_b64url_decode(dot2 + 1, len - (size_t)(dot2 + 1 - token), sig);
    if (slen != (long)sizeof(mac) || CRYPTO_memcmp(sig, mac, sizeof(mac)) != 0)
        return IB_EBADSIG;

    n = ib_b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), buf);
    json_t *claims = n > 0 ? json_loadb((const char *)buf, (size_t)n, 0, &jerr) : NULL;
    if (!json_is_object(claims)) {
        json_decref(claims);
        return IB_EBADTOKEN;
    }
    int rc = claims_from(claims, now_s, out);
    json_decref(claims);
    if (rc)
        ib_claims_clear(out);
    return rc;
}
