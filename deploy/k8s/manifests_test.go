// Package k8s holds the Kubernetes manifests of a distributed run; its test
// decodes them strictly into the Kubernetes API types and checks that they
// agree with one another.
package k8s

import (
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/rtmpload/rtmpload/scenarios"
)

type manifests struct {
	jobs        []*batchv1.Job
	deployments []*appsv1.Deployment
	services    []*corev1.Service
	configMaps  []*corev1.ConfigMap
}

// load strict-decodes every document of every manifest: an unknown or
// misspelt field is an error, as it would be with kubectl --validate=strict.
func load(t *testing.T) *manifests {
	t.Helper()
	files, err := filepath.Glob("*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	m := &manifests{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(data), -1) {
			if strings.TrimSpace(doc) == "" {
				continue
			}
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
				t.Fatalf("%s document %d: %v", f, i, err)
			}
			var obj any
			switch tm.APIVersion + " " + tm.Kind {
			case "batch/v1 Job":
				o := &batchv1.Job{}
				m.jobs, obj = append(m.jobs, o), o
			case "apps/v1 Deployment":
				o := &appsv1.Deployment{}
				m.deployments, obj = append(m.deployments, o), o
			case "v1 Service":
				o := &corev1.Service{}
				m.services, obj = append(m.services, o), o
			case "v1 ConfigMap":
				o := &corev1.ConfigMap{}
				m.configMaps, obj = append(m.configMaps, o), o
			default:
				t.Fatalf("%s document %d: unexpected %s %s", f, i, tm.APIVersion, tm.Kind)
			}
			if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
				t.Fatalf("%s document %d (%s): %v", f, i, tm.Kind, err)
			}
		}
	}
	if len(m.jobs) != 1 || len(m.deployments) != 1 || len(m.services) != 1 || len(m.configMaps) != 1 {
		t.Fatalf("want one Job, Deployment, Service and ConfigMap; have %d, %d, %d, %d",
			len(m.jobs), len(m.deployments), len(m.services), len(m.configMaps))
	}
	return m
}

// flagValue is the value after flag in a command line's words.
func flagValue(words []string, flag string) (string, bool) {
	i := slices.Index(words, flag)
	if i < 0 || i+1 >= len(words) {
		return "", false
	}
	return words[i+1], true
}

// runLine is the words of the job's `rtmpload run` command.
func runLine(t *testing.T, c corev1.Container) []string {
	t.Helper()
	for _, a := range append(slices.Clone(c.Command), c.Args...) {
		for line := range strings.Lines(a) {
			if w := strings.Fields(line); len(w) > 2 && w[0] == "rtmpload" && w[1] == "run" {
				return w
			}
		}
	}
	t.Fatal("the job's container runs no `rtmpload run`")
	return nil
}

func TestJobIsIndexedAndShardsAgree(t *testing.T) {
	m := load(t)
	job := m.jobs[0]
	spec := job.Spec
	if spec.CompletionMode == nil || *spec.CompletionMode != batchv1.IndexedCompletion {
		t.Fatalf("completionMode %v, want Indexed", spec.CompletionMode)
	}
	if spec.Completions == nil || spec.Parallelism == nil || *spec.Completions != *spec.Parallelism {
		t.Fatalf("completions %v and parallelism %v must be equal: every shard runs at once", spec.Completions, spec.Parallelism)
	}
	if spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("restartPolicy %q: a restarted shard would publish its names again", spec.Template.Spec.RestartPolicy)
	}
	cs := spec.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("%d containers, want 1", len(cs))
	}
	words := runLine(t, cs[0])
	shards, ok := flagValue(words, "--shards")
	if n, err := strconv.Atoi(shards); !ok || err != nil || int32(n) != *spec.Completions {
		t.Errorf("--shards %q, completions %d: they must agree", shards, *spec.Completions)
	}
	for flag, want := range map[string]string{"--hook": "external", "--run-id": "$(RUN_ID)"} {
		if v, _ := flagValue(words, flag); v != want {
			t.Errorf("%s %q, want %q", flag, v, want)
		}
	}
	if out, _ := flagValue(words, "--out"); !strings.Contains(out, "$(JOB_COMPLETION_INDEX)") {
		t.Errorf("--out %q: each shard needs its own directory", out)
	}
	env := map[string]string{}
	for _, e := range cs[0].Env {
		env[e.Name] = e.Value
	}
	for _, name := range []string{"RUN_ID", "TARGET", "API"} {
		if env[name] == "" && slices.ContainsFunc(words, func(w string) bool { return strings.Contains(w, "$("+name+")") }) {
			t.Errorf("the command uses $(%s) but the container does not set it", name)
		}
	}
	script := strings.Join(cs[0].Args, "\n")
	if !strings.Contains(script, "begin ===") || !strings.Contains(script, "results.jsonl") || !strings.Contains(script, "end ===") {
		t.Errorf("the container does not print its results between markers for kubectl logs:\n%s", script)
	}
}

