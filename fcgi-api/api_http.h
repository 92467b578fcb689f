/* SPDX-License-Identifier: MIT */
/* HTTP plumbing for the FastCGI responders: status lines, JSON error replies,
 * method/content-type/auth checks and a bounded body read over libfcgi streams. */
#ifndef PUSH_API_HTTP_H
#define PUSH_API_HTTP_H

#include <stddef.h>

#include <fcgiapp.h>

/* Writes a complete response: Status, JSON content type, Content-Length,
 * optional extra header lines (each ending "\r\n"), then body. */
void api_respond(FCGX_Request *r, int status, const char *extra_headers, const char *body,
		 size_t len);

/* The same with another Content-Type (e.g. Prometheus text). */
void api_respond_typed(FCGX_Request *r, int status, const char *type, const char *body,
		       size_t len);

/* {"topic":"error","number":0,"contents":reason} with the given status. */
void api_error(FCGX_Request *r, int status, const char *reason);

/* Same, with a Retry-After header: the client may try again after `seconds`
 * (429, 503). */
void api_error_retry(FCGX_Request *r, int status, unsigned seconds, const char *reason);

/* Same, with an Allow header for 405. */
void api_error_method(FCGX_Request *r, const char *allow);

/* A FastCGI parameter, or "" when absent. The pointer is the request's. */
const char *api_param(FCGX_Request *r, const char *name);

/* 1 when the media type is application/json, case and parameters ignored
 * (the seed's PHP sends "application/json;charset='utf-8'"). */
int api_is_json_type(const char *content_type);

/* The token of an "Authorization: Bearer <token>" header, or NULL. */
const char *api_bearer_token(const char *authorization);

/* 1 when the path of `uri` (query ignored) lies under a /demo/ segment, the
 * demo page's: such paths never reach /access or /push by their last segment. */
int api_is_demo_path(const char *uri);

/* 1 when `host:port` ("[v6]:port") names a loopback host: 127.0.0.0/8, ::1 or
 * localhost. An empty host (all addresses) is not loopback. */
int api_addr_is_loopback(const char *addr);

/* Whether push-api serves the demo routes: `demo: true` in the configuration,
 * or PUSH_DEMO=1 in the environment (`make run`) with a loopback addr. */
int api_demo_enabled(int cfg_demo, const char *env, const char *addr);

enum api_body_rc { API_BODY_OK = 0, API_BODY_TOO_LARGE, API_BODY_BAD_LENGTH, API_BODY_SHORT };

/* Reads the request body into buf[0..cap). CONTENT_LENGTH is checked against cap
 * before any byte is read; *len gets the byte count. */
enum api_body_rc api_read_body(FCGX_Request *r, char *buf, size_t cap, size_t *len);

/* Ends the request (FCGX_Finish_r), closing the connection without libfcgi's
 * lingering wait when the whole input was read. */
void api_finish(FCGX_Request *r);

#endif
