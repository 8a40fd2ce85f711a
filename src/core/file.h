/* core/file: file-system helpers for the data directory. */
#ifndef SPS_CORE_FILE_H
#define SPS_CORE_FILE_H

#include <stddef.h>

/* Create directory path with mode 0700 if it does not exist (parents too,
 * also 0700 when created). Returns 0, ENOTDIR when something else is there,
 * or the errno of mkdir/stat. */
int sps_file_mkdir_private(const char *path);

/* Write len bytes to path atomically (a temporary file in the same
 * directory, fsync, rename) with mode 0600. Returns 0 or an errno. */
int sps_file_write_private(const char *path, const void *data, size_t len);

/* A secret of exactly len bytes kept in path: read it when the file exists,
 * else create it from the kernel's random generator (mode 0600, atomic).
 * Returns 0, EBADMSG when the file has another size, or an errno. */
int sps_file_secret(const char *path, void *buf, size_t len);

#endif
