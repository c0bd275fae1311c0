/* Error names and the libuv error mapping. */
#include "core/err.h"

#include <uv.h>

const char *gd_strerror(int err)
{
    switch (err) {
    case GD_OK:
        return "ok";
    case GD_EINVAL:
        return "invalid argument";
    case GD_ENOMEM:
        return "out of memory";
    case GD_ENOENT:
        return "not found";
    case GD_EEXIST:
        return "already exists";
    case GD_EIO:
        return "i/o error";
    case GD_ETIMEDOUT:
        return "timed out";
    case GD_ECONNREFUSED:
        return "connection refused";
    case GD_ECONNRESET:
        return "connection reset";
    case GD_EPROTO:
        return "protocol error";
    case GD_ETOOBIG:
        return "too big";
    case GD_EPERM:
        return "permission denied";
    case GD_EAGAIN:
        return "try again";
    case GD_EFULL:
        return "no capacity left";
    case GD_ECLOSED:
        return "closing";
    case GD_EDB:
        return "database error";
    case GD_ENOTSUP:
        return "not supported";
    }
    return "unknown error";
}

int gd_err_from_uv(int uverr)
{
    switch (uverr) {
    case 0:
        return GD_OK;
    case UV_ECONNREFUSED:
        return GD_ECONNREFUSED;
    case UV_ECONNRESET:
    case UV_EPIPE:
    case UV_EOF:
        return GD_ECONNRESET;
    case UV_ETIMEDOUT:
        return GD_ETIMEDOUT;
    case UV_ENOMEM:
        return GD_ENOMEM;
    case UV_EINVAL:
        return GD_EINVAL;
    case UV_EADDRINUSE:
    case UV_EADDRNOTAVAIL:
        return GD_EEXIST;
    case UV_ECANCELED:
        return GD_ECLOSED;
    case UV_EAGAIN:
        return GD_EAGAIN;
    }
    return GD_EIO;
}
