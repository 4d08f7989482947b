package sink

// Combine joins the Writes of the parts of one batch into the Write of the whole batch, for a
// caller that sends each part to another source (the Kafka bridge routing topics to tables):
// part i wrote the events at indices idx[i] of a batch of n events. The result reaches a level
// when every part has, and Err tells, by the batch's index, why an event was not written.
func Combine(n int, parts []*Write, idx [][]int) *Write {
	w := &Write{events: n, none: true}
	for i, p := range parts {
		if p == nil {
			continue
		}
		w.m = p.m
		w.refs = append(w.refs, p.refs...)
		w.none = w.none && p.none
		for j, err := range p.errs {
			if err == nil {
				continue
			}
			if w.errs == nil {
				w.errs = make([]error, n)
			}
			w.errs[idx[i][j]] = err
			w.failed++
		}
	}
	return w
}
