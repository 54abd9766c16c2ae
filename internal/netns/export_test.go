package netns

// What the tests in package netns_test reach inside: they build their hosts
// with netnstest, which imports netns, so they cannot be in package netns.

var Command = command

const StopGrace = stopGrace

func (p *Proc) Done() <-chan struct{} { return p.done }
