/*
 * libFuzzer target: the decoder and the dispatcher with every handler
 * behind it. The input is a sequence of client messages separated by
 * newlines; the first two sessions are authenticated (a host and an
 * attendee of one event) so that every verb is reachable, a third one is
 * not, and the input is spread over the three. Time moves forward by the
 * first byte of each message so that timers (grace, crowd counts, expiry)
 * fire too. The server must neither crash nor leak.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/core_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    harness_t h;
    fake_conn_t c[3];
    harness_init(&h);
    h.cfg.crowd = 2;
    h.cfg.history = 3;
    h.cfg.sendq_msgs = 64;
    h.cfg.grace_ms = 50;
    ib_store_free(h.store);
    h.store = ib_store_memory_new((size_t)h.cfg.history);
    harness_start(&h);
    int64_t now = T0;
    connect_user(&h, &c[0], "host1", "host", "ev", now);
    connect_user(&h, &c[1], "att1", "attendee", "ev", now);
    memset(&c[2], 0, sizeof(c[2]));
    c[2].s = ib_server_accept(h.srv, &c[2], now);

    size_t start = 0, n = 0;
    for (size_t i = 0; i <= size; i++) {
        if (i < size && data[i] != '\n')
            continue;
        const char *msg = (const char *)data + start;
        size_t len = i - start;
        start = i + 1;
        fake_conn_t *fc = &c[n++ % 3];
        if (len)
            now += msg[0] & 0x3f;
        if (fc->s && fc->s->state != IB_SESSION_DEAD)
            ib_session_receive(fc->s, msg, len, len && msg[0] == 0x01, now);
        for (int k = 0; k < 3; k++)
            drain_out(&c[k]);
        if (len && msg[0] == 0x02 && fc->s && fc->s->state == IB_SESSION_LIVE) {
            ib_session_t *s = fc->s;
            ib_session_disconnected(s, now);
            fc->s = NULL;
        }
        ib_server_tick(h.srv, now);
    }
    ib_server_tick(h.srv, now + 100000);
    harness_free(&h);
    return 0;
}
