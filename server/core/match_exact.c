/*
 * Exact maximum-weight matching in a general graph: Edmonds' blossom method
 * with the primal-dual (Hungarian) method for weights, in the O(n^3) form
 * Galil describes ("Efficient algorithms for finding maximum matching in
 * graphs", ACM Computing Surveys, 1986).
 *
 * It is the yardstick of the speed-networking matcher: the tests and the
 * benchmark measure the `interests` heuristic against it, and the matcher
 * itself uses it for small sessions, where O(n^3) costs less than a
 * millisecond. Weights are integers and every dual variable is kept doubled,
 * so the arithmetic stays exact.
 *
 * Vocabulary (Galil's): vertices are 0..n-1 and non-trivial blossoms
 * n..2n-1. An edge k has endpoints 2k and 2k+1; mate[v] is the endpoint at
 * the far side of v's matched edge. A stage grows alternating trees from
 * the free vertices, labelling S (outer, even) and T (inner, odd); an edge
 * between two S blossoms closes either a blossom (shrunk into one S vertex)
 * or an augmenting path (the stage ends). When no tight edge is left the
 * duals move by the largest step that keeps them feasible.
 */
#include <stdlib.h>
#include <string.h>

#include "icebreaker/ib_err.h"
#include "match_internal.h"

typedef struct mw {
    int n;
    size_t m;
    const ib__wedge_t *e;
    int *endpoint; /* 2m: vertex of endpoint p */
    int *nb_start; /* n+1: CSR of the far endpoints of each vertex's edges */
    int *nb;
    int *mate;      /* n: far endpoint of the matched edge, or -1 */
    int *label;     /* 2n: 0 free, 1 S, 2 T (5: breadcrumb while scanning) */
    int *labelend;  /* 2n: far endpoint of the edge that gave the label */
    int *inblossom; /* n: top-level blossom of each vertex */
    int *parent;    /* 2n: enclosing blossom or -1 */
    int **childs;   /* 2n: sub-blossoms from the base round the cycle */
    int **endps;    /* 2n: endps[b][i] joins childs[b][i] to childs[b][i+1] */
    int *nchilds;
    int *base;     /* 2n: base vertex of a blossom, -1 when unused */
    int *bestedge; /* 2n: least-slack edge (see the stage loop) */
    int **bbest;   /* 2n: a blossom's least-slack edges to other S blossoms */
    int *nbbest;
    int *unused; /* stack of free blossom numbers */
    int nunused;
    int64_t *dual;        /* 2n: doubled vertex duals, blossom z */
    unsigned char *allow; /* m: edge known to be tight */
    int *queue;
    size_t nq, capq;
    int *bestedgeto;  /* 2n scratch, all -1 between uses */
    int *touched;     /* scratch: entries of bestedgeto set */
    int *leafbuf;     /* n scratch for collect_leaves */
    int *stack;       /* 2n scratch for collect_leaves */
    int *tmpc, *tmpe; /* 2n+1 scratch for add_blossom */
    bool oom;
} mw_t;

static int64_t slack(const mw_t *w, int k)
{
    return w->dual[w->e[k].u] + w->dual[w->e[k].v] - 2 * w->e[k].w;
}

/* Index into a blossom's cycle, wrapping negative and large values. */
static int wrap(int j, int len)
{
    return ((j % len) + len) % len;
}

/* The vertices of blossom b, in leafbuf; returns how many. */
static int collect_leaves(mw_t *w, int b)
{
    int nl = 0, sp = 0;
    w->stack[sp++] = b;
    while (sp > 0) {
        int x = w->stack[--sp];
        if (x < w->n) {
            w->leafbuf[nl++] = x;
            continue;
        }
        for (int i = w->nchilds[x] - 1; i >= 0; i--)
            w->stack[sp++] = w->childs[x][i];
    }
    return nl;
}

static void push_queue(mw_t *w, int v)
{
    if (w->nq == w->capq) {
        size_t cap = w->capq ? w->capq * 2 : 64;
        int *q = realloc(w->queue, cap * sizeof(*q));
        if (!q) {
            w->oom = true;
            return;
        }
        w->queue = q;
        w->capq = cap;
    }
    w->queue[w->nq++] = v;
}

/* Label the top-level blossom of vertex v with t, reached through the edge
 * whose far endpoint is p; a T blossom's mate becomes S in turn. */
