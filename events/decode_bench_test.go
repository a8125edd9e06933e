package events_test

import (
	"os"
	"runtime"
	"syscall"
	"testing"

	"github.com/userlife/userlife/events"
)

// BenchmarkDecode decodes each event type's golden envelope: what every
// projector, replay and audit scan pays per message.
func BenchmarkDecode(b *testing.B) {
	for _, typ := range events.Types() {
		data, err := os.ReadFile(goldenPath(typ))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(string(typ), func(b *testing.B) {
			b.ReportAllocs()
			// CPU time of this thread: on a shared machine wall time per op
			// swings with the other work, CPU time much less.
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			cpu0 := threadCPU(b)
			for b.Loop() {
				if _, err := events.Decode(data); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(threadCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// threadCPU is the CPU time (user + system) the calling OS thread has used.
func threadCPU(b *testing.B) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		b.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
