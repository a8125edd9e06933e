package admin

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/userlife/userlife/events"
)

// Problem codes of the API besides the command rejection codes of events.
const (
	CodeInvalidJSON          = "invalid_json"
	CodeUnknownField         = "unknown_field"
	CodeInvalidQuery         = "invalid_query"
	CodeUnauthorized         = "unauthorized"
	CodeForbidden            = "forbidden"
	CodeCSRFTokenInvalid     = "csrf_token_invalid"
	CodeNotFound             = "not_found"
	CodeMethodNotAllowed     = "method_not_allowed"
	CodeUnsupportedMediaType = "unsupported_media_type"
	CodeTooManyRequests      = "too_many_requests"
	CodeUnavailable          = "unavailable"
)

// statusOf is the one table from problem code to HTTP status. Command
// rejection codes (events.Code*) are in it too, so an outcome's code maps
// the same way wherever it comes from.
var statusOf = map[string]int{
	CodeInvalidJSON:                http.StatusBadRequest,
	CodeUnknownField:               http.StatusBadRequest,
	events.CodeMalformedCommand:    http.StatusBadRequest,
	events.CodeInvalidCommandID:    http.StatusBadRequest,
	events.CodeInvalidUserID:       http.StatusBadRequest,
	events.CodeInvalidEmail:        http.StatusBadRequest,
	events.CodeInvalidField:        http.StatusBadRequest,
	CodeInvalidQuery:               http.StatusBadRequest,
	events.CodeUnknownCommand:      http.StatusBadRequest,
	CodeUnauthorized:               http.StatusUnauthorized,
	CodeForbidden:                  http.StatusForbidden,
	CodeCSRFTokenInvalid:           http.StatusForbidden,
	events.CodeUnknownUser:         http.StatusNotFound,
	CodeNotFound:                   http.StatusNotFound,
	CodeMethodNotAllowed:           http.StatusMethodNotAllowed,
	events.CodeUserExists:          http.StatusConflict,
	events.CodeEmailTaken:          http.StatusConflict,
	events.CodeForbiddenTransition: http.StatusConflict,
	events.CodeConflict:            http.StatusConflict,
	events.CodeUserDeleted:         http.StatusConflict,
	events.CodePayloadTooLarge:     http.StatusRequestEntityTooLarge,
	CodeUnsupportedMediaType:       http.StatusUnsupportedMediaType,
	CodeTooManyRequests:            http.StatusTooManyRequests,
	events.CodeInternal:            http.StatusInternalServerError,
	CodeUnavailable:                http.StatusServiceUnavailable,
}

// StatusOf returns the HTTP status of a problem code; an unknown code is
// a 500 (the table is the place to add it).
func StatusOf(code string) int {
	if s, ok := statusOf[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Codes lists every problem code the API answers with.
func Codes() []string {
	out := make([]string, 0, len(statusOf))
	for c := range statusOf {
		out = append(out, c)
	}
	return out
}

// Problem is an RFC 9457 problem details object.
type Problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail,omitempty"`
	Code      string `json:"code"`
	CommandID string `json:"command_id,omitempty"`
}

// ProblemTypePrefix starts every problem's type URI; the code follows.
const ProblemTypePrefix = "urn:userlife:problem:"

// newProblem fills in type, title and status from code.
func newProblem(code, detail string) Problem {
	s := StatusOf(code)
	return Problem{Type: ProblemTypePrefix + code, Title: http.StatusText(s), Status: s, Detail: detail, Code: code}
}

// writeProblem answers with p as application/problem+json.
func writeProblem(w http.ResponseWriter, p Problem) {
	if p.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="userlife"`)
	}
	writeJSONType(w, "application/problem+json", p.Status, p)
}

// fail answers with the problem of code.
func fail(w http.ResponseWriter, code, detail string) { writeProblem(w, newProblem(code, detail)) }

// writeJSON answers with v as application/json.
func writeJSON(w http.ResponseWriter, status int, v any) {
	writeJSONType(w, "application/json; charset=utf-8", status, v)
}

func writeJSONType(w http.ResponseWriter, ctype string, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(v)
	b := buf.Bytes()
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"type":"urn:userlife:problem:internal_error","title":"Internal Server Error","status":500,"code":"internal_error"}` + "\n")
		ctype = "application/problem+json"
	}
	w.Header().Set("Content-Type", ctype)
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
