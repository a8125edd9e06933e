package admin

import (
	_ "embed"
	"net/http"
)

// OpenAPIDocument is the API's OpenAPI 3.1 description.
//
//go:embed openapi.json
var OpenAPIDocument []byte

func (h *Handler) openAPI(w http.ResponseWriter, _ *http.Request, _ Principal) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(OpenAPIDocument)
}
