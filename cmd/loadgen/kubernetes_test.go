package main

// The Kubernetes manifests (deploy/kubernetes) are rendered with `kubectl
// kustomize`, every object is decoded strictly into the k8s.io/api types
// (an unknown or misspelt field fails), and the wiring is checked: the
// settings of run.env reach every place they are used, the worker's command
// line parses with `loadgen run`'s own flags, the plan is mounted where the
// command reads it and is a valid plan, the store URL comes from a Secret,
// and the gather Job waits for the same run and the same number of workers.
// k8s.io/api is imported by this test only: it is not linked into loadgen.

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/loadlab/loadlab/internal/plan"
	"github.com/loadlab/loadlab/internal/testenv"
)

const k8sDir = "deploy/kubernetes"

// kustomize renders dir with `kubectl kustomize`, or without kubectl with
// `kustomize build` (bin/kustomize, from `make kustomize`); CI=true: neither
// is a failure.
func kustomize(t *testing.T, dir string) []byte {
	t.Helper()
	var args []string
	if kubectl, err := exec.LookPath("kubectl"); err == nil {
		args = []string{kubectl, "kustomize", dir}
	} else if k, err := exec.LookPath(filepath.Join(testenv.RepoRoot(t), "bin", "kustomize")); err == nil {
		args = []string{k, "build", dir}
	} else if k, err := exec.LookPath("kustomize"); err == nil {
		args = []string{k, "build", dir}
	} else {
		testenv.Unavailable(t, "kubectl or kustomize (for `kubectl kustomize %s`; `make kustomize` builds one): %v", k8sDir, err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// rendered are the objects of one rendering, decoded strictly.
type rendered struct {
	configMaps  map[string]*corev1.ConfigMap
	jobs        map[string]*batchv1.Job
	podMonitors map[string]*podMonitor
}

// podMonitor is the part of monitoring.coreos.com/v1 PodMonitor the
// component uses (the Operator's types are not worth a dependency); strict
// decoding keeps the component to these fields.
type podMonitor struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name   string            `json:"name"`
		Labels map[string]string `json:"labels"`
	} `json:"metadata"`
	Spec struct {
		JobLabel string `json:"jobLabel"`
		Selector struct {
			MatchLabels map[string]string `json:"matchLabels"`
		} `json:"selector"`
		ScrapeNativeHistograms bool     `json:"scrapeNativeHistograms"`
		ScrapeProtocols        []string `json:"scrapeProtocols"`
		PodMetricsEndpoints    []struct {
			Port     string `json:"port"`
			Path     string `json:"path"`
			Interval string `json:"interval"`
		} `json:"podMetricsEndpoints"`
	} `json:"spec"`
}

func decodeAll(t *testing.T, out []byte) rendered {
	t.Helper()
	r := rendered{configMaps: map[string]*corev1.ConfigMap{}, jobs: map[string]*batchv1.Job{}, podMonitors: map[string]*podMonitor{}}
	for i, doc := range bytes.Split(out, []byte("\n---\n")) {
		var head struct{ APIVersion, Kind string }
		if err := yaml.Unmarshal(doc, &head); err != nil {
			t.Fatalf("object %d: %v\n%s", i, err, doc)
		}
		var obj any
		var name func() string
		switch head.APIVersion + " " + head.Kind {
		case "v1 ConfigMap":
			cm := &corev1.ConfigMap{}
			obj, name = cm, func() string { r.configMaps[cm.Name] = cm; return cm.Name }
		case "batch/v1 Job":
			j := &batchv1.Job{}
			obj, name = j, func() string { r.jobs[j.Name] = j; return j.Name }
		case "monitoring.coreos.com/v1 PodMonitor":
			pm := &podMonitor{}
			obj, name = pm, func() string { r.podMonitors[pm.Metadata.Name] = pm; return pm.Metadata.Name }
		default:
			t.Fatalf("object %d: unexpected %s %s (the test decodes every kind it renders)", i, head.APIVersion, head.Kind)
		}
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			t.Fatalf("object %d (%s): strict decoding: %v\n%s", i, head.Kind, err, doc)
		}
		if name() == "" {
			t.Fatalf("object %d (%s) has no name", i, head.Kind)
		}
	}
	return r
}

