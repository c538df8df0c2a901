/*
 * Error codes shared by every module.
 *
 * Functions return 0 on success or a negative IB_E* code from the one list
 * below. Each code also names the wire error code (CONTRACT.md "Envelope")
 * that a client sees when the failure is its doing, so a handler can return
 * the code and the dispatcher turns it into the `error` reply.
 */
#ifndef IB_ERR_H
#define IB_ERR_H

/* X(NAME, wire code, human message) */
#define IB_ERRNO_MAP(X)                                                                            \
    X(BADREQ, "bad_request", "bad request")                                                        \
    X(UNAUTH, "unauthorized", "unauthorized")                                                      \
    X(FORBIDDEN, "forbidden", "forbidden")                                                         \
    X(NOTFOUND, "not_found", "not found")                                                          \
    X(CONFLICT, "conflict", "conflict")                                                            \
    X(RATE, "rate_limited", "rate limited")                                                        \
    X(TOOBIG, "too_large", "too large")                                                            \
    X(UNAVAIL, "unavailable", "unavailable")                                                       \
    X(INTERNAL, "internal", "internal error")                                                      \
    X(NOMEM, "internal", "out of memory")                                                          \
    X(EXPIRED, "unauthorized", "token expired")                                                    \
    X(BADSIG, "unauthorized", "bad token signature")                                               \
    X(BADALG, "unauthorized", "token algorithm must be HS256")                                     \
    X(BADTOKEN, "unauthorized", "malformed token")                                                 \
    X(BADCLAIM, "unauthorized", "missing or invalid token claim")                                  \
    X(FULL, "internal", "queue full")

enum {
    IB_OK = 0,
#define IB__ERR_ENUM(name, wire, msg) IB_E##name,
    IB__ERR_FIRST = -1000,
    IB_ERRNO_MAP(IB__ERR_ENUM)
#undef IB__ERR_ENUM
        IB__ERR_LAST
};

/* Human-readable message for an IB_E* code ("unknown error" otherwise). */
const char *ib_strerror(int err);

/* Wire error code ("bad_request", ...) for an IB_E* code; "internal" for
 * anything unknown. */
const char *ib_err_wire(int err);

#endif
