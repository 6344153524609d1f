/*
 * file_read.h — read a whole, bounded regular file into memory (the rater's
 * rules and metrics files), with one error line for the caller to prefix.
 */
#ifndef HV_COMMON_FILE_READ_H
#define HV_COMMON_FILE_READ_H

#include <stddef.h>

/*
 * Reads @path (a regular file of at most @max bytes) into a malloc'd,
 * NUL-terminated *buf of *len bytes. Returns 0, or -errno with @err set
 * ("cannot open: ...", "larger than N MiB", "not a regular file"...).
 */
int file_read_all(const char *path, size_t max, char **buf, size_t *len, char *err, size_t errlen);

#endif
