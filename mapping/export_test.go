package mapping

// RunsInGo tells tests whether every template of m runs as a string expression.
func (m *Mapping) RunsInGo() bool { return m.exprs != nil }

// InProcess makes a mapping compiled with c evaluate its templates in the calling process.
func InProcess(c Config) Config {
	c.inProcess = true
	return c
}
