package connect

import (
	"net/http"
	"slices"
)

// activeTopics is Connect's ActiveTopicsInfo.
type activeTopics struct {
	Topics []string `json:"topics"`
}

// topics answers the connector's active topics: those it took records from since it was
// created or its topics were reset.
func (s *Server) topics(w http.ResponseWriter, r *http.Request) error {
	return s.withConnector(r, func(c *connector) error {
		c.topicsMu.Lock()
		topics := append([]string{}, c.Topics...)
		c.topicsMu.Unlock()
		writeJSON(w, http.StatusOK, map[string]activeTopics{c.Name: {Topics: topics}})
		return nil
	})
}

// resetTopics empties the connector's active topics, in any state, as Connect allows; a running
// connector makes a topic active again at its next record.
func (s *Server) resetTopics(w http.ResponseWriter, r *http.Request) error {
	if s.cluster != nil { // the log's change resets them on every replica
		var c *connector
		if err := s.withConnector(r, func(found *connector) error { c = found; return nil }); err != nil {
			return err
		}
		if err := s.sharedResetTopics(c); err != nil {
			return err
		}
		w.WriteHeader(http.StatusAccepted)
		return nil
	}
	return s.withConnector(r, func(c *connector) error {
		c.topicsMu.Lock()
		defer c.topicsMu.Unlock()
		if err := s.reg.store.saveSide(topicsKind, c.Name, nil, true); err != nil {
			return err
		}
		c.Topics = nil
		if c.consumer != nil {
			c.consumer.ResetActiveTopics()
		}
		w.WriteHeader(http.StatusAccepted)
		return nil
	})
}

// activeTopic records that c took a record of topic, persisting the new set. It is called by
// c's consumer from its polling goroutines, without the registry's lock; a failed write is
// logged and the topic kept in memory.
func (r *registry) activeTopic(c *connector, topic string) {
	if r.cluster != nil { // the log's write is made without the lock, which the applier takes
		c.topicsMu.Lock()
		i, found := slices.BinarySearch(c.Topics, topic)
		if !found {
			c.Topics = slices.Insert(slices.Clone(c.Topics), i, topic)
		}
		topics := c.Topics
		c.topicsMu.Unlock()
		if !found {
			if err := r.sharedActiveTopics(c, topics); err != nil {
				r.log.Warn("active topics not saved", "connector", c.Name, "error", err)
			}
		}
		return
	}
	c.topicsMu.Lock()
	defer c.topicsMu.Unlock()
	i, found := slices.BinarySearch(c.Topics, topic)
	if found {
		return
	}
	c.Topics = slices.Insert(slices.Clone(c.Topics), i, topic)
	if err := r.store.saveSide(topicsKind, c.Name, c.Topics, len(c.Topics) == 0); err != nil {
		r.log.Warn("active topics not saved", "connector", c.Name, "error", err)
	}
}
