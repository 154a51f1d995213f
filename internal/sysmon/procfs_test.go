package sysmon

import (
	"strings"
	"testing"
)

func TestParseFileNr(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    FileNr
		open    uint64
		wantErr bool
	}{
		{name: "modern kernel", in: "1250\t0\t2466177\n", want: FileNr{1250, 0, 2466177}, open: 1250},
		{name: "old kernel with unused", in: "4096 1024 65536", want: FileNr{4096, 1024, 65536}, open: 3072},
		{name: "max int64", in: "1184\t0\t9223372036854775807\n", want: FileNr{1184, 0, 9223372036854775807}, open: 1184},
		{name: "too few fields", in: "1250\t0\n", wantErr: true},
		{name: "not a number", in: "a 0 1", wantErr: true},
		{name: "empty", in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseFileNr(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseFileNr(%q) error = %v; want error %v", tt.in, err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if got != tt.want {
				t.Errorf("parseFileNr(%q) = %+v; want %+v", tt.in, got, tt.want)
			}
			if got.Open() != tt.open {
				t.Errorf("parseFileNr(%q).Open() = %d; want %d", tt.in, got.Open(), tt.open)
			}
		})
	}
}

const tcpTable = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1678 1 00000000bc77d72b 100 0 0 10 0
   1: 0100007F:6448 00000000:0000 0A 00000000:00000000 00:00000000 00000000   106        0 6327 1 00000000e4eca069 100 0 0 10 0
   2: 0100007F:1F90 0100007F:D2A4 01 00000000:00000000 00:00000000 00000000     0        0 9001 1 0000000000000000 20 4 30 10 -1
   3: 0100007F:D2A4 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 9002 1 0000000000000000 20 4 30 10 -1
   4: 0100007F:D2A6 0100007F:1F90 06 00000000:00000000 03:00000F9E 00000000     0        0 0 3 0000000000000000
   5: 0100007F:D2A8 0100007F:1F90 08 00000000:00000000 00:00000000 00000000     0        0 9003 1 0000000000000000 20 4 30 10 -1
`

func TestParseTCPStates(t *testing.T) {
	counts := map[string]uint64{}
	if err := parseTCPStates(strings.NewReader(tcpTable), counts); err != nil {
		t.Fatalf("parseTCPStates: %v", err)
	}
	want := map[string]uint64{"listen": 2, "established": 2, "time_wait": 1, "close_wait": 1}
	for state, n := range want {
		if counts[state] != n {
			t.Errorf("parseTCPStates: %s = %d; want %d", state, counts[state], n)
		}
	}
	if len(counts) != len(want) {
		t.Errorf("parseTCPStates: got states %v; want only %v", counts, want)
	}

	// A second table adds to the same counts (tcp then tcp6).
	if err := parseTCPStates(strings.NewReader(tcpTable), counts); err != nil {
		t.Fatalf("parseTCPStates (second table): %v", err)
	}
	if counts["listen"] != 4 {
		t.Errorf("after two tables listen = %d; want 4", counts["listen"])
	}

	for _, bad := range []string{
		"header\n   0: 00000000:07E8 00000000:0000 ZZ 0\n",
		"header\n   0: 00000000:07E8 00000000:0000 0D 0\n",
		"header\n   0: 00000000:07E8\n",
	} {
		if err := parseTCPStates(strings.NewReader(bad), map[string]uint64{}); err == nil {
			t.Errorf("parseTCPStates(%q) = nil error; want an error", bad)
		}
	}
	if err := parseTCPStates(strings.NewReader("header only\n"), map[string]uint64{}); err != nil {
		t.Errorf("parseTCPStates(header only) = %v; want nil", err)
	}
}

func TestParseBootTime(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{in: "cpu  1 2 3\nbtime 1795670886\nprocesses 9\n", want: 1795670886},
		{in: "cpu  1 2 3\n", wantErr: true},
		{in: "btime x\n", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseBootTime(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseBootTime(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseStartTicks(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    uint64
		wantErr bool
	}{
		{name: "real line", in: "21280 (cat) R 21278 21278 14551 0 -1 4194304 99 0 0 0 0 0 0 0 20 0 1 0 49213 3133440 358 18446744073709551615", want: 49213},
		{name: "comm with spaces and parens", in: "7 (a b) (c)) S 1 7 1 0 -1 0 0 0 0 0 5 6 0 0 20 0 1 0 777 0 0", want: 777},
		{name: "short", in: "7 (x) S 1 2 3", wantErr: true},
		{name: "no comm", in: "7 x S", wantErr: true},
		{name: "bad number", in: "7 (x) S 1 7 1 0 -1 0 0 0 0 0 5 6 0 0 20 0 1 0 zz 0", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseStartTicks(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("%s: parseStartTicks(%q) = %d, %v; want %d, error %v", tt.name, tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
