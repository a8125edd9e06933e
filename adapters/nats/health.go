package nats

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// ProvisionedStreams lists the streams Provision creates; a KV bucket is
// the stream KV_<bucket>.
func ProvisionedStreams() []string {
	return []string{EventsStream, CommandStream, ResultsStream, PoisonStream, KeysStream,
		"KV_" + RevocationsBucket, "KV_" + CheckpointsBucket, "KV_" + EmailsBucket, "KV_" + DataServicesBucket}
}

// CheckProvisioned says whether every stream and bucket userlife needs is
// on the server (one request), naming those that are missing.
func CheckProvisioned(ctx context.Context, js jetstream.JetStream) (string, error) {
	names := js.StreamNames(ctx)
	var have []string
	for n := range names.Name() {
		have = append(have, n)
	}
	if err := names.Err(); err != nil {
		return "", fmt.Errorf("list streams: %w", err)
	}
	var missing []string
	for _, n := range ProvisionedStreams() {
		if !slices.Contains(have, n) {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("missing: %s (serve provisions them at start; restart it, or check who deleted them)", strings.Join(missing, ", "))
	}
	return "present: " + strings.Join(ProvisionedStreams(), ", "), nil
}

// EventsHead is the event stream's last sequence (one request).
func EventsHead(ctx context.Context, js jetstream.JetStream) (uint64, error) {
	s, err := js.Stream(ctx, EventsStream)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", EventsStream, err)
	}
	return s.CachedInfo().State.LastSeq, nil
}
