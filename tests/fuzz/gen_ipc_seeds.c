/* SPDX-License-Identifier: MIT */
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

#define ITEMF(u, f, t, c) { u, sizeof u - 1, f, t, sizeof t - 1, c, sizeof c - 1 }
#define ITEM(u, t, c) ITEMF(u, 0, t, c)

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "tests/fuzz/corpus/ipc";
	const struct ipc_push_item one[] = { ITEM("alice", "\"news\"", "{\"a\":1}") };
	const struct ipc_push_item three[] = {
		ITEMF("alice", IPC_F_ACK, "\"t\"", "\"hello\""),
		ITEM("\xe4\xbd\xa0\xe5\xa5\xbd", "\"\xe6\xb6\x88\xe6\x81\xaf\"", "[1,2.5,null]"),
		ITEM("b", "\"\"", ""),
	};
	const struct ipc_push_item uids[] = {
		ITEMF("alice", IPC_F_REVOKE, "", ""), ITEM("\xe4\xbd\xa0\xe5\xa5\xbd", "", ""),
		ITEM("b", "", ""),
	};
	const struct ipc_push_item all[] = { ITEM("", "\"all\"", "{\"a\":[1,2]}") };
	const struct ipc_push_item mc[] = { ITEM("alice", "\"news\"", "[1,2.5]"),
					    ITEM("bob", "", ""), ITEM("c", "", "") };
	const struct ipc_hdr shared = { .req_id = 5, .flags = IPC_H_SHARED,
					.generation = 0x5eed0001u };
	const struct ipc_result r1[] = { { 1, IPC_S_DELIVERED, 7, 0 } };
	const struct ipc_result r5[] = { { 2, IPC_S_DELIVERED, 1, 1 }, { 0, IPC_S_OFFLINE, 0, 0 },
					 { 0, IPC_S_REFUSED, 0, 0 }, { 0, IPC_S_WRONG_WORKER, 0, 0 },
					 { 0, IPC_S_STALE, 0, 0 }, { 0, IPC_S_STORED, 9, 0 },
					 { 0, IPC_S_BUSY, 0, 0 } };
	const uint32_t counts[IPC_R_COUNT] = { 1, 2, 3, 4, 5, 6 };
	/* The start of a cfg_pack message: "PC", version 1, then whatever follows. */
	static const unsigned char cfg[] = "PC\x01\x00password: \"x\"\n";
	const struct ipc_hdr req = { .req_id = 1, .generation = 0x5eed0001u };
	const struct ipc_hdr req3 = { .req_id = 0x01020304, .generation = 0 };
	const struct ipc_hdr w0 = { .req_id = 1, .generation = 0x5eed0001u, .workers = 1 };
	const struct ipc_hdr w2 = { .req_id = 0x01020304, .generation = 0x5eed0002u,
				    .workers = 3, .index = 2 };
	uint64_t v[IPC_STATS_N];

	for (size_t i = 0; i < IPC_STATS_N; i++)
		v[i] = i * 3;
	save(dir, "push-1", ipc_encode_push(buf, sizeof buf, &req, one, 1));
	save(dir, "push-3", ipc_encode_push(buf, sizeof buf, &req3, three, 3));
	save(dir, "presence-2", ipc_encode_request(buf, sizeof buf, IPC_T_PRESENCE, &req, uids + 1, 2));
	save(dir, "kick-3", ipc_encode_request(buf, sizeof buf, IPC_T_KICK, &req3, uids, 3));
	save(dir, "broadcast", ipc_encode_request(buf, sizeof buf, IPC_T_BROADCAST, &req, all, 1));
	save(dir, "multicast-3", ipc_encode_request(buf, sizeof buf, IPC_T_PUSH, &shared, mc, 3));
	save(dir, "reply-1", ipc_encode_push_reply(buf, sizeof buf, &w0, r1, 1));
	save(dir, "reply-7", ipc_encode_push_reply(buf, sizeof buf, &w2, r5,
						   sizeof r5 / sizeof r5[0]));
	save(dir, "error-reply", ipc_encode_bare(buf, sizeof buf, IPC_T_ERROR_REPLY, &w2));
	save(dir, "stats", ipc_encode_bare(buf, sizeof buf, IPC_T_STATS, &req));
	save(dir, "report", ipc_encode_report(buf, sizeof buf, &req, counts));
	save(dir, "stats-reply", ipc_encode_stats_reply(buf, sizeof buf, &w2, v));
	save(dir, "config", ipc_encode_bare(buf, sizeof buf, IPC_T_CONFIG, &req));
	save(dir, "config-reply", ipc_encode_config_reply(buf, sizeof buf, &w2, cfg, sizeof cfg - 1));
	save(dir, "config-reply-same", ipc_encode_config_reply(buf, sizeof buf, &w0, NULL, 0));
	return 0;
}
