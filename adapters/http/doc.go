// Package http is userlife's HTTP gateway adapter: a reverse proxy that
// verifies bearer JWTs (golang-jwt, with an HS256 secret or a JWKS) and
// refuses those the revocation view says are revoked, answering as RFC 6750
// asks, and the service's RFC 7662 token introspection endpoint. Both
// know the view only through the small Enforcer interface, so the NATS
// wiring stays in cmd.
package http
