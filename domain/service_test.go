package domain_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/userlife/userlife/domain"
	"github.com/userlife/userlife/events"
)

// memStore is an in-memory fake of our EventStore port: one global
// sequence like a stream, optimistic concurrency per user.
type memStore struct {
	mu      sync.Mutex
	seq     uint64
	users   map[string][]events.Event
	appends int // successful Append calls

	loadErr   error
	appendErr error
	// beforeAppend runs inside Append before the version check, to play a
	// concurrent writer.
	beforeAppend func(s *memStore, userID string)
}

var _ domain.EventStore = (*memStore)(nil)

func newMemStore() *memStore { return &memStore{users: make(map[string][]events.Event)} }

func (s *memStore) Load(_ context.Context, userID string) ([]events.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.loadErr != nil {
		return nil, s.loadErr
	}
	return slices.Clone(s.users[userID]), nil
}

func (s *memStore) Append(_ context.Context, userID string, expectedVersion uint64, evs []events.Event) (uint64, error) {
	if hook := s.beforeAppend; hook != nil {
		s.beforeAppend = nil
		hook(s, userID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.appendErr != nil {
		return 0, s.appendErr
	}
	if len(evs) == 0 {
		return 0, errors.New("memStore: append of no events")
	}
	if v := s.versionLocked(userID); v != expectedVersion {
		return 0, domain.ErrConflict
	}
	s.appendLocked(userID, evs...)
	s.appends++
	return s.seq, nil
}

// put stores evs without the version check, as another writer would.
func (s *memStore) put(userID string, evs ...events.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.appendLocked(userID, evs...)
}

func (s *memStore) appendLocked(userID string, evs ...events.Event) {
	for _, e := range evs {
		s.seq++
		e.Seq = s.seq
		s.users[userID] = append(s.users[userID], e)
	}
}

func (s *memStore) versionLocked(userID string) uint64 {
	evs := s.users[userID]
	if len(evs) == 0 {
		return 0
	}
	return evs[len(evs)-1].Seq
}

func (s *memStore) appendCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.appends
}

// memEmails is an in-memory fake of our EmailRegistry port. The test sets
// a claim's Age directly instead of waiting.
type memEmails struct {
	mu     sync.Mutex
	rev    uint64
	claims map[string]*emailClaim

	releaseErr  error
	takeoverErr error
}

type emailClaim struct {
	owner string
	rev   uint64
	age   time.Duration
}

var _ domain.EmailRegistry = (*memEmails)(nil)

func newMemEmails() *memEmails { return &memEmails{claims: make(map[string]*emailClaim)} }

func (r *memEmails) Claim(_ context.Context, email, userID string) (domain.EmailClaim, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.claims[email]
	if !ok {
		r.rev++
		c = &emailClaim{owner: userID, rev: r.rev}
		r.claims[email] = c
	}
	return domain.EmailClaim{Owner: c.owner, Revision: c.rev, Age: c.age}, nil
}

func (r *memEmails) Takeover(_ context.Context, email, userID string, revision uint64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.takeoverErr != nil {
		return r.takeoverErr
	}
	c, ok := r.claims[email]
	if !ok || c.rev != revision {
		return domain.ErrConflict
	}
	r.rev++
	*c = emailClaim{owner: userID, rev: r.rev}
	return nil
}

func (r *memEmails) Release(_ context.Context, email, userID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.releaseErr != nil {
		return r.releaseErr
	}
	if c, ok := r.claims[email]; ok && c.owner == userID {
		delete(r.claims, email)
	}
	return nil
}

// set places a claim as if made age ago.
func (r *memEmails) set(email, owner string, age time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rev++
	r.claims[email] = &emailClaim{owner: owner, rev: r.rev, age: age}
}

// owner returns who holds email, "" for nobody.
func (r *memEmails) owner(email string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.claims[email]; ok {
		return c.owner
	}
	return ""
}

func (r *memEmails) keys() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Sorted(maps.Keys(r.claims))
}

type serviceFixture struct {
	svc    *domain.Service
	store  *memStore
	emails *memEmails
	clock  *testDecider
	n      int // command ids issued
}

