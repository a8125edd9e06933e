package revocation

// Recheck runs what the staleness timer runs, so tests with an injected
// clock need not wait for real time to pass.
func (c *Checker) Recheck() { c.recheck() }
