/* Error codes shared by every gameday module.
 * Functions return 0 or one of these negative values; gd_strerror names them. */
#ifndef GD_ERR_H
#define GD_ERR_H

enum gd_err {
    GD_OK = 0,
    GD_EINVAL = -1,       /* bad argument or input */
    GD_ENOMEM = -2,       /* out of memory */
    GD_ENOENT = -3,       /* no such thing */
    GD_EEXIST = -4,       /* already exists */
    GD_EIO = -5,          /* I/O or system call failed */
    GD_ETIMEDOUT = -6,    /* timed out */
    GD_ECONNREFUSED = -7, /* connection refused */
    GD_ECONNRESET = -8,   /* connection reset or closed early */
    GD_EPROTO = -9,       /* protocol violation (HTTP parse error, bad JSON) */
    GD_ETOOBIG = -10,     /* a bounded buffer or limit was reached */
    GD_EPERM = -11,       /* not allowed (bad or missing token) */
    GD_EAGAIN = -12,      /* try again later */
    GD_EFULL = -13,       /* no capacity left (queue, addresses, quota) */
    GD_ECLOSED = -14,     /* the object is closing */
    GD_EDB = -15,         /* database error */
    GD_ENOTSUP = -16,     /* not supported */
};

/** Returns a static, human-readable name for err ("GD_EINVAL: invalid argument"). */
const char *gd_strerror(int err);

/** Maps a negative libuv error to the closest gd_err. */
int gd_err_from_uv(int uverr);

#endif
