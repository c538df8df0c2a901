/*
 * libFuzzer target: Redis replies as they come off the wire. The input is
 * fed to hiredis's reply reader (the same one the async context uses) and
 * every reply it yields goes through our history parser, as a chat history
 * LRANGE reply would. Neither may crash, leak, or accept an entry whose
 * sequence number is not a positive integer.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <hiredis/hiredis.h>
#include <jansson.h>

json_t *ib__redis_history_parse(const redisReply *r);

/* hiredis 0.14's reader allocates the element array a multi-bulk header
 * announces, before any element arrives: a "*2000000000" input is an
 * allocation, not a bug of ours (Redis is a trusted peer). Inputs that
 * announce more than 100000 elements or bytes are skipped. */
static int announces_huge(const uint8_t *data, size_t size)
{
    for (size_t i = 0; i < size; i++) {
        if (data[i] != '*' && data[i] != '$')
            continue;
        unsigned long long v = 0;
        for (size_t j = i + 1; j < size && data[j] >= '0' && data[j] <= '9'; j++)
            if ((v = v * 10 + (data[j] - '0')) > 100000)
                return 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (announces_huge(data, size))
        return 0;
    redisReader *reader = redisReaderCreate();
    if (!reader)
        return 0;
    redisReaderFeed(reader, (const char *)data, size);
    void *reply;
    while (redisReaderGetReply(reader, &reply) == REDIS_OK && reply) {
        json_t *arr = ib__redis_history_parse(reply);
        size_t i;
        json_t *m;
        json_array_foreach(arr, i, m)
        {
            json_t *seq = json_object_get(m, "seq");
            if (!json_is_integer(seq) || json_integer_value(seq) <= 0)
                abort();
        }
        json_decref(arr);
        freeReplyObject(reply);
    }
    redisReaderFree(reader);
    return 0;
}
