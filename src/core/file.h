/* core/file: file-system helpers for the data directory. */
#ifndef SPS_CORE_FILE_H
#define SPS_CORE_FILE_H

/* Create directory path with mode 0700 if it does not exist (parents too,
 * also 0700 when created). Returns 0, ENOTDIR when something else is there,
 * or the errno of mkdir/stat. */
int sps_file_mkdir_private(const char *path);

#endif
