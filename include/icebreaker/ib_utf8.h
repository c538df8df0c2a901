/* UTF-8 validation and code point counting (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF). */
#ifndef IB_UTF8_H
#define IB_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* True when s[0..len) is entirely well-formed UTF-8. */
bool ib_utf8_valid(const char *s, size_t len);

/* Incremental validator for fragmented text: feed pieces in order, then
 * ask ib_utf8_stream_done() whether the whole ended on a code point
 * boundary. state starts at 0. Returns false as soon as the input is
 * invalid (a later call cannot make it valid again). */
typedef struct ib_utf8_stream {
    unsigned state; /* bytes still expected in the current sequence */
    unsigned cp;    /* partial code point */
    unsigned need;  /* total length of the current sequence */
    unsigned lower; /* lowest allowed value of the next continuation byte */
    unsigned upper; /* highest allowed value of the next continuation byte */
} ib_utf8_stream_t;

void ib_utf8_stream_init(ib_utf8_stream_t *st);
bool ib_utf8_stream_feed(ib_utf8_stream_t *st, const char *s, size_t len);
bool ib_utf8_stream_done(const ib_utf8_stream_t *st);

/* Number of code points in valid UTF-8 s[0..len). */
size_t ib_utf8_count(const char *s, size_t len);

#endif
