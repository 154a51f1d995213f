package target

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gorilla/mux"
)

// Paging of GET /api/users.
const (
	DefaultPageLimit = 20
	MaxPageLimit     = 100
	MaxNameLength    = 100 // runes, PUT /api/users/me
)

var errTooLarge = fmt.Sprintf("request body exceeds the %d-byte (1 MiB) limit", MaxBodyBytes)

type errorBody struct {
	Error string `json:"error"`
}

func fail(status int, format string, args ...any) (int, any) {
	return status, errorBody{Error: fmt.Sprintf(format, args...)}
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{Error: msg})
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	b, err := json.Marshal(body)
	if err != nil { // only our own types reach here
		status, b = http.StatusInternalServerError, []byte(`{"error":"internal error"}`)
	}
	b = append(b, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// decodeBody decodes one JSON object; it returns a status and message on failure.
func decodeBody(r *http.Request, v any, strict bool) (int, string, bool) {
	dec := json.NewDecoder(r.Body)
	if strict {
		dec.DisallowUnknownFields()
	}
	err := dec.Decode(v)
	if err == nil {
		if _, err2 := dec.Token(); err2 != io.EOF {
			err = errors.New("unexpected data after the JSON object")
		}
	}
	var tooLarge *http.MaxBytesError
	switch {
	case err == nil:
		return 0, "", true
	case errors.As(err, &tooLarge):
		return http.StatusRequestEntityTooLarge, errTooLarge, false
	case errors.Is(err, io.EOF):
		return http.StatusBadRequest, "request body must be a JSON object", false
	}
	return http.StatusBadRequest, "invalid JSON body: " + err.Error(), false
}

// bearer returns the user id of the request's bearer token, or a 401.
func (s *Server) bearer(r *http.Request) (string, int, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return "", 0, false
	}
	tok = strings.TrimSpace(tok)
	id := s.tokens.lookup(tok)
	return tok, id, id != 0
}

func unauthorized(r *http.Request) (int, any) {
	if r.Header.Get("Authorization") == "" {
		return fail(http.StatusUnauthorized, "missing bearer token")
	}
	return fail(http.StatusUnauthorized, "invalid or expired token")
}

// pathID parses the {id} path variable.
func pathID(r *http.Request, what string) (int, int, any) {
	v := mux.Vars(r)["id"]
	id, err := strconv.Atoi(v)
	if err != nil || id < 1 {
		st, b := fail(http.StatusBadRequest, "%s id %s: must be a positive integer", what, v)
		return 0, st, b
	}
	return id, 0, nil
}

func (s *Server) health(*http.Request) (int, any) {
	return http.StatusOK, struct {
		Status    string  `json:"status"`
		Timestamp float64 `json:"timestamp"`
	}{"ok", float64(time.Now().UnixNano()) / 1e9}
}

func (s *Server) login(r *http.Request) (int, any) {
	var in struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if st, msg, ok := decodeBody(r, &in, false); !ok {
		return fail(st, "%s", msg)
	}
	if in.Email == "" || in.Password == "" {
		return fail(http.StatusBadRequest, "email and password are required")
	}
	id := s.dir.authenticate(in.Email, in.Password)
	if id == 0 {
		return fail(http.StatusUnauthorized, "invalid email or password")
	}
	tok, err := s.tokens.issue(id)
	if err != nil {
		s.log.Error("login", "err", err)
		return fail(http.StatusInternalServerError, "internal error")
	}
	return http.StatusOK, struct {
		Token  string `json:"token"`
		UserID int    `json:"user_id"`
	}{tok, id}
}

func (s *Server) logout(r *http.Request) (int, any) {
	tok, _, ok := s.bearer(r)
	if !ok || !s.tokens.revoke(tok) {
		return unauthorized(r)
	}
	return http.StatusOK, map[string]string{"status": "logged out"}
}

// queryInt reads a positive integer query parameter, def when absent.
func queryInt(r *http.Request, name string, def int) (int, bool) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	return n, err == nil && n >= 1
}

type userPage struct {
	Items []User `json:"items"`
	Total int    `json:"total"`
	Page  int    `json:"page"`
	Limit int    `json:"limit"`
}