static void assign_label(mw_t *w, int v, int t, int p)
{
    for (;;) {
        int b = w->inblossom[v];
        w->label[v] = w->label[b] = t;
        w->labelend[v] = w->labelend[b] = p;
        w->bestedge[v] = w->bestedge[b] = -1;
        if (t == 1) {
            int nl = collect_leaves(w, b);
            for (int i = 0; i < nl; i++)
                push_queue(w, w->leafbuf[i]);
            return;
        }
        int bs = w->base[b];
        p = w->mate[bs] ^ 1;
        v = w->endpoint[w->mate[bs]];
        t = 1;
    }
}

/* Trace back from S vertices v and w: the base of the blossom their edge
 * closes, or -1 when the edge completes an augmenting path. */
static int scan_blossom(mw_t *w, int v, int x)
{
    int npath = 0, found = -1;
    while (v != -1 || x != -1) {
        int b = w->inblossom[v];
        if (w->label[b] & 4) {
            found = w->base[b];
            break;
        }
        w->tmpc[npath++] = b;
        w->label[b] = 5;
        if (w->labelend[b] == -1) {
            v = -1;
        } else {
            v = w->endpoint[w->labelend[b]];
            b = w->inblossom[v];
            v = w->endpoint[w->labelend[b]];
        }
        if (x != -1) {
            int t = v;
            v = x;
            x = t;
        }
    }
    for (int i = 0; i < npath; i++)
        w->label[w->tmpc[i]] = 1;
    return found;
}

static void consider_best(mw_t *w, int b, int k, int *ntouched)
{
    int i = w->e[k].u, j = w->e[k].v;
    if (w->inblossom[j] == b) {
        int t = i;
        i = j;
        j = t;
    }
    (void)i;
    int bj = w->inblossom[j];
    if (bj != b && w->label[bj] == 1 &&
        (w->bestedgeto[bj] == -1 || slack(w, k) < slack(w, w->bestedgeto[bj]))) {
        if (w->bestedgeto[bj] == -1)
            w->touched[(*ntouched)++] = bj;
        w->bestedgeto[bj] = k;
    }
}

/* Shrink the cycle closed by edge k (between two S blossoms) into a new S
 * blossom with the given base. */
static void add_blossom(mw_t *w, int bsv, int k)
{
    int v = (int)w->e[k].u, x = (int)w->e[k].v;
    int bb = w->inblossom[bsv], bv = w->inblossom[v], bx = w->inblossom[x];
    int b = w->unused[--w->nunused];
    w->base[b] = bsv;
    w->parent[b] = -1;
    w->parent[bb] = b;

    int c1 = 0;
    while (bv != bb) {
        w->parent[bv] = b;
        w->tmpc[c1] = bv;
        w->tmpe[c1++] = w->labelend[bv];
        v = w->endpoint[w->labelend[bv]];
        bv = w->inblossom[v];
    }
    int c2 = 0;
    int *wc = w->tmpc + c1, *we = w->tmpe + c1;
    while (bx != bb) {
        w->parent[bx] = b;
        wc[c2] = bx;
        we[c2++] = w->labelend[bx] ^ 1;
        x = w->endpoint[w->labelend[bx]];
        bx = w->inblossom[x];
    }
    int len = 1 + c1 + c2;
    int *ch = malloc((size_t)len * sizeof(int));
    int *ep = malloc((size_t)len * sizeof(int));
    if (!ch || !ep) {
        free(ch);
        free(ep);
        w->oom = true;
        return;
    }
    ch[0] = bb;
    for (int i = 0; i < c1; i++) {
        ch[1 + i] = w->tmpc[c1 - 1 - i];
        ep[i] = w->tmpe[c1 - 1 - i];
    }
    ep[c1] = 2 * k;
    for (int i = 0; i < c2; i++) {
        ch[1 + c1 + i] = wc[i];
        ep[c1 + 1 + i] = we[i];
    }
    w->childs[b] = ch;
    w->endps[b] = ep;
    w->nchilds[b] = len;

    w->label[b] = 1;
    w->labelend[b] = w->labelend[bb];
    w->dual[b] = 0;
    int nl = collect_leaves(w, b);
    for (int i = 0; i < nl; i++) {
        int y = w->leafbuf[i];
        if (w->label[w->inblossom[y]] == 2)
            push_queue(w, y);
        w->inblossom[y] = b;
    }

    int ntouched = 0;
    for (int i = 0; i < len; i++) {
        int sb = ch[i];
        if (!w->bbest[sb]) {
            int nsl = collect_leaves(w, sb);
            for (int li = 0; li < nsl; li++) {
                int y = w->leafbuf[li];
                for (int q = w->nb_start[y]; q < w->nb_start[y + 1]; q++)
                    consider_best(w, b, w->nb[q] / 2, &ntouched);
            }
        } else {
            for (int q = 0; q < w->nbbest[sb]; q++)
                consider_best(w, b, w->bbest[sb][q], &ntouched);
        }
        free(w->bbest[sb]);
        w->bbest[sb] = NULL;
        w->nbbest[sb] = 0;
        w->bestedge[sb] = -1;
    }
    int *list = malloc((size_t)(ntouched ? ntouched : 1) * sizeof(int));
    if (!list) {
        w->oom = true;
        for (int i = 0; i < ntouched; i++)
            w->bestedgeto[w->touched[i]] = -1;
        return;
    }
    w->bestedge[b] = -1;
    for (int i = 0; i < ntouched; i++) {
        int kk = w->bestedgeto[w->touched[i]];
        w->bestedgeto[w->touched[i]] = -1;
        list[i] = kk;
        if (w->bestedge[b] == -1 || slack(w, kk) < slack(w, w->bestedge[b]))
            w->bestedge[b] = kk;
    }
    w->bbest[b] = list;
    w->nbbest[b] = ntouched;
}

