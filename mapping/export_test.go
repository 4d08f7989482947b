package mapping

// RunsInGo tells tests whether every template of m runs as a string expression.
func (m *Mapping) RunsInGo() bool { return m.exprs != nil }
