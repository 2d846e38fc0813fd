/* The bandwidth token bucket; see stream_bucket.h. */
#include "stream_bucket.h"

static void refill(struct ferry_token_bucket *b, uint64_t now_ns)
{
	if (now_ns > b->last_ns && b->rate) {
		b->level += (double)(now_ns - b->last_ns) * (double)b->rate / 1e9;
		if (b->level > (double)b->burst)
			b->level = (double)b->burst;
	}
	if (now_ns > b->last_ns)
		b->last_ns = now_ns;
}

void ferry_token_bucket_init(struct ferry_token_bucket *b, uint64_t rate, uint64_t burst, uint64_t now_ns)
{
	b->rate = rate;
	b->burst = burst;
	b->level = (double)burst;
	b->last_ns = now_ns;
}

void ferry_token_bucket_set_rate(struct ferry_token_bucket *b, uint64_t rate, uint64_t now_ns)
{
	refill(b, now_ns);
	b->rate = rate;
}

uint64_t ferry_token_bucket_reserve(struct ferry_token_bucket *b, uint64_t bytes, uint64_t now_ns)
{
	if (!b->rate)
		return 0;
	refill(b, now_ns);
	b->level -= (double)bytes;
	if (b->level >= 0)
		return 0;
	return (uint64_t)(-b->level * 1e9 / (double)b->rate);
}
