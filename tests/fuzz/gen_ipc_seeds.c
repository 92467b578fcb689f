/* Writes the seed datagrams of tests/fuzz/corpus/ipc with the real encoders, so the seeds
 * stay valid if the wire format changes: cc -Iipc tests/fuzz/gen_ipc_seeds.c ipc/ipc.c. */
#include <stdio.h>
#include <string.h>

#include "ipc.h"

static unsigned char buf[4096];

static void save(const char *dir, const char *name, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || len == 0 || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		return;
	}
}

#define ITEM(u, t, c) { u, sizeof u - 1, t, sizeof t - 1, c, sizeof c - 1 }

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "tests/fuzz/corpus/ipc";
	const struct ipc_push_item one[] = { ITEM("alice", "\"news\"", "{\"a\":1}") };
	const struct ipc_push_item three[] = {
		ITEM("alice", "\"t\"", "\"hello\""),
		ITEM("\xe4\xbd\xa0\xe5\xa5\xbd", "\"\xe6\xb6\x88\xe6\x81\xaf\"", "[1,2.5,null]"),
		ITEM("b", "\"\"", ""),
	};
	const struct ipc_result r1[] = { { 1, IPC_S_DELIVERED, 7 } };
	const struct ipc_result r3[] = { { 2, IPC_S_DELIVERED, 1 }, { 0, IPC_S_OFFLINE, 0 },
					 { 0, IPC_S_REFUSED, 0 } };
	static const char stats[] = "# TYPE push_connections gauge\npush_connections 3\n";

	save(dir, "push-1", ipc_encode_push(buf, sizeof buf, 1, one, 1));
	save(dir, "push-3", ipc_encode_push(buf, sizeof buf, 0x01020304, three, 3));
	save(dir, "reply-1", ipc_encode_push_reply(buf, sizeof buf, 1, r1, 1));
	save(dir, "reply-3", ipc_encode_push_reply(buf, sizeof buf, 0x01020304, r3, 3));
	save(dir, "error-reply", ipc_encode_error_reply(buf, sizeof buf, 9));
	save(dir, "stats", ipc_encode_bare(buf, sizeof buf, IPC_T_STATS, 5, 0));
	save(dir, "report", ipc_encode_bare(buf, sizeof buf, IPC_T_REPORT, 6, IPC_R_TOO_LARGE));
	save(dir, "stats-reply",
	     ipc_encode_stats_reply(buf, sizeof buf, 5, stats, sizeof stats - 1));
	return 0;
}