func TestScenarioComesFromTheConfigMap(t *testing.T) {
	m := load(t)
	cm, pod := m.configMaps[0], m.jobs[0].Spec.Template.Spec
	words := runLine(t, pod.Containers[0])
	path := words[2]
	var vol *corev1.Volume
	for i, v := range pod.Volumes {
		if v.ConfigMap != nil && v.ConfigMap.Name == cm.Name {
			vol = &pod.Volumes[i]
		}
	}
	if vol == nil {
		t.Fatalf("no volume of the pod holds ConfigMap %s", cm.Name)
	}
	mounted := false
	for _, vm := range pod.Containers[0].VolumeMounts {
		if vm.Name == vol.Name && filepath.Dir(path) == filepath.Clean(vm.MountPath) {
			mounted = true
			data, ok := cm.Data[filepath.Base(path)]
			if !ok {
				t.Fatalf("ConfigMap %s has no key %s for %s", cm.Name, filepath.Base(path), path)
			}
			sc, err := scenarios.Parse(path, []byte(data))
			if err != nil {
				t.Fatalf("the ConfigMap's scenario: %v", err)
			}
			if shards, _ := flagValue(words, "--shards"); len(sc.Schedule()) < mustAtoi(t, shards) {
				t.Errorf("%d publishers for %s shards: some shards would publish nothing", len(sc.Schedule()), shards)
			}
		}
	}
	if !mounted {
		t.Errorf("%s is not on the ConfigMap volume's mount", path)
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestHookServiceMatchesDeploymentAndProbe(t *testing.T) {
	m := load(t)
	dep, svc := m.deployments[0], m.services[0]
	pod := dep.Spec.Template
	for k, v := range svc.Spec.Selector {
		if pod.Labels[k] != v {
			t.Errorf("service selector %s=%s does not match the hook's pods %v", k, v, pod.Labels)
		}
	}
	if dep.Spec.Selector == nil {
		t.Fatal("the hook deployment has no selector")
	}
	for k, v := range dep.Spec.Selector.MatchLabels {
		if pod.Labels[k] != v {
			t.Errorf("deployment selector %s=%s does not match its template", k, v)
		}
	}
	if len(pod.Spec.Containers) != 1 || len(pod.Spec.Containers[0].Ports) != 1 || len(svc.Spec.Ports) != 1 {
		t.Fatalf("want one hook container port and one service port")
	}
	c, cport, sport := pod.Spec.Containers[0], pod.Spec.Containers[0].Ports[0], svc.Spec.Ports[0]
	words := c.Args
	if len(words) == 0 || words[0] != "hook" {
		t.Fatalf("the hook deployment runs %q, want rtmpload hook", words)
	}
	listen, _ := flagValue(words, "--listen")
	_, lport, err := net.SplitHostPort(listen)
	if err != nil || lport != strconv.Itoa(int(cport.ContainerPort)) {
		t.Errorf("hook --listen %q does not listen on containerPort %d", listen, cport.ContainerPort)
	}
	if !slices.Contains(words, "--json") {
		t.Error("the hook must log JSON lines: rtmpload report --hook-log reads them")
	}
	target := sport.TargetPort
	if target.StrVal != cport.Name && int32(target.IntValue()) != cport.ContainerPort {
		t.Errorf("service targetPort %s is not the hook's container port %s/%d", target.String(), cport.Name, cport.ContainerPort)
	}

	probe, ok := flagValue(runLine(t, m.jobs[0].Spec.Template.Spec.Containers[0]), "--hook-probe")
	u, err := url.Parse(probe)
	if !ok || err != nil {
		t.Fatalf("the job's --hook-probe %q: %v", probe, err)
	}
	if host := strings.Split(u.Hostname(), ".")[0]; host != svc.Name || u.Port() != strconv.Itoa(int(sport.Port)) {
		t.Errorf("--hook-probe %s is not the hook service %s:%d", probe, svc.Name, sport.Port)
	}
	if u.Path != "/api/v1/hooks/on_publish" {
		t.Errorf("--hook-probe path %q, want the hook's on_publish path", u.Path)
	}
}