static void release_blossom(mw_t *w, int b)
{
    w->label[b] = w->labelend[b] = -1;
    free(w->childs[b]);
    free(w->endps[b]);
    w->childs[b] = w->endps[b] = NULL;
    w->nchilds[b] = 0;
    w->base[b] = -1;
    free(w->bbest[b]);
    w->bbest[b] = NULL;
    w->nbbest[b] = 0;
    w->bestedge[b] = -1;
    w->unused[w->nunused++] = b;
}

/* Undo a top-level blossom. During a stage (end_stage false) an expanded T
 * blossom's sub-blossoms are relabelled so the alternating tree stays
 * whole; at the end of a stage, S blossoms with z = 0 expand recursively. */
static void expand_blossom(mw_t *w, int b, bool end_stage)
{
    int len = w->nchilds[b];
    for (int i = 0; i < len; i++) {
        int s = w->childs[b][i];
        w->parent[s] = -1;
        if (s < w->n) {
            w->inblossom[s] = s;
        } else if (end_stage && w->dual[s] == 0) {
            expand_blossom(w, s, end_stage);
        } else {
            int nl = collect_leaves(w, s);
            for (int li = 0; li < nl; li++)
                w->inblossom[w->leafbuf[li]] = s;
        }
    }
    if (!end_stage && w->label[b] == 2) {
        int entry = w->inblossom[w->endpoint[w->labelend[b] ^ 1]];
        int j = 0;
        while (w->childs[b][j] != entry)
            j++;
        int jstep, trick;
        if (j & 1) {
            j -= len;
            jstep = 1;
            trick = 0;
        } else {
            jstep = -1;
            trick = 1;
        }
        int p = w->labelend[b];
        while (j != 0) {
            w->label[w->endpoint[p ^ 1]] = 0;
            w->label[w->endpoint[w->endps[b][wrap(j - trick, len)] ^ trick ^ 1]] = 0;
            assign_label(w, w->endpoint[p ^ 1], 2, p);
            w->allow[w->endps[b][wrap(j - trick, len)] / 2] = 1;
            j += jstep;
            p = w->endps[b][wrap(j - trick, len)] ^ trick;
            w->allow[p / 2] = 1;
            j += jstep;
        }
        int bv = w->childs[b][wrap(j, len)];
        w->label[w->endpoint[p ^ 1]] = w->label[bv] = 2;
        w->labelend[w->endpoint[p ^ 1]] = w->labelend[bv] = p;
        w->bestedge[bv] = -1;
        j += jstep;
        while (w->childs[b][wrap(j, len)] != entry) {
            bv = w->childs[b][wrap(j, len)];
            if (w->label[bv] == 1) {
                j += jstep;
                continue;
            }
            int nl = collect_leaves(w, bv), found = -1;
            for (int li = 0; li < nl; li++) {
                if (w->label[w->leafbuf[li]] != 0) {
                    found = w->leafbuf[li];
                    break;
                }
            }
            if (found >= 0) {
                w->label[found] = 0;
                w->label[w->endpoint[w->mate[w->base[bv]]]] = 0;
                assign_label(w, found, 2, w->labelend[found]);
            }
            j += jstep;
        }
    }
    release_blossom(w, b);
}

/* Swap matched and unmatched edges on the alternating path inside blossom
 * b from vertex v to b's base; v becomes the new base. */
