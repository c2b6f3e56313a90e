/*
 * The fuzz targets' common entry points. Each target defines both; they
 * are run by libFuzzer (tests/fuzz/run.sh) or, without it, by replay.c over
 * every file of the target's corpus (make check).
 */
#ifndef JOURNEYD_FUZZ_H
#define JOURNEYD_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Found a bug the sanitizers cannot see: say what and abort. */
void	fuzz_fail(const char *, ...) __attribute__((noreturn,
	    format(printf, 1, 2)));

#endif /* JOURNEYD_FUZZ_H */
