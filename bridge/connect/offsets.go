package connect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strconv"
	"time"

	"github.com/kbridge/kbridge/bridge/kafka"
	"github.com/kbridge/kbridge/sink"
)

// The partition and offset keys of a sink connector's offsets (KIP-875).
const (
	keyTopic     = "kafka_topic"
	keyPartition = "kafka_partition"
	keyOffset    = "kafka_offset"
)

// offsetsTimeout bounds the Kafka calls of one offsets request.
const offsetsTimeout = 30 * time.Second

type (
	connectorOffsets struct {
		Offsets []connectorOffset `json:"offsets"`
	}
	connectorOffset struct {
		Partition map[string]any `json:"partition"`
		Offset    map[string]any `json:"offset"`
	}
	message struct {
		Message string `json:"message"`
	}
)

// offsets answers the connector's consumer group's committed offsets.
func (s *Server) offsets(w http.ResponseWriter, r *http.Request) error {
	var group string
	if err := s.withConnector(r, func(c *connector) error {
		group = c.pipeline.GroupID
		return nil
	}); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), offsetsTimeout)
	defer cancel()
	committed, err := kafka.GroupOffsets(ctx, s.deps.Kafka.Client, group)
	if err != nil {
		return errorf(http.StatusInternalServerError, "Failed to fetch offsets for sink connector %s: %v", r.PathValue("name"), err)
	}
	out := connectorOffsets{Offsets: make([]connectorOffset, len(committed))}
	for i, o := range committed {
		out.Offsets[i] = connectorOffset{
			Partition: map[string]any{keyTopic: o.Topic, keyPartition: o.Partition},
			Offset:    map[string]any{keyOffset: o.Offset},
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// alterOffsets commits the given offsets for the group of a STOPPED connector; a null offset
// deletes the partition's commit. Records the sinks already hold are written again when the
// new offset is below them.
func (s *Server) alterOffsets(w http.ResponseWriter, r *http.Request) error {
	req, err := decodeOffsets(r.Body)
	if err != nil {
		return err
	}
	return s.operate(r, func(c *connector) error {
		if err := s.stopped(c); err != nil {
			return err
		}
		set, reset, err := parseOffsets(req)
		if err != nil {
			return err
		}
		rule := rereadRule{Set: map[string]int64{}}
		for _, o := range reset {
			rule.Reset = append(rule.Reset, o.Stream())
		}
		for _, o := range set {
			rule.Set[o.Stream()] = o.Offset
		}
		if err := s.rereadFrom(c, rule); err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(r.Context(), offsetsTimeout)
		defer cancel()
		if err := kafka.AlterGroupOffsets(ctx, s.deps.Kafka.Client, c.pipeline.GroupID, set, reset); err != nil {
			return offsetsError(c.Name, "alter", err)
		}
		writeJSON(w, http.StatusOK, message{"The offsets for this connector have been altered successfully"})
		return nil
	})
}

// resetOffsets deletes the group of a STOPPED connector: it reads its topics again from
// auto.offset.reset, and the records the sinks already hold are written again.
func (s *Server) resetOffsets(w http.ResponseWriter, r *http.Request) error {
	return s.operate(r, func(c *connector) error {
		if err := s.stopped(c); err != nil {
			return err
		}
		p := c.pipeline // set once, when the connector is created
		if err := s.rereadFrom(c, rereadRule{All: true}); err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(r.Context(), offsetsTimeout)
		defer cancel()
		if err := kafka.DeleteGroup(ctx, s.deps.Kafka.Client, p.GroupID); err != nil {
			return offsetsError(c.Name, "reset", err)
		}
		writeJSON(w, http.StatusOK, message{"The offsets for this connector have been reset successfully"})
		return nil
	})
}

// rereadFrom marks, for every stream of c's source the sinks hold records of and that rule
// names, that those records are to be written again, and persists the marks before the
// group's offsets move: a restart in between must not skip what was asked for. In distributed
// mode the rule goes to the log, and each replica marks what its own sinks hold. c.op is held,
// the registry's lock is not.
func (s *Server) rereadFrom(c *connector, rule rereadRule) error {
	if s.cluster != nil {
		return s.addRereadRule(c, rule)
	}
	held, err := s.held(c)
	if err != nil {
		return err
	}
	s.reg.mu.Lock()
	defer s.reg.mu.Unlock()
	marks := rule.mark(maps.Clone(c.Reread), c.pipeline, held)
	if maps.Equal(marks, c.Reread) {
		return nil
	}
	if err := s.reg.store.saveSide(rereadKind, c.Name, marks, len(marks) == 0); err != nil {
		return err
	}
	c.Reread = marks
	return nil
}

// held returns, per stream, the highest offset every sink of c's source holds on this replica.
func (s *Server) held(c *connector) (map[string]int64, error) {
	source := sink.SourceKey{ProjectID: s.reg.project, BranchID: s.reg.branch, SourceID: c.pipeline.Source}
	writer, err := c.pipeline.Writer(s.deps.Kafka.Writer, source) // with topic2table.map, the tables' ledgers
	if err != nil {
		return nil, err
	}
	held, err := writer.Recovered(source)
	if err != nil {
		return nil, fmt.Errorf("reading what the sinks of source %s hold: %w", source.SourceID, err)
	}
	return held, nil
}

// stopped refuses to modify the offsets of a connector that is not STOPPED; c.op is held. In
// distributed mode it waits, within stoppedTimeout, for the other replicas to stop their tasks.
func (s *Server) stopped(c *connector) error {
	var target string
	s.reg.locked(func() { target = c.Target })
	if s.cluster != nil && target == stateStopped {
		s.awaitStoppedEverywhere(c)
	}
	s.reg.mu.Lock()
	defer s.reg.mu.Unlock()
	if c.Target != stateStopped || c.cancel != nil {
		return errorf(http.StatusBadRequest, "Connectors must be in the STOPPED state before their offsets can be modified. "+
			"This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/%s/stop' endpoint", c.Name)
	}
	return nil
}

func offsetsError(name, op string, err error) error {
	switch {
	case errors.Is(err, kafka.ErrGroupActive):
		return errorf(http.StatusConflict, "Failed to %s consumer group offsets for connector %s: the group has active members "+
			"(another kbridge replica or consumer uses it); stop them and retry: %v", op, name, err)
	case errors.Is(err, kafka.ErrUnknownTopic):
		return errorf(http.StatusBadRequest, "Failed to %s consumer group offsets for connector %s: %v", op, name, err)
	}
	return errorf(http.StatusInternalServerError, "Failed to %s consumer group offsets for connector %s: %v", op, name, err)
}

// decodeOffsets reads a PATCH body and refuses one without offsets, as Connect's resource does
// before it looks the connector up.
func decodeOffsets(body io.Reader) (connectorOffsets, error) {
	var req connectorOffsets
	dec := json.NewDecoder(io.LimitReader(body, 1<<20))
	dec.UseNumber()
	if err := dec.Decode(&req); err != nil {
		return req, errorf(http.StatusBadRequest, "Invalid JSON body: %v", err)
	}
	if len(req.Offsets) == 0 {
		return req, errorf(http.StatusBadRequest, "Partitions / offsets need to be provided for an alter offsets request")
	}
	return req, nil
}

// parseOffsets reads the offsets of a PATCH body: the partitions to commit and those to reset
// (offset null), with Connect's checks and messages (SinkUtils.parseSinkConnectorOffsets).
// Partition and offset may be numbers or numeric strings.
func parseOffsets(req connectorOffsets) (set, reset []kafka.Offset, err error) {
	for _, o := range req.Offsets {
		p := o.Partition
		if p == nil {
			return nil, nil, errorf(http.StatusBadRequest, "The partition for a sink connector offset cannot be null or missing")
		}
		topic, hasTopic := p[keyTopic]
		part, hasPart := p[keyPartition]
		switch {
		case !hasTopic || !hasPart:
			return nil, nil, errorf(http.StatusBadRequest, "The partition for a sink connector offset must contain the keys '%s' and '%s'", keyTopic, keyPartition)
		case topic == nil:
			return nil, nil, errorf(http.StatusBadRequest, "Kafka topic names must be valid strings and may not be null")
		case part == nil:
			return nil, nil, errorf(http.StatusBadRequest, "Kafka partitions must be valid numbers and may not be null")
		}
		id, err := strconv.ParseInt(text(part), 10, 32)
		if err != nil {
			return nil, nil, errorf(http.StatusBadRequest, "Failed to parse the following Kafka partition value in the provided offsets: '%s'. "+
				"Partition values for sink connectors need to be integers.", text(part))
		}
		if id < 0 {
			return nil, nil, errorf(http.StatusBadRequest, "Failed to parse the following Kafka partition value in the provided offsets: '%s'. "+
				"Partition values for sink connectors need to be non-negative integers.", text(part))
		}
		off := kafka.Offset{Topic: text(topic), Partition: int32(id)}
		if o.Offset == nil {
			reset = append(reset, off)
			continue
		}
		at, ok := o.Offset[keyOffset]
		if !ok {
			return nil, nil, errorf(http.StatusBadRequest, "The offset for a sink connector should either be null or contain the key '%s'", keyOffset)
		}
		if off.Offset, err = strconv.ParseInt(text(at), 10, 64); err != nil {
			return nil, nil, errorf(http.StatusBadRequest, "Failed to parse the following Kafka offset value in the provided offsets: '%s'. "+
				"Offset values for sink connectors need to be integers.", text(at))
		}
		if off.Offset < 0 {
			return nil, nil, errorf(http.StatusBadRequest, "Failed to parse the following Kafka offset value in the provided offsets: '%s'. "+
				"Offset values for sink connectors need to be non-negative integers.", text(at))
		}
		set = append(set, off)
	}
	return set, reset, nil
}

// text is a JSON value as Java's String.valueOf prints it.
func text(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	if v == nil {
		return "null"
	}
	return fmt.Sprint(v)
}