static void augment_blossom(mw_t *w, int b, int v)
{
    int t = v;
    while (w->parent[t] != b)
        t = w->parent[t];
    if (t >= w->n)
        augment_blossom(w, t, v);
    int len = w->nchilds[b];
    int i = 0;
    while (w->childs[b][i] != t)
        i++;
    int j = i, jstep, trick;
    if (i & 1) {
        j -= len;
        jstep = 1;
        trick = 0;
    } else {
        jstep = -1;
        trick = 1;
    }
    while (j != 0) {
        j += jstep;
        t = w->childs[b][wrap(j, len)];
        int p = w->endps[b][wrap(j - trick, len)] ^ trick;
        if (t >= w->n)
            augment_blossom(w, t, w->endpoint[p]);
        j += jstep;
        t = w->childs[b][wrap(j, len)];
        if (t >= w->n)
            augment_blossom(w, t, w->endpoint[p ^ 1]);
        w->mate[w->endpoint[p]] = p ^ 1;
        w->mate[w->endpoint[p ^ 1]] = p;
    }
    /* Rotate the cycle so that the new base comes first. */
    if (i > 0) {
        int *tc = w->tmpc, *te = w->tmpe;
        for (int q = 0; q < len; q++) {
            tc[q] = w->childs[b][(q + i) % len];
            te[q] = w->endps[b][(q + i) % len];
        }
        memcpy(w->childs[b], tc, (size_t)len * sizeof(int));
        memcpy(w->endps[b], te, (size_t)len * sizeof(int));
    }
    w->base[b] = w->base[w->childs[b][0]];
}

/* Augment along the path through edge k, which joins two S vertices whose
 * trees end in different free vertices. */
static void augment_matching(mw_t *w, int k)
{
    int ends[2][2] = {{(int)w->e[k].u, 2 * k + 1}, {(int)w->e[k].v, 2 * k}};
    for (int side = 0; side < 2; side++) {
        int s = ends[side][0], p = ends[side][1];
        for (;;) {
            int bs = w->inblossom[s];
            if (bs >= w->n)
                augment_blossom(w, bs, s);
            w->mate[s] = p;
            if (w->labelend[bs] == -1)
                break;
            int t = w->endpoint[w->labelend[bs]];
            int bt = w->inblossom[t];
            s = w->endpoint[w->labelend[bt]];
            int j = w->endpoint[w->labelend[bt] ^ 1];
            if (bt >= w->n)
                augment_blossom(w, bt, j);
            w->mate[j] = w->labelend[bt];
            p = w->labelend[bt] ^ 1;
        }
    }
}

static void mw_free(mw_t *w)
{
    if (w->childs) {
        for (int b = 0; b < 2 * w->n; b++) {
            free(w->childs[b]);
            free(w->endps[b]);
            free(w->bbest[b]);
        }
    }
    free(w->endpoint);
    free(w->nb_start);
    free(w->nb);
    free(w->mate);
    free(w->label);
    free(w->labelend);
    free(w->inblossom);
    free(w->parent);
    free(w->childs);
    free(w->endps);
    free(w->nchilds);
    free(w->base);
    free(w->bestedge);
    free(w->bbest);
    free(w->nbbest);
    free(w->unused);
    free(w->dual);
    free(w->allow);
    free(w->queue);
    free(w->bestedgeto);
    free(w->touched);
    free(w->leafbuf);
    free(w->stack);
    free(w->tmpc);
    free(w->tmpe);
}

