// Package revocation is the revoked-token view: what a gateway needs to
// refuse a token without asking anyone. Reduce folds events into one Entry
// per user (the value of the KV bucket userlife_revocations); Checker
// answers Check(sub, sid, iat) from memory. It depends on the events
// package only, so a gateway imports little.
//
// JWT iat has whole seconds, so Check rounds revoked_before up to the next
// whole second: a token minted in the same second as a revocation is
// refused, even if it was minted just after it (fail secure). A Checker
// that has not heard from userlife for Config.MaxStaleness refuses every
// token (ReasonStale) unless configured to fail open.
package revocation
