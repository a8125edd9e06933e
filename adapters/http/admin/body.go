package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/userlife/userlife/events"
)

// MaxBodyBytes is the largest request body accepted (64 KiB).
const MaxBodyBytes = 64 << 10

// jsonSpace is the whitespace JSON allows around a value.
const jsonSpace = " \t\r\n"

// readBody decodes the request's JSON object into dst. An empty body is
// fine and leaves dst as it is, unless required. It answers the problem
// itself and returns false on bad input: too large (413), not JSON
// (415), not valid JSON (400 invalid_json), an unknown field (400
// unknown_field), a field of the wrong type (400 invalid_field).
func readBody(w http.ResponseWriter, r *http.Request, dst any, required bool) bool {
	if r.ContentLength > MaxBodyBytes {
		fail(w, events.CodePayloadTooLarge, fmt.Sprintf("the body is %d bytes; the limit is %d (64 KiB)", r.ContentLength, MaxBodyBytes))
		return false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		fail(w, events.CodePayloadTooLarge, fmt.Sprintf("the body is over the limit of %d bytes (64 KiB)", MaxBodyBytes))
		return false
	}
	if err != nil {
		fail(w, CodeInvalidJSON, "could not read the body: "+err.Error())
		return false
	}
	if len(bytes.Trim(body, jsonSpace)) == 0 {
		if required {
			fail(w, CodeInvalidJSON, "this request needs a JSON object body")
			return false
		}
		return true
	}
	if !isJSON(r.Header.Get("Content-Type")) {
		ct := r.Header.Get("Content-Type")
		if ct == "" {
			ct = "none"
		}
		fail(w, CodeUnsupportedMediaType, "the body must be sent as Content-Type: application/json (got "+ct+")")
		return false
	}
	if !utf8.Valid(body) {
		fail(w, CodeInvalidJSON, "the body is not valid UTF-8")
		return false
	}
	if body = bytes.Trim(body, jsonSpace); body[0] != '{' {
		fail(w, CodeInvalidJSON, "the body must be a JSON object")
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		code, detail := describeDecodeError(err)
		fail(w, code, detail)
		return false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		fail(w, CodeInvalidJSON, "unexpected data after the JSON object")
		return false
	}
	return true
}

// isJSON accepts application/json with no charset or charset utf-8.
func isJSON(ct string) bool {
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return false
	}
	cs, ok := params["charset"]
	return !ok || strings.EqualFold(cs, "utf-8")
}

func describeDecodeError(err error) (code, detail string) {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return CodeInvalidJSON, fmt.Sprintf("the body is not valid JSON (at byte %d): %v", syn.Offset, err)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return CodeInvalidJSON, "the body is not valid JSON: it ends early"
	case errors.As(err, &typ):
		return events.CodeInvalidField, fmt.Sprintf("field %q must be a JSON %s, got %s", typ.Field, jsonKind(typ), typ.Value)
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return CodeUnknownField, "unknown field " + f + " in the body"
	}
	return CodeInvalidJSON, "the body is not the expected JSON: " + err.Error()
}

func jsonKind(typ *json.UnmarshalTypeError) string {
	switch typ.Type.Kind().String() {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "slice", "array":
		return "array"
	case "map", "struct":
		return "object"
	}
	return "number"
}
