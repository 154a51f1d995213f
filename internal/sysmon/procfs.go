package sysmon

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// FileNr is the content of /proc/sys/fs/file-nr: file handles allocated, allocated but unused, and the system maximum.
type FileNr struct {
	Allocated, Unused, Max uint64
}

// Open is the number of file handles in use on the host (allocated minus unused; modern kernels report 0 unused).
func (f FileNr) Open() uint64 {
	if f.Unused > f.Allocated {
		return 0
	}
	return f.Allocated - f.Unused
}

// parseFileNr parses the single line of /proc/sys/fs/file-nr, e.g. "1184\t0\t9223372036854775807\n".
func parseFileNr(s string) (FileNr, error) {
	fields := strings.Fields(s)
	if len(fields) != 3 {
		return FileNr{}, fmt.Errorf("file-nr: want 3 fields, got %d in %q", len(fields), s)
	}
	var v [3]uint64
	for i, f := range fields {
		n, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return FileNr{}, fmt.Errorf("file-nr field %d: %w", i+1, err)
		}
		v[i] = n
	}
	return FileNr{Allocated: v[0], Unused: v[1], Max: v[2]}, nil
}

// TCPStates lists the TCP states in kernel order (include/net/tcp_states.h); index i+1 is the hex code in /proc/net/tcp.
// These are the only values of the state label, so its cardinality is fixed.
var TCPStates = []string{
	"established", "syn_sent", "syn_recv", "fin_wait1", "fin_wait2", "time_wait",
	"close", "close_wait", "last_ack", "listen", "closing", "new_syn_recv",
}

// parseTCPStates counts the connections of a /proc/net/tcp or /proc/net/tcp6 table by state and adds them to counts
// (keyed by TCPStates names). The first line is the header. Unknown state codes are an error.
func parseTCPStates(r io.Reader, counts map[string]uint64) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		if line == 1 {
			continue // header: "  sl  local_address rem_address   st ..."
		}
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if len(fields) < 4 {
			return fmt.Errorf("tcp table line %d: want at least 4 fields, got %d", line, len(fields))
		}
		code, err := strconv.ParseUint(fields[3], 16, 8)
		if err != nil {
			return fmt.Errorf("tcp table line %d: state %q: %w", line, fields[3], err)
		}
		if code < 1 || int(code) > len(TCPStates) {
			return fmt.Errorf("tcp table line %d: unknown state code %#x", line, code)
		}
		counts[TCPStates[code-1]]++
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("tcp table: %w", err)
	}
	return nil
}

// userHZ is the unit of the tick counts in /proc/<pid>/stat (USER_HZ, 100 on every Linux ABI).
const userHZ = 100

// parseBootTime returns the btime line of /proc/stat: the boot time in seconds since the epoch.
func parseBootTime(stat string) (int64, error) {
	for _, line := range strings.Split(stat, "\n") {
		if rest, ok := strings.CutPrefix(line, "btime "); ok {
			v, err := strconv.ParseInt(strings.TrimSpace(rest), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("btime: %w", err)
			}
			return v, nil
		}
	}
	return 0, fmt.Errorf("btime: not found")
}

// parseStartTicks returns field 22 (starttime, in USER_HZ ticks after boot) of a /proc/<pid>/stat line. The command
// name in parentheses may hold spaces and parentheses, so fields are counted after its last ')'.
func parseStartTicks(stat string) (uint64, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("pid stat: no ')' in %q", stat)
	}
	fields := strings.Fields(stat[i+1:]) // fields[0] is field 3 (state)
	const idx = 22 - 3
	if len(fields) <= idx {
		return 0, fmt.Errorf("pid stat: %d fields after comm; want more than %d", len(fields), idx)
	}
	v, err := strconv.ParseUint(fields[idx], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("pid stat starttime: %w", err)
	}
	return v, nil
}
