package store

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// DefaultStaleAfter is how long a running run from another host may go
// without a heartbeat before MarkInterrupted treats it as abandoned.
const DefaultStaleAfter = 2 * time.Minute

// Owner returns "host:pid" for the current process, the value stored in
// Run.Owner.
func Owner() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "unknown"
	}
	return fmt.Sprintf("%s:%d", h, os.Getpid())
}

// Abandoned reports whether a running run has lost its process:
//   - owned by a process on this host: that process no longer exists
//     (a SIGKILLed loadgen is detected at the next start, at once);
//   - otherwise (another host, or no owner): no heartbeat, start or creation
//     for longer than staleAfter.
func Abandoned(r Run, now time.Time, staleAfter time.Duration) bool {
	if r.Status != StatusRunning {
		return false
	}
	if host, pid, ok := splitOwner(r.Owner); ok {
		if me, _ := os.Hostname(); host == me {
			return !pidAlive(pid)
		}
	}
	last := r.CreatedAt
	for _, t := range []time.Time{r.StartedAt, r.HeartbeatAt} {
		if t.After(last) {
			last = t
		}
	}
	return now.Sub(last) > staleAfter
}

func splitOwner(owner string) (string, int, bool) {
	i := strings.LastIndexByte(owner, ':')
	if i <= 0 {
		return "", 0, false
	}
	pid, err := strconv.Atoi(owner[i+1:])
	if err != nil || pid <= 0 {
		return "", 0, false
	}
	return owner[:i], pid, true
}
