package plan

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// UnmarshalYAML implements yaml.Unmarshaler for a size scalar.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	b.Line, b.Col = n.Line, n.Column
	if n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
		return nodeErr(n, "must be a size such as 1MiB or 65536, got %s", kindName(n))
	}
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return nodeErr(n, "%v", err)
	}
	b.Bytes = v
	return nil
}

// MarshalYAML writes the size as FormatByteSize does.
func (b ByteSize) MarshalYAML() (any, error) { return FormatByteSize(b.Bytes), nil }

var sizeUnits = []struct {
	unit string
	mult int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"kB", 1e3}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1},
}

// ParseByteSize parses a size: a whole number of bytes, optionally followed
// by B, KiB, MiB, GiB (powers of 1024) or kB, KB, MB, GB (powers of 1000).
func ParseByteSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	num, mult := s, int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(s, u.unit) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(s, u.unit)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid size %q (want a whole number of bytes, optionally with a unit: 65536, 512KiB, 1MiB, 10MB)", s)
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return n * mult, nil
}

// FormatByteSize writes n in the largest binary unit that divides it
// ("1MiB", "1500B").
func FormatByteSize(n int64) string {
	switch {
	case n != 0 && n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + "GiB"
	case n != 0 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "MiB"
	case n != 0 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + "KiB"
	}
	return strconv.FormatInt(n, 10) + "B"
}
