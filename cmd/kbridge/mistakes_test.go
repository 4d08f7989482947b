package main_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kbridge/kbridge/storageapi"
)

// exitOf runs bin with args and returns its exit status and standard error.
func exitOf(t *testing.T, timeout time.Duration, bin string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(timeout, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	err := cmd.Wait()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, stderr.String()
	case errors.As(err, &exit) && exit.ExitCode() >= 0:
		return exit.ExitCode(), stderr.String()
	}
	t.Fatalf("kbridge %s did not end within %s: %v\n%s", strings.Join(args, " "), timeout, err, stderr.String())
	return 0, ""
}

// -h of every command and subcommand prints its flags and exits 0; a wrong flag exits 2.
func TestHelpExitsZero(t *testing.T) {
	t.Parallel()
	bin := buildKbridge(t)
	_, usage := exitOf(t, 10*time.Second, bin, "help")
	var commands [][]string
	_, list, _ := strings.Cut(usage, "Commands:\n")
	for _, line := range strings.Split(list, "\n") {
		if f := strings.Fields(line); len(f) > 1 && strings.HasPrefix(line, "  ") {
			commands = append(commands, []string{f[0]})
		}
	}
	if len(commands) < 5 {
		t.Fatalf("only %d commands in the usage:\n%s", len(commands), usage)
	}
	commands = append(commands, []string{"emulator", "tables"}, []string{"emulator", "preview"}, []string{"mapping", "test"})
	for _, c := range commands {
		for _, h := range []string{"-h", "--help"} {
			if code, out := exitOf(t, 10*time.Second, bin, append(c, h)...); code != 0 {
				t.Errorf("kbridge %s %s: exit %d\n%s", strings.Join(c, " "), h, code, out)
			}
		}
	}
	if code, _ := exitOf(t, 10*time.Second, bin, "run", "--no-such-flag"); code != 2 {
		t.Errorf("kbridge run --no-such-flag: exit %d, want 2", code)
	}
}

// busyAddr holds a port for the test's duration.
func busyAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

// A port another process holds: the error names the address and the flag and environment
// variable that choose another.
func TestBusyPortNamesTheWayOut(t *testing.T) {
	t.Parallel()
	bin := buildKbridge(t)
	busy := busyAddr(t)
	_, kafkaPort, _ := strings.Cut(freeAddr(t), ":")
	for _, tc := range []struct{ flag, env string }{
		{"intake-listen", "KBRIDGE_DEV_INTAKE_LISTEN"},
		{"storage-listen", "KBRIDGE_DEV_STORAGE_LISTEN"},
		{"connect-listen", "KBRIDGE_DEV_CONNECT_LISTEN"},
		{"schema-registry-listen", "KBRIDGE_DEV_SCHEMA_REGISTRY_LISTEN"},
	} {
		args := []string{"dev", "--data-dir", t.TempDir(), "--kafka-port", kafkaPort, "--storage-listen", freeAddr(t),
			"--metrics-listen", freeAddr(t), "--intake-listen", freeAddr(t), "--api-listen", freeAddr(t), "--connect-listen", freeAddr(t),
			"--schema-registry-listen", freeAddr(t), "--" + tc.flag, busy}
		code, stderr := exitOf(t, 60*time.Second, bin, args...)
		if code != 1 || !strings.Contains(stderr, busy) || !strings.Contains(stderr, "--"+tc.flag+" or "+tc.env) {
			t.Errorf("kbridge dev --%s on a busy port: exit %d\n%s", tc.flag, code, stderr)
		}
	}

	emu, storageURL := startEmulatorProcess(t, bin, t.TempDir())
	t.Cleanup(func() { _ = emu.Process.Kill(); _ = emu.Wait() })
	config := filepath.Join(t.TempDir(), "kbridge.yaml")
	body := fmt.Sprintf("sink: {dataDir: %s}\nstorage: {url: %s, token: script-token}\nintake: {listen: %q, publicUrl: http://localhost}\napi: {listen: \"\"}\nmetrics: {listen: %q}\n",
		t.TempDir(), storageURL, freeAddr(t), busy)
	if err := os.WriteFile(config, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stderr := exitOf(t, 60*time.Second, bin, "run", "--config", config)
	if code != 1 || !strings.Contains(stderr, "metrics.listen: listen tcp "+busy) || !strings.Contains(stderr, "KBRIDGE_METRICS_LISTEN") {
		t.Errorf("kbridge run with a busy metrics.listen: exit %d\n%s", code, stderr)
	}
}

// A broker that cannot be reached stops kbridge run at start, naming the address: one that
// refuses the connection at once, one that accepts it and never answers within the start
// timeout (15s).
func TestUnreachableBrokerAtStart(t *testing.T) {
	t.Parallel()
	bin := buildKbridge(t)
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { silent.Close() })
	go func() { // holds every connection open without a word
		var held []net.Conn
		for {
			c, err := silent.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, c)
		}
	}()
	for name, broker := range map[string]string{"refused": freeAddr(t), "silent": silent.Addr().String()} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			config := filepath.Join(t.TempDir(), "kbridge.yaml")
			body := fmt.Sprintf(`sink: {dataDir: %s}
storage: {url: "http://127.0.0.1:1", token: t}
kafka: {brokers: [%q]}
intake: {listen: ""}
api: {listen: ""}
connect: {listen: ""}
metrics: {listen: ""}
sources:
  - {id: events, type: kafka, sinks: [{id: table, tableId: in.c-demo.events, columns: [{type: body, name: body}]}]}
pipelines:
  - {name: orders, kbridge.source: events, topics: orders}
`, t.TempDir(), broker)
			if err := os.WriteFile(config, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			code, stderr := exitOf(t, 40*time.Second, bin, "run", "--config", config)
			if code != 1 || !strings.Contains(stderr, "kafka.brokers "+broker+": no broker answered within 15s") {
				t.Errorf("kbridge run with an unreachable broker: exit %d\n%s", code, stderr)
			}
			took := time.Since(start)
			if took > 16*time.Second {
				t.Errorf("stopped after %s, beyond the 15s start timeout", took)
			}
			t.Logf("stopped after %s: %s", took.Round(time.Millisecond), strings.TrimSpace(stderr))
		})
	}
}