func newServiceFixture(t *testing.T) *serviceFixture {
	t.Helper()
	fx := &serviceFixture{store: newMemStore(), emails: newMemEmails(), clock: &testDecider{now: t0}}
	fx.svc = &domain.Service{
		Store:   fx.store,
		Emails:  fx.emails,
		Decider: fx.clock.decider(),
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	return fx
}

// cmd returns a valid command with a fresh command id.
func (fx *serviceFixture) cmd(name, userID string) events.Command {
	fx.n++
	return newCommand(name, userID, fmt.Sprintf("svc-%d", fx.n))
}

func (fx *serviceFixture) register(userID, email string) events.Command {
	c := fx.cmd(events.CmdRegisterUser, userID)
	c.(*events.RegisterUser).Email = email
	return c
}

// handle runs cmd and fails the test on an error.
func (fx *serviceFixture) handle(t *testing.T, cmd events.Command) events.Outcome {
	t.Helper()
	fx.clock.now = fx.clock.now.Add(time.Second)
	out, err := fx.svc.Handle(context.Background(), cmd)
	if err != nil {
		t.Fatalf("Handle(%s %s): %v", cmd.CommandName(), cmd.Meta().UserID, err)
	}
	return out
}

// mustAccept runs cmd and fails the test unless it was accepted.
func (fx *serviceFixture) mustAccept(t *testing.T, cmd events.Command) events.Outcome {
	t.Helper()
	out := fx.handle(t, cmd)
	if out.Status != events.StatusAccepted {
		t.Fatalf("Handle(%s %s) = %+v, want accepted", cmd.CommandName(), cmd.Meta().UserID, out)
	}
	return out
}

func wantRejected(t *testing.T, out events.Outcome, code string) {
	t.Helper()
	if out.Status != events.StatusRejected || out.Code != code || out.Message == "" {
		t.Errorf("outcome = %+v, want rejected with code %q and a message", out, code)
	}
}

func TestServiceAccepted(t *testing.T) {
	t.Parallel()
	fx := newServiceFixture(t)
	reg := fx.register("u-1", "Ada@Example.com")
	out := fx.mustAccept(t, reg)
	want := events.Outcome{CommandID: reg.Meta().CommandID, Command: events.CmdRegisterUser, Status: events.StatusAccepted, UserID: "u-1", EventSeq: 1}
	if out != want {
		t.Errorf("outcome = %+v, want %+v", out, want)
	}
	evs, _ := fx.store.Load(context.Background(), "u-1")
	if len(evs) != 1 || evs[0].Data != (events.UserRegistered{Email: "Ada@Example.com"}) || evs[0].Seq != 1 {
		t.Errorf("stored %+v, want one UserRegistered with the email as given", evs)
	}
	if got, want := fx.emails.keys(), []string{"ada@example.com"}; !slices.Equal(got, want) {
		t.Errorf("claimed keys %v, want the normalized %v", got, want)
	}
	fx.mustAccept(t, fx.cmd(events.CmdConfirmUser, "u-1"))
	if out := fx.mustAccept(t, fx.cmd(events.CmdDisableUser, "u-1")); out.EventSeq != 3 {
		t.Errorf("disable EventSeq = %d, want 3", out.EventSeq)
	}
}

func TestServiceEmailTakenIgnoresCase(t *testing.T) {
	t.Parallel()
	fx := newServiceFixture(t)
	fx.mustAccept(t, fx.register("u-1", "Ada@Example.com"))
	out := fx.handle(t, fx.register("u-2", "aDA@example.COM"))
	wantRejected(t, out, events.CodeEmailTaken)
	if got, want := fx.store.appendCount(), 1; got != want {
		t.Errorf("%d appends, want %d", got, want)
	}
	if evs, _ := fx.store.Load(context.Background(), "u-2"); len(evs) != 0 {
		t.Errorf("u-2 has events %v", evs)
	}
	if got := fx.emails.owner("ada@example.com"); got != "u-1" {
		t.Errorf("email owner = %q, want u-1", got)
	}
}

// TestServiceEmailOfDeletedUser: a deleted user's email is free, whether
// the delete released it or a failed release left a claim behind.
func TestServiceEmailOfDeletedUser(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		releaseErr error
	}{
		{"released on delete", nil},
		{"release failed, taken over", errors.New("kv unavailable")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fx := newServiceFixture(t)
			fx.mustAccept(t, fx.register("u-1", "ada@example.com"))
			fx.emails.releaseErr = tt.releaseErr
			fx.mustAccept(t, fx.cmd(events.CmdDeleteUser, "u-1"))
			wantHolder := ""
			if tt.releaseErr != nil {
				wantHolder = "u-1"
			}
			if got := fx.emails.owner("ada@example.com"); got != wantHolder {
				t.Fatalf("after delete the email is held by %q, want %q", got, wantHolder)
			}
			fx.emails.releaseErr = nil

			fx.mustAccept(t, fx.register("u-2", "Ada@Example.com"))
			if got := fx.emails.owner("ada@example.com"); got != "u-2" {
				t.Errorf("email owner = %q, want u-2", got)
			}
			// The deleted id itself stays dead.
			wantRejected(t, fx.handle(t, fx.register("u-1", "new@example.com")), events.CodeUserDeleted)
		})
	}
}

