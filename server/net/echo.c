/*
 * The test-only echo protocol (sub-protocol "icebreaker.echo"), compiled in
 * only with cmake -DIB_TEST_ECHO=ON so that no production binary has it.
 *
 * Even then it is off unless the environment says ICEBREAKER_TEST_ECHO=1:
 * a binary built with it by mistake still refuses the sub-protocol (400).
 *
 * It exists for the WebSocket conformance tests
 * (tests/integration/conformance.test.mjs): a connection that chose it has
 * no session and no hello; every complete message it sends, after the same
 * reassembly, size cap (1009) and UTF-8 checks (1007) as /ws in ws.c, comes
 * back as is, text as text and binary as binary. Echoes wait in a small
 * per-connection queue and go out one per WRITEABLE callback; a queue over
 * the send-queue bounds closes with 4003 as a session's would.
 */
#include <stdlib.h>
#include <string.h>

#include "net_internal.h"

#ifdef IB_TEST_ECHO

struct ib_echo_msg {
    ib_echo_msg_t *next;
    size_t len;
    bool binary;
    unsigned char data[]; /* LWS_PRE headroom, then len payload bytes */
};

bool ib__echo_enabled(void)
{
    static int enabled = -1;
    if (enabled < 0) {
        const char *v = getenv("ICEBREAKER_TEST_ECHO");
        enabled = v && !strcmp(v, "1");
    }
    return enabled;
}

bool ib__echo_selected(struct lws *wsi)
{
    const struct lws_protocols *p = lws_get_protocol(wsi);
    return p && p->name && !strcmp(p->name, IB_ECHO_PROTOCOL);
}

void ib__echo_free(ib_conn_t *c)
{
    while (c->echo_head) {
        ib_echo_msg_t *m = c->echo_head;
        c->echo_head = m->next;
        free(m);
    }
    c->echo_tail = NULL;
    c->echo_count = 0;
    c->echo_bytes = 0;
}

void ib__echo_close(struct lws *wsi, ib_conn_t *c, int code, const char *reason, bool clear)
{
    if (c->close_code)
        return;
    if (clear)
        ib__echo_free(c);
    c->close_code = code;
    c->close_reason = reason;
    lws_callback_on_writable(wsi);
}

void ib__echo_message(ib_node_t *node, struct lws *wsi, ib_conn_t *c, const char *data, size_t len,
                      bool binary)
{
    size_t bound = (size_t)node->cfg->sendq_bytes;
    if (bound < (size_t)node->cfg->max_message)
        bound = (size_t)node->cfg->max_message; /* one whole message always fits */
    if (c->echo_count >= (size_t)node->cfg->sendq_msgs || c->echo_bytes + len > bound) {
        ib__echo_close(wsi, c, IB_CLOSE_SLOW, "slow consumer", true);
        return;
    }
    ib_echo_msg_t *m = malloc(sizeof(*m) + LWS_PRE + len);
    if (!m) {
        ib__echo_close(wsi, c, 1011, "out of memory", true);
        return;
    }
    m->next = NULL;
    m->len = len;
    m->binary = binary;
    if (len)
        memcpy(m->data + LWS_PRE, data, len);
    if (c->echo_tail)
        c->echo_tail->next = m;
    else
        c->echo_head = m;
    c->echo_tail = m;
    c->echo_count++;
    c->echo_bytes += len;
    lws_callback_on_writable(wsi);
}

int ib__echo_write(struct lws *wsi, ib_conn_t *c)
{
    ib_echo_msg_t *m = c->echo_head;
    int n =
        lws_write(wsi, m->data + LWS_PRE, m->len, m->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
    c->echo_head = m->next;
    if (!c->echo_head)
        c->echo_tail = NULL;
    c->echo_count--;
    c->echo_bytes -= m->len;
    free(m);
    if (n < 0)
        return -1;
    if (c->echo_head || c->close_code)
        lws_callback_on_writable(wsi);
    return 0;
}

#endif
