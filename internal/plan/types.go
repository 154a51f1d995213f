// Package plan owns loadlab's YAML test-plan language and nothing else: the
// types a plan decodes into, strict decoding with line and column numbers
// (LoadFile, Parse), the documented defaults, and a pure validation pass
// (Validate) that reports every problem by path and position.
//
// Validate also compiles what the run needs, with the packages that own it:
// each request's templates (internal/tmpl) into Request.Compiled, each
// step's checks and captures (internal/expect) into Step.Rules, and the
// redactor of the plan's secrets. A Plan is read-only after loading and safe
// for concurrent use.
package plan

import (
	"time"

	"github.com/loadlab/loadlab/internal/expect"
	"github.com/loadlab/loadlab/internal/reqbody"
	"github.com/loadlab/loadlab/internal/secret"
	"github.com/loadlab/loadlab/internal/tmpl"
)

// Plan types (Plan.Type).
const (
	TypeLoad      = "load"
	TypeBenchmark = "benchmark"
	TypeStress    = "stress"
	TypeKnee      = "knee"
)

// Load models (Load.Model, Knee.Model).
const (
	ModelOpen   = "open"   // arrival rate: iterations per second, started on schedule
	ModelClosed = "closed" // virtual users, each looping its scenario with think time
)

// Drop policies (Load.DropPolicy).
const (
	DropWait = ""     // when max_in_flight is reached the iteration waits (the wait shows in its latency)
	DropDrop = "drop" // the iteration is dropped and counted in loadgen_dropped_iterations_total
)

// Data source orders (DataSource.Order).
const (
	OrderSequential = "sequential"
	OrderRandom     = "random"
)

// Defaults applied after decoding; exported so docs, CLI and engine agree.
const (
	DefaultTimeout         = 10 * time.Second
	DefaultMaxInFlight     = 1000
	DefaultWeight          = 1
	DefaultMethod          = "GET"
	DefaultErrorThreshold  = 0.05
	DefaultResolution      = 0.05
	DefaultProbeDuration   = 10 * time.Second
	DefaultCooldown        = 2 * time.Second
	DefaultStartRate       = 10.0
	DefaultMaxProbes       = 20
	DefaultBenchRequests   = 200
	DefaultBenchWarmup     = 20 // requests
	DefaultTolerance       = 0.10
	DefaultConfidence      = 0.95
	DefaultKneeMaxSteps    = 8
	DefaultKneeStep        = 10 * time.Second
	DefaultKneeWarmup      = 2 * time.Second
	DefaultGainThreshold   = 0.10
	DefaultSeriesBudget    = 4000 // metric series a plan may create (see Plan.SeriesEstimate)
	SeriesPerStepFixed     = 18   // series of a step besides its status codes: 10 error reasons, 2 outcomes, 1 service time, 5 HTTP phases
	MaxNameLen             = 64   // scenario and step names are metric label values
	DefaultBenchConcurrent = 1
)

// Response body limits (max_body).
const (
	DefaultMaxBody = 1 << 20 // response body bytes kept for checks and captures
	MaxMaxBody     = 1 << 30 // the largest max_body a plan may set
)

// Plan is one YAML test plan. Zero values of optional sections mean "absent";
// Parse applies the documented defaults (see docs/plan.md).
type Plan struct {
	Name      string                `yaml:"name"`
	Type      string                `yaml:"type"`   // load (default) | benchmark | stress | knee
	Target    string                `yaml:"target"` // base URL, e.g. http://127.0.0.1:8117; see SetTarget
	Defaults  Defaults              `yaml:"defaults"`
	Variables map[string]Variable   `yaml:"variables"`
	Data      map[string]DataSource `yaml:"data"`
	Scenarios []Scenario            `yaml:"scenarios"`
	Load      Load                  `yaml:"load"`
	// Thresholds are evaluated at the end of the run (and on a rolling window
	// when Window > 0).
	Thresholds []Threshold `yaml:"thresholds"`
	// LatencyOf says which requests the latency figures and latency
	// thresholds cover: "successful" (the default: failed requests' latency
	// is reported apart) or "all".
	LatencyOf string     `yaml:"latency_of"`
	Benchmark *Benchmark `yaml:"benchmark"`
	Stress    *Stress    `yaml:"stress"`
	Knee      *Knee      `yaml:"knee"`

	// Source is the file the plan was read from ("" when parsed from memory);
	// it is not part of the YAML.
	Source string `yaml:"-"`
	// Raw is the YAML text as read, for storing with a run.
	Raw []byte `yaml:"-"`

	pos     posIndex           // path -> position, from the YAML node tree
	bigInts map[string]float64 // integer fields written too large for an int (see checkInts)

	// Set by Validate: the variables' values (${env.NAME} resolved) and the
	// redactor of the plan's secrets.
	vars     map[string]string
	redactor *secret.Redactor
	// env looks up ${env.NAME} (Parse sets it from WithEnv/WithEnvLookup;
	// nil means the process environment).
	env func(name string) (string, error)
}

