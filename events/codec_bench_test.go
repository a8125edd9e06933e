package events

import (
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
)

// BenchmarkCodec decodes and encodes each event type's golden envelope —
// what every command, projector, replay and audit scan pays per event —
// next to encoding/json alone doing the same, in the same run.
func BenchmarkCodec(b *testing.B) {
	for _, typ := range Types() {
		data, err := os.ReadFile(filepath.Join("testdata", "golden", string(typ)+".json"))
		if err != nil {
			b.Fatal(err)
		}
		e, err := Decode(data)
		if err != nil {
			b.Fatal(err)
		}
		env := RawEnvelope{ID: e.ID, Type: e.Type, UserID: e.UserID, OccurredAt: e.OccurredAt, Actor: e.Actor,
			Reason: e.Reason, CommandID: e.CommandID, CorrelationID: e.CorrelationID}
		for _, c := range []struct {
			name string
			fn   func() error
		}{
			{"decode", func() error { _, err := Decode(data); return err }},
			{"decode-encoding-json", func() error { _, err := decode(data, false); return err }},
			{"encode", func() error { _, err := Encode(e); return err }},
			{"encode-encoding-json", func() error { _, err := encodeJSON(env, e.Data); return err }},
		} {
			b.Run(c.name+"/"+string(typ), func(b *testing.B) {
				b.ReportAllocs()
				// CPU time of this thread: on a shared machine wall time per
				// op swings with the other work, CPU time much less.
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				cpu0 := threadCPU(b)
				for b.Loop() {
					if err := c.fn(); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(threadCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
			})
		}
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