// A misspelled key in the config file stops kbridge run at start, naming the key's path and
// the key it most likely means; nothing runs on a config that says something else than meant,
// nor on a converter class it does not run or a misspelled converter key.
func TestMisspelledKeyFailsAtStart(t *testing.T) {
	t.Parallel()
	bin := buildKbridge(t)
	path := filepath.Join(t.TempDir(), "kbridge.yaml")
	cfg := fmt.Sprintf(`sink: {dataDir: %s}
storage: {url: "http://127.0.0.1:1", token: t}
kafka: {brokers: ["127.0.0.1:1"]}
pipelines:
  - {name: orders, kbridge.source: orders, topicz: orders}
`, t.TempDir())
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stderr := exitOf(t, 30*time.Second, bin, "run", "--config", path)
	if want := `pipelines[0].topicz: unknown key; did you mean "topics"?`; code == 0 || !strings.Contains(stderr, want) {
		t.Fatalf("exit %d, stderr:\n%s\nwant %q", code, stderr, want)
	}

	// a converter that would change the data: an unknown class and a misspelled key of a known one
	cfg = strings.Replace(cfg, "topicz: orders}", "topics: orders, key.converter: com.example.KeyConverter,\n"+
		"      value.converter: io.confluent.connect.avro.AvroConverter, value.converter.schema.registry.url: 'http://127.0.0.1:1',\n"+
		"      value.converter.basic.auth.user.inf: 'a:b'}", 1)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stderr = exitOf(t, 30*time.Second, bin, "run", "--config", path)
	for _, want := range []string{`pipelines[0]: key.converter: unknown converter class "com.example.KeyConverter"`,
		`pipelines[0]: value.converter.basic.auth.user.inf: unknown key for AvroConverter; did you mean "value.converter.basic.auth.user.info"?`} {
		if code == 0 || !strings.Contains(stderr, want) {
			t.Errorf("exit %d, stderr:\n%s\nwant %q", code, stderr, want)
		}
	}
}

// A storage.token that is not a master token stops kbridge run at start, saying why: kbridge
// creates a token for each sink, which only a master token can.
func TestNonMasterTokenFailsAtStart(t *testing.T) {
	t.Parallel()
	bin := buildKbridge(t)
	emu, storageURL := startEmulatorProcess(t, bin, t.TempDir())
	t.Cleanup(func() { _ = emu.Process.Kill(); _ = emu.Wait() })
	cfg := storageapi.DefaultConfig()
	cfg.URL, cfg.Token = storageURL, "script-token"
	client, err := storageapi.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tok, err := client.CreateToken(ctx, storageapi.CreateTokenRequest{Description: "writer", CanManageBuckets: true})
	if err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(t.TempDir(), "kbridge.yaml")
	body := fmt.Sprintf("sink: {dataDir: %s}\nstorage: {url: %s, token: %s}\nintake: {listen: %q, publicUrl: http://localhost}\napi: {listen: \"\"}\nmetrics: {listen: %q}\n",
		t.TempDir(), storageURL, tok.Token, freeAddr(t), freeAddr(t))
	if err := os.WriteFile(config, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stderr := exitOf(t, 60*time.Second, bin, "run", "--config", config)
	if code != 1 || !strings.Contains(stderr, "storage.token: must be a master token") || strings.Contains(stderr, tok.Token) {
		t.Errorf("kbridge run with a token that is not a master token: exit %d\n%s", code, stderr)
	}
}
