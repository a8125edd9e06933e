package nats_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/adapters/nats/natstest"
	"github.com/userlife/userlife/events"
	"github.com/userlife/userlife/projections"
)

func TestDataServicesRegister(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := testContext(t)
	ds, err := natsadapter.NewDataServices(ctx, e.js)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ds.List(ctx); err != nil || len(got) != 0 {
		t.Fatalf("List on an empty bucket = %v, %v; want none", got, err)
	}
	first := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	if _, err := ds.Register(ctx, projections.DataService{Service: "todo", RegisteredAt: first, Description: "to-do items"}); err != nil {
		t.Fatal(err)
	}
	// Registering again (a restart) keeps the first registered_at.
	again, err := ds.Register(ctx, projections.DataService{Service: "todo", Description: "to-do items v2"})
	if err != nil {
		t.Fatal(err)
	}
	if !again.RegisteredAt.Equal(first) {
		t.Errorf("registered_at after registering again = %v, want the first %v", again.RegisteredAt, first)
	}
	if _, err := ds.Register(ctx, projections.DataService{Service: "billing"}); err != nil {
		t.Fatal(err)
	}
	got, err := ds.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Service != "billing" || got[1].Service != "todo" ||
		got[1].Description != "to-do items v2" || !got[1].RegisteredAt.Equal(first) {
		t.Errorf("List = %+v, want billing then todo (first registered_at, new description)", got)
	}
	if err := ds.Deregister(ctx, "billing"); err != nil {
		t.Fatal(err)
	}
	if got, err := ds.List(ctx); err != nil || len(got) != 1 || got[0].Service != "todo" {
		t.Errorf("List after deregistering billing = %+v, %v; want todo only", got, err)
	}
	if err := ds.Deregister(ctx, "billing"); err == nil {
		t.Error("deregistering billing twice = nil error, want no such service")
	}
	// A service that comes back registers anew.
	if s, err := ds.Register(ctx, projections.DataService{Service: "billing"}); err != nil || s.RegisteredAt.IsZero() {
		t.Errorf("register billing again = %+v, %v", s, err)
	}
	for _, bad := range []string{"", "to do", "todo.v2", "*"} {
		if _, err := ds.Register(ctx, projections.DataService{Service: bad}); err == nil {
			t.Errorf("Register(%q) = nil error, want a refusal", bad)
		}
	}
}

