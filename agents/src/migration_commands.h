/*
 * The command table: every Command executed for a migration is recorded under (migration id, seq)
 * with its result, so a coordinator that reconnects and repeats a command gets the recorded result
 * back instead of a second execution. Pure bookkeeping, no I/O.
 *
 * Per migration, seq must increase: a seq above the last executed one is new; a repeat of a
 * recorded seq returns its record; an older seq that is no longer recorded (the table keeps the
 * last FERRY_CMD_RECORDS_PER_MIGRATION per migration) is STALE_COMMAND.
 */
#ifndef FERRY_MIGRATION_COMMANDS_H
#define FERRY_MIGRATION_COMMANDS_H

#include <stdbool.h>
#include <stdint.h>

#define FERRY_CMD_MAX_MIGRATIONS 64
#define FERRY_CMD_RECORDS_PER_MIGRATION 16
#define FERRY_CMD_ID_MAX 128
#define FERRY_CMD_MESSAGE_MAX 256
#define FERRY_CMD_ADDRESS_MAX 264

struct ferry_command_record {
	uint64_t seq;
	int code; /* ferry.v1.ErrorCode, 0 on success */
	char message[FERRY_CMD_MESSAGE_MAX];
	char data_address[FERRY_CMD_ADDRESS_MAX];
};

struct ferry_command_log {
	bool used;
	char migration_id[FERRY_CMD_ID_MAX];
	uint64_t last_seq;
	uint64_t last_used; /* table clock, to evict the least recently used log when full */
	struct ferry_command_record records[FERRY_CMD_RECORDS_PER_MIGRATION]; /* ring, by seq */
	unsigned n_records;
};

struct ferry_command_table {
	struct ferry_command_log logs[FERRY_CMD_MAX_MIGRATIONS];
	uint64_t clock;
};

enum ferry_command_verdict {
	FERRY_CMD_NEW = 0,    /* execute it, then ferry_command_table_record */
	FERRY_CMD_REPEAT = 1, /* *record is the recorded result: send it again */
	FERRY_CMD_STALE = 2,  /* older than the last executed and no longer recorded */
};

void ferry_command_table_init(struct ferry_command_table *t);

/* What to do with command (migration_id, seq). For FERRY_CMD_REPEAT *record points into the table
 * (valid until the next record call). */
enum ferry_command_verdict ferry_command_table_lookup(struct ferry_command_table *t, const char *migration_id,
						      uint64_t seq, const struct ferry_command_record **record);

/* Records the result of a command that lookup called NEW. The oldest record of that migration (or,
 * when the table is full, the least recently used migration's whole log) makes room. */
void ferry_command_table_record(struct ferry_command_table *t, const char *migration_id, uint64_t seq, int code,
				const char *message, const char *data_address);

#endif
