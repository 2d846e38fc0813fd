/*
 * ferry-vectors: the C side of the cross-language wire vectors (proto/vectors/README.md).
 *
 *   ferry-vectors write DIR   writes the 16 canonical frames, as encoded by the agent's codec
 *   ferry-vectors check DIR   decodes each canonical file of DIR and compares the values
 *
 * `check` prints one line per file and exits 1 on any mismatch or missing file, so it can check
 * the Swift side's files (proto/vectors/swift) as well as our own.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "vectors_canonical.h"
#include "wire.h"

static int usage(void)
{
	fprintf(stderr, "usage: ferry-vectors write DIR\n       ferry-vectors check DIR\n");
	return 2;
}

static int write_all(const char *dir)
{
	if (mkdir(dir, 0755) != 0) {
		struct stat st;
		if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
			fprintf(stderr, "ferry-vectors: cannot create directory %s\n", dir);
			return 1;
		}
	}
	for (size_t i = 0; i < FERRY_VECTOR_COUNT; i++) {
		int rc = ferry_vector_write_file(&ferry_vectors[i], dir);
		if (rc) {
			fprintf(stderr, "ferry-vectors: %s/%s: %s\n", dir, ferry_vectors[i].file, ferry_wire_strerror(rc));
			return 1;
		}
		printf("wrote %s/%s\n", dir, ferry_vectors[i].file);
	}
	return 0;
}

static int check_all(const char *dir)
{
	int bad = 0;
	for (size_t i = 0; i < FERRY_VECTOR_COUNT; i++) {
		char why[512] = "";
		if (ferry_vector_check_file(&ferry_vectors[i], dir, why, sizeof why) == 0) {
			printf("ok       %s\n", ferry_vectors[i].file);
		} else {
			printf("MISMATCH %s: %s\n", ferry_vectors[i].file, why);
			bad++;
		}
	}
	printf("%d of %d vectors match\n", FERRY_VECTOR_COUNT - bad, FERRY_VECTOR_COUNT);
	return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return usage();
	if (strcmp(argv[1], "write") == 0)
		return write_all(argv[2]);
	if (strcmp(argv[1], "check") == 0)
		return check_all(argv[2]);
	return usage();
}
