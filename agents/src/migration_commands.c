/* The command table; see migration_commands.h. */
#include "migration_commands.h"

#include <stdio.h>
#include <string.h>

void ferry_command_table_init(struct ferry_command_table *t)
{
	memset(t, 0, sizeof *t);
}

static struct ferry_command_log *find_log(struct ferry_command_table *t, const char *migration_id)
{
	for (size_t i = 0; i < FERRY_CMD_MAX_MIGRATIONS; i++)
		if (t->logs[i].used && strcmp(t->logs[i].migration_id, migration_id) == 0)
			return &t->logs[i];
	return NULL;
}

enum ferry_command_verdict ferry_command_table_lookup(struct ferry_command_table *t, const char *migration_id,
						      uint64_t seq, const struct ferry_command_record **record)
{
	*record = NULL;
	struct ferry_command_log *log = find_log(t, migration_id);
	if (!log || seq > log->last_seq)
		return FERRY_CMD_NEW;
	log->last_used = ++t->clock;
	for (unsigned i = 0; i < log->n_records; i++) {
		if (log->records[i].seq == seq) {
			*record = &log->records[i];
			return FERRY_CMD_REPEAT;
		}
	}
	return FERRY_CMD_STALE;
}

static struct ferry_command_log *new_log(struct ferry_command_table *t, const char *migration_id)
{
	struct ferry_command_log *victim = &t->logs[0];
	for (size_t i = 0; i < FERRY_CMD_MAX_MIGRATIONS; i++) {
		if (!t->logs[i].used) {
			victim = &t->logs[i];
			break;
		}
		if (t->logs[i].last_used < victim->last_used)
			victim = &t->logs[i];
	}
	memset(victim, 0, sizeof *victim);
	victim->used = true;
	snprintf(victim->migration_id, sizeof victim->migration_id, "%s", migration_id);
	return victim;
}

void ferry_command_table_record(struct ferry_command_table *t, const char *migration_id, uint64_t seq, int code,
				const char *message, const char *data_address)
{
	struct ferry_command_log *log = find_log(t, migration_id);
	if (!log)
		log = new_log(t, migration_id);
	log->last_used = ++t->clock;
	if (seq > log->last_seq)
		log->last_seq = seq;
	struct ferry_command_record *r;
	if (log->n_records < FERRY_CMD_RECORDS_PER_MIGRATION) {
		r = &log->records[log->n_records++];
	} else {
		r = &log->records[0]; /* the oldest: seqs only grow, so the smallest seq */
		for (unsigned i = 1; i < log->n_records; i++)
			if (log->records[i].seq < r->seq)
				r = &log->records[i];
	}
	r->seq = seq;
	r->code = code;
	snprintf(r->message, sizeof r->message, "%s", message ? message : "");
	snprintf(r->data_address, sizeof r->data_address, "%s", data_address ? data_address : "");
}