static int mw_init(mw_t *w, size_t n, const ib__wedge_t *edges, size_t m)
{
    memset(w, 0, sizeof(*w));
    w->n = (int)n;
    w->m = m;
    w->e = edges;
    size_t n2 = 2 * n;
    w->endpoint = malloc((2 * m + 1) * sizeof(int));
    w->nb_start = calloc(n + 1, sizeof(int));
    w->nb = malloc((2 * m + 1) * sizeof(int));
    w->mate = malloc(n * sizeof(int));
    w->label = calloc(n2, sizeof(int));
    w->labelend = malloc(n2 * sizeof(int));
    w->inblossom = malloc(n * sizeof(int));
    w->parent = malloc(n2 * sizeof(int));
    w->childs = calloc(n2, sizeof(int *));
    w->endps = calloc(n2, sizeof(int *));
    w->nchilds = calloc(n2, sizeof(int));
    w->base = malloc(n2 * sizeof(int));
    w->bestedge = malloc(n2 * sizeof(int));
    w->bbest = calloc(n2, sizeof(int *));
    w->nbbest = calloc(n2, sizeof(int));
    w->unused = malloc(n * sizeof(int));
    w->dual = calloc(n2, sizeof(int64_t));
    w->allow = calloc(m + 1, 1);
    w->bestedgeto = malloc(n2 * sizeof(int));
    w->touched = malloc(n2 * sizeof(int));
    w->leafbuf = malloc(n * sizeof(int));
    w->stack = malloc(n2 * sizeof(int));
    w->tmpc = malloc((n2 + 1) * sizeof(int));
    w->tmpe = malloc((n2 + 1) * sizeof(int));
    if (!w->endpoint || !w->nb_start || !w->nb || !w->mate || !w->label || !w->labelend ||
        !w->inblossom || !w->parent || !w->childs || !w->endps || !w->nchilds || !w->base ||
        !w->bestedge || !w->bbest || !w->nbbest || !w->unused || !w->dual || !w->allow ||
        !w->bestedgeto || !w->touched || !w->leafbuf || !w->stack || !w->tmpc || !w->tmpe)
        return IB_ENOMEM;

    int64_t maxw = 0;
    for (size_t k = 0; k < m; k++) {
        w->endpoint[2 * k] = (int)edges[k].u;
        w->endpoint[2 * k + 1] = (int)edges[k].v;
        w->nb_start[edges[k].u + 1]++;
        w->nb_start[edges[k].v + 1]++;
        if (edges[k].w > maxw)
            maxw = edges[k].w;
    }
    for (size_t v = 0; v < n; v++)
        w->nb_start[v + 1] += w->nb_start[v];
    int *fill = malloc((n + 1) * sizeof(int));
    if (!fill)
        return IB_ENOMEM;
    memcpy(fill, w->nb_start, (n + 1) * sizeof(int));
    for (size_t k = 0; k < m; k++) {
        w->nb[fill[edges[k].u]++] = (int)(2 * k + 1);
        w->nb[fill[edges[k].v]++] = (int)(2 * k);
    }
    free(fill);

    for (size_t v = 0; v < n; v++) {
        w->mate[v] = -1;
        w->inblossom[v] = (int)v;
        w->base[v] = (int)v;
        w->dual[v] = maxw;
    }
    for (size_t b = 0; b < n2; b++) {
        w->labelend[b] = -1;
        w->parent[b] = -1;
        w->bestedge[b] = -1;
        w->bestedgeto[b] = -1;
        if (b >= n)
            w->base[b] = -1;
    }
    for (size_t i = 0; i < n; i++)
        w->unused[i] = (int)(n2 - 1 - i);
    w->nunused = (int)n;
    return 0;
}