func (s *Server) listUsers(r *http.Request) (int, any) {
	page, ok := queryInt(r, "page", 1)
	if !ok {
		return fail(http.StatusBadRequest, "page=%s: must be a positive integer", r.URL.Query().Get("page"))
	}
	limit, ok := queryInt(r, "limit", DefaultPageLimit)
	if !ok || limit > MaxPageLimit {
		return fail(http.StatusBadRequest, "limit=%s: must be an integer from 1 to %d", r.URL.Query().Get("limit"), MaxPageLimit)
	}
	offset := (page - 1) * limit
	if page > SeedUsers { // avoids overflow on absurd pages
		offset = SeedUsers
	}
	return http.StatusOK, userPage{Items: s.dir.page(offset, limit), Total: SeedUsers, Page: page, Limit: limit}
}

func (s *Server) getUser(r *http.Request) (int, any) {
	id, st, b := pathID(r, "user")
	if st != 0 {
		return st, b
	}
	u, ok := s.dir.user(id)
	if !ok {
		return fail(http.StatusNotFound, "user %d not found", id)
	}
	return http.StatusOK, u
}

func (s *Server) updateMe(r *http.Request) (int, any) {
	_, id, ok := s.bearer(r)
	if !ok {
		return unauthorized(r)
	}
	var in struct {
		Name *string `json:"name"`
	}
	if st, msg, ok := decodeBody(r, &in, false); !ok {
		return fail(st, "%s", msg)
	}
	if in.Name == nil || strings.TrimSpace(*in.Name) == "" {
		return fail(http.StatusBadRequest, "name is required and must not be empty")
	}
	name := strings.TrimSpace(*in.Name)
	if utf8.RuneCountInString(name) > MaxNameLength {
		return fail(http.StatusBadRequest, "name is longer than %d characters", MaxNameLength)
	}
	return http.StatusOK, s.dir.rename(id, name)
}

type list[T any] struct {
	Items []T `json:"items"`
	Total int `json:"total"`
}

func (s *Server) listTeams(*http.Request) (int, any) {
	return http.StatusOK, list[Team]{Items: s.dir.teams, Total: len(s.dir.teams)}
}

func (s *Server) getTeam(r *http.Request) (int, any) {
	id, st, b := pathID(r, "team")
	if st != 0 {
		return st, b
	}
	t, ok := s.dir.team(id)
	if !ok {
		return fail(http.StatusNotFound, "team %d not found", id)
	}
	return http.StatusOK, t
}

func (s *Server) teamMembers(r *http.Request) (int, any) {
	id, st, b := pathID(r, "team")
	if st != 0 {
		return st, b
	}
	if _, ok := s.dir.team(id); !ok {
		return fail(http.StatusNotFound, "team %d not found", id)
	}
	m := s.dir.members(id)
	return http.StatusOK, list[User]{Items: m, Total: len(m)}
}

// Admin.

func (s *Server) getFaults(*http.Request) (int, any) { return http.StatusOK, s.Faults() }

func (s *Server) putFaults(r *http.Request) (int, any) {
	var w faultsJSON
	if st, msg, ok := decodeBody(r, &w, true); !ok {
		return fail(st, "%s", msg)
	}
	f, err := w.faults()
	if err != nil {
		return fail(http.StatusBadRequest, "%v", err)
	}
	if err := s.SetFaults(f); err != nil {
		return fail(http.StatusBadRequest, "%v", err)
	}
	return http.StatusOK, s.Faults()
}

// RouteModel describes one pooled route in GET /admin/config.
type RouteModel struct {
	Latency         string   `json:"latency"`           // unscaled, flag form
	MeanServiceTime string   `json:"mean_service_time"` // scaled, without faults
	CapacityRPS     *float64 `json:"capacity_rps"`      // Workers / mean service time; null = unbounded
}

func (s *Server) getConfig(*http.Request) (int, any) {
	routes := make(map[string]RouteModel, len(PooledRoutes))
	for _, k := range PooledRoutes {
		m := RouteModel{Latency: s.cfg.ServiceLatency(k).String(), MeanServiceTime: s.cfg.MeanServiceTime(k).String()}
		if c := s.cfg.Capacity(k); c != inf {
			m.CapacityRPS = &c
		}
		routes[k] = m
	}
	return http.StatusOK, struct {
		Workers      int                   `json:"workers"`
		Queue        int                   `json:"queue"`
		LatencyScale float64               `json:"latency_scale"`
		ServiceTime  string                `json:"service_time"`
		Pooled       []string              `json:"pooled_routes"`
		Routes       map[string]RouteModel `json:"routes"`
		Faults       Faults                `json:"faults"`
	}{s.cfg.Workers, s.cfg.Queue, s.cfg.LatencyScale, s.cfg.ServiceTime.String(), slices.Sorted(maps.Keys(routes)), routes, s.Faults()}
}