// Variable is one entry of variables:. In YAML it is a string (jwt: abc) or a
// mapping {value: "${env.JWT}", secret: true}. The value may read the
// environment with ${env.NAME}; nothing else is expanded in it.
type Variable struct {
	Value string `yaml:"value"`
	// Secret marks the value as secret: it is masked wherever loadlab would
	// write it. Nil (not said) means secret when the value reads the
	// environment, not otherwise; false keeps even such a value readable.
	Secret    *bool `yaml:"secret"`
	Line, Col int   // where the variable was written (0 when built in Go)
}

// V returns a plain Variable holding s, for building plans in Go.
func V(s string) Variable { return Variable{Value: s} }

// Defaults apply to every request unless the request overrides them.
type Defaults struct {
	Headers map[string]string `yaml:"headers"`
	Timeout Duration          `yaml:"timeout"` // default DefaultTimeout
	// MaxBody is how much of a response body is kept for checks and
	// captures (default DefaultMaxBody); the rest is read and dropped.
	MaxBody ByteSize `yaml:"max_body"`
	// HTTP is the client's protocol options (see http.go).
	HTTP HTTP `yaml:"http"`
}

// DataSource is a CSV file whose rows feed templates: each iteration takes one
// row, and ${NAME.COLUMN} refers to a column of it.
type DataSource struct {
	CSV   string `yaml:"csv"`   // path, relative to the plan's directory
	Order string `yaml:"order"` // sequential (default) | random
	// Columns is the header row (the first CSV line) and Rows the remaining
	// lines, loaded by LoadFile relative to the plan's directory. Instead of
	// csv, a plan may give columns and rows inline.
	Columns []string   `yaml:"columns"`
	Rows    [][]string `yaml:"rows"`
	// Keys[i] is NAME+"."+Columns[i], precomputed for Scope.Set.
	Keys []string `yaml:"-"`
}

// Scenario is a journey: a list of steps run in order by one iteration.
type Scenario struct {
	Name   string `yaml:"name"`
	Weight int    `yaml:"weight"` // share of iterations; default 1
	Think  Think  `yaml:"think"`  // pause after each step (a step's own think overrides)
	Steps  []Step `yaml:"steps"`
	// OnFailure says what an iteration does after a failed step: "" (the
	// default) ends it before a step that needs a capture a failed step did
	// not take; OnFailureAbort ends it at the first failed step;
	// OnFailureContinue runs every step whatever failed.
	OnFailure string `yaml:"on_failure"`
}

// The values of Scenario.OnFailure.
const (
	OnFailureContinue = "continue"
	OnFailureAbort    = "abort_iteration"
)

// Think is a pause drawn uniformly from [Min, Max]. In YAML it is either a
// mapping {min: 1s, max: 3s} or a scalar duration (think: 1s means min = max).
type Think struct {
	Min Duration `yaml:"min"`
	Max Duration `yaml:"max"`
}

// IsZero reports whether no think time is set.
func (t Think) IsZero() bool { return t.Min.Duration == 0 && t.Max.Duration == 0 }

// Step is one HTTP request of a scenario, with what to capture from its
// response and what to check.
type Step struct {
	Name    string  `yaml:"name"` // default: "METHOD path" (the template source)
	Request Request `yaml:"request"`
	// Capture maps a variable name to where to take it from: a JSON path
	// ($.a.b[0]), header:NAME or regex:PATTERN.
	Capture map[string]string `yaml:"capture"`
	Check   Check             `yaml:"check"`
	Think   *Think            `yaml:"think"` // overrides the scenario's think time after this step

	// Rules are the check and captures compiled, set by Validate when the
	// step is valid.
	Rules *expect.Rules `yaml:"-"`
}

