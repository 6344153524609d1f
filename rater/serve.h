/*
 * serve.h — `hvrater serve`: the rater's TLS server.
 *
 * One thread, one epoll loop, non-blocking sockets, for thousands of
 * concurrent hosts. Per connection: TLS handshake (mutual, rater/../wire/tls.h)
 * -> read a length-prefixed batch -> ingest (rater/ingest.h) -> write the
 * ack -> read the next. Batches that complete in the same loop iteration
 * are ingested in one group commit (one durable LMDB sync for all), and
 * their acks are written only after that commit returned. Connections
 * silent for idle_timeout seconds are closed; handshakes get at most 30 s.
 *
 * Process-level: this file logs (stderr, one line per event, with level).
 */
#ifndef HV_RATER_SERVE_H
#define HV_RATER_SERVE_H

#include "rater/rater_config.h"

/*
 * hvrater serve [-c FILE] [-n]: runs the server until SIGTERM or SIGINT.
 * Returns the process exit code: 0 after a clean stop, 1 on a failure
 * (configuration, certificates, store, listen address), 2 on bad usage.
 */
int rater_cmd_serve(int argc, char **argv);

/*
 * Runs the server with @cfg until SIGTERM/SIGINT (which it blocks and reads
 * through a signalfd). Returns 0 after a clean stop, or -errno after
 * logging why it could not start or had to stop.
 */
int serve_run(const struct rater_config *cfg);

#endif
