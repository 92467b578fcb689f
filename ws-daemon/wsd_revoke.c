/* SPDX-License-Identifier: MIT */
/* The revocation table: a keyed hash of uids plus a list in insertion order, so
 * expiry only looks at the oldest entries. */
#include "wsd_revoke.h"

#include <stdlib.h>
#include <string.h>

#include "siphash.h"

static uint8_t rv_key[SIPHASH_KEY_BYTES];
#define HASH_FUNCTION(keyptr, keylen, hashv) \
	((hashv) = (unsigned)siphash24(rv_key, (keyptr), (size_t)(keylen)))
#include <uthash.h>

struct rv_entry {
	UT_hash_handle hh;
	struct rv_entry *prev, *next; /* by insertion (a new kick moves it to the back) */
	long long until;              /* keys expiring up to this are refused */
	size_t uid_len;
	char uid[];
};

static struct {
	struct rv_entry *table, *head, *tail;
	size_t n;
	int keyed;
} rv;

static void rv_unlink(struct rv_entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		rv.head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		rv.tail = e->prev;
	e->prev = e->next = NULL;
}

static void rv_append(struct rv_entry *e)
{
	e->prev = rv.tail;
	if (rv.tail)
		rv.tail->next = e;
	else
		rv.head = e;
	rv.tail = e;
}

static void rv_drop(struct rv_entry *e)
{
	rv_unlink(e);
	HASH_DELETE(hh, rv.table, e);
	free(e);
	rv.n--;
}

int wsd_revoke_add(const char *uid, size_t uid_len, time_t now, long ttl)
{
	struct rv_entry *e = NULL;

	if (!rv.keyed && siphash_key_random(rv_key) == 0)
		rv.keyed = 1;
	if (!rv.keyed)
		return -1;
	HASH_FIND(hh, rv.table, uid, uid_len, e);
	if (!e) {
		if (rv.n >= WSD_REVOKE_MAX || !(e = calloc(1, sizeof *e + uid_len + 1)))
			return -1;
		memcpy(e->uid, uid, uid_len);
		e->uid_len = uid_len;
		HASH_ADD_KEYPTR(hh, rv.table, e->uid, e->uid_len, e);
		rv.n++;
	} else {
		rv_unlink(e);
	}
	e->until = (long long)now + ttl;
	rv_append(e);
	return 0;
}

int wsd_revoke_refuses(const char *uid, size_t uid_len, long long expiry, time_t now)
{
	struct rv_entry *e = NULL;

	if (!rv.n)
		return 0;
	HASH_FIND(hh, rv.table, uid, uid_len, e);
	return e && (long long)now <= e->until && expiry <= e->until;
}

void wsd_revoke_expire(time_t now)
{
	/* Oldest first; a reload that raised access_key_ttl can leave a younger
	 * entry behind an older one for a while, never the other way. */
	while (rv.head && rv.head->until < (long long)now)
		rv_drop(rv.head);
}

size_t wsd_revoke_count(void) { return rv.n; }

void wsd_revoke_free(void)
{
	while (rv.head)
		rv_drop(rv.head);
}
