// Package deploy_test checks the deployment files against the code: the Kubernetes manifests
// and the compose file are well-formed and their kbridge configs load, and every metric the
// dashboard, the alert rules and the docs name is one the code registers.
package deploy_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"gopkg.in/yaml.v3"

	"github.com/kbridge/kbridge/bridge/daemon"
)

// yamlDocs decodes every document of a YAML file.
func yamlDocs(t *testing.T, path string) []*yaml.Node {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		docs = append(docs, &n)
	}
}

func decode[T any](t *testing.T, path string, n *yaml.Node) T {
	t.Helper()
	var v T
	if err := n.Decode(&v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

func TestEveryYAMLFileParses(t *testing.T) {
	t.Parallel()
	files := []string{"../docker-compose.yml"}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 8 {
		t.Fatalf("only %d YAML files: %v", len(files), files)
	}
	for _, f := range files {
		if docs := yamlDocs(t, f); len(docs) == 0 {
			t.Errorf("%s: no YAML document", f)
		}
	}
}

// loadConfig loads a kbridge config as `kbridge run` does, with the given environment.
func loadConfig(t *testing.T, name, body string, env map[string]string) daemon.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kbridge.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := daemon.Load(path, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatalf("%s does not load: %v", name, err)
	}
	return cfg
}

// loadCompose loads docker-compose.yml as docker compose does: the Compose specification's own
// loader checks it against the specification's schema and for consistency (every service a
// depends_on names exists, every named volume is declared).
func loadCompose(t *testing.T) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{"../docker-compose.yml"}, cli.WithWorkingDirectory(".."),
		cli.WithName("kbridge"), cli.WithEnv(nil), cli.WithConsistency(true))
	if err != nil {
		t.Fatal(err)
	}
	project, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return project
}