// Request is what a step sends. Path is relative to Plan.Target and may hold a
// query string; Query values are added URL-escaped. JSON is any YAML value,
// sent as application/json; Body is sent as is. All strings may hold templates.
type Request struct {
	Method  string            `yaml:"method"` // default GET
	Path    string            `yaml:"path"`
	Headers map[string]string `yaml:"headers"` // merged over Defaults.Headers
	Query   map[string]string `yaml:"query"`
	JSON    any               `yaml:"json"`
	Body    string            `yaml:"body"`
	Timeout Duration          `yaml:"timeout"`  // default Defaults.Timeout
	MaxBody ByteSize          `yaml:"max_body"` // default Defaults.MaxBody
	// Form is sent as application/x-www-form-urlencoded (keys sorted,
	// values may hold templates).
	Form map[string]string `yaml:"form"`
	// Multipart is sent as multipart/form-data: fields, then file parts.
	Multipart *Multipart `yaml:"multipart"`
	// BodyFile is a file sent as the body, as it is (relative to the plan's
	// directory; read once when the plan loads).
	BodyFile string `yaml:"body_file"`
	// Redirects overrides defaults.http.redirects for this step.
	Redirects *int `yaml:"redirects"`

	// bodyFile is BodyFile's content, read by Parse.
	bodyFile *reqbody.File

	// Compiled is set by Validate when the request is valid.
	Compiled *CompiledRequest `yaml:"-"`
}

// CompiledRequest is a Request ready for the hot path: every template compiled
// once, defaults merged, headers in a fixed order.
type CompiledRequest struct {
	Method string
	// URL renders the full URL: Target + path + query (query values escaped).
	URL *tmpl.Template
	// Path renders the path and query alone (no scheme/host).
	Path *tmpl.Template
	// Headers are the defaults merged with the request's, sorted by name.
	Headers []HeaderTemplate
	// Body is nil when the request has no body. For JSON bodies, dynamic values
	// are JSON-string-escaped when rendered.
	Body        *tmpl.Template
	ContentType string        // "application/json" for JSON bodies, else from headers or ""
	Timeout     time.Duration // effective timeout (> 0)
	// Redirects is the step's own redirect limit (request.redirects), or
	// -1 for the plan's (defaults.http.redirects).
	Redirects int
	// Refs are the names the request's templates need (sorted, unique).
	Refs []string

	// secretHeaders are the Authorization, Cookie, Proxy-Authorization and
	// X-Api-Key headers whose values change per request (Plan.Redactor holds
	// the others); see AppendSecrets.
	secretHeaders []HeaderTemplate
}

// HeaderTemplate is one request header with a templated value.
type HeaderTemplate struct {
	Name  string // canonical form (textproto.CanonicalMIMEHeaderKey)
	Value *tmpl.Template
}

// Check is what a response must satisfy (see expect.Check, which Validate
// compiles it into).
type Check struct {
	// Status lists the accepted codes. Empty means any code from 100 to 399.
	Status       []int  `yaml:"status"`
	BodyContains string `yaml:"body_contains"`
	// JSON maps JSON paths ("$.user.id") to expected values.
	JSON       map[string]any `yaml:"json"`
	MaxLatency Duration       `yaml:"max_latency"`
}

// Load is the load section: the model and the phases walked in order.
type Load struct {
	Model       string  `yaml:"model"`         // open (default) | closed
	MaxInFlight int     `yaml:"max_in_flight"` // open model: cap on iterations in flight; default DefaultMaxInFlight
	DropPolicy  string  `yaml:"drop_policy"`   // "" (wait, never drop) | "drop"
	Phases      []Phase `yaml:"phases"`
}

// TotalDuration is the sum of the phases' durations.
func (l Load) TotalDuration() time.Duration {
	var d time.Duration
	for _, p := range l.Phases {
		d += p.Duration.Duration
	}
	return d
}

// Phase is one stage of the load. Open model: Rate iterations per second
// (ramping linearly to To when set). Closed model: VUs virtual users (ramping
// linearly to To). In YAML, rate accepts 200, "200/s", "12000/m" or "720000/h".
type Phase struct {
	Name     string   `yaml:"name"`
	Duration Duration `yaml:"duration"`
	Rate     *float64 `yaml:"rate"`
	VUs      *int     `yaml:"vus"`
	To       *float64 `yaml:"to"` // ramp end: a rate (open) or a number of VUs (closed)
}

// Threshold metrics (Threshold.Metric).
const (
	MetricP50       = "p50"
	MetricP90       = "p90"
	MetricP95       = "p95"
	MetricP99       = "p99"
	MetricP999      = "p99.9"
	MetricMax       = "max"
	MetricMean      = "mean"
	MetricErrorRate = "error_rate"
	MetricRPS       = "rps"
)

