package tmpl

import "math/rand/v2"

// Scope is the map-backed Env of one virtual user: plan variables (shared,
// read-only) under values set per iteration (captures, data-row columns). It
// is not safe for concurrent use: give each virtual user its own.
type Scope struct {
	base map[string]string
	vals map[string]string
	rnd  *rand.Rand
	iter int64
	vu   int
}

var _ Env = (*Scope)(nil)

// NewScope returns a Scope for virtual user vu over base (the plan's
// variables; not copied, must not change), with its own random source
// seeded from seed.
func NewScope(base map[string]string, vu int, seed uint64) *Scope {
	return &Scope{
		base: base,
		vals: make(map[string]string, 8),
		rnd:  rand.New(rand.NewPCG(seed, uint64(vu)*0x9e3779b97f4a7c15+1)),
		vu:   vu,
	}
}

// Set sets name (a capture or "source.column") for the rest of the iteration.
func (s *Scope) Set(name, value string) { s.vals[name] = value }

// Lookup implements Vars: values set with Set first, then the base variables.
func (s *Scope) Lookup(name string) (string, bool) {
	if v, ok := s.vals[name]; ok {
		return v, true
	}
	v, ok := s.base[name]
	return v, ok
}

// Reset forgets every value set with Set (call it at the start of an iteration).
func (s *Scope) Reset() { clear(s.vals) }

// SetIteration sets the value of ${iteration}.
func (s *Scope) SetIteration(n int64) { s.iter = n }

// Rand returns the scope's random source.
func (s *Scope) Rand() *rand.Rand { return s.rnd }

// Iteration returns the value of ${iteration}.
func (s *Scope) Iteration() int64 { return s.iter }

// VU returns the value of ${vu}.
func (s *Scope) VU() int { return s.vu }