// TestErasureReceipt runs the write path (domain.Service on the real event
// store) through a delete and two receipts, one of them sent twice.
func TestErasureReceipt(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := testContext(t)
	svc := e.service()
	er, err := natsadapter.NewErasures(ctx, e.js)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"todo", "billing", "search"} {
		if _, err := er.Services().Register(ctx, projections.DataService{Service: name}); err != nil {
			t.Fatal(err)
		}
	}
	do := func(cmd events.Command, want events.Status) events.Outcome {
		t.Helper()
		out, err := svc.Handle(ctx, cmd)
		if err != nil || out.Status != want {
			t.Fatalf("%s: %+v, %v; want %s", cmd.CommandName(), out, err, want)
		}
		return out
	}
	meta := func(id string) events.CommandMeta {
		return events.CommandMeta{CommandID: id, UserID: "ann", Actor: "ops"}
	}
	if _, err := er.Receipt(ctx, "ann"); !errors.Is(err, projections.ErrNotFound) {
		t.Errorf("Receipt(unknown) error = %v, want ErrNotFound", err)
	}
	do(&events.RegisterUser{CommandMeta: meta("c1"), Email: "ann@example.com"}, events.StatusAccepted)
	out := do(&events.RecordDataPurged{CommandMeta: meta("c2"), Service: "todo", ItemsRemoved: 3}, events.StatusRejected)
	if out.Code != events.CodeForbiddenTransition {
		t.Errorf("receipt for a live user: code %q, want %q", out.Code, events.CodeForbiddenTransition)
	}
	if _, err := er.Receipt(ctx, "ann"); !errors.Is(err, projections.ErrNotDeleted) {
		t.Errorf("Receipt(live user) error = %v, want ErrNotDeleted", err)
	}
	del := meta("c3")
	del.Reason = "GDPR"
	do(&events.DeleteUser{CommandMeta: del}, events.StatusAccepted)
	todo := do(&events.RecordDataPurged{CommandMeta: meta("c4"), Service: "todo", ItemsRemoved: 3}, events.StatusAccepted)
	do(&events.RecordDataPurged{CommandMeta: meta("c5"), Service: "todo", ItemsRemoved: 0}, events.StatusUnchanged)
	do(&events.RecordDataPurged{CommandMeta: events.CommandMeta{CommandID: "c6", UserID: "nobody", Actor: "todo"}, Service: "todo"},
		events.StatusRejected)
	r, err := er.Receipt(ctx, "ann")
	if err != nil {
		t.Fatal(err)
	}
	if r.Complete || r.DeleteReason != "GDPR" || r.DeleteSeq != 2 || len(r.Services) != 3 {
		t.Fatalf("receipt = %+v, want incomplete, deleted at seq 2 for GDPR, three services", r)
	}
	got := map[string]projections.ServiceErasure{}
	for _, s := range r.Services {
		got[s.Service] = s
	}
	if s := got["todo"]; s.Status != projections.ErasurePurged || s.ItemsRemoved != 3 || s.EventSeq != todo.EventSeq || s.PurgedAt.IsZero() {
		t.Errorf("todo = %+v, want purged, 3 items, at seq %d", s, todo.EventSeq)
	}
	for _, name := range []string{"billing", "search"} {
		if s := got[name]; s.Status != projections.ErasurePending || !s.Registered {
			t.Errorf("%s = %+v, want pending", name, s)
		}
	}
	// Deregistering a service that has not confirmed drops it; a receipt
	// given by a service no longer registered stays.
	if err := er.Services().Deregister(ctx, "search"); err != nil {
		t.Fatal(err)
	}
	if err := er.Services().Deregister(ctx, "todo"); err != nil {
		t.Fatal(err)
	}
	do(&events.RecordDataPurged{CommandMeta: meta("c7"), Service: "billing"}, events.StatusAccepted)
	r, err = er.Receipt(ctx, "ann")
	if err != nil {
		t.Fatal(err)
	}
	if !r.Complete || len(r.Services) != 2 || r.Services[1].Service != "todo" || r.Services[1].Registered {
		t.Errorf("receipt = %+v, want complete: billing purged, todo purged and no longer registered", r)
	}
	if _, err := er.Receipt(ctx, "a.b"); err == nil {
		t.Error("Receipt(invalid id) = nil error")
	}
}

// TestProvisionUpgradesForReceipts: a server provisioned before
// RecordDataPurged existed gets its subject on the command queue and the
// data services bucket when the new version provisions it.
func TestProvisionUpgradesForReceipts(t *testing.T) {
	t.Parallel()
	srv := natstest.Server(t)
	_, js := natstest.Connect(t, srv.ClientURL())
	ctx := testContext(t)
	var old []string
	for _, s := range natsadapter.CommandSubjects() {
		if s != events.CommandSubject(events.CmdRecordDataPurged) {
			old = append(old, s)
		}
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: natsadapter.CommandStream, Subjects: old,
		Retention: jetstream.WorkQueuePolicy, Duplicates: 2 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	if err := natsadapter.Provision(ctx, js, natsadapter.StreamsConfig{}); err != nil {
		t.Fatalf("provision over the older configuration: %v", err)
	}
	s, err := js.Stream(ctx, natsadapter.CommandStream)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(s.CachedInfo().Config.Subjects, "userlife.cmd.RecordDataPurged") {
		t.Errorf("command subjects %v lack userlife.cmd.RecordDataPurged", s.CachedInfo().Config.Subjects)
	}
	if _, err := js.KeyValue(ctx, natsadapter.DataServicesBucket); err != nil {
		t.Errorf("bucket %s: %v", natsadapter.DataServicesBucket, err)
	}
}
