/* Progress while a round is in flight (real processes, migration_harness.h): 16 MiB of guest RAM
 * under a 4 MiB/s cap makes round 0 last about four seconds, in which the source reports the round
 * so far about once a second (mid_round), bytes growing, before the round's own report. */
#include "migration_harness.h"
#include "test.h"

#define CAP (4ull << 20)

/* mh_progress_until: checks each mid-round report of round 0 (bytes sent so far in *last_sent) and
 * stops at the round's own report. */
static bool checked_until_round_end(const Ferry__V1__Progress *p, void *last_sent)
{
	uint64_t *last = last_sent;
	if (!p->mid_round)
		return true;
	EXPECT_EQ_INT((int)p->round, 0);
	EXPECT_EQ_INT((int)p->phase, FERRY__V1__AGENT_PHASE__AGENT_PHASE_PRECOPY);
	EXPECT(p->ram_bytes_sent > *last); /* a second of a 4 MiB/s stream sends something */
	/* Over a second, whole batches and the bucket's burst allowance: near the cap, not at it. */
	EXPECT(p->bandwidth_bytes_per_sec > 0 && p->bandwidth_bytes_per_sec <= 2 * CAP);
	/* Round 0 has no end-of-round figures yet to repeat. */
	EXPECT(p->pages_dirtied == 0 && p->dirty_bytes_remaining == 0 && p->expected_downtime_us == 0);
	*last = p->ram_bytes_sent;
	return false;
}

FERRY_TEST(migration_mid_round_progress_during_a_capped_round_0)
{
	struct mh_cluster c;
	EXPECT_EQ_INT(mh_setup(&c, NULL, NULL, "16MiB", "200"), 0);
	Ferry__V1__MigrationPolicy pol = FERRY__V1__MIGRATION_POLICY__INIT;
	pol.bandwidth_bytes_per_sec = CAP;
	pol.max_downtime_ms = 600000; /* converges after round 0 */
	EXPECT_EQ_INT(mh_begin(&c, "mig-mr", "token-mr", &pol), 0);
	uint64_t last_sent = 0;
	Ferry__V1__Progress *p = mh_progress_until(&c.src, checked_until_round_end, &last_sent);
	EXPECT(c.src.mid_round_reports >= 2);
	/* The round's own report ends it: not mid-round, all of round 0's bytes, its dirty figures. */
	EXPECT(p != NULL);
	if (p) {
		EXPECT(!p->mid_round);
		EXPECT_EQ_INT((int)p->round, 0);
		EXPECT(p->ram_bytes_sent >= last_sent);
		EXPECT(p->expected_downtime_us > 0);
		protobuf_c_message_free_unpacked(&p->base, NULL);
	}
	Ferry__V1__Progress *f = mh_final_progress(&c.src);
	EXPECT(f && f->phase == FERRY__V1__AGENT_PHASE__AGENT_PHASE_COMPLETED && !f->mid_round);
	if (f)
		protobuf_c_message_free_unpacked(&f->base, NULL);
	Ferry__V1__Progress *q = mh_final_progress(&c.dst);
	EXPECT(q && q->phase == FERRY__V1__AGENT_PHASE__AGENT_PHASE_COMPLETED);
	if (q)
		protobuf_c_message_free_unpacked(&q->base, NULL);
	char reply[8192];
	EXPECT_EQ_INT(mh_workload_says(c.incoming, "verify", reply, sizeof reply), 0);
	EXPECT(strncmp(reply, "ok pages=", 9) == 0);
	mh_workload_says(c.incoming, "quit", reply, sizeof reply);
	mh_teardown(&c);
}
