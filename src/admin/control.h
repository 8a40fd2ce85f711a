/* admin/control: the control socket through which the CLI (another process)
 * asks the running `sipsec serve` for live state, such as the calls in
 * progress (`sipsec calls`).
 *
 * A Unix stream socket (DATA/control.sock, mode 0600, inside the 0700 data
 * directory) served on the SIP loop. The protocol is one JSON object per
 * line in each direction: a request {"cmd":"NAME", ...} gets exactly one
 * reply line, {"ok":true, ...the provider's keys} or
 * {"ok":false,"error":"what went wrong"}. A request line is at most
 * SPS_ADMIN_MAX_REQ bytes (longer: an error reply and the connection is
 * closed); at most SPS_ADMIN_MAX_CLIENTS clients at once.
 *
 * admin sits below server and above registrar/proxy in the layer order: it
 * knows nothing of calls or registrations. The server registers a provider
 * callback per command name. Everything runs on the loop's thread. */
#ifndef SPS_ADMIN_CONTROL_H
#define SPS_ADMIN_CONTROL_H

#include <stddef.h>

#include <jansson.h>

#include "core/loop.h"

#define SPS_ADMIN_SOCK "control.sock"
#define SPS_ADMIN_MAX_REQ 4096
#define SPS_ADMIN_MAX_CLIENTS 16
#define SPS_ADMIN_MAX_CMDS 16

struct sps_admin;

/* Answer one request. req is the parsed request object (borrowed). Return a
 * new object whose keys go into the reply next to "ok":true, or NULL and a
 * static message in *err for an error reply. */
typedef json_t *(sps_admin_cmd_h)(const json_t *req, const char **err, void *arg);

/* Bind DIR/control.sock (a stale socket file from a crashed run is
 * replaced), mode 0600, and serve it on loop. Returns 0, ENAMETOOLONG when
 * the path does not fit a Unix socket address, or an errno. */
int sps_admin_open(struct sps_admin **out, struct sps_loop *loop, const char *dir);

/* Serve command name with h(arg). Returns 0, ENOSPC or EEXIST. */
int sps_admin_register(struct sps_admin *a, const char *name, sps_admin_cmd_h *h, void *arg);

/* Close every client and the socket, remove the socket file. NULL-safe. */
void sps_admin_close(struct sps_admin *a);

/* The socket path for a data directory into buf. Returns 0 or ENAMETOOLONG
 * (the path does not fit sockaddr_un). Shared with the CLI side. */
int sps_admin_sock_path(const char *dir, char *buf, size_t size);

/* The CLI side: connect to DIR/control.sock, send req as one line and
 * parse the reply line into *reply (new reference), waiting at most
 * timeout_ms in total. Returns 0, ENOENT or ECONNREFUSED when no server
 * serves the socket, ETIMEDOUT, EBADMSG for a reply that is not JSON, or
 * an errno. */
int sps_admin_request(const char *dir, const json_t *req, int timeout_ms, json_t **reply);

#endif
