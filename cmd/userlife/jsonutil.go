package main

import "encoding/json"

// compactJSON re-encodes JSON canonically (no whitespace, object keys
// sorted), so data PostgreSQL's jsonb re-serialised compares equal to the
// original.
func compactJSON(b []byte) []byte {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return b
	}
	out, err := json.Marshal(v)
	if err != nil {
		return b
	}
	return out
}
