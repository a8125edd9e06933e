package natstest

import (
	"os"
	"strconv"
	"testing"
)

// BenchEvents is the stream size of the replay and audit benchmarks:
// USERLIFE_BENCH_EVENTS, default 200,000 (1000000 for the documented
// figures).
func BenchEvents(b testing.TB) int {
	if s := os.Getenv("USERLIFE_BENCH_EVENTS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 5 {
			b.Fatalf("USERLIFE_BENCH_EVENTS=%q: want a number ≥ 5", s)
		}
		return n
	}
	return 200_000
}