func TestComposeConfig(t *testing.T) {
	t.Parallel()
	compose := loadCompose(t)
	for _, name := range []string{"kafka", "emulator", "kbridge", "producer"} {
		if _, ok := compose.Services[name]; !ok {
			t.Errorf("docker-compose.yml: no service %s", name)
		}
	}
	if compose.Services["kafka"].HealthCheck == nil {
		t.Error("docker-compose.yml: kafka has no healthcheck")
	}
	kb := compose.Services["kbridge"]
	volumes := map[string]types.ServiceVolumeConfig{}
	for _, v := range kb.Volumes {
		volumes[v.Target] = v
	}
	if strings.Join(kb.Command, " ") != "run --config /etc/kbridge/kbridge.yaml" ||
		filepath.ToSlash(volumes["/etc/kbridge/kbridge.yaml"].Source) != filepath.ToSlash(filepath.Join(compose.WorkingDir, "deploy/compose/kbridge.yaml")) ||
		!volumes["/etc/kbridge/kbridge.yaml"].ReadOnly || volumes["/var/lib/kbridge"].Source != "kbridge-data" {
		t.Errorf("docker-compose.yml: kbridge runs %v with volumes %+v", kb.Command, kb.Volumes)
	}
	published := map[uint32]string{}
	for _, p := range kb.Ports {
		published[p.Target] = p.Published
	}
	for port, listener := range map[uint32]string{7000: "intake", 8000: "Stream API", 8083: "Kafka Connect REST API", 9000: "metrics"} {
		if published[port] != strconv.Itoa(int(port)) {
			t.Errorf("docker-compose.yml: kbridge does not publish %d (%s) as %d", port, listener, port)
		}
	}
	if _, ok := compose.Volumes["kbridge-data"]; !ok {
		t.Error("docker-compose.yml: no volume kbridge-data")
	}
	// One image build: the kbridge service builds the image the emulator runs.
	var builds []string
	for name, svc := range compose.Services {
		if svc.Build != nil {
			builds = append(builds, name)
		}
	}
	if em := compose.Services["emulator"]; len(builds) != 1 || builds[0] != "kbridge" || em.Image != kb.Image || em.PullPolicy != types.PullPolicyNever {
		t.Errorf("docker-compose.yml: services %v build an image; the emulator runs %q (pull_policy %q), kbridge %q",
			builds, em.Image, em.PullPolicy, kb.Image)
	}

	// The second replica: the same image and configuration on a volume of its own.
	kb2 := compose.Services["kbridge-2"]
	volumes2 := map[string]types.ServiceVolumeConfig{}
	for _, v := range kb2.Volumes {
		volumes2[v.Target] = v
	}
	if kb2.Image != kb.Image || kb2.PullPolicy != types.PullPolicyNever || strings.Join(kb2.Command, " ") != strings.Join(kb.Command, " ") ||
		volumes2["/etc/kbridge/kbridge.yaml"].Source != volumes["/etc/kbridge/kbridge.yaml"].Source ||
		volumes2["/var/lib/kbridge"].Source != "kbridge-2-data" || kb2.Hostname == kb.Hostname {
		t.Errorf("docker-compose.yml: kbridge-2 runs %q %v (hostname %q) with volumes %+v", kb2.Image, kb2.Command, kb2.Hostname, kb2.Volumes)
	}

	body, err := os.ReadFile("compose/kbridge.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := loadConfig(t, "compose/kbridge.yaml", string(body), nil)
	if cfg.Sink.DataDir != "/var/lib/kbridge" || cfg.Intake.Listen != ":7000" || cfg.API.Listen != ":8000" ||
		cfg.Connect.Listen != ":8083" || cfg.Metrics.Listen != ":9000" || len(cfg.Pipelines) == 0 || len(cfg.Sources) == 0 ||
		!cfg.Cluster.Enabled || !cfg.DrainOnShutdown {
		t.Errorf("compose/kbridge.yaml: %+v", cfg)
	}
	// Docker kills a container stop_grace_period (10 s by default) after SIGTERM: the ordered
	// shutdown, its drain included, needs shutdownTimeout.
	for _, name := range []string{"kbridge", "kbridge-2"} {
		if grace := compose.Services[name].StopGracePeriod; grace == nil || time.Duration(*grace) <= cfg.ShutdownTimeout {
			t.Errorf("docker-compose.yml: %s stops within %v of SIGTERM, not longer than shutdownTimeout %s", name, grace, cfg.ShutdownTimeout)
		}
	}
}

// k8s holds the fields of the manifests the checks below read.
type (
	meta struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
		Metadata   struct {
			Name   string            `yaml:"name"`
			Labels map[string]string `yaml:"labels"`
		} `yaml:"metadata"`
	}
	probe struct {
		HTTPGet struct {
			Path string `yaml:"path"`
			Port string `yaml:"port"`
		} `yaml:"httpGet"`
	}
	container struct {
		Args []string `yaml:"args"`
		Env  []struct {
			Name      string `yaml:"name"`
			ValueFrom struct {
				FieldRef struct {
					FieldPath string `yaml:"fieldPath"`
				} `yaml:"fieldRef"`
				ResourceFieldRef struct {
					ContainerName string `yaml:"containerName"`
					Resource      string `yaml:"resource"`
				} `yaml:"resourceFieldRef"`
			} `yaml:"valueFrom"`
		} `yaml:"env"`
		Resources struct {
			Limits map[string]string `yaml:"limits"`
		} `yaml:"resources"`
		Ports []struct {
			Name          string `yaml:"name"`
			ContainerPort int    `yaml:"containerPort"`
		} `yaml:"ports"`
		ReadinessProbe  *probe `yaml:"readinessProbe"`
		LivenessProbe   *probe `yaml:"livenessProbe"`
		SecurityContext struct {
			AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		} `yaml:"securityContext"`
		VolumeMounts []struct {
			Name      string `yaml:"name"`
			MountPath string `yaml:"mountPath"`
		} `yaml:"volumeMounts"`
		Lifecycle struct {
			PreStop struct {
				Sleep struct {
					Seconds int `yaml:"seconds"`
				} `yaml:"sleep"`
			} `yaml:"preStop"`
		} `yaml:"lifecycle"`
	}
	statefulSet struct {
		Spec struct {
			ServiceName string `yaml:"serviceName"`
			Replicas    int    `yaml:"replicas"`
			Selector    struct {
				MatchLabels map[string]string `yaml:"matchLabels"`
			} `yaml:"selector"`
			Template struct {
				Metadata struct {
					Labels map[string]string `yaml:"labels"`
				} `yaml:"metadata"`
				Spec struct {
					TerminationGracePeriodSeconds int `yaml:"terminationGracePeriodSeconds"`
					SecurityContext               struct {
						RunAsNonRoot bool `yaml:"runAsNonRoot"`
						RunAsUser    int  `yaml:"runAsUser"`
						FSGroup      int  `yaml:"fsGroup"`
					} `yaml:"securityContext"`
					Containers []container `yaml:"containers"`
					Volumes    []struct {
						Name      string `yaml:"name"`
						ConfigMap struct {
							Name string `yaml:"name"`
						} `yaml:"configMap"`
					} `yaml:"volumes"`
				} `yaml:"spec"`
			} `yaml:"template"`
			VolumeClaimTemplates []meta `yaml:"volumeClaimTemplates"`
		} `yaml:"spec"`
	}
	service struct {
		Spec struct {
			Selector map[string]string `yaml:"selector"`
			Ports    []struct {
				TargetPort string `yaml:"targetPort"`
			} `yaml:"ports"`
		} `yaml:"spec"`
	}
)