int ib__match_exact(size_t n, const ib__wedge_t *edges, size_t m, bool max_card, int32_t *mate)
{
    for (size_t v = 0; v < n; v++)
        mate[v] = -1;
    if (n == 0 || m == 0)
        return 0;
    for (size_t k = 0; k < m; k++)
        if (edges[k].u >= n || edges[k].v >= n || edges[k].u == edges[k].v)
            return IB_EBADREQ;

    mw_t w;
    int err = mw_init(&w, n, edges, m);
    if (err) {
        mw_free(&w);
        return err;
    }
    int N = (int)n;

    for (int stage = 0; stage < N; stage++) {
        memset(w.label, 0, 2 * n * sizeof(int));
        for (int b = 0; b < 2 * N; b++)
            w.bestedge[b] = -1;
        for (int b = N; b < 2 * N; b++) {
            free(w.bbest[b]);
            w.bbest[b] = NULL;
            w.nbbest[b] = 0;
        }
        memset(w.allow, 0, m);
        w.nq = 0;
        for (int v = 0; v < N; v++)
            if (w.mate[v] == -1 && w.label[w.inblossom[v]] == 0)
                assign_label(&w, v, 1, -1);

        bool augmented = false;
        for (;;) {
            while (w.nq > 0 && !augmented) {
                int v = w.queue[--w.nq];
                for (int q = w.nb_start[v]; q < w.nb_start[v + 1]; q++) {
                    int p = w.nb[q], k = p / 2, x = w.endpoint[p];
                    if (w.inblossom[v] == w.inblossom[x])
                        continue;
                    int64_t ks = 0;
                    if (!w.allow[k]) {
                        ks = slack(&w, k);
                        if (ks <= 0)
                            w.allow[k] = 1;
                    }
                    if (w.allow[k]) {
                        if (w.label[w.inblossom[x]] == 0) {
                            assign_label(&w, x, 2, p ^ 1);
                        } else if (w.label[w.inblossom[x]] == 1) {
                            int bs = scan_blossom(&w, v, x);
                            if (bs >= 0) {
                                add_blossom(&w, bs, k);
                            } else {
                                augment_matching(&w, k);
                                augmented = true;
                                break;
                            }
                        } else if (w.label[x] == 0) {
                            w.label[x] = 2;
                            w.labelend[x] = p ^ 1;
                        }
                    } else if (w.label[w.inblossom[x]] == 1) {
                        int b = w.inblossom[v];
                        if (w.bestedge[b] == -1 || ks < slack(&w, w.bestedge[b]))
                            w.bestedge[b] = k;
                    } else if (w.label[x] == 0) {
                        if (w.bestedge[x] == -1 || ks < slack(&w, w.bestedge[x]))
                            w.bestedge[x] = k;
                    }
                }
            }
            if (w.oom)
                goto oom;
            if (augmented)
                break;

            int dtype = -1, dedge = -1, dblossom = -1;
            int64_t delta = 0;
            if (!max_card) {
                dtype = 1;
                delta = w.dual[0];
                for (int v = 1; v < N; v++)
                    if (w.dual[v] < delta)
                        delta = w.dual[v];
            }
            for (int v = 0; v < N; v++) {
                if (w.label[w.inblossom[v]] == 0 && w.bestedge[v] != -1) {
                    int64_t d = slack(&w, w.bestedge[v]);
                    if (dtype == -1 || d < delta) {
                        delta = d;
                        dtype = 2;
                        dedge = w.bestedge[v];
                    }
                }
            }
            for (int b = 0; b < 2 * N; b++) {
                if (w.parent[b] == -1 && w.label[b] == 1 && w.bestedge[b] != -1) {
                    int64_t d = slack(&w, w.bestedge[b]) / 2;
                    if (dtype == -1 || d < delta) {
                        delta = d;
                        dtype = 3;
                        dedge = w.bestedge[b];
                    }
                }
            }
            for (int b = N; b < 2 * N; b++) {
                if (w.base[b] >= 0 && w.parent[b] == -1 && w.label[b] == 2 &&
                    (dtype == -1 || w.dual[b] < delta)) {
                    delta = w.dual[b];
                    dtype = 4;
                    dblossom = b;
                }
            }
            if (dtype == -1) {
                /* Max-cardinality optimum reached; a last dual step keeps
                 * the duals as a certificate. */
                dtype = 1;
                delta = w.dual[0];
                for (int v = 1; v < N; v++)
                    if (w.dual[v] < delta)
                        delta = w.dual[v];
                if (delta < 0)
                    delta = 0;
            }
            for (int v = 0; v < N; v++) {
                int l = w.label[w.inblossom[v]];
                if (l == 1)
                    w.dual[v] -= delta;
                else if (l == 2)
                    w.dual[v] += delta;
            }
            for (int b = N; b < 2 * N; b++) {
                if (w.base[b] >= 0 && w.parent[b] == -1) {
                    if (w.label[b] == 1)
                        w.dual[b] += delta;
                    else if (w.label[b] == 2)
                        w.dual[b] -= delta;
                }
            }
            if (dtype == 1)
                break;
            if (dtype == 2) {
                w.allow[dedge] = 1;
                int i = (int)w.e[dedge].u, j = (int)w.e[dedge].v;
                if (w.label[w.inblossom[i]] == 0) {
                    int t = i;
                    i = j;
                    j = t;
                }
                push_queue(&w, i);
            } else if (dtype == 3) {
                w.allow[dedge] = 1;
                push_queue(&w, (int)w.e[dedge].u);
            } else {
                expand_blossom(&w, dblossom, false);
            }
            if (w.oom)
                goto oom;
        }
        if (!augmented)
            break;
        for (int b = N; b < 2 * N; b++)
            if (w.parent[b] == -1 && w.base[b] >= 0 && w.label[b] == 1 && w.dual[b] == 0)
                expand_blossom(&w, b, true);
        if (w.oom)
            goto oom;
    }
    for (int v = 0; v < N; v++)
        mate[v] = w.mate[v] >= 0 ? w.endpoint[w.mate[v]] : -1;
    mw_free(&w);
    return 0;
oom:
    mw_free(&w);
    for (size_t v = 0; v < n; v++)
        mate[v] = -1;
    return IB_ENOMEM;
}
