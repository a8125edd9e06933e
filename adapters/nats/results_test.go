package nats_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/events"
)

func newResults(t *testing.T) (*env, *natsadapter.Results) {
	t.Helper()
	e := newEnv(t)
	r, err := natsadapter.NewResults(testContext(t), e.js)
	if err != nil {
		t.Fatalf("NewResults: %v", err)
	}
	return e, r
}

func outcome(commandID string) events.Outcome {
	return events.Outcome{
		CommandID: commandID, Command: events.CmdDisableUser, Status: events.StatusAccepted,
		UserID: "u-1", EventSeq: 42,
	}
}

func TestResultsPublishGet(t *testing.T) {
	t.Parallel()
	_, r := newResults(t)
	ctx := testContext(t)
	want := outcome("c-published")
	if err := r.Publish(ctx, want); err != nil {
		t.Fatalf("Publish: %v", err)
	}

	tests := []struct {
		name      string
		commandID string
		want      events.Outcome
		wantErr   error
	}{
		{"published", "c-published", want, nil},
		{"unknown", "c-unknown", events.Outcome{}, natsadapter.ErrNoOutcome},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.Get(ctx, tt.commandID)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Get(%s) error = %v, want %v", tt.commandID, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("Get(%s) = %+v, want %+v", tt.commandID, got, tt.want)
			}
		})
	}

	if _, err := r.Get(ctx, "not.a.valid>id"); err == nil {
		t.Error("Get of an invalid command id succeeded, want an error")
	}
}

func TestResultsWaitLive(t *testing.T) {
	t.Parallel()
	_, r := newResults(t)
	want := outcome("c-live")
	w, err := r.Watch(want.CommandID)
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	defer w.Close()

	published := make(chan error, 1)
	go func() { published <- r.Publish(context.Background(), want) }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := w.Wait(ctx)
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if err := <-published; err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if got != want {
		t.Errorf("Wait = %+v, want %+v", got, want)
	}
}

// An outcome published before the watch started is only in the stream.
func TestResultsWaitFindsEarlierOutcome(t *testing.T) {
	t.Parallel()
	_, r := newResults(t)
	want := outcome("c-earlier")
	if err := r.Publish(testContext(t), want); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	w, err := r.Watch(want.CommandID)
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	defer w.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := w.Wait(ctx)
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if got != want {
		t.Errorf("Wait = %+v, want %+v", got, want)
	}
}

func TestResultsWaitGivesUpWithContext(t *testing.T) {
	t.Parallel()
	_, r := newResults(t)
	w, err := r.Watch("c-never")
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	defer w.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := w.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait for an outcome never published error = %v, want context.DeadlineExceeded", err)
	}
}

