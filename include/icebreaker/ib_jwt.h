/*
 * JSON Web Tokens, HS256 only (RFC 7519 / 7515), with OpenSSL's HMAC.
 *
 * Verification checks, in order: three base64url parts, a header whose
 * "alg" is exactly "HS256" ("none" and everything else refused), the
 * signature (constant-time compare), then the claims of CONTRACT.md
 * "Identity and authentication": sub, name, role, event, exp (with leeway).
 */
#ifndef IB_JWT_H
#define IB_JWT_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#define IB_JWT_LEEWAY_S 30
#define IB_JWT_MAX_LEN 8192  /* longer tokens are refused unparsed */
#define IB_NAME_MAX 100      /* code points in a display name */
#define IB_HEADLINE_MAX 200  /* code points in a headline */
#define IB_TAGS_MAX 32       /* entries in interests/offers/seeks */
#define IB_TAG_MAX 64        /* code points in one tag */

typedef enum ib_role {
    IB_ROLE_NONE = 0,
    IB_ROLE_ATTENDEE = 1,
    IB_ROLE_HOST = 2,
    IB_ROLE_EXHIBITOR = 4,
    IB_ROLE_ADMIN = 8,
} ib_role_t;

/* Role bit masks used by the message table. */
#define IB_ROLES_ANY (IB_ROLE_ATTENDEE | IB_ROLE_HOST | IB_ROLE_EXHIBITOR | IB_ROLE_ADMIN)
#define IB_ROLES_HOST (IB_ROLE_HOST | IB_ROLE_ADMIN)

/* "attendee" -> IB_ROLE_ATTENDEE ...; IB_ROLE_NONE when unknown. */
ib_role_t ib_role_parse(const char *s);
const char *ib_role_name(ib_role_t r);

/* Verified claims. Strings are owned by the struct (free with
 * ib_claims_clear). Optional strings are NULL when absent. */
typedef struct ib_claims {
    char *sub;
    char *name;
    char *event;
    ib_role_t role;
    int64_t exp; /* seconds since the epoch */
    char *booth;
    char *headline;
    json_t *interests; /* array of strings, never NULL after verify (maybe empty) */
    json_t *offers;
    json_t *seeks;
    json_t *contact; /* object with email, company, title, url when present */
} ib_claims_t;

/* Verify token (NUL-terminated) against secret at time now_s (seconds).
 * On success returns 0 and fills *out; on error returns IB_EBADTOKEN,
 * IB_EBADALG, IB_EBADSIG, IB_EEXPIRED or IB_EBADCLAIM and *out is zeroed. */
int ib_jwt_verify(const char *token, const unsigned char *secret, size_t secret_len, int64_t now_s,
                  ib_claims_t *out);

/* Sign claims (any JSON object) with HS256. Returns a malloc'ed string or
 * NULL on allocation failure. */
char *ib_jwt_sign(const json_t *claims, const unsigned char *secret, size_t secret_len);

void ib_claims_clear(ib_claims_t *c);

/* Base64url without padding. ib_b64url_decode returns the decoded length or
 * -1 on invalid input; out must hold at least (len * 3) / 4 + 1 bytes. */
size_t ib_b64url_encode(const unsigned char *in, size_t len, char *out);
long ib_b64url_decode(const char *in, size_t len, unsigned char *out);

#endif
