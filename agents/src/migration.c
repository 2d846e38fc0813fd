/* The shared migration record and the report queue; see migration.h. */
#include "migration.h"

#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

int ferry_mig_reporter_init(struct ferry_mig_reporter *r)
{
	memset(r, 0, sizeof *r);
	r->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (r->event_fd < 0)
		return -errno;
	pthread_mutex_init(&r->lock, NULL);
	return 0;
}

void ferry_mig_reporter_destroy(struct ferry_mig_reporter *r)
{
	if (r->event_fd >= 0) {
		close(r->event_fd);
		pthread_mutex_destroy(&r->lock);
	}
	r->event_fd = -1;
}

void ferry_mig_reporter_post(struct ferry_mig_reporter *r, const struct ferry_mig_report *rep)
{
	pthread_mutex_lock(&r->lock);
	if (r->count == FERRY_MIG_REPORT_QUEUE) {
		r->head = (r->head + 1) % FERRY_MIG_REPORT_QUEUE;
		r->count--;
		r->dropped++;
		ferry_log(FERRY_LOG_WARNING, "msg=\"progress report dropped\" migration_id=%s dropped=%llu",
			  rep->migration_id, (unsigned long long)r->dropped);
	}
	r->queue[(r->head + r->count) % FERRY_MIG_REPORT_QUEUE] = *rep;
	r->count++;
	pthread_mutex_unlock(&r->lock);
	uint64_t one = 1;
	(void)!write(r->event_fd, &one, sizeof one);
}

int ferry_mig_reporter_take(struct ferry_mig_reporter *r, struct ferry_mig_report *out)
{
	pthread_mutex_lock(&r->lock);
	int got = r->count > 0;
	if (got) {
		*out = r->queue[r->head];
		r->head = (r->head + 1) % FERRY_MIG_REPORT_QUEUE;
		r->count--;
	} else {
		uint64_t v;
		(void)!read(r->event_fd, &v, sizeof v);
	}
	pthread_mutex_unlock(&r->lock);
	return got;
}

enum ferry_migr_state ferry_migration_fire(struct ferry_migration *m, enum ferry_migr_event ev, int error_code,
					  const char *error)
{
	pthread_mutex_lock(&m->lock);
	enum ferry_migr_state from = m->state;
	enum ferry_migr_state to = ferry_mig_next(from, ev);
	if (to != FERRY_MIG_INVALID) {
		m->state = to;
		if ((ev == FERRY_MIG_EV_FAILURE || ev == FERRY_MIG_EV_ABORT) && !m->error_code) {
			m->error_code = error_code;
			snprintf(m->error, sizeof m->error, "%s", error ? error : "");
		}
	}
	pthread_mutex_unlock(&m->lock);
	char q[300];
	if (to == FERRY_MIG_INVALID)
		ferry_log(FERRY_LOG_DEBUG, "msg=\"migration event refused\" migration_id=%s state=%s event=%s", m->id,
			  ferry_migr_state_name(from), ferry_migr_event_name(ev));
	else if (to != from)
		ferry_log(FERRY_LOG_INFO, "msg=\"migration state\" migration_id=%s vm_id=%s from=%s to=%s event=%s reason=%s",
			  m->id, m->vm_id, ferry_migr_state_name(from), ferry_migr_state_name(to), ferry_migr_event_name(ev),
			  ferry_log_quote(error ? error : "", q, sizeof q));
	return to;
}

enum ferry_migr_state ferry_migration_state(struct ferry_migration *m)
{
	pthread_mutex_lock(&m->lock);
	enum ferry_migr_state s = m->state;
	pthread_mutex_unlock(&m->lock);
	return s;
}

void ferry_migration_report_base(struct ferry_migration *m, struct ferry_mig_report *rep)
{
	memset(rep, 0, sizeof *rep);
	snprintf(rep->migration_id, sizeof rep->migration_id, "%s", m->id);
	snprintf(rep->vm_id, sizeof rep->vm_id, "%s", m->vm_id);
	rep->role = m->role;
	pthread_mutex_lock(&m->lock);
	rep->state = m->state;
	rep->error_code = m->error_code;
	snprintf(rep->error, sizeof rep->error, "%s", m->error);
	pthread_mutex_unlock(&m->lock);
}

bool ferry_migration_token_matches(const struct ferry_migration *m, const uint8_t *token, size_t len)
{
	if (len != m->token_len || len == 0)
		return false;
	uint8_t diff = 0;
	for (size_t i = 0; i < len; i++)
		diff |= (uint8_t)(m->token[i] ^ token[i]);
	return diff == 0;
}
