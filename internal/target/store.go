package target

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"strings"
	"sync"
)

// User is a seeded user. Every user belongs to one team.
type User struct {
	ID     int    `json:"id"`
	Email  string `json:"email"`
	Name   string `json:"name"`
	TeamID int    `json:"team_id"`
}

// Team is a seeded team.
type Team struct {
	ID          int    `json:"id"`
	Name        string `json:"name"`
	MemberCount int    `json:"member_count"`
}

// directory holds the seeded users and teams. Names can change (PUT
// /api/users/me); everything else is fixed.
type directory struct {
	mu    sync.RWMutex
	users []User // users[i].ID == i+1
	teams []Team
	email map[string]int // email -> user id
}

func newDirectory(nUsers, nTeams int) *directory {
	d := &directory{users: make([]User, nUsers), teams: make([]Team, nTeams), email: make(map[string]int, nUsers)}
	for i := range d.teams {
		d.teams[i] = Team{ID: i + 1, Name: fmt.Sprintf("Team %d", i+1)}
	}
	for i := range d.users {
		id := i + 1
		u := User{ID: id, Email: fmt.Sprintf("user%d@example.com", id), Name: fmt.Sprintf("User %d", id), TeamID: i%nTeams + 1}
		d.users[i] = u
		d.email[u.Email] = id
		d.teams[u.TeamID-1].MemberCount++
	}
	return d
}

// authenticate returns the user id for the credentials, or 0.
func (d *directory) authenticate(email, password string) int {
	id := d.email[strings.ToLower(email)] // never written after seeding
	if subtle.ConstantTimeCompare([]byte(password), []byte(SeedPassword)) != 1 {
		return 0
	}
	return id
}

func (d *directory) user(id int) (User, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if id < 1 || id > len(d.users) {
		return User{}, false
	}
	return d.users[id-1], true
}

// page returns users [offset, offset+limit).
func (d *directory) page(offset, limit int) []User {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if offset >= len(d.users) {
		return []User{}
	}
	end := min(offset+limit, len(d.users))
	return append([]User(nil), d.users[offset:end]...)
}

func (d *directory) rename(id int, name string) User {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.users[id-1].Name = name
	return d.users[id-1]
}

func (d *directory) team(id int) (Team, bool) {
	if id < 1 || id > len(d.teams) {
		return Team{}, false
	}
	return d.teams[id-1], true // teams never change after seeding
}

func (d *directory) members(teamID int) []User {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := []User{}
	for i := teamID - 1; i < len(d.users); i += len(d.teams) {
		out = append(out, d.users[i])
	}
	return out
}

// tokenShards spreads the token store's lock; a power of two.
const tokenShards = 32

// tokens is the session store: sharded maps, each bounded, evicting its
// oldest token first, so a load test that never logs out cannot grow memory
// without bound.
type tokens struct {
	shards [tokenShards]tokenShard
}

type tokenShard struct {
	mu    sync.Mutex
	live  map[string]int // token -> user id
	order []string       // ring of issued tokens, oldest at head
	head  int
	n     int
}

func newTokens(max int) *tokens {
	per := max / tokenShards
	if per < 1 {
		per = 1
	}
	t := &tokens{}
	for i := range t.shards {
		t.shards[i] = tokenShard{live: make(map[string]int), order: make([]string, per)}
	}
	return t
}

func (t *tokens) shard(tok string) *tokenShard {
	h := fnv.New32a()
	h.Write([]byte(tok))
	return &t.shards[h.Sum32()%tokenShards]
}

// issue creates a token for user id.
func (t *tokens) issue(id int) (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("token: %w", err)
	}
	tok := hex.EncodeToString(b[:])
	s := t.shard(tok)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == len(s.order) { // full: evict the oldest (a no-op if it logged out)
		delete(s.live, s.order[s.head])
		s.head = (s.head + 1) % len(s.order)
		s.n--
	}
	s.order[(s.head+s.n)%len(s.order)] = tok
	s.n++
	s.live[tok] = id
	return tok, nil
}

// lookup returns the user id of a live token, or 0.
func (t *tokens) lookup(tok string) int {
	s := t.shard(tok)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.live[tok]
}

// revoke invalidates tok and reports whether it was live.
func (t *tokens) revoke(tok string) bool {
	s := t.shard(tok)
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.live[tok]
	delete(s.live, tok)
	return ok
}
