/*
 * What every live-migration benchmark does before its first run: find the ferry-agent it was
 * built with, and open its CSV file.
 */
#ifndef FERRY_BENCH_COMMON_H
#define FERRY_BENCH_COMMON_H

#include <stdio.h>

/* Unless FERRY_AGENT_BIN is set, points it at BUILD/ferry-agent: a benchmark is built as
 * BUILD/bench/NAME. Then opens csv_path for appending into *csv (NULL when csv_path or csv is
 * NULL). 0, or 2 (the benchmark's exit status) with the reason on stderr, prefixed by `name`. */
int bench_setup(const char *name, const char *csv_path, FILE **csv);

/* Seconds of CLOCK_MONOTONIC. */
double bench_now_s(void);

/* The median of v[0..n) (0 when n is 0); sorts v. */
double bench_median(double *v, int n);

#endif