// readSettings reads run.env (KEY=VALUE lines, # comments).
func readSettings(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: line %q is not KEY=VALUE", path, line)
		}
		out[k] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// expand resolves $(VAR) in s from the container's literal env, as the
// kubelet does for args; a reference to an env var that is not a literal
// (or not defined) is left as it is.
func expand(s string, env []corev1.EnvVar) string {
	return regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`).ReplaceAllStringFunc(s, func(m string) string {
		name := m[2 : len(m)-1]
		for _, e := range env {
			if e.Name == name && e.ValueFrom == nil {
				return e.Value
			}
		}
		return m
	})
}

func containerNamed(t *testing.T, j *batchv1.Job, name string) *corev1.Container {
	t.Helper()
	cs := j.Spec.Template.Spec.Containers
	if len(cs) != 1 || cs[0].Name != name {
		t.Fatalf("job %s: want one container %q, got %d", j.Name, name, len(cs))
	}
	return &cs[0]
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// checkManifests checks one rendering against the settings it was rendered
// with.
func checkManifests(t *testing.T, r rendered, set map[string]string) {
	t.Helper()
	runID, target, rwURL := set["run_id"], set["target"], set["remote_write_url"]
	n, err := strconv.Atoi(set["workers"])
	if err != nil || n < 1 {
		t.Fatalf("run.env workers = %q; want a positive integer", set["workers"])
	}
	if !dnsLabel.MatchString(runID) || len(runID) > 40 {
		t.Fatalf("run.env run_id = %q; want lowercase letters, digits and '-', at most 40", runID)
	}
	if len(r.configMaps) != 1 || len(r.jobs) != 2 {
		t.Fatalf("rendered %d ConfigMaps and %d Jobs (%v); want the plan and two Jobs (run.env is local-config)",
			len(r.configMaps), len(r.jobs), slicesSorted(r.jobs))
	}
	workers, gather := r.jobs["loadgen-"+runID+"-workers"], r.jobs["loadgen-"+runID+"-gather"]
	if workers == nil || gather == nil {
		t.Fatalf("jobs %v; want loadgen-%s-workers and loadgen-%s-gather", slicesSorted(r.jobs), runID, runID)
	}
	for _, j := range r.jobs {
		// The pod hostname of an Indexed Job is NAME-INDEX: a DNS label.
		if !dnsLabel.MatchString(j.Name) || len(j.Name) > 63-4 {
			t.Errorf("job name %q is not a DNS label with room for -INDEX", j.Name)
		}
	}

	// --- workers: an Indexed Job, N at once, never retried ---
	ws := workers.Spec
	if ws.CompletionMode == nil || *ws.CompletionMode != batchv1.IndexedCompletion {
		t.Errorf("workers completionMode = %v; want Indexed", ws.CompletionMode)
	}
	if ws.Completions == nil || ws.Parallelism == nil || int(*ws.Completions) != n || int(*ws.Parallelism) != n {
		t.Errorf("workers completions %v, parallelism %v; want both %d (run.env workers)", ptrVal(ws.Completions), ptrVal(ws.Parallelism), n)
	}
	if ws.BackoffLimitPerIndex == nil || *ws.BackoffLimitPerIndex != 0 {
		t.Errorf("workers backoffLimitPerIndex = %v; want 0: a retried worker would send its share twice", ptrVal(ws.BackoffLimitPerIndex))
	}
	if ws.PodFailurePolicy == nil || len(ws.PodFailurePolicy.Rules) == 0 {
		t.Error("workers have no podFailurePolicy")
	}
	for _, rule := range ws.PodFailurePolicy.Rules {
		if rule.Action == batchv1.PodFailurePolicyActionIgnore {
			t.Errorf("workers podFailurePolicy %+v ignores a failure: the pod would run its share again", rule)
		}
	}
	wpod := workers.Spec.Template.Spec
	if wpod.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("workers restartPolicy = %q; want Never", wpod.RestartPolicy)
	}
	w := containerNamed(t, workers, "loadgen")
	if w.Image == "" || !strings.Contains(w.Image, "loadlab/loadgen") {
		t.Errorf("workers image = %q; want loadlab/loadgen (Dockerfile.loadgen)", w.Image)
	}
	for _, e := range w.Env {
		if e.Name == "JOB_COMPLETION_INDEX" {
			t.Errorf("workers set JOB_COMPLETION_INDEX themselves (%+v); the Indexed Job sets it per pod", e)
		}
	}
	args := make([]string, len(w.Args))
	for i, a := range w.Args {
		args[i] = expand(a, w.Env)
		if strings.Contains(args[i], "$(") {
			t.Errorf("workers arg %q refers to an env var that is not set literally", a)
		}
	}
	if len(args) < 2 || args[0] != "run" {
		t.Fatalf("workers args = %q; want loadgen run PLAN ...", args)
	}
	// The worker's command line parses with loadgen run's own flags, and
	// passes their checks in every pod of the Indexed Job.
	var f runFlags
	fs := flag.NewFlagSet("loadgen run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f.set(fs)
	pos, _, ok := parseInterleaved(fs, args[1:])
	if !ok || len(pos) != 1 {
		t.Fatalf("workers args %q do not parse as `loadgen run PLAN [flags]` (positional %q)", args, pos)
	}
	if f.segment != fmt.Sprintf("auto/%d", n) {
		t.Errorf("workers --segment = %q; want auto/%d (the index comes from JOB_COMPLETION_INDEX)", f.segment, n)
	}
	if f.runID != runID {
		t.Errorf("workers --run-id = %q; want %q", f.runID, runID)
	}
	for i := range n {
		t.Setenv("JOB_COMPLETION_INDEX", fmt.Sprint(i))
		fc := f
		if err := fc.check(fs); err != nil || fc.seg == nil || fc.seg.Index != i || fc.seg.Of != n || fc.seg.RunID != runID {
			t.Errorf("pod %d: the workers' flags check as %+v, %v; want segment %d/%d of %s", i, fc.seg, err, i, n, runID)
		}
	}
	if f.remoteWrite.url != rwURL {
		t.Errorf("workers --out-remote-write = %q; want %q (run.env remote_write_url)", f.remoteWrite.url, rwURL)
	}
	if f.store != "" {
		t.Errorf("workers --store = %q on the command line; the store URL comes from the Secret (LOADGEN_STORE)", f.store)
	}
	if got := envValue(w.Env, "LOADGEN_TARGET"); got != target {
		t.Errorf("workers LOADGEN_TARGET = %q; want %q (run.env target)", got, target)
	}

	// The plan: mounted from the rendered ConfigMap where the command reads it.
	planPath := pos[0]
	var cm *corev1.ConfigMap
	for _, m := range w.VolumeMounts {
		if m.MountPath != filepath.Dir(planPath) {
			continue
		}
		for _, v := range wpod.Volumes {
			if v.Name == m.Name && v.ConfigMap != nil {
				cm = r.configMaps[v.ConfigMap.Name]
			}
		}
	}
	if cm == nil {
		t.Fatalf("no rendered ConfigMap is mounted at %s, where the workers read %s", filepath.Dir(planPath), planPath)
	}
	planYAML, ok := cm.Data[filepath.Base(planPath)]
	if !ok {
		t.Fatalf("ConfigMap %s has no key %s (keys %v)", cm.Name, filepath.Base(planPath), slicesSorted(cm.Data))
	}
	if _, err := plan.Parse(planPath, []byte(planYAML)); err != nil {
		t.Errorf("the plan in ConfigMap %s is invalid:\n%v", cm.Name, err)
	}

	// Metrics: the scrape annotations and --metrics-addr name the metrics port.
	_, port, _ := strings.Cut(f.metricsAddr, ":")
	ann := workers.Spec.Template.Annotations
	if ann["prometheus.io/scrape"] != "true" || ann["prometheus.io/port"] != port || !hasPort(w, "metrics", port) {
		t.Errorf("scrape annotations %v, --metrics-addr %q, ports %v; want them to agree on the metrics port", ann, f.metricsAddr, w.Ports)
	}
	if f.linger <= 0 {
		t.Errorf("workers --linger = %v; want a last scrape to see the final values", f.linger)
	}

	// Spread: one worker per node, selecting the worker pods themselves.
	spread := false
	for _, c := range wpod.TopologySpreadConstraints {
		if c.TopologyKey == "kubernetes.io/hostname" && c.MaxSkew == 1 && c.LabelSelector != nil &&
			selects(c.LabelSelector.MatchLabels, workers.Spec.Template.Labels) {
			spread = true
		}
	}
	if !spread {
		t.Errorf("workers topologySpreadConstraints %+v do not spread the worker pods across nodes", wpod.TopologySpreadConstraints)
	}

	// --- gather: same run, same N, waits, exit code is the verdict ---
	gs := gather.Spec
	g := containerNamed(t, gather, "gather")
	if g.Image != w.Image {
		t.Errorf("gather image %q != workers image %q", g.Image, w.Image)
	}
	gargs := make([]string, len(g.Args))
	for i, a := range g.Args {
		gargs[i] = expand(a, g.Env)
	}
	if len(gargs) < 2 || gargs[0] != "gather" || gargs[1] != runID {
		t.Fatalf("gather args = %q; want gather %s ...", gargs, runID)
	}
	gfs := flag.NewFlagSet("loadgen gather", flag.ContinueOnError)
	gfs.SetOutput(io.Discard)
	var gf gatherFlags
	gf.set(gfs)
	segments, timeout := &gf.segments, &gf.timeout
	if gpos, _, ok := parseInterleaved(gfs, gargs[1:]); !ok || len(gpos) != 1 {
		t.Fatalf("gather args %q (positional %q); want gather RUN_ID --segments N --timeout D", gargs, gpos)
	}
	if *segments != n {
		t.Errorf("gather --segments = %d; want %d (the workers' completions)", *segments, n)
	}
	if want, err := time.ParseDuration(set["gather_timeout"]); err != nil || *timeout != want {
		t.Errorf("gather --timeout = %v; want run.env gather_timeout %q (%v)", *timeout, set["gather_timeout"], err)
	}
	if gather.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("gather restartPolicy = %q; want Never (the exit code is the verdict)", gather.Spec.Template.Spec.RestartPolicy)
	}
	verdictFinal := false
	if gs.PodFailurePolicy != nil {
		for _, rule := range gs.PodFailurePolicy.Rules {
			if rule.Action == batchv1.PodFailurePolicyActionFailJob && rule.OnExitCodes != nil &&
				rule.OnExitCodes.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn &&
				fmt.Sprint(rule.OnExitCodes.Values) == "[1 2 3]" {
				verdictFinal = true
			}
		}
	}
	if !verdictFinal {
		t.Errorf("gather podFailurePolicy does not fail the Job on exit 1, 2 or 3 (a verdict must not be retried): %+v", gs.PodFailurePolicy)
	}
	if gs.CompletionMode != nil && *gs.CompletionMode == batchv1.IndexedCompletion {
		t.Error("gather is Indexed; want one pod")
	}

	// --- both: the store from the Secret, resources, no credentials in the manifests ---
	for _, c := range []*corev1.Container{w, g} {
		var store *corev1.EnvVar
		for i := range c.Env {
			e := &c.Env[i]
			if e.Name == "LOADGEN_STORE" {
				store = e
			}
			if strings.Contains(e.Value, "mysql://") || strings.Contains(e.Value, "@tcp(") {
				t.Errorf("container %s: env %s holds a literal DSN", c.Name, e.Name)
			}
		}
		if store == nil || store.ValueFrom == nil || store.ValueFrom.SecretKeyRef == nil ||
			store.ValueFrom.SecretKeyRef.Name == "" || store.ValueFrom.SecretKeyRef.Key == "" {
			t.Errorf("container %s: LOADGEN_STORE = %+v; want a secretKeyRef", c.Name, store)
		}
		for _, a := range c.Args {
			if strings.Contains(a, "mysql://") || strings.Contains(a, "@tcp(") || strings.HasPrefix(a, "--store") {
				t.Errorf("container %s: arg %q names the store; it comes from the Secret", c.Name, a)
			}
		}
		req := c.Resources.Requests
		if req.Cpu().IsZero() || req.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
			t.Errorf("container %s resources = %+v; want cpu and memory requests and a memory limit", c.Name, c.Resources)
		}
	}
	if cm.Name == "loadgen-run" || r.configMaps["loadgen-run"] != nil {
		t.Error("run.env's ConfigMap is rendered; it is local-config")
	}
}

func envValue(env []corev1.EnvVar, name string) string {
	for _, e := range env {
		if e.Name == name {
			return e.Value
		}
	}
	return "<unset>"
}

func hasPort(c *corev1.Container, name, port string) bool {
	for _, p := range c.Ports {
		if p.Name == name && strconv.Itoa(int(p.ContainerPort)) == port {
			return true
		}
	}
	return false
}

// selects reports whether matchLabels selects a pod with labels.
func selects(matchLabels, labels map[string]string) bool {
	if len(matchLabels) == 0 {
		return false
	}
	for k, v := range matchLabels {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func ptrVal(p *int32) any {
	if p == nil {
		return nil
	}
	return *p
}

func slicesSorted[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// copyDir copies the manifests (files and the components folder) to dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestKubernetesManifests renders deploy/kubernetes as shipped, then a copy
// with other settings in run.env (proving each is set in one place), then
// with the PodMonitor component.
func TestKubernetesManifests(t *testing.T) {
	root := testenv.RepoRoot(t)
	base := filepath.Join(root, k8sDir)

	t.Run("as shipped", func(t *testing.T) {
		set := readSettings(t, filepath.Join(base, "run.env"))
		checkManifests(t, decodeAll(t, kustomize(t, base)), set)
	})

	t.Run("run.env edited", func(t *testing.T) {
		dir := t.TempDir()
		copyDir(t, base, dir)
		set := map[string]string{
			"run_id": "ci-4711", "workers": "7", "target": "http://shop.prod.svc:8080",
			"remote_write_url": "http://prometheus.monitoring.svc:9090/api/v1/write", "gather_timeout": "1h30m",
		}
		var b strings.Builder
		for _, k := range slicesSorted(set) {
			fmt.Fprintf(&b, "%s=%s\n", k, set[k])
		}
		if err := os.WriteFile(filepath.Join(dir, "run.env"), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		out := kustomize(t, dir)
		if bytes.Contains(out, []byte("demo-001")) || bytes.Contains(out, []byte("RUN_ID-")) {
			t.Errorf("the rendering still names the shipped or placeholder run id:\n%s", out)
		}
		checkManifests(t, decodeAll(t, out), set)
	})

	t.Run("podmonitor component", func(t *testing.T) {
		dir := t.TempDir()
		copyDir(t, base, dir)
		k := filepath.Join(dir, "kustomization.yaml")
		b, err := os.ReadFile(k)
		if err != nil {
			t.Fatal(err)
		}
		on := strings.Replace(string(b), "# components:\n#   - components/podmonitor\n", "components:\n  - components/podmonitor\n", 1)
		if on == string(b) {
			t.Fatal("kustomization.yaml no longer has the commented-out podmonitor component this test switches on")
		}
		if err := os.WriteFile(k, []byte(on), 0o644); err != nil {
			t.Fatal(err)
		}
		r := decodeAll(t, kustomize(t, dir))
		checkManifests(t, r, readSettings(t, filepath.Join(dir, "run.env")))
		pm := r.podMonitors["loadgen"]
		if pm == nil || len(r.podMonitors) != 1 {
			t.Fatalf("podMonitors %v; want one named loadgen", slicesSorted(r.podMonitors))
		}
		var workers *batchv1.Job
		for _, j := range r.jobs {
			if strings.HasSuffix(j.Name, "-workers") {
				workers = j
			}
		}
		labels := workers.Spec.Template.Labels
		if !selects(pm.Spec.Selector.MatchLabels, labels) {
			t.Errorf("PodMonitor selector %v does not select the worker pods %v", pm.Spec.Selector.MatchLabels, labels)
		}
		if pm.Spec.JobLabel == "" || labels[pm.Spec.JobLabel] != "loadgen" {
			t.Errorf("PodMonitor jobLabel %q gives job %q; want loadgen (the job the rules and dashboards select)", pm.Spec.JobLabel, labels[pm.Spec.JobLabel])
		}
		if !pm.Spec.ScrapeNativeHistograms || len(pm.Spec.ScrapeProtocols) == 0 || pm.Spec.ScrapeProtocols[0] != "PrometheusProto" {
			t.Errorf("PodMonitor does not scrape native histograms over protobuf: %+v", pm.Spec)
		}
		w := workers.Spec.Template.Spec.Containers[0]
		for _, ep := range pm.Spec.PodMetricsEndpoints {
			found := false
			for _, p := range w.Ports {
				found = found || p.Name == ep.Port
			}
			if !found {
				t.Errorf("PodMonitor endpoint port %q is not a port of the worker container (%v)", ep.Port, w.Ports)
			}
		}
	})
}
