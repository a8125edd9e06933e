package nats_test

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/adapters/nats/natstest"
	"github.com/userlife/userlife/events"
)

func streamConfig(t *testing.T, js jetstream.JetStream, name string) jetstream.StreamConfig {
	t.Helper()
	ctx := testContext(t)
	s, err := js.Stream(ctx, name)
	if err != nil {
		t.Fatalf("open stream %s: %v", name, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatalf("info of stream %s: %v", name, err)
	}
	return info.Config
}

func TestProvisionIsIdempotent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := testContext(t)
	appendOK(t, e.store, "u-1", 0, registered("u-1", "c-1", "a@x.com"))
	before := streamConfig(t, e.js, natsadapter.EventsStream)

	// natstest.Provisioned ran it once; run it twice more.
	for i := range 2 {
		if err := natsadapter.Provision(ctx, e.js, natsadapter.StreamsConfig{}); err != nil {
			t.Fatalf("Provision again (%d): %v", i+1, err)
		}
	}
	if got := streamMsgs(t, e.js, natsadapter.EventsStream); got != 1 {
		t.Errorf("events after re-provisioning = %d, want 1", got)
	}
	after := streamConfig(t, e.js, natsadapter.EventsStream)
	if !slices.Equal(after.Subjects, before.Subjects) || after.Duplicates != before.Duplicates ||
		after.DenyDelete != before.DenyDelete || after.Retention != before.Retention {
		t.Errorf("events stream config changed by re-provisioning:\n got %+v\nwant %+v", after, before)
	}
}

// Several processes may start at once against a fresh server.
func TestProvisionConcurrently(t *testing.T) {
	t.Parallel()
	s := natstest.Server(t)
	const processes = 4
	errs := make([]error, processes)
	var wg sync.WaitGroup
	for i := range processes {
		_, js := natstest.Connect(t, s.ClientURL())
		wg.Go(func() { errs[i] = natsadapter.Provision(testContext(t), js, natsadapter.StreamsConfig{}) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Provision %d: %v", i, err)
		}
	}
}

// check is one expectation on a stream's configuration.
type check struct {
	name string
	ok   bool
	got  any
}

func TestProvisionStreamConfigs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	ev := streamConfig(t, e.js, natsadapter.EventsStream)
	checks := []check{
		{"events: limits retention", ev.Retention == jetstream.LimitsPolicy, ev.Retention},
		{"events: DenyDelete", ev.DenyDelete, ev.DenyDelete},
		{"events: DenyPurge", ev.DenyPurge, ev.DenyPurge},
		{"events: AllowDirect", ev.AllowDirect, ev.AllowDirect},
		{"events: duplicate window >= 2m", ev.Duplicates >= 2*time.Minute, ev.Duplicates},
		{"events: file storage", ev.Storage == jetstream.FileStorage, ev.Storage},
		{"events: no age limit", ev.MaxAge == 0, ev.MaxAge},
		{"events: no message limit", ev.MaxMsgs <= 0, ev.MaxMsgs},
		{"events: no size limit", ev.MaxBytes <= 0, ev.MaxBytes},
		{"events: no per-subject limit", ev.MaxMsgsPerSubject <= 0, ev.MaxMsgsPerSubject},
		{"events: subjects", slices.Equal(ev.Subjects, []string{"userlife.events.>"}), ev.Subjects},
	}

	cmd := streamConfig(t, e.js, natsadapter.CommandStream)
	gotSubjects := slices.Sorted(slices.Values(cmd.Subjects))
	wantSubjects := slices.Sorted(slices.Values(natsadapter.CommandSubjects()))
	checks = append(checks,
		check{"commands: work queue", cmd.Retention == jetstream.WorkQueuePolicy, cmd.Retention},
		check{"commands: exactly the command subjects", slices.Equal(gotSubjects, wantSubjects), gotSubjects},
		check{"commands: duplicate window >= 2m", cmd.Duplicates >= 2*time.Minute, cmd.Duplicates},
	)

	res := streamConfig(t, e.js, natsadapter.ResultsStream)
	checks = append(checks,
		check{"results: kept at least 1h", res.MaxAge >= time.Hour, res.MaxAge},
		check{"results: one per command id", res.MaxMsgsPerSubject == 1, res.MaxMsgsPerSubject},
	)
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: got %v", c.name, c.got)
		}
	}
	var literal []string
	for _, name := range events.CommandNames() {
		literal = append(literal, "userlife.cmd."+name)
	}
	if slices.Sort(literal); !slices.Equal(wantSubjects, literal) {
		t.Errorf("CommandSubjects() = %v, want %v", wantSubjects, literal)
	}

	kv, err := e.js.KeyValue(testContext(t), natsadapter.EmailsBucket)
	if err != nil {
		t.Fatalf("open KV bucket %s: %v", natsadapter.EmailsBucket, err)
	}
	st, err := kv.Status(testContext(t))
	if err != nil {
		t.Fatalf("KV status: %v", err)
	}
	if st.History() != 1 {
		t.Errorf("emails bucket history = %d, want 1", st.History())
	}
}

func TestStreamsConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		cfg      natsadapter.StreamsConfig
		wantErrs []string // substrings, one per joined error
	}{
		{"zero means defaults", natsadapter.StreamsConfig{}, nil},
		{"explicit good values", natsadapter.StreamsConfig{Replicas: 3, ResultsMaxAge: time.Hour, DuplicateWindow: 2 * time.Minute}, nil},
		{
			"short results age and two replicas",
			natsadapter.StreamsConfig{ResultsMaxAge: 30 * time.Minute, Replicas: 2},
			[]string{"at least 1h, got 30m0s", "replicas must be 1, 3 or 5, got 2"},
		},
		{
			"short duplicate window",
			natsadapter.StreamsConfig{DuplicateWindow: time.Minute},
			[]string{"duplicate window must be at least 2m, got 1m0s"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.cfg.Validate()
			if len(tt.wantErrs) == 0 {
				if err != nil {
					t.Errorf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want %d problems", len(tt.wantErrs))
			}
			joined, ok := err.(interface{ Unwrap() []error })
			if !ok {
				t.Fatalf("Validate() = %T %q, want a joined error", err, err)
			}
			if got := len(joined.Unwrap()); got != len(tt.wantErrs) {
				t.Errorf("Validate() joined %d errors, want %d: %v", got, len(tt.wantErrs), err)
			}
			for _, want := range tt.wantErrs {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Validate() = %q, want it to mention %q", err, want)
				}
			}
		})
	}

	// Provision refuses an invalid configuration before touching the server.
	_, js := natstest.Connect(t, natstest.Server(t).ClientURL())
	err := natsadapter.Provision(testContext(t), js, natsadapter.StreamsConfig{ResultsMaxAge: 30 * time.Minute, Replicas: 2})
	if err == nil {
		t.Fatal("Provision with an invalid configuration succeeded, want an error")
	}
	if _, err := js.Stream(testContext(t), natsadapter.EventsStream); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Errorf("after a refused Provision, opening %s error = %v, want jetstream.ErrStreamNotFound", natsadapter.EventsStream, err)
	}
}