// A message on the outcome subject that is not this command's outcome (a
// server reply redirected there, see docs/security.md) is passed over:
// Wait returns the real outcome when it comes.
func TestResultsWaitSkipsForeignMessages(t *testing.T) {
	t.Parallel()
	e, r := newResults(t)
	ctx := testContext(t)
	want := outcome("c-foreign")
	w, err := r.Watch(want.CommandID)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for _, forged := range []string{`{"type":"io.nats.jetstream.api.v1.account_info_response"}`,
		`{"command_id":"c-other","status":"accepted"}`, `+OK`} {
		if _, err := e.js.Publish(ctx, events.ResultSubject(want.CommandID), []byte(forged)); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Publish(ctx, want); err != nil {
		t.Fatal(err)
	}
	got, err := w.Wait(ctx)
	if err != nil || got != want {
		t.Fatalf("Wait = %+v, %v; want %+v", got, err, want)
	}
}

// Stored (read from the stream's leader) tells a command with an outcome
// from one without, and returns the outcome as stored.
func TestResultsStored(t *testing.T) {
	t.Parallel()
	_, r := newResults(t)
	ctx := testContext(t)
	if _, found, err := r.Stored(ctx, "c-none"); err != nil || found {
		t.Fatalf("Stored before any outcome: found %v, err %v; want not found, no error", found, err)
	}
	want := outcome("c-stored")
	if err := r.Publish(ctx, want); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	got, found, err := r.Stored(ctx, want.CommandID)
	if err != nil || !found || got != want {
		t.Fatalf("Stored: got %+v, %v, %v; want %+v, true, nil", got, found, err, want)
	}
	if _, _, err := r.Stored(ctx, "bad.id"); err == nil {
		t.Errorf("Stored with an invalid id: no error")
	}
}

// An outcome seen on the subject but never stored (the results stream
// refused it, as when it loses its leader mid-write) is not the answer:
// the command comes back and is decided again, so Wait returns the outcome
// that is stored.
func TestResultsWaitReturnsTheStoredOutcome(t *testing.T) {
	t.Parallel()
	e, r := newResults(t)
	ctx := testContext(t)
	waitReturnsStored(t, ctx, e.js.Conn(), r, "c-unstored")
}

// A message on the republish subject that is not the stream's copy of the
// outcome (no stream headers: published there by a client, never stored)
// is not the answer, even when it reads like one: Wait returns the outcome
// the stream stores.
func TestResultsWaitSkipsUnstoredCopies(t *testing.T) {
	t.Parallel()
	e, r := newResults(t)
	ctx := testContext(t)
	want := outcome("c-copy")
	w, err := r.Watch(want.CommandID)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	seen := want
	seen.Status, seen.EventSeq = events.StatusUnchanged, 7
	data, err := events.EncodeOutcome(seen)
	if err != nil {
		t.Fatal(err)
	}
	for _, forged := range [][]byte{[]byte(`{"type":"io.nats.jetstream.api.v1.account_info_response"}`), data} {
		if err := e.js.Conn().Publish(natsadapter.StoredResultSubject(want.CommandID), forged); err != nil {
			t.Fatal(err)
		}
	}
	publishAndWait(t, ctx, r, w, want)
}

// On a results stream provisioned before it republished outcomes, Wait
// takes the live message on userlife.results.<id> as a signal and returns
// the outcome read back from the stream, never an unstored one.
func TestResultsWaitWithoutRepublish(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := testContext(t)
	s, err := e.js.Stream(ctx, natsadapter.ResultsStream)
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	if cfg.RePublish == nil {
		t.Fatal("the provisioned results stream does not republish")
	}
	cfg.RePublish = nil
	if _, err := e.js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	r, err := natsadapter.NewResults(ctx, e.js)
	if err != nil {
		t.Fatal(err)
	}
	waitReturnsStored(t, ctx, e.js.Conn(), r, "c-legacy")
}

// waitReturnsStored publishes an outcome for command id that the stream
// refuses to store, then stores another, and checks that Wait returns the
// stored one (publishing the refused one on nc).
func waitReturnsStored(t *testing.T, ctx context.Context, nc *nats.Conn, r *natsadapter.Results, id string) {
	t.Helper()
	want := outcome(id)
	w, err := r.Watch(want.CommandID)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	seen := want
	seen.Status, seen.EventSeq = events.StatusUnchanged, 7
	data, err := events.EncodeOutcome(seen)
	if err != nil {
		t.Fatal(err)
	}
	m := nats.NewMsg(events.ResultSubject(want.CommandID))
	m.Data = data
	m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, "999") // the stream refuses it
	if err := nc.PublishMsg(m); err != nil {
		t.Fatal(err)
	}
	publishAndWait(t, ctx, r, w, want)
}

// publishAndWait stores want a moment after Wait has begun and checks that
// Wait returns it. The stream's copy can reach Wait before the publisher
// has its ack, so the publisher is waited for too.
func publishAndWait(t *testing.T, ctx context.Context, r *natsadapter.Results, w *natsadapter.OutcomeWatch, want events.Outcome) {
	t.Helper()
	published := make(chan error, 1)
	go func() {
		time.Sleep(300 * time.Millisecond)
		published <- r.Publish(ctx, want)
	}()
	got, err := w.Wait(ctx)
	if err != nil || got != want {
		t.Fatalf("Wait = %+v, %v; want the stored %+v", got, err, want)
	}
	if err := <-published; err != nil {
		t.Fatal(err)
	}
}