// TestServiceStaleClaim: a claim by a user that never appended (a crash
// between claim and append) is honoured for ClaimGrace, then taken over.
// The same holds for a claim whose owner registered with another email
// (a registration that lost a race for its user id).
func TestServiceStaleClaim(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		ownerEmail string // "" = the owner has no events
		age        time.Duration
		wantOwner  string
	}{
		{"no events, fresh", "", 10 * time.Second, "ghost"},
		{"no events, at the grace limit", "", domain.ClaimGrace, "ghost"},
		{"no events, past the grace", "", domain.ClaimGrace + time.Second, "u-2"},
		{"no events, hours old", "", 5 * time.Hour, "u-2"},
		{"owner registered this email, old claim", "Ada@example.com", 5 * time.Hour, "ghost"},
		{"owner registered another email, fresh", "other@example.com", 10 * time.Second, "ghost"},
		{"owner registered another email, past the grace", "other@example.com", domain.ClaimGrace + time.Second, "u-2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fx := newServiceFixture(t)
			if tt.ownerEmail != "" {
				fx.store.put("ghost", history("ghost", events.UserRegistered{Email: tt.ownerEmail})...)
			}
			fx.emails.set("ada@example.com", "ghost", tt.age)
			out := fx.handle(t, fx.register("u-2", "ada@example.com"))
			if tt.wantOwner == "u-2" {
				if out.Status != events.StatusAccepted {
					t.Errorf("outcome = %+v, want accepted", out)
				}
			} else {
				wantRejected(t, out, events.CodeEmailTaken)
			}
			if got := fx.emails.owner("ada@example.com"); got != tt.wantOwner {
				t.Errorf("email owner = %q, want %q", got, tt.wantOwner)
			}
		})
	}
}

func TestServiceTakeoverConflict(t *testing.T) {
	t.Parallel()
	fx := newServiceFixture(t)
	fx.emails.set("ada@example.com", "ghost", time.Hour)
	fx.emails.takeoverErr = domain.ErrConflict
	_, err := fx.svc.Handle(context.Background(), fx.register("u-2", "ada@example.com"))
	if !errors.Is(err, domain.ErrConflict) {
		t.Errorf("Handle error = %v, want ErrConflict (decide again)", err)
	}
	if n := fx.store.appendCount(); n != 0 {
		t.Errorf("%d appends after a lost takeover, want 0", n)
	}
}

func TestServiceAppendConflict(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(fx *serviceFixture)
	}{
		{"store reports a conflict", func(fx *serviceFixture) { fx.store.appendErr = domain.ErrConflict }},
		{"another writer appended since the load", func(fx *serviceFixture) {
			fx.store.beforeAppend = func(s *memStore, userID string) {
				s.put(userID, events.Event{Type: events.TypeSessionsRevoked, UserID: userID, CommandID: "other-writer",
					Data: events.SessionsRevoked{RevokedBefore: t0}})
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fx := newServiceFixture(t)
			fx.mustAccept(t, fx.register("u-1", "ada@example.com"))
			fx.mustAccept(t, fx.cmd(events.CmdConfirmUser, "u-1"))
			tt.setup(fx)
			out, err := fx.svc.Handle(context.Background(), fx.cmd(events.CmdDisableUser, "u-1"))
			if !errors.Is(err, domain.ErrConflict) {
				t.Fatalf("Handle error = %v, want ErrConflict", err)
			}
			if out.Status == events.StatusAccepted {
				t.Errorf("outcome = %+v with a conflict, want not accepted", out)
			}
		})
	}
}

func TestServiceLoadError(t *testing.T) {
	t.Parallel()
	fx := newServiceFixture(t)
	boom := errors.New("stream unavailable")
	fx.store.loadErr = boom
	_, err := fx.svc.Handle(context.Background(), fx.cmd(events.CmdDisableUser, "u-1"))
	if !errors.Is(err, boom) {
		t.Errorf("Handle error = %v, want it to wrap %v", err, boom)
	}
}

