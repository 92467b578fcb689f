/* SPDX-License-Identifier: MIT */
/* Revoked uids: after a kick with revoke, the keys of the uid issued until then are
 * refused; an entry lives only as long as such a key could (access_key_ttl). */
#ifndef PUSH_WSD_REVOKE_H
#define PUSH_WSD_REVOKE_H

#include <stddef.h>
#include <time.h>

/* Entries a worker keeps at most: a kick past it is refused (nothing is
 * forgotten early, which would make revoked keys valid again). */
#define WSD_REVOKE_MAX 100000

/* Keys of uid with an expiry up to now + ttl (those issued until now) are
 * refused until then. -1 when the table is full or out of memory. */
int wsd_revoke_add(const char *uid, size_t uid_len, time_t now, long ttl);

/* Whether a key of uid expiring at `expiry` was revoked. */
int wsd_revoke_refuses(const char *uid, size_t uid_len, long long expiry, time_t now);

/* Drops entries whose keys have all expired (called once a second or so). */
void wsd_revoke_expire(time_t now);

size_t wsd_revoke_count(void);
void wsd_revoke_free(void);

#endif
