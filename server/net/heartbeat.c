/*
 * The WebSocket heartbeat (CONTRACT.md): a ping to every connection every
 * heartbeat_ms, and a connection that has answered none for two intervals
 * is dropped.
 *
 * lws can do this itself (retry_and_idle_policy), but lws 4.1.6 keeps each
 * connection's deadline in one sorted list per thread and re-inserts it
 * with a linear walk on every pong and every upgrade: O(connections) each
 * time, about 8% of the server's CPU at 5000 idle connections. Here every
 * connection has the same interval, so a FIFO is already sorted: a
 * connection joins the tail when it is upgraded and again each time it is
 * pinged, the 100 ms tick takes the due ones from the head, and a pong is
 * one store. Everything is O(1) per connection and interval.
 *
 * Times are uv_now() (monotonic, ms). The vhost gets an lws policy of
 * zeros, which turns lws's own validity timer off.
 *
 * Two lws 4.1.6 details: an empty pong never reaches the protocol callback
 * (lws_ws_rx_sm skips it), so our pings carry one byte for the pong to
 * echo; and a timeout set from outside lws's service (our tick is a uv
 * timer of our own) waits for lws's next wake-up, so a drop asks the tick
 * to wake it (node->wake_lws, in node.c).
 */
#include "net_internal.h"

static void unlink_conn(ib_node_t *node, ib_conn_t *c)
{
    if (c->hb_prev)
        c->hb_prev->hb_next = c->hb_next;
    else
        node->hb_head = c->hb_next;
    if (c->hb_next)
        c->hb_next->hb_prev = c->hb_prev;
    else
        node->hb_tail = c->hb_prev;
    c->hb_prev = c->hb_next = NULL;
    c->hb_linked = false;
}

static void append(ib_node_t *node, ib_conn_t *c, uint64_t due)
{
    c->hb_due = due;
    c->hb_prev = node->hb_tail;
    c->hb_next = NULL;
    if (node->hb_tail)
        node->hb_tail->hb_next = c;
    else
        node->hb_head = c;
    node->hb_tail = c;
    c->hb_linked = true;
}

void ib__hb_add(ib_node_t *node, struct lws *wsi, ib_conn_t *c)
{
    uint64_t now = uv_now(node->loop);
    c->hb_wsi = wsi;
    c->hb_pong = now;
    append(node, c, now + (uint64_t)node->cfg->heartbeat_ms);
}

void ib__hb_pong(ib_node_t *node, ib_conn_t *c)
{
    c->hb_pong = uv_now(node->loop);
}

void ib__hb_remove(ib_node_t *node, ib_conn_t *c)
{
    if (c && c->hb_linked)
        unlink_conn(node, c);
}

/* The ping's payload: one byte, echoed by the pong. */
static unsigned char ping_buf[LWS_PRE + 1];

static int write_ping(struct lws *wsi)
{
    ping_buf[LWS_PRE] = 'h';
    return lws_write(wsi, ping_buf + LWS_PRE, 1, LWS_WRITE_PING);
}

/* A ping, straight to the socket when nothing is waiting to go out
 * (as tr_write_now does for messages), else from the next WRITEABLE. */
static void send_ping(ib_conn_t *c)
{
    if (c->close_sent)
        return;
    if (lws_partial_buffered(c->hb_wsi)) {
        c->hb_ping_pending = true;
        lws_callback_on_writable(c->hb_wsi);
        return;
    }
    (void)write_ping(c->hb_wsi);
}

int ib__hb_write_pending(struct lws *wsi, ib_conn_t *c)
{
    c->hb_ping_pending = false;
    if (write_ping(wsi) < 0)
        return -1;
    lws_callback_on_writable(wsi); /* whatever else was queued */
    return 0;
}

void ib__hb_tick(ib_node_t *node)
{
    uint64_t now = uv_now(node->loop);
    uint64_t hb = (uint64_t)node->cfg->heartbeat_ms;
    /* Only the connections due now: the ones re-appended below are due an
     * interval later, so the walk ends. */
    while (node->hb_head && node->hb_head->hb_due <= now) {
        ib_conn_t *c = node->hb_head;
        unlink_conn(node, c);
        if (now - c->hb_pong >= 2 * hb) {
            /* Silent for two intervals: gone, without a close frame (the
             * peer is not reading). CLOSED tells the session. */
            lws_set_timeout(c->hb_wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
            node->wake_lws = true;
            continue;
        }
        send_ping(c);
        append(node, c, now + hb);
    }
}
