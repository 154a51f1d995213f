package target

import (
	"fmt"
	"sync"
	"testing"
)

func TestDirectory(t *testing.T) {
	d := newDirectory(SeedUsers, SeedTeams)
	tests := []struct {
		email, password string
		want            int
	}{
		{"user1@example.com", SeedPassword, 1},
		{"user500@example.com", SeedPassword, 500},
		{"USER42@EXAMPLE.COM", SeedPassword, 42},
		{"user501@example.com", SeedPassword, 0},
		{"user1@example.com", "Secret", 0},
		{"", "", 0},
	}
	for _, tc := range tests {
		if got := d.authenticate(tc.email, tc.password); got != tc.want {
			t.Errorf("authenticate(%q, %q) = %d; want %d", tc.email, tc.password, got, tc.want)
		}
	}
	total := 0
	for id := 1; id <= SeedTeams; id++ {
		tm, _ := d.team(id)
		m := d.members(id)
		if len(m) != tm.MemberCount {
			t.Errorf("team %d: %d members listed, member_count %d", id, len(m), tm.MemberCount)
		}
		for _, u := range m {
			if u.TeamID != id {
				t.Errorf("team %d lists user %d of team %d", id, u.ID, u.TeamID)
			}
		}
		total += len(m)
	}
	if total != SeedUsers {
		t.Errorf("members over all teams = %d; want %d", total, SeedUsers)
	}
}

func TestTokens(t *testing.T) {
	tk := newTokens(tokenShards * 2) // two per shard
	var issued []string
	for i := 1; i <= 1000; i++ {
		tok, err := tk.issue(i)
		if err != nil {
			t.Fatal(err)
		}
		issued = append(issued, tok)
	}
	live := 0
	for i, tok := range issued {
		if id := tk.lookup(tok); id != 0 {
			live++
			if id != i+1 {
				t.Errorf("lookup(token %d) = %d; want %d", i, id, i+1)
			}
		}
	}
	if live > tokenShards*2 || live == 0 {
		t.Errorf("live tokens after 1000 logins = %d; want 1..%d (bounded)", live, tokenShards*2)
	}
	last := issued[len(issued)-1]
	if tk.lookup(last) != 1000 {
		t.Errorf("newest token evicted; want the oldest evicted first")
	}
	if !tk.revoke(last) || tk.revoke(last) || tk.lookup(last) != 0 {
		t.Errorf("revoke twice: want true then false, and no lookup after")
	}
	if tk.lookup("") != 0 || tk.lookup("bogus") != 0 {
		t.Errorf("lookup of unknown tokens != 0")
	}
}

// TestTokensConcurrent is for the race detector.
func TestTokensConcurrent(t *testing.T) {
	tk := newTokens(DefaultMaxTokens)
	d := newDirectory(SeedUsers, SeedTeams)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				id := g*200 + i%SeedUsers + 1
				tok, err := tk.issue(id)
				if err != nil {
					t.Error(err)
					return
				}
				if got := tk.lookup(tok); got != id {
					t.Errorf("lookup = %d; want %d", got, id)
				}
				d.rename(i%SeedUsers+1, fmt.Sprintf("n%d", g))
				d.page(0, 100)
				if !tk.revoke(tok) {
					t.Errorf("revoke of a live token = false")
				}
			}
		}()
	}
	wg.Wait()
}