// Threshold is a pass/fail rule such as "p99 < 300ms", "error_rate < 1%",
// "step[login].p95 < 200ms" or "rps > 50". In YAML it is that string or a
// mapping {expr: ..., window: 30s, abort_on_fail: true}.
type Threshold struct {
	Expr   string  `yaml:"expr"` // the expression as written
	Metric string  // one of the Metric* constants
	Step   string  // "" = whole run; else a step name (any scenario) or "scenario/step"
	Op     string  // <, <=, >, >=
	Value  float64 // seconds for latency metrics, ratio 0-1 for error_rate, req/s for rps
	// Window > 0 evaluates the threshold continuously over the last Window of
	// the run; 0 evaluates it once over the whole run.
	Window      Duration `yaml:"window"`
	AbortOnFail bool     `yaml:"abort_on_fail"` // stop the run as soon as the threshold fails (needs Window > 0 to act early)
	Line, Col   int      // where the threshold was written (0 when built in Go)
}

// Benchmark configures type: benchmark: each endpoint measured in isolation.
type Benchmark struct {
	// Endpoints default to every step of every scenario, in order.
	Endpoints []Step `yaml:"endpoints"`
	// Warmup is left out of the results: a duration ("5s") or a number of
	// requests (20); default DefaultBenchWarmup requests.
	Warmup      Warmup  `yaml:"warmup"`
	Requests    int     `yaml:"requests"`                  // measured requests per endpoint and concurrency; default DefaultBenchRequests
	Concurrency []int   `yaml:"concurrency"`               // swept in order; default [1]
	Tolerance   float64 `yaml:"tolerance" decode:"ratio"`  // regression beyond this relative change (0.10 = 10%; "10%" accepted)
	Confidence  float64 `yaml:"confidence" decode:"ratio"` // statistical confidence for the regression test; default 0.95

	fromScenarios bool // Endpoints were copied from the scenarios by Validate
}

// Warmup is a benchmark warm-up: either a duration or a number of requests.
type Warmup struct {
	Duration  time.Duration
	Requests  int
	Line, Col int
}

// Stress configures type: stress: find the highest sustainable open-model rate.
type Stress struct {
	StartRate      float64  `yaml:"start_rate"`                     // first probe's rate; default DefaultStartRate
	MaxRate        float64  `yaml:"max_rate"`                       // stop doubling here; 0 = no cap (MaxProbes bounds the search)
	ErrorThreshold float64  `yaml:"error_threshold" decode:"ratio"` // a probe fails above this error ratio; default 0.05 ("5%" accepted)
	P99SLO         Duration `yaml:"p99_slo"`                        // a probe also fails when its p99 exceeds this (0 = unused)
	ProbeDuration  Duration `yaml:"probe_duration"`                 // default DefaultProbeDuration
	Cooldown       Duration `yaml:"cooldown"`                       // pause between probes; default DefaultCooldown
	Resolution     float64  `yaml:"resolution" decode:"ratio"`      // bisect until (bad-good)/good <= Resolution; default 0.05
	MaxProbes      int      `yaml:"max_probes"`                     // default DefaultMaxProbes
}

// Knee configures type: knee: step the load up and find where throughput stops rising.
type Knee struct {
	Model string `yaml:"model"` // closed (default: Steps are concurrencies) | open (Steps are rates)
	// Steps default to 1, 2, 4, ... (MaxSteps values).
	Steps         []float64 `yaml:"steps"`
	MaxSteps      int       `yaml:"max_steps"`                     // default DefaultKneeMaxSteps
	StepDuration  Duration  `yaml:"step_duration"`                 // steady window per step; default DefaultKneeStep
	Warmup        Duration  `yaml:"warmup"`                        // discarded start of each step; default DefaultKneeWarmup
	GainThreshold float64   `yaml:"gain_threshold" decode:"ratio"` // knee when relative throughput gain per step falls below this; default 0.10
	MetricsURL    string    `yaml:"metrics_url"`                   // the target's /metrics (optional), to name the saturated resource
}

// Duration is a YAML duration scalar ("250ms", "10s", "1m30s"; a bare 0 is
// allowed) that remembers where it was written.
type Duration struct {
	time.Duration
	Line, Col int // 0 when not set in YAML
}

// ByteSize is a YAML size scalar: a number of bytes (1048576) or a number
// with a unit ("512KiB", "1MiB", "64kB"; KiB/MiB/GiB are powers of 1024,
// kB/KB/MB/GB of 1000); it remembers where it was written.
type ByteSize struct {
	Bytes     int64
	Line, Col int // 0 when not set in YAML
}

// IsSet reports whether the size was written in YAML or set in Go (non-zero).
func (b ByteSize) IsSet() bool { return b.Line > 0 || b.Bytes != 0 }

// D returns a Duration for d, for building plans in Go.
func D(d time.Duration) Duration { return Duration{Duration: d} }

// IsSet reports whether the duration was written in YAML or set in Go (non-zero).
func (d Duration) IsSet() bool { return d.Line > 0 || d.Duration != 0 }