func matches(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func TestKubernetesManifests(t *testing.T) {
	t.Parallel()
	kustomization := decode[struct {
		Resources []string `yaml:"resources"`
	}](t, "kustomization.yaml", yamlDocs(t, "kubernetes/kustomization.yaml")[0])
	byKind := map[string][]*yaml.Node{}
	names := map[string]bool{}
	for _, file := range kustomization.Resources {
		path := filepath.Join("kubernetes", file)
		for _, doc := range yamlDocs(t, path) {
			m := decode[meta](t, path, doc)
			if m.APIVersion == "" || m.Kind == "" || m.Metadata.Name == "" {
				t.Errorf("%s: a document without apiVersion, kind or metadata.name", path)
			}
			byKind[m.Kind] = append(byKind[m.Kind], doc)
			names[m.Kind+"/"+m.Metadata.Name] = true
		}
	}
	for _, kind := range []string{"StatefulSet", "Service", "ConfigMap", "PodDisruptionBudget"} {
		if len(byKind[kind]) == 0 {
			t.Fatalf("no %s in deploy/kubernetes", kind)
		}
	}

	sts := decode[statefulSet](t, "statefulset.yaml", byKind["StatefulSet"][0]).Spec
	pod := sts.Template.Spec
	podLabels := sts.Template.Metadata.Labels
	if !matches(sts.Selector.MatchLabels, podLabels) {
		t.Errorf("StatefulSet selector %v does not match the pod labels %v", sts.Selector.MatchLabels, podLabels)
	}
	if !names["Service/"+sts.ServiceName] {
		t.Errorf("StatefulSet serviceName %q is not a Service here", sts.ServiceName)
	}
	if len(sts.VolumeClaimTemplates) != 1 || sts.Replicas < 2 {
		t.Errorf("StatefulSet: %d volumeClaimTemplates, %d replicas", len(sts.VolumeClaimTemplates), sts.Replicas)
	}
	if sc := pod.SecurityContext; !sc.RunAsNonRoot || sc.RunAsUser == 0 || sc.FSGroup == 0 {
		t.Errorf("pod securityContext %+v: want non-root with an fsGroup", sc)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Containers))
	}
	c := pod.Containers[0]
	if c.SecurityContext.AllowPrivilegeEscalation == nil || *c.SecurityContext.AllowPrivilegeEscalation {
		t.Error("container allows privilege escalation")
	}
	ports := map[string]int{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if ports["intake"] != 7000 || ports["api"] != 8000 || ports["connect"] != 8083 || ports["metrics"] != 9000 {
		t.Errorf("container ports %v", ports)
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" || ports[c.ReadinessProbe.HTTPGet.Port] != 9000 {
		t.Errorf("readiness probe %+v: want /readyz on the metrics port", c.ReadinessProbe)
	}
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" || ports[c.LivenessProbe.HTTPGet.Port] != 9000 {
		t.Errorf("liveness probe %+v: want /healthz on the metrics port", c.LivenessProbe)
	}
	podName, memoryLimit := false, false
	for _, e := range c.Env {
		podName = podName || e.Name == "POD_NAME" && e.ValueFrom.FieldRef.FieldPath == "metadata.name"
		memoryLimit = memoryLimit || e.Name == "KBRIDGE_MEMORY_LIMIT" && e.ValueFrom.ResourceFieldRef.Resource == "limits.memory"
	}
	if !podName {
		t.Error("no POD_NAME from metadata.name")
	}
	// The Go runtime does not read the container's memory limit: kbridge derives its soft limit
	// (and its back pressure) from KBRIDGE_MEMORY_LIMIT.
	if !memoryLimit || c.Resources.Limits["memory"] == "" {
		t.Errorf("want a limits.memory and KBRIDGE_MEMORY_LIMIT from it; limits %v", c.Resources.Limits)
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m.MountPath
	}
	if mounts[sts.VolumeClaimTemplates[0].Metadata.Name] == "" {
		t.Errorf("the volume claim %q is not mounted", sts.VolumeClaimTemplates[0].Metadata.Name)
	}

	exposed := map[string]bool{}
	for _, doc := range byKind["Service"] {
		svc := decode[service](t, "services.yaml", doc)
		if !matches(svc.Spec.Selector, podLabels) {
			t.Errorf("a Service selects %v, not the pods", svc.Spec.Selector)
		}
		for _, p := range svc.Spec.Ports {
			if _, ok := ports[p.TargetPort]; !ok {
				t.Errorf("a Service targets port %q, which the container does not name", p.TargetPort)
			}
			exposed[p.TargetPort] = true
		}
	}
	for name := range ports {
		if !exposed[name] {
			t.Errorf("no Service exposes the container port %q", name)
		}
	}
	pdb := decode[struct {
		Spec struct {
			Selector struct {
				MatchLabels map[string]string `yaml:"matchLabels"`
			} `yaml:"selector"`
		} `yaml:"spec"`
	}](t, "pdb.yaml", byKind["PodDisruptionBudget"][0])
	if !matches(pdb.Spec.Selector.MatchLabels, podLabels) {
		t.Errorf("the PodDisruptionBudget selects %v, not the pods", pdb.Spec.Selector.MatchLabels)
	}

	// The ConfigMap's config loads as the pod would load it, and agrees with the pod spec.
	var configMapName string
	for _, v := range pod.Volumes {
		if mounts[v.Name] == "/etc/kbridge" {
			configMapName = v.ConfigMap.Name
		}
	}
	if !slices.Equal(c.Args, []string{"run", "--config", "/etc/kbridge/kbridge.yaml"}) || configMapName == "" {
		t.Fatalf("container args %v, config from ConfigMap %q", c.Args, configMapName)
	}
	var body string
	for _, doc := range byKind["ConfigMap"] {
		cm := decode[struct {
			Metadata struct {
				Name string `yaml:"name"`
			} `yaml:"metadata"`
			Data map[string]string `yaml:"data"`
		}](t, "configmap.yaml", doc)
		if cm.Metadata.Name == configMapName {
			body = cm.Data["kbridge.yaml"]
		}
	}
	cfg := loadConfig(t, "the ConfigMap's kbridge.yaml", body, map[string]string{"POD_NAME": "kbridge-1", "KBRIDGE_STORAGE_TOKEN": "token",
		"KBRIDGE_CONNECT_AUTH_PASSWORD": "password", "KBRIDGE_SINK_ENCRYPTION_KEYS": "k1:" + base64.StdEncoding.EncodeToString(make([]byte, 32))})
	if !cfg.Cluster.Enabled || len(cfg.Sink.Encryption.Keys) == 0 || !cfg.DrainOnShutdown {
		t.Errorf("the ConfigMap's kbridge.yaml: cluster mode %v with %d encryption keys, drainOnShutdown %v; want cluster mode with the Secret's keys, draining on scale-in",
			cfg.Cluster.Enabled, len(cfg.Sink.Encryption.Keys), cfg.DrainOnShutdown)
	}
	if cfg.Sink.DataDir != mounts["data"] {
		t.Errorf("sink.dataDir %s, the volume is at %s", cfg.Sink.DataDir, mounts["data"])
	}
	for _, l := range []struct{ key, listen, port string }{{"intake.listen", cfg.Intake.Listen, "intake"},
		{"api.listen", cfg.API.Listen, "api"}, {"connect.listen", cfg.Connect.Listen, "connect"}, {"metrics.listen", cfg.Metrics.Listen, "metrics"}} {
		if !strings.HasSuffix(l.listen, ":"+strconv.Itoa(ports[l.port])) {
			t.Errorf("%s %q is not the container's %s port %d", l.key, l.listen, l.port, ports[l.port])
		}
	}
	for i, p := range cfg.Pipelines {
		if p["consumer.override.group.instance.id"] != "kbridge-1" {
			t.Errorf("pipelines[%d]: group.instance.id %q, want the pod name", i, p["consumer.override.group.instance.id"])
		}
	}
	grace := time.Duration(pod.TerminationGracePeriodSeconds) * time.Second
	preStop := time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
	if grace < preStop+cfg.ShutdownTimeout+10*time.Second {
		t.Errorf("terminationGracePeriodSeconds %s leaves no margin over preStop %s + shutdownTimeout %s", grace, preStop, cfg.ShutdownTimeout)
	}
}
