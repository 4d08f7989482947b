package connect

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// serverInfo is Connect's ServerInfo: the version, the commit it was built from and the id of
// the Kafka cluster the worker uses, which UIs pair workers and clusters by.
type serverInfo struct {
	Version        string `json:"version"`
	Commit         string `json:"commit"`
	KafkaClusterID string `json:"kafka_cluster_id"`
}

// clusterIDTimeout bounds the metadata request that reads the cluster id.
const clusterIDTimeout = 10 * time.Second

func (s *Server) serverInfo(w http.ResponseWriter, r *http.Request) error {
	id, err := s.clusterID(r.Context())
	if err != nil {
		return errorf(http.StatusInternalServerError, "Failed to look up the Kafka cluster id: %v", err)
	}
	writeJSON(w, http.StatusOK, serverInfo{Version: s.deps.Version, Commit: s.deps.Commit, KafkaClusterID: id})
	return nil
}

// clusterID reads the cluster id from the brokers' metadata once and keeps it.
func (s *Server) clusterID(ctx context.Context) (string, error) {
	s.clusterMu.Lock()
	defer s.clusterMu.Unlock()
	if s.kafkaCluster != "" {
		return s.kafkaCluster, nil
	}
	opts, err := s.deps.Kafka.Client.Options()
	if err != nil {
		return "", err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return "", err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, clusterIDTimeout)
	defer cancel()
	m, err := kadm.NewClient(cl).BrokerMetadata(ctx)
	if err != nil {
		return "", err
	}
	if m.Cluster == "" {
		return "", fmt.Errorf("the brokers report no cluster id")
	}
	s.kafkaCluster = m.Cluster
	return s.kafkaCluster, nil
}

// workerStatus is the body of GET /health (KIP-1017).
type workerStatus struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

// health answers 200 once the connectors run, 503 while the worker is starting (or stopping),
// with Connect's statuses and messages.
func (s *Server) health(w http.ResponseWriter, _ *http.Request) error {
	var running bool
	s.reg.locked(func() { running = s.reg.ctx != nil })
	if !running {
		writeJSON(w, http.StatusServiceUnavailable, workerStatus{"starting", "Worker is still starting up."})
		return nil
	}
	writeJSON(w, http.StatusOK, workerStatus{"healthy", "Worker has completed startup and is ready to handle requests."})
	return nil
}
