package connect_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"

	"github.com/kbridge/kbridge/bridge/connect"
	"github.com/kbridge/kbridge/bridge/kafka"
	"github.com/kbridge/kbridge/mapping"
	"github.com/kbridge/kbridge/sink"
	"github.com/kbridge/kbridge/sink/sinktest"
	"github.com/kbridge/kbridge/storageapi/durable"
	"github.com/kbridge/kbridge/storageapi/emulator/emulatortest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	projectID = 1
	secret    = "s3cr3t"
	tableID   = "in.c-kafka.events"
)

var source = sink.SourceKey{ProjectID: projectID, BranchID: 1, SourceID: "events"}

// testAuth are the API's credentials in tests; the test clients call as the admin.
var testAuth = connect.AuthConfig{Type: connect.AuthBasic, Username: "operator", Password: "operator-pass",
	AdminUsername: "admin", AdminPassword: "admin-pass"}

// configured stands for the daemon's config-file pipelines: their names and consumer groups.
var configured = map[string]string{"configured": "connect-configured", "legacy": "legacy-group"}

// env is a kfake cluster, a Storage API emulator, a sink manager writing into it, and the
// Connect REST API over them, listening on a local port.
type env struct {
	t       testing.TB
	cluster *kfake.Cluster
	storage *emulatortest.Server
	manager *sink.Manager
	dir     string // the connectors' state directory
	url     string // the REST API
	stop    func() // stops the API and the connectors
	// supervise, when set, runs each connector's consumer instead of the server's default.
	supervise connect.Supervise
	// ring, when set, seals the connectors kept in dir.
	ring *durable.Keyring
}

func newEnv(t testing.TB) *env {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.SeedTopics(2, "events"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	e := &env{t: t, cluster: cluster, storage: emulatortest.Start(t), dir: t.TempDir()}
	e.manager = e.startManager()
	return e
}

func (e *env) startManager() *sink.Manager {
	m := sinktest.New(e.t, emulatortest.Client(e.t, e.storage.Config(emulatortest.Token)))
	settings := sink.Patch{"storage.level.local.encoding.sync.intervalTrigger": "10ms",
		"storage.level.staging.upload.trigger.count": 1, "storage.level.target.import.trigger.count": 1}
	if err := m.PutSource(sink.Source{Key: source, Type: "http", Name: "events", Secret: secret, Settings: settings}); err != nil {
		e.t.Fatal(err)
	}
	columns := []mapping.Column{{Type: mapping.KindKafkaTopic, Name: "topic", PrimaryKey: true},
		{Type: mapping.KindKafkaPartition, Name: "partition", PrimaryKey: true},
		{Type: mapping.KindKafkaOffset, Name: "offset", PrimaryKey: true}, {Type: mapping.KindBody, Name: "body"}}
	if err := m.PutSink(sink.Sink{Key: sink.SinkKey{SourceKey: source, SinkID: "table"}, Name: "table",
		TableID: tableID, Columns: columns}); err != nil {
		e.t.Fatal(err)
	}
	sinktest.Start(e.t, m)
	return m
}

// start runs the REST API and its connectors until stop or the end of the test.
func (e *env) start(files ...string) {
	e.t.Helper()
	cfg := connect.Config{Listen: "127.0.0.1:0", StateDir: e.dir, Connectors: files, WorkerID: "kbridge:8083",
		Pipelines: configured, Auth: testAuth}
	srv, err := connect.New(cfg, connect.Deps{
		Kafka:     kafka.Deps{Client: kafka.ClientConfig{Brokers: e.cluster.ListenAddrs()}, Writer: e.manager},
		ProjectID: projectID, BranchID: 1, Sources: e.manager, Version: "test", Supervise: e.supervise, Keyring: e.ring,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { srv.Run(ctx) })
	url, stopServe := emulatortest.Serve(e.t, "connect", srv.Serve)
	e.url = url
	var once sync.Once
	e.stop = func() {
		once.Do(func() { stopServe(); cancel(); wg.Wait(); http.DefaultClient.CloseIdleConnections() })
	}
	e.t.Cleanup(e.stop)
}

func (e *env) produce(values ...string) {
	e.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.cluster.ListenAddrs()...))
	if err != nil {
		e.t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for _, v := range values {
		recs = append(recs, &kgo.Record{Topic: "events", Value: []byte(v)})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) produceTombstone() {
	e.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.cluster.ListenAddrs()...))
	if err != nil {
		e.t.Fatal(err)
	}
	defer cl.Close()
	rec := &kgo.Record{Topic: "events", Key: []byte("k")}
	if err := cl.ProduceSync(context.Background(), rec).FirstErr(); err != nil {
		e.t.Fatal(err)
	}
}

func waitFor(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(limit); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
	}
}
