package control

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/loadlab/loadlab/internal/plan"
	"github.com/loadlab/loadlab/internal/store"
)

// Error codes of the control API (wtf style): every failure a handler
// returns is an *Error, a plan.Errors, a store.ErrNotFound or an unexpected
// error, and writeError maps it to one HTTP status in one place.
const (
	ECONFLICT     = "conflict"     // 409: too many runs, cancel of a finished run, PATCH of a finished run
	EINVALID      = "invalid"      // 400: malformed body or parameter
	ENOTFOUND     = "not_found"    // 404: unknown run
	EUNAUTHORIZED = "unauthorized" // 401: missing or wrong bearer token
	EFORBIDDEN    = "forbidden"    // 403: target outside the allow-list, Host or Origin refused (guard.go)
	ETOOLARGE     = "too_large"    // 413: body over MaxBodyBytes
	ECAP          = "cap_exceeded" // 422: a rate or VU cap exceeded
	EUNSUPPORTED  = "unsupported"  // 415: content type
	EUNAVAILABLE  = "unavailable"  // 503: shutting down, store unreachable
	ETOOMANY      = "too_many"     // 429: a run's live stream has --max-subscribers subscribers
	EINTERNAL     = "internal"     // 500
)

// Error is an API error with a code that decides the HTTP status and a
// message shown to the client as {"error": message}.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// errorf returns an *Error with a formatted message.
func errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

var statusOf = map[string]int{
	ECONFLICT:     http.StatusConflict,
	EINVALID:      http.StatusBadRequest,
	ENOTFOUND:     http.StatusNotFound,
	EUNAUTHORIZED: http.StatusUnauthorized,
	EFORBIDDEN:    http.StatusForbidden,
	ETOOLARGE:     http.StatusRequestEntityTooLarge,
	ECAP:          http.StatusUnprocessableEntity,
	EUNSUPPORTED:  http.StatusUnsupportedMediaType,
	EUNAVAILABLE:  http.StatusServiceUnavailable,
	ETOOMANY:      http.StatusTooManyRequests,
	EINTERNAL:     http.StatusInternalServerError,
}

// planError is one plan problem in a 400 answer.
type planError struct {
	Path    string `json:"path"`
	Line    int    `json:"line"`
	Col     int    `json:"col"`
	Message string `json:"message"`
	Text    string `json:"text"` // "line:col: path: message", as loadgen validate prints it
}

// errorBody is every error answer: {"error": "..."}, plus the plan problems
// for an invalid plan.
type errorBody struct {
	Error  string      `json:"error"`
	Code   string      `json:"code"`
	Errors []planError `json:"errors,omitempty"`
	Text   string      `json:"text,omitempty"`
}

// writeError is the one place that maps an error to a status and a JSON
// body. Unknown errors are logged and answered "internal error".
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var (
		body    errorBody
		e       *Error
		pe      plan.Errors
		fe      plan.FieldError
		tooBig  *http.MaxBytesError
		code    string
		message string
	)
	switch {
	case errors.As(err, &tooBig):
		code, message = ETOOLARGE, fmt.Sprintf("request body over the %d-byte limit (1 MiB)", tooBig.Limit)
	case errors.As(err, &e):
		code, message = e.Code, e.Message
	case errors.As(err, &pe):
		code = EINVALID
		message = fmt.Sprintf("invalid plan: %d problem(s)", len(pe))
		body.Text = pe.Error()
		for _, f := range pe {
			body.Errors = append(body.Errors, planError{Path: f.Path, Line: f.Line, Col: f.Col, Message: f.Msg, Text: f.Error()})
		}
	case errors.As(err, &fe):
		code, message = EINVALID, "invalid plan: 1 problem(s)"
		body.Text = fe.Error()
		body.Errors = []planError{{Path: fe.Path, Line: fe.Line, Col: fe.Col, Message: fe.Msg, Text: fe.Error()}}
	case errors.Is(err, store.ErrNotFound):
		code, message = ENOTFOUND, "run not found"
	default:
		log.Error("control API", "method", r.Method, "path", r.URL.Path, "err", err)
		code, message = EINTERNAL, "internal error"
	}
	body.Error, body.Code = message, code
	status, ok := statusOf[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="loadgen"`)
	}
	writeJSON(w, status, body)
}

// writeJSON answers v as indented JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client may be gone; nothing to do about it
}
