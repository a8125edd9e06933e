package revocation

import "time"

// Entry is one user's revocation state, the JSON value stored under the
// user's id in the KV bucket userlife_revocations.
type Entry struct {
	UserID string `json:"user_id"`
	// State is pending, confirmed, disabled or deleted.
	State string `json:"state"`
	// RevokedBefore: tokens issued before it (rounded up to the next whole
	// second, see Check) are refused.
	RevokedBefore time.Time `json:"revoked_before,omitzero"`
	// RevokedSessions lists session ids (the "sid" claim) revoked one by one.
	RevokedSessions []string `json:"revoked_sessions,omitempty"`
	// Revision is the stream sequence of the last event folded in.
	Revision uint64 `json:"revision"`
}

// Reason says why Check refused a token, or Allowed.
type Reason uint8

const (
	Allowed Reason = iota
	ReasonDisabled
	ReasonDeleted
	ReasonRevoked        // issued before the user's revoked_before
	ReasonSessionRevoked // its sid was revoked
	ReasonStale          // the view has not heard from userlife for too long (fail closed)
	ReasonNotReady       // the snapshot is not loaded yet (fail closed)
)

var reasonText = [...]string{
	Allowed:              "allowed",
	ReasonDisabled:       "user disabled",
	ReasonDeleted:        "user deleted",
	ReasonRevoked:        "token revoked",
	ReasonSessionRevoked: "session revoked",
	ReasonStale:          "revocation view stale",
	ReasonNotReady:       "revocation view not ready",
}

// String is a short human description, fit for an error_description.
func (r Reason) String() string {
	if int(r) < len(reasonText) {
		return reasonText[r]
	}
	return "unknown reason"
}
