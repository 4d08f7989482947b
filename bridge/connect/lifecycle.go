package connect

import (
	"net/http"
	"slices"
	"strconv"
)

func (s *Server) statusOf(w http.ResponseWriter, r *http.Request) error {
	err := s.withConnector(r, func(c *connector) error {
		writeJSON(w, http.StatusOK, s.status(r, c))
		return nil
	})
	return asMissing(err, "No status found for connector %s", r.PathValue("name"))
}

func (s *Server) tasks(w http.ResponseWriter, r *http.Request) error {
	return s.withConnector(r, func(c *connector) error {
		info := s.infoOf(c)
		out := make([]taskInfo, len(info.Tasks))
		for i, id := range info.Tasks {
			out[i] = taskInfo{ID: id, Config: masked(r, c.Config)}
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	})
}

// tasksConfig answers each task's config by "<name>-<id>", as Connect's deprecated endpoint.
func (s *Server) tasksConfig(w http.ResponseWriter, r *http.Request) error {
	return s.withConnector(r, func(c *connector) error {
		out := map[string]map[string]string{}
		for _, id := range s.infoOf(c).Tasks {
			out[c.Name+"-"+strconv.Itoa(id.Task)] = masked(r, c.Config)
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	})
}

// taskID reads the task id of the path; one that is not an integer is no path JAX-RS serves.
func taskIDOf(r *http.Request) (int, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 32)
	if err != nil {
		return 0, errorf(http.StatusNotFound, "HTTP 404 Not Found")
	}
	return int(id), nil
}

// task finds the task named in the path; format words the 404 of a task there is not, given
// the connector and the task.
func (s *Server) task(r *http.Request, st connectorStatus, format string) (taskState, error) {
	id, err := taskIDOf(r)
	if err != nil {
		return taskState{}, err
	}
	if id < 0 || id >= len(st.Tasks) {
		return taskState{}, errorf(http.StatusNotFound, format, st.Name, id)
	}
	return st.Tasks[id], nil
}

func (s *Server) taskStatus(w http.ResponseWriter, r *http.Request) error {
	id, err := taskIDOf(r)
	if err != nil {
		return err
	}
	err = s.withConnector(r, func(c *connector) error {
		t, err := s.task(r, s.status(r, c), "No status found for task %s-%d")
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, t)
		return nil
	})
	return asMissing(err, "No status found for task %s-%d", r.PathValue("name"), id)
}

// restart stops and starts the connector's consumer. The connector and its tasks are one
// consumer, so any restart restarts all of them; onlyFailed skips a connector that did not fail.
func (s *Server) restart(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	includeTasks, onlyFailed := q.Get("includeTasks") == "true", q.Get("onlyFailed") == "true"
	err := s.operate(r, func(c *connector) error {
		var restarted bool
		s.reg.locked(func() {
			before := s.status(r, c)
			failed := slices.ContainsFunc(before.Tasks, func(t taskState) bool { return t.State == stateFailed })
			restarted = c.Target == stateRunning && (!onlyFailed || failed)
		})
		if restarted {
			if err := s.restartConsumer(c, onlyFailed); err != nil {
				return err
			}
		}
		if !includeTasks && !onlyFailed {
			w.WriteHeader(http.StatusNoContent)
			return nil
		}
		var st connectorStatus
		s.reg.locked(func() { st = s.status(r, c) })
		if restarted {
			st.Connector.State = stateRestarting
			for i := range st.Tasks {
				if includeTasks {
					st.Tasks[i].State = stateRestarting
				}
			}
		}
		writeJSON(w, http.StatusAccepted, st)
		return nil
	})
	if includeTasks || onlyFailed { // Connect's restartConnectorAndTasks
		return asMissing(err, "Unknown connector: %s", r.PathValue("name"))
	}
	return err
}

func (s *Server) restartTask(w http.ResponseWriter, r *http.Request) error {
	return s.operate(r, func(c *connector) error {
		var err error
		var running bool
		s.reg.locked(func() {
			_, err = s.task(r, s.status(r, c), "Task %s-%d not found")
			running = c.Target == stateRunning
		})
		if err != nil {
			return err
		}
		if running {
			if err := s.restartConsumer(c, false); err != nil {
				return err
			}
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// lifecycle moves a connector to target: pause (202), resume (202) or stop (204). The answer
// is sent once a stopped consumer has returned.
func (s *Server) lifecycle(target string, status int) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		err := s.operate(r, func(c *connector) error {
			set := s.reg.setTarget
			if s.cluster != nil {
				set = s.sharedSetTarget
			}
			if err := set(c, target); err != nil {
				return err
			}
			w.WriteHeader(status)
			return nil
		})
		if target != stateStopped { // AbstractHerder.pauseConnector, resumeConnector
			return asMissing(err, "Unknown connector %s", r.PathValue("name"))
		}
		return err
	}
}

// restartConsumer restarts c's consumer: on this replica, or in distributed mode every
// replica's share of its tasks (onlyFailed: those of replicas where they failed); c.op is held.
func (s *Server) restartConsumer(c *connector, onlyFailed bool) error {
	if s.cluster != nil {
		return s.sharedRestart(c, onlyFailed)
	}
	s.reg.stop(c)
	s.reg.locked(func() { s.reg.start(c) })
	return nil
}
