/* Messages and wire codes of the IB_E* error list (ib_err.h). */
#include "icebreaker/ib_err.h"

static const struct {
    const char *wire;
    const char *message;
} errors[] = {
#define IB__ERR_ROW(name, wire, msg) {wire, msg},
    IB_ERRNO_MAP(IB__ERR_ROW)
#undef IB__ERR_ROW
};

const char *ib_strerror(int err)
{
    if (err == 0)
        return "ok";
    if (err > IB__ERR_FIRST && err < IB__ERR_LAST)
        return errors[err - IB__ERR_FIRST - 1].message;
    return "unknown error";
}

const char *ib_err_wire(int err)
{
    if (err > IB__ERR_FIRST && err < IB__ERR_LAST)
        return errors[err - IB__ERR_FIRST - 1].wire;
    return "internal";
}
