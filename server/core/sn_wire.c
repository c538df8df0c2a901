/* JSON straight into message buffers (sn_wire.h). */
#include <stdlib.h>
#include <string.h>

#include "sn_wire.h"

void ib__wire_init(ib_wire_t *w)
{
    w->p = w->local;
    w->len = 0;
    w->cap = sizeof(w->local);
    w->failed = false;
}

/* Room for n more bytes. */
static bool reserve(ib_wire_t *w, size_t n)
{
    if (w->failed)
        return false;
    if (w->len + n <= w->cap)
        return true;
    size_t cap = w->cap * 2;
    while (cap < w->len + n)
        cap *= 2;
    char *p = cap <= UINT32_MAX ? malloc(cap) : NULL;
    if (!p) {
        w->failed = true;
        return false;
    }
    memcpy(p, w->p, w->len);
    if (w->p != w->local)
        free(w->p);
    w->p = p;
    w->cap = cap;
    return true;
}

void ib__wire_raw(ib_wire_t *w, const char *s, size_t n)
{
    if (!reserve(w, n))
        return;
    memcpy(w->p + w->len, s, n);
    w->len += n;
}

/* s escaped as jansson does without flags: \" \\ \b \f \n \r \t, other
 * control characters as \u00XX (upper-case hex); the rest as it is. */
static void escaped(ib_wire_t *w, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        const unsigned char *run = p;
        while (*p >= 0x20 && *p != '"' && *p != '\\')
            p++;
        if (p > run)
            ib__wire_raw(w, (const char *)run, (size_t)(p - run));
        if (!*p)
            break;
        char e[6] = {'\\', 0, 0, 0, 0, 0};
        size_t n = 2;
        switch (*p) {
        case '"':
            e[1] = '"';
            break;
        case '\\':
            e[1] = '\\';
            break;
        case '\b':
            e[1] = 'b';
            break;
        case '\f':
            e[1] = 'f';
            break;
        case '\n':
            e[1] = 'n';
            break;
        case '\r':
            e[1] = 'r';
            break;
        case '\t':
            e[1] = 't';
            break;
        default:
            e[1] = 'u';
            e[2] = e[3] = '0';
            e[4] = hex[*p >> 4];
            e[5] = hex[*p & 15];
            n = 6;
        }
        ib__wire_raw(w, e, n);
        p++;
    }
}

void ib__wire_str(ib_wire_t *w, const char *prefix, const char *s)
{
    if (!s) {
        IB_WIRE_LIT(w, "null");
        return;
    }
    IB_WIRE_LIT(w, "\"");
    escaped(w, prefix);
    escaped(w, s);
    IB_WIRE_LIT(w, "\"");
}

void ib__wire_int(ib_wire_t *w, int64_t v)
{
    char d[24];
    size_t n = 0;
    /* Digits from the end, on the magnitude as unsigned (INT64_MIN too). */
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        d[sizeof(d) - 1 - n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        d[sizeof(d) - 1 - n++] = '-';
    ib__wire_raw(w, d + sizeof(d) - n, n);
}

ib_buf_t *ib__wire_end(ib_wire_t *w)
{
    ib_buf_t *b = w->failed ? NULL : ib_buf_new(w->p, w->len);
    if (w->p != w->local)
        free(w->p);
    w->p = NULL;
    return b;
}

const char *ib__sn_reason_prefix(ib_match_reason_kind_t kind)
{
    switch (kind) {
    case IB_MATCH_REASON_INTEREST:
        return "";
    case IB_MATCH_REASON_YOU_OFFER:
        return "you offer: ";
    default:
        return "they offer: ";
    }
}

ib_buf_t *ib__sn_wire_match(const char *session, uint32_t round, const char *room, int64_t ends_at,
                            const ib_sn_wire_partner_t *partners, size_t n)
{
    ib_wire_t w;
    ib__wire_init(&w);
    IB_WIRE_LIT(&w, "{\"type\":\"sn.match\",\"session\":");
    ib__wire_str(&w, "", session);
    IB_WIRE_LIT(&w, ",\"round\":");
    ib__wire_int(&w, round);
    IB_WIRE_LIT(&w, ",\"room\":");
    ib__wire_str(&w, "", room);
    IB_WIRE_LIT(&w, ",\"ends_at\":");
    ib__wire_int(&w, ends_at);
    IB_WIRE_LIT(&w, ",\"partners\":[");
    for (size_t i = 0; i < n; i++) {
        const ib_sn_wire_partner_t *p = &partners[i];
        if (i)
            IB_WIRE_LIT(&w, ",");
        IB_WIRE_LIT(&w, "{\"id\":");
        ib__wire_str(&w, "", p->id);
        IB_WIRE_LIT(&w, ",\"name\":");
        ib__wire_str(&w, "", p->name);
        IB_WIRE_LIT(&w, ",\"headline\":");
        ib__wire_str(&w, "", p->headline);
        IB_WIRE_LIT(&w, ",\"shared\":[");
        for (size_t k = 0; k < p->n_shared; k++) {
            if (k)
                IB_WIRE_LIT(&w, ",");
            ib__wire_str(&w, ib__sn_reason_prefix(p->shared[k].kind), p->shared[k].tag);
        }
        IB_WIRE_LIT(&w, "]}");
    }
    if (room)
        IB_WIRE_LIT(&w, "]}");
    else
        IB_WIRE_LIT(&w, "],\"reason\":\"bye\"}");
    return ib__wire_end(&w);
}
