package sink

// heldPositions returns, indexed by event, which positions the sink already holds (appended
// to a slice that is not broken, or further), or nil when none is: a batch written again
// after a refused write or a re-read then lands once per sink. The held ones are recorded in
// ref so that the write reaches a level only once the sink holds them there too. Offsets
// above the highest the sink has appended are new, so the common case costs one map lookup
// per stream change and no allocation.
func (p *pipeline) heldPositions(positions []Position, ref *writeRef) []bool {
	if len(positions) == 0 {
		return nil
	}
	p.seenMu.Lock()
	var maybe bool
	stream := positions[0].Stream
	highest, known := p.seen[stream]
	for _, pos := range positions {
		if pos.Stream != stream {
			stream = pos.Stream
			highest, known = p.seen[stream]
		}
		if known && pos.Offset <= highest && !pos.Again {
			maybe = true
			break
		}
	}
	p.seenMu.Unlock()
	if !maybe {
		return nil
	}
	p.mu.Lock()
	have := p.offsetsLocked(LevelLocal, "", true) // once per batch: retries and re-reads only
	p.mu.Unlock()
	var skip []bool
	for i, pos := range positions {
		if pos.Again || !have[pos.Stream].Contains(pos.Offset) {
			continue
		}
		if skip == nil {
			skip = make([]bool, len(positions))
		}
		skip[i] = true
		if ref.held == nil {
			ref.held = Offsets{}
		}
		rs := ref.held[pos.Stream]
		rs.Add(pos.Offset)
		ref.held[pos.Stream] = rs
	}
	if skip != nil {
		p.met.heldAgain.Add(float64(countTrue(skip)))
	}
	return skip
}

// appended records the highest offset appended per stream.
func (p *pipeline) appended(positions []Position) {
	if len(positions) == 0 {
		return
	}
	p.seenMu.Lock()
	defer p.seenMu.Unlock()
	stream, highest := positions[0].Stream, positions[0].Offset
	for _, pos := range positions[1:] {
		if pos.Stream != stream {
			p.see(stream, highest)
			stream, highest = pos.Stream, pos.Offset
		}
		highest = max(highest, pos.Offset)
	}
	p.see(stream, highest)
}

// see raises the highest offset appended to stream; seenMu must be held.
func (p *pipeline) see(stream string, off int64) {
	if have, ok := p.seen[stream]; !ok || off > have {
		p.seen[stream] = off
	}
}

func countTrue(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}
