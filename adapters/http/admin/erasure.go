package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/userlife/userlife/events"
	"github.com/userlife/userlife/projections"
)

// Erasures reads a deleted user's erasure receipt (natsadapter.Erasures):
// projections.ErrNotFound for an unknown user, projections.ErrNotDeleted
// for a live one.
type Erasures interface {
	Receipt(ctx context.Context, userID string) (projections.ErasureReceipt, error)
}

// erasure: GET /v1/users/{id}/erasure — which registered data services
// have purged a deleted user's data, and which are pending.
func (h *Handler) erasure(w http.ResponseWriter, r *http.Request, _ Principal) {
	id, ok := userID(w, r)
	if !ok || !checkQuery(w, r.URL.Query()) {
		return
	}
	if h.cfg.Erasures == nil {
		fail(w, CodeUnavailable, "erasure receipts are not available on this server")
		return
	}
	rec, err := h.cfg.Erasures.Receipt(r.Context(), id)
	switch {
	case errors.Is(err, projections.ErrNotFound):
		fail(w, events.CodeUnknownUser, fmt.Sprintf("no user %q", id))
	case errors.Is(err, projections.ErrNotDeleted):
		fail(w, CodeNotFound, fmt.Sprintf("user %q is not deleted: an erasure receipt exists only for a deleted user", id))
	case err != nil:
		h.queryFailed(w, "erasure receipt", err)
	default:
		writeJSON(w, http.StatusOK, rec)
	}
}
