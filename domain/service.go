package domain

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/userlife/userlife/events"
)

// ClaimGrace is how long a claim on an email by a user that has no events
// yet is honoured: long enough for the claiming command to append, short
// enough that a crash between claim and append does not lock the email.
const ClaimGrace = time.Minute

// Service handles one command: load → decide → append.
type Service struct {
	Store   EventStore
	Emails  EmailRegistry
	Decider Decider
	Logger  *slog.Logger
	// Cache, if set and Store is an IncrementalStore, keeps recent users in
	// memory so a command reads only the events appended since.
	Cache *UserCache
}

// Handle decides cmd and appends its events. It returns the outcome for
// every command it could decide, including refusals. An error means the
// command was not decided: ErrConflict (decide again) or an infrastructure
// failure (try again later).
func (s *Service) Handle(ctx context.Context, cmd events.Command) (events.Outcome, error) {
	m := cmd.Meta()
	out := events.Outcome{CommandID: m.CommandID, Command: cmd.CommandName(), UserID: m.UserID}
	if err := Validate(cmd); err != nil {
		return rejected(out, err)
	}
	u, fresh, err := s.current(ctx, m.UserID)
	if err != nil {
		return out, err
	}
	d, err := s.Decider.Decide(u, cmd)
	if !fresh && len(d.Events) == 0 && d.AppliedSeq == 0 {
		// A cached state may be behind. A decision that appends is checked
		// by the append's version guard; any other (unchanged, rejected)
		// must be taken on the latest state.
		if u, err = s.refresh(ctx, u); err != nil {
			return out, err
		}
		d, err = s.Decider.Decide(u, cmd)
	}
	if err != nil {
		return rejected(out, err)
	}
	switch {
	case d.AppliedSeq != 0:
		out.Status, out.EventSeq = events.StatusAccepted, d.AppliedSeq
		return out, nil
	case d.Unchanged:
		out.Status, out.Message, out.EventSeq = events.StatusUnchanged, d.Message, u.Version
		return out, nil
	}
	if r, ok := cmd.(*events.RegisterUser); ok {
		if err := s.claimEmail(ctx, r.Email, m.UserID); err != nil {
			return rejected(out, err)
		}
	}
	seq, err := s.Store.Append(ctx, m.UserID, u.Version, d.Events)
	if errors.Is(err, ErrConflict) {
		// Catch up now so the retry decides on the new state.
		_, _ = s.refresh(ctx, u)
	}
	if err != nil {
		return out, err
	}
	s.remember(u, d.Events, seq)
	if _, ok := cmd.(*events.DeleteUser); ok {
		// A failed release is harmless: a claim held by a deleted user is
		// taken over by the next registration.
		if err := s.Emails.Release(ctx, NormalizeEmail(u.Email), m.UserID); err != nil && s.Logger != nil {
			s.Logger.Warn("release email of deleted user", "user_id", m.UserID, "err", err)
		}
	}
	out.Status, out.EventSeq = events.StatusAccepted, seq
	return out, nil
}

func rejected(out events.Outcome, err error) (events.Outcome, error) {
	var ce *events.CommandError
	if !errors.As(err, &ce) {
		return out, err
	}
	out.Status, out.Code, out.Message = events.StatusRejected, ce.Code, ce.Message
	return out, nil
}

// claimEmail makes userID the holder of email or refuses with email_taken.
// A claim is stale, and taken over, when its owner is deleted, or has no
// events ClaimGrace after claiming (its registration never appended), or
// registered with another email (its registration lost a race).
func (s *Service) claimEmail(ctx context.Context, email, userID string) error {
	key := NormalizeEmail(email)
	claim, err := s.Emails.Claim(ctx, key, userID)
	if err != nil {
		return fmt.Errorf("claim email: %w", err)
	}
	if claim.Owner == userID {
		return nil
	}
	// A claim whose owner is no user id was not written by a service (a
	// client can have the server reply onto the bucket's subject): stale.
	stale := !events.ValidID(claim.Owner)
	if !stale {
		ownerEvents, err := s.Store.Load(ctx, claim.Owner)
		if err != nil {
			return fmt.Errorf("load email owner %s: %w", claim.Owner, err)
		}
		owner := Fold(claim.Owner, ownerEvents)
		// An owner that registered with another email holds a claim its own
		// registration lost (e.g. two RegisterUser for one id raced; the loser
		// is rejected with user_exists after claiming): nothing will ever use it.
		unused := owner.State == StateNone || NormalizeEmail(owner.Email) != key
		stale = owner.State == StateDeleted || (unused && claim.Age > ClaimGrace)
	}
	if !stale {
		return events.Errorf(events.CodeEmailTaken, "email %s is already used by another user", email)
	}
	if err := s.Emails.Takeover(ctx, key, userID, claim.Revision); err != nil {
		if errors.Is(err, ErrConflict) {
			return err
		}
		return fmt.Errorf("take over email claim: %w", err)
	}
	return nil
}
