// Package revocation is the revoked-token view: what a gateway needs to
// refuse a token without asking anyone. Reduce folds events into one Entry
// per user (the value of the KV bucket userlife_revocations); Checker
// answers Check(sub, sid, iat) from memory. It depends on the events
// package only, so a gateway imports little.
package revocation
