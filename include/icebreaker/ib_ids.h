/* Identifier rules of CONTRACT.md: ids are 1 to 64 characters of
 * A-Z a-z 0-9 . _ - ; room ids are "<kind>:<id>". */
#ifndef IB_IDS_H
#define IB_IDS_H

#include <stdbool.h>
#include <stddef.h>

#define IB_ID_MAX 64

/* Kinds of room, by prefix. */
typedef enum ib_room_kind {
    IB_ROOM_INVALID = 0,
    IB_ROOM_LOUNGE, /* lounge:<id> */
    IB_ROOM_BOOTH,  /* booth:<id>, a booth's public lounge */
    IB_ROOM_PAIR,   /* pair:<id>, made by the scheduler */
    IB_ROOM_MEET,   /* meet:<id>, a booth conversation */
} ib_room_kind_t;

/* True when s is a valid id (NUL-terminated). */
bool ib_id_valid(const char *s);

/* Kind of a room id, IB_ROOM_INVALID when the prefix is unknown or the
 * name part is not a valid id. */
ib_room_kind_t ib_room_kind(const char *room);

#endif
