package nats_test

import (
	"strings"
	"testing"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/adapters/nats/natstest"
	"github.com/userlife/userlife/events"
)

// CheckProvisioned names what is missing; EventsHead follows appends.
func TestCheckProvisionedAndEventsHead(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	_, js := natstest.Provisioned(t)
	if detail, err := natsadapter.CheckProvisioned(ctx, js); err != nil || !strings.Contains(detail, natsadapter.EventsStream) {
		t.Fatalf("provisioned: %q, %v", detail, err)
	}
	if head, err := natsadapter.EventsHead(ctx, js); err != nil || head != 0 {
		t.Fatalf("head of an empty stream: %d, %v", head, err)
	}
	if _, err := js.Publish(ctx, events.EventSubject("ann", events.TypeUserRegistered), []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if head, err := natsadapter.EventsHead(ctx, js); err != nil || head != 1 {
		t.Fatalf("head after one message: %d, %v", head, err)
	}
	for _, s := range []string{natsadapter.ResultsStream, "KV_" + natsadapter.EmailsBucket} {
		if err := js.DeleteStream(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	_, err := natsadapter.CheckProvisioned(ctx, js)
	if err == nil || !strings.Contains(err.Error(), "missing: "+natsadapter.ResultsStream+", KV_"+natsadapter.EmailsBucket) {
		t.Errorf("two streams deleted: %v, want both named", err)
	}
}
