package target

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"time"

	"gopkg.in/yaml.v3"
)

// A latency file (--latency-config) changes the service-time model:
//
//	default: {min: 10ms, max: 30ms}           # optional: every pooled route
//	routes:                                    # optional: per route, over default
//	  "GET /api/users": {min: 20ms, max: 80ms} # uniform
//	  "POST /api/auth/login": {fixed: 40ms}    # fixed
//	  "GET /api/teams": {min: 5ms, mean: 15ms, max: 250ms} # exponential tail, capped
//
// Routes it does not mention keep base's model. Decoding is strict: unknown
// keys, duplicate keys, bad durations and unknown routes are errors with
// their line.
type latencyFile struct {
	Default *latencySpec           `yaml:"default"`
	Routes  map[string]latencySpec `yaml:"routes"`
}

type latencySpec struct {
	Fixed *yamlDuration `yaml:"fixed"`
	Min   *yamlDuration `yaml:"min"`
	Max   *yamlDuration `yaml:"max"`
	Mean  *yamlDuration `yaml:"mean"`
}

// yamlDuration is a Go duration string ("20ms").
type yamlDuration time.Duration

// UnmarshalYAML parses a scalar duration (node form for scalars only, see STYLE B5).
func (d *yamlDuration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if n.Kind != yaml.ScalarNode || n.Decode(&s) != nil {
		return fmt.Errorf("line %d: want a duration such as 20ms", n.Line)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration such as 20ms", n.Line, s)
	}
	*d = yamlDuration(v)
	return nil
}

func (sp latencySpec) latency() (Latency, error) {
	get := func(p *yamlDuration) time.Duration {
		if p == nil {
			return 0
		}
		return time.Duration(*p)
	}
	if sp.Fixed != nil {
		if sp.Min != nil || sp.Max != nil || sp.Mean != nil {
			return Latency{}, errors.New("fixed excludes min, max and mean")
		}
		l := Fixed(get(sp.Fixed))
		return l, l.Validate()
	}
	if sp.Min == nil || sp.Max == nil {
		return Latency{}, errors.New("want fixed, or min and max (and optionally mean)")
	}
	l := Latency{Min: get(sp.Min), Max: get(sp.Max), Mean: get(sp.Mean)}
	if sp.Mean != nil && l.Mean == 0 {
		return Latency{}, errors.New("mean must be > 0")
	}
	return l, l.Validate()
}

// LoadLatencyFile reads a latency file and applies it to base (which it
// does not modify).
func LoadLatencyFile(path string, base map[string]Latency) (map[string]Latency, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("latency config: %w", err)
	}
	out, err := ParseLatencyFile(b, base)
	if err != nil {
		return nil, fmt.Errorf("latency config %s: %w", path, err)
	}
	return out, nil
}

// ParseLatencyFile parses a latency file's content and applies it to base.
func ParseLatencyFile(b []byte, base map[string]Latency) (map[string]Latency, error) {
	var f latencyFile
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("file is empty")
		}
		return nil, err
	}
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, err
	}
	out := maps.Clone(base)
	if out == nil {
		out = map[string]Latency{}
	}
	if f.Default != nil {
		l, err := f.Default.latency()
		if err != nil {
			return nil, fmt.Errorf("line %d: default: %w", keyLine(&root, "default"), err)
		}
		for _, k := range PooledRoutes {
			out[k] = l
		}
	}
	for _, k := range slices.Sorted(maps.Keys(f.Routes)) {
		line := keyLine(&root, "routes", k)
		if !slices.Contains(PooledRoutes, k) {
			return nil, fmt.Errorf("line %d: routes: %w", line, unknownRoute(k))
		}
		l, err := f.Routes[k].latency()
		if err != nil {
			return nil, fmt.Errorf("line %d: routes[%q]: %w", line, k, err)
		}
		out[k] = l
	}
	return out, nil
}

// keyLine returns the line of the mapping key at path, or 0.
func keyLine(n *yaml.Node, path ...string) int {
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	line := 0
	for _, key := range path {
		if n.Kind != yaml.MappingNode {
			return line
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				line, next = n.Content[i].Line, n.Content[i+1]
				break
			}
		}
		if next == nil {
			return line
		}
		n = next
	}
	return line
}