func TestServiceRejected(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		history  []events.Payload // of u-1
		command  string
		userID   string
		wantCode string
	}{
		{"unknown user", nil, events.CmdDisableUser, "u-1", events.CodeUnknownUser},
		{"invalid user id", nil, events.CmdDisableUser, "u.1", events.CodeInvalidUserID},
		{"pending user disabled", []events.Payload{events.UserRegistered{Email: "a@example.com"}}, events.CmdDisableUser, "u-1", events.CodeForbiddenTransition},
		{"existing user registered", []events.Payload{events.UserRegistered{Email: "a@example.com"}}, events.CmdRegisterUser, "u-1", events.CodeUserExists},
		{"deleted user revoked", []events.Payload{events.UserRegistered{Email: "a@example.com"}, events.UserDeleted{RevokedBefore: t0}}, events.CmdRevokeSessions, "u-1", events.CodeUserDeleted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fx := newServiceFixture(t)
			if len(tt.history) > 0 {
				fx.store.put("u-1", history("u-1", tt.history...)...)
			}
			cmd := fx.cmd(tt.command, tt.userID)
			out := fx.handle(t, cmd)
			wantRejected(t, out, tt.wantCode)
			if out.CommandID != cmd.Meta().CommandID || out.Command != tt.command || out.UserID != tt.userID || out.EventSeq != 0 {
				t.Errorf("outcome = %+v, want command %s %s for user %s and no event_seq", out, tt.command, cmd.Meta().CommandID, tt.userID)
			}
			if n := fx.store.appendCount(); n != 0 {
				t.Errorf("%d appends for a rejected command, want 0", n)
			}
			if keys := fx.emails.keys(); len(keys) != 0 {
				t.Errorf("a rejected command claimed %v", keys)
			}
		})
	}
}

func TestServiceUnchanged(t *testing.T) {
	t.Parallel()
	fx := newServiceFixture(t)
	fx.mustAccept(t, fx.register("u-1", "ada@example.com"))
	fx.mustAccept(t, fx.cmd(events.CmdConfirmUser, "u-1"))
	disabled := fx.mustAccept(t, fx.cmd(events.CmdDisableUser, "u-1"))
	appends := fx.store.appendCount()

	out := fx.handle(t, fx.cmd(events.CmdDisableUser, "u-1"))
	if out.Status != events.StatusUnchanged || out.Message == "" || out.Code != "" {
		t.Errorf("outcome = %+v, want unchanged with a message", out)
	}
	if out.EventSeq != disabled.EventSeq {
		t.Errorf("EventSeq = %d, want the user's version %d", out.EventSeq, disabled.EventSeq)
	}
	if got := fx.store.appendCount(); got != appends {
		t.Errorf("%d appends, want %d", got, appends)
	}
}

func TestServiceDuplicateCommandID(t *testing.T) {
	t.Parallel()
	fx := newServiceFixture(t)
	fx.mustAccept(t, fx.register("u-1", "ada@example.com"))
	fx.mustAccept(t, fx.cmd(events.CmdConfirmUser, "u-1"))
	disable := fx.cmd(events.CmdDisableUser, "u-1")
	first := fx.mustAccept(t, disable)
	appends := fx.store.appendCount()

	again := fx.mustAccept(t, disable)
	if again != first {
		t.Errorf("redelivered outcome = %+v, want the first %+v", again, first)
	}
	// Still recognised after the user moved on: a late redelivery of the
	// disable must not disable the re-enabled user.
	fx.mustAccept(t, fx.cmd(events.CmdEnableUser, "u-1"))
	late := fx.mustAccept(t, disable)
	if late.EventSeq != first.EventSeq {
		t.Errorf("late redelivery EventSeq = %d, want %d", late.EventSeq, first.EventSeq)
	}
	if got, want := fx.store.appendCount(), appends+1; got != want {
		t.Errorf("%d appends, want %d (the enable only)", got, want)
	}
	evs, _ := fx.store.Load(context.Background(), "u-1")
	if u := domain.Fold("u-1", evs); u.State != domain.StateConfirmed {
		t.Errorf("state = %q, want %q", u.State, domain.StateConfirmed)
	}

	// A redelivered registration does not claim or append again either.
	reg := fx.register("u-2", "bob@example.com")
	r1 := fx.mustAccept(t, reg)
	if r2 := fx.mustAccept(t, reg); r2 != r1 {
		t.Errorf("redelivered registration = %+v, want %+v", r2, r1)
	}
}
