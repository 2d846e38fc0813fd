/*
 * A token bucket for a migration's bandwidth cap, shared by its channels. Pure: the caller passes
 * the time and sleeps for the wait it is told. Reserving ahead (the level may go negative) lets a
 * sender ask once per batch and keeps the long-run rate exactly at the cap.
 */
#ifndef FERRY_STREAM_BUCKET_H
#define FERRY_STREAM_BUCKET_H

#include <stdint.h>

struct ferry_token_bucket {
	uint64_t rate;      /* bytes per second; 0 = uncapped */
	uint64_t burst;     /* most bytes that may be saved up while idle */
	double level;       /* bytes available now (negative: owed) */
	uint64_t last_ns;   /* when level was last brought up to date */
};

void ferry_token_bucket_init(struct ferry_token_bucket *b, uint64_t rate, uint64_t burst, uint64_t now_ns);

/* Changes the rate from now on (0 = uncapped); tokens earned so far are kept. */
void ferry_token_bucket_set_rate(struct ferry_token_bucket *b, uint64_t rate, uint64_t now_ns);

/* Takes `bytes` and returns how long the caller must wait before sending them (ns, 0 = now). */
uint64_t ferry_token_bucket_reserve(struct ferry_token_bucket *b, uint64_t bytes, uint64_t now_ns);

#endif
