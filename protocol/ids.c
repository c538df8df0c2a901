/* Ids and room ids (CONTRACT.md: 1 to 64 of A-Z a-z 0-9 . _ -). */
#include <string.h>

#include "icebreaker/ib_ids.h"

bool ib_id_valid(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok || n == IB_ID_MAX)
            return false;
    }
    return n > 0;
}

ib_room_kind_t ib_room_kind(const char *room)
{
    static const struct {
        const char *prefix;
        ib_room_kind_t kind;
    } kinds[] = {
        {"lounge:", IB_ROOM_LOUNGE},
        {"booth:", IB_ROOM_BOOTH},
        {"pair:", IB_ROOM_PAIR},
        {"meet:", IB_ROOM_MEET},
    };
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        size_t n = strlen(kinds[i].prefix);
        if (!strncmp(room, kinds[i].prefix, n))
            return ib_id_valid(room + n) ? kinds[i].kind : IB_ROOM_INVALID;
    }
    return IB_ROOM_INVALID;
}
