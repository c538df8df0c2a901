/*
 * Private to server/core: JSON written straight into a message buffer,
 * for the messages a round start sends to every participant (sn.match),
 * without building and dumping a jansson tree per person.
 *
 * The bytes are exactly what json_dumpb(v, JSON_COMPACT) writes for the
 * same values in the same order (tests/unit/test_sn_wire.c holds them to
 * it): strings escaped as jansson does (", \ and control characters;
 * UTF-8 passed through), integers in decimal.
 */
#ifndef IB_SN_WIRE_H
#define IB_SN_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "icebreaker/ib_buf.h"
#include "icebreaker/ib_match.h"

typedef struct ib_wire {
    char *p;         /* the text so far: in `local`, or on the heap once longer */
    size_t len, cap; /* bytes written, room */
    bool failed;     /* out of memory: ib__wire_end returns NULL */
    char local[1024];
} ib_wire_t;

/* Start an empty text (on the caller's stack: ib__wire_end allocates the
 * message buffer once, of the exact size). */
void ib__wire_init(ib_wire_t *w);
void ib__wire_raw(ib_wire_t *w, const char *s, size_t n);
/* lit: a string literal ("" lit refuses anything else at compile time). */
#define IB_WIRE_LIT(w, lit) ib__wire_raw((w), "" lit, sizeof(lit) - 1)
/* A JSON string of prefix then s (prefix may be ""); s NULL: null. */
void ib__wire_str(ib_wire_t *w, const char *prefix, const char *s);
void ib__wire_int(ib_wire_t *w, int64_t v);
/* The finished buffer (one reference), or NULL when memory ran out; w is
 * done with either way. */
ib_buf_t *ib__wire_end(ib_wire_t *w);

/* One partner as an sn.match shows them: card and what makes the match. */
typedef struct ib_sn_wire_partner {
    const char *id, *name, *headline; /* headline NULL: null */
    const ib_match_reason_t *shared;
    size_t n_shared;
} ib_sn_wire_partner_t;

/* The wire text of a reason: "tag", "you offer: tag", "they offer: tag". */
const char *ib__sn_reason_prefix(ib_match_reason_kind_t kind);

/* sn.match, as CONTRACT.md has it: {type, session, round, room, ends_at,
 * partners: [{id, name, headline, shared}]}, plus reason "bye" when room
 * is NULL (no partner this round). */
ib_buf_t *ib__sn_wire_match(const char *session, uint32_t round, const char *room, int64_t ends_at,
                            const ib_sn_wire_partner_t *partners, size_t n);

#endif
