package watermill_test

import (
	"maps"
	"slices"
	"sync"
	"testing"

	wmintake "github.com/userlife/userlife/adapters/watermill"
	"github.com/userlife/userlife/events"
)

// hookRecorder keeps every OnOutcome call by command id.
type hookRecorder struct {
	mu    sync.Mutex
	calls map[string][]wmintake.OutcomeParams
}

func (r *hookRecorder) record(p wmintake.OutcomeParams) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls[p.Outcome.CommandID] = append(r.calls[p.Outcome.CommandID], p)
}

func (r *hookRecorder) snapshot() map[string][]wmintake.OutcomeParams {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.calls)
}

// OnOutcome sees every outcome once, whatever path produced it: decided
// commands (accepted, unchanged, refused by the domain), commands that do
// not decode (finalize) and unknown command subjects.
func TestIntakeOnOutcome(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rec := &hookRecorder{calls: map[string][]wmintake.OutcomeParams{}}
	e.startIntake(t, func(c *wmintake.Config) { c.OnOutcome = rec.record })

	raw := func(subject, payload string) events.Outcome {
		t.Helper()
		all, err := e.nc.SubscribeSync(events.ResultSubjectPrefix + ">")
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = all.Unsubscribe() }()
		e.publishRaw(t, subject, []byte(payload))
		return nextOutcome(t, all)
	}
	want := map[string]events.Outcome{}
	for _, o := range []events.Outcome{
		e.mustAccept(t, &events.RegisterUser{CommandMeta: meta("ann"), Email: "ann@example.com"}),
		e.mustAccept(t, &events.ConfirmUser{CommandMeta: meta("ann")}),
		e.do(t, &events.ConfirmUser{CommandMeta: meta("ann")}),    // unchanged
		e.do(t, &events.DisableUser{CommandMeta: meta("nobody")}), // unknown_user
		raw("userlife.cmd.DisableUser", `{"user_id":"ann",`),
		raw("userlife.cmd.FrobnicateUser", `{"command_id":"frob-1","user_id":"ann"}`),
	} {
		want[o.CommandID] = o
	}
	// The hook runs after the outcome is stored, so it may trail the
	// client by a moment.
	eventually(t, "a hook call per outcome", func() bool { return len(rec.snapshot()) == len(want) })
	calls := rec.snapshot()
	if got, wantIDs := slices.Sorted(maps.Keys(calls)), slices.Sorted(maps.Keys(want)); !slices.Equal(got, wantIDs) {
		t.Fatalf("hook saw commands %v, want %v", got, wantIDs)
	}
	for id, ps := range calls {
		if len(ps) != 1 {
			t.Errorf("command %s: %d hook calls, want 1", id, len(ps))
			continue
		}
		if ps[0].Outcome != want[id] {
			t.Errorf("command %s: hook got %+v, client got %+v", id, ps[0].Outcome, want[id])
		}
		if ps[0].Took <= 0 {
			t.Errorf("command %s: Took %v, want the time from intake to outcome", id, ps[0].Took)
		}
	}
	codes := map[string]int{}
	for _, ps := range calls {
		codes[string(ps[0].Outcome.Status)+" "+ps[0].Outcome.Code]++
	}
	wantCodes := map[string]int{"accepted ": 2, "unchanged ": 1, "rejected unknown_user": 1,
		"rejected malformed_command": 1, "rejected unknown_command": 1}
	if !maps.Equal(codes, wantCodes) {
		t.Errorf("hook outcomes by status and code: got %v, want %v", codes, wantCodes)
	}
}
