package kafka

// pauseBusy pauses the partitions with more records in flight than kbridge.partition.max.inflight.
func (t *task) pauseBusy() {
	t.mu.Lock()
	defer t.mu.Unlock()
	pause := map[string][]int32{}
	for part, tr := range t.owned {
		if !t.paused[part] && tr.inFlight() > t.c.p.MaxInFlight {
			t.paused[part] = true
			pause[part.topic] = append(pause[part.topic], part.id)
		}
	}
	if len(pause) > 0 {
		t.cl.PauseFetchPartitions(pause)
	}
}

// resumeIdle resumes paused partitions once half their in-flight records are done.
func (t *task) resumeIdle() {
	t.mu.Lock()
	defer t.mu.Unlock()
	resume := map[string][]int32{}
	for part := range t.paused {
		if tr := t.owned[part]; tr == nil || tr.inFlight() <= t.c.p.MaxInFlight/2 {
			delete(t.paused, part)
			resume[part.topic] = append(resume[part.topic], part.id)
		}
	}
	if len(resume) > 0 {
		t.cl.ResumeFetchPartitions(resume)
	}
}

// pauseAll pauses every owned partition while the sinks refuse writes.
func (t *task) pauseAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	all := map[string][]int32{}
	for part := range t.owned {
		all[part.topic] = append(all[part.topic], part.id)
	}
	t.cl.PauseFetchPartitions(all)
}

// resumeAll resumes the partitions pauseAll paused, except those paused as busy.
func (t *task) resumeAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	resume := map[string][]int32{}
	for part := range t.owned {
		if !t.paused[part] {
			resume[part.topic] = append(resume[part.topic], part.id)
		}
	}
	t.cl.ResumeFetchPartitions(resume)
}
