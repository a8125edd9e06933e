package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/userlife/userlife/adapters/http/admin"
	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/adapters/nats/natstest"
	"github.com/userlife/userlife/events"
	"github.com/userlife/userlife/projections"
)

// GET /v1/users/{id}/erasure: a deleted user's receipt lists every
// registered data service, purged or pending; a live or unknown user has
// none.
func TestAdminAPIErasure(t *testing.T) {
	t.Parallel()
	a := startAPI(t)
	_, js := natstest.Connect(t, a.app.NATSURL)
	ctx := t.Context()
	ds, err := natsadapter.NewDataServices(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"todo", "billing"} {
		if _, err := ds.Register(ctx, projections.DataService{Service: name}); err != nil {
			t.Fatal(err)
		}
	}
	client, err := natsadapter.NewClient(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	a.confirmed("ann", "ann@example.com")
	a.do(req{Method: "GET", Path: "/v1/users/ann/erasure", Token: adminToken}).wantProblem(t, http.StatusNotFound, admin.CodeNotFound)
	a.do(req{Method: "GET", Path: "/v1/users/nobody/erasure", Token: adminToken}).wantProblem(t, http.StatusNotFound, events.CodeUnknownUser)
	a.do(req{Method: "GET", Path: "/v1/users/a.b/erasure", Token: adminToken}).wantProblem(t, http.StatusBadRequest, events.CodeInvalidUserID)
	a.do(req{Method: "GET", Path: "/v1/users/ann/erasure"}).wantProblem(t, http.StatusUnauthorized, admin.CodeUnauthorized)

	a.outcome("POST", "/v1/users/ann/delete", map[string]string{"reason": "GDPR"})
	out, err := client.Do(ctx, &events.RecordDataPurged{CommandMeta: events.CommandMeta{UserID: "ann", Actor: "todo"}, Service: "todo", ItemsRemoved: 3})
	if err != nil || out.Status != events.StatusAccepted {
		t.Fatalf("RecordDataPurged: %+v, %v", out, err)
	}
	var r projections.ErasureReceipt
	a.do(req{Method: "GET", Path: "/v1/users/ann/erasure", Token: viewerToken}).decode(t, http.StatusOK, &r)
	if r.UserID != "ann" || r.DeleteReason != "GDPR" || r.DeletedBy != "alice" || r.Complete || len(r.Services) != 2 {
		t.Fatalf("receipt %+v, want ann deleted by alice for GDPR, incomplete, two services", r)
	}
	if got, want := r.Summary(), "billing: pending; todo: purged 3 items at "+r.Services[1].PurgedAt.UTC().Format("2006-01-02T15:04:05Z07:00"); got != want {
		t.Errorf("receipt %q, want %q", got, want)
	}
	if s := r.Services[1]; s.EventSeq != out.EventSeq || s.Actor != "todo" {
		t.Errorf("todo = %+v, want the event at seq %d by todo", s, out.EventSeq)
	}
	// A receipt after the delete leaves the user answered as deleted.
	for h := a.historyOf("ann"); h[len(h)-1].Type != string(events.TypeUserDataPurged); h = a.historyOf("ann") {
		if t.Context().Err() != nil {
			t.Fatal("the receipt never reached the history")
		}
		time.Sleep(10 * time.Millisecond)
	}
	var d admin.UserDetail
	a.do(req{Method: "GET", Path: "/v1/users/ann", Token: viewerToken}).decode(t, http.StatusOK, &d)
	if d.User.State != "deleted" || d.User.DeletedAt.IsZero() || d.User.Version != out.EventSeq || d.Revocation.RevokedBefore.IsZero() {
		t.Errorf("deleted user after a receipt: %+v", d)
	}
}
