package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/userlife/userlife/events"
)

// IdempotencyKeyHeader names the header whose value becomes the command id.
const IdempotencyKeyHeader = "Idempotency-Key"

// reasonBody is the optional body of the lifecycle routes.
type reasonBody struct {
	Reason string `json:"reason"`
}

// register: POST /v1/users
func (h *Handler) register(w http.ResponseWriter, r *http.Request, p Principal) {
	var body struct {
		Email  string `json:"email"`
		UserID string `json:"user_id"`
		Reason string `json:"reason"`
	}
	if !checkQuery(w, r.URL.Query()) || !readBody(w, r, &body, true) {
		return
	}
	h.mutate(w, r, &events.RegisterUser{CommandMeta: events.CommandMeta{UserID: body.UserID, Actor: p.Actor, Reason: body.Reason}, Email: body.Email})
}

// lifecycle serves POST /v1/users/{id}/<action> with an optional
// {"reason"} body.
func (h *Handler) lifecycle(w http.ResponseWriter, r *http.Request, p Principal, mk func(events.CommandMeta) events.Command) {
	id, ok := userID(w, r)
	if !ok || !checkQuery(w, r.URL.Query()) {
		return
	}
	var body reasonBody
	if !readBody(w, r, &body, false) {
		return
	}
	h.mutate(w, r, mk(events.CommandMeta{UserID: id, Actor: p.Actor, Reason: body.Reason}))
}

func (h *Handler) confirm(w http.ResponseWriter, r *http.Request, p Principal) {
	h.lifecycle(w, r, p, func(m events.CommandMeta) events.Command { return &events.ConfirmUser{CommandMeta: m} })
}

func (h *Handler) disable(w http.ResponseWriter, r *http.Request, p Principal) {
	h.lifecycle(w, r, p, func(m events.CommandMeta) events.Command { return &events.DisableUser{CommandMeta: m} })
}

func (h *Handler) enable(w http.ResponseWriter, r *http.Request, p Principal) {
	h.lifecycle(w, r, p, func(m events.CommandMeta) events.Command { return &events.EnableUser{CommandMeta: m} })
}

func (h *Handler) delete(w http.ResponseWriter, r *http.Request, p Principal) {
	h.lifecycle(w, r, p, func(m events.CommandMeta) events.Command { return &events.DeleteUser{CommandMeta: m} })
}

func (h *Handler) revokeSessions(w http.ResponseWriter, r *http.Request, p Principal) {
	h.lifecycle(w, r, p, func(m events.CommandMeta) events.Command { return &events.RevokeSessions{CommandMeta: m} })
}

// deleteByDELETE: DELETE /v1/users/{id}?reason=…
func (h *Handler) deleteByDELETE(w http.ResponseWriter, r *http.Request, p Principal) {
	id, ok := userID(w, r)
	if !ok || !checkQuery(w, r.URL.Query(), "reason") {
		return
	}
	h.mutate(w, r, &events.DeleteUser{CommandMeta: events.CommandMeta{UserID: id, Actor: p.Actor, Reason: r.URL.Query().Get("reason")}})
}

// pending is the 202 answer when the outcome is not known in time.
type pending struct {
	CommandID string `json:"command_id"`
	Command   string `json:"command"`
	Status    string `json:"status"`
}

// mutate sends cmd through the command queue and answers its outcome.
func (h *Handler) mutate(w http.ResponseWriter, r *http.Request, cmd events.Command) {
	m := cmd.Meta()
	if key := r.Header.Get(IdempotencyKeyHeader); key != "" {
		if !events.ValidID(key) {
			fail(w, events.CodeInvalidCommandID, fmt.Sprintf("%s %q: want [A-Za-z0-9_-]{1,64}", IdempotencyKeyHeader, key))
			return
		}
		m.CommandID = key
		if o, err := h.cfg.Outcomes.Outcome(r.Context(), key); err == nil {
			h.replay(w, r, cmd, o)
			return
		} else if !errors.Is(err, ErrNoOutcome) {
			h.queryFailed(w, "command outcome", err)
			return
		}
	} else {
		m.CommandID = uuid.Must(uuid.NewV7()).String()
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.OutcomeTimeout)
	defer cancel()
	o, err := h.cfg.Commands.Do(ctx, cmd)
	switch {
	case err == nil:
	case errors.Is(err, ErrUnavailable):
		h.cfg.Logger.Error("admin API: command not sent", "command", cmd.CommandName(), "command_id", m.CommandID, "error", err)
		p := newProblem(CodeUnavailable, err.Error())
		p.CommandID = m.CommandID
		writeProblem(w, p)
		return
	case errors.Is(err, context.DeadlineExceeded) && r.Context().Err() == nil:
		w.Header().Set("Location", "/v1/commands/"+m.CommandID)
		writeJSON(w, http.StatusAccepted, pending{CommandID: m.CommandID, Command: cmd.CommandName(), Status: "pending"})
		return
	default:
		h.cfg.Logger.Error("admin API: no outcome", "command", cmd.CommandName(), "command_id", m.CommandID, "error", err)
		p := newProblem(events.CodeInternal, fmt.Sprintf("no outcome for command %s: %v", m.CommandID, err))
		p.CommandID = m.CommandID
		writeProblem(w, p)
		return
	}
	h.cfg.Logger.Info("admin API command", "actor", m.Actor, "command", cmd.CommandName(), "user_id", o.UserID,
		"command_id", o.CommandID, "status", string(o.Status), "code", o.Code)
	h.answer(w, r, o)
}

// replay answers a repeated Idempotency-Key with the stored outcome, or
// 409 when the key was used for another command.
func (h *Handler) replay(w http.ResponseWriter, r *http.Request, cmd events.Command, o events.Outcome) {
	m := cmd.Meta()
	if o.Command != cmd.CommandName() || (m.UserID != "" && o.UserID != "" && o.UserID != m.UserID) {
		p := newProblem(events.CodeConflict, fmt.Sprintf("%s %s was already used for %s of user %s; use a new key for %s of user %s",
			IdempotencyKeyHeader, o.CommandID, o.Command, o.UserID, cmd.CommandName(), m.UserID))
		p.CommandID = o.CommandID
		writeProblem(w, p)
		return
	}
	h.answer(w, r, o)
}

// answer writes an outcome: 200 for accepted or unchanged (after the
// queries show an accepted change), the outcome's problem when rejected.
func (h *Handler) answer(w http.ResponseWriter, r *http.Request, o events.Outcome) {
	if o.Status == events.StatusRejected {
		p := newProblem(o.Code, o.Message)
		p.CommandID = o.CommandID
		writeProblem(w, p)
		return
	}
	if o.Status == events.StatusAccepted && o.EventSeq != 0 && h.cfg.WaitProjected != nil {
		// Bounded so that OutcomeTimeout plus this stays within serve's
		// 15 s write timeout.
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		if err := h.cfg.WaitProjected(ctx, o.EventSeq); err != nil {
			h.cfg.Logger.Warn("admin API: outcome in, but the queries do not show it yet",
				"command_id", o.CommandID, "stream_seq", o.EventSeq, "error", err)
		}
	}
	writeJSON(w, http.StatusOK, o)
}
