package probes

// MaxListedBytes bounds the encoded checks of a pod, made or answered by another,
// whatever the number of runs that share it: they travel in one argument of the probe,
// and the kernel refuses an argument of more than 128 KiB.
const MaxListedBytes = 96 << 10

// listedBytes is at least what a check takes in the probe's argument.
func listedBytes(c Check) int {
	return len(c.Edge) + len(c.Host) + len(c.Node) + 72
}

// Chunk splits the checks of one source identity into the checks of probe pods: at most
// perPod connections a pod (MaxChecksPerPod when perPod is out of range), and each pod's
// argument under MaxListedBytes. A check joins the pod that already makes its
// connection, where Same marks the check that makes it, so that a connection several
// checks share is made once and counts once. Pods keep the checks' order.
func Chunk(checks []Check, perPod int) [][]Check {
	if perPod <= 0 || perPod > MaxChecksPerPod {
		perPod = MaxChecksPerPod
	}
	var pods []*chunk
	// first is the pod that first made each connection: the one a later check joins.
	first := map[Connection]*chunk{}
	for _, c := range checks {
		conn := c.Connection()
		p := joinable(pods, first[conn], conn, c)
		if p == nil {
			if last := len(pods) - 1; last >= 0 && pods[last].fits(c, perPod) {
				p = pods[last]
			} else {
				p = &chunk{made: map[Connection]int{}}
				pods = append(pods, p)
			}
		}
		p.add(c, conn)
		if first[conn] == nil {
			first[conn] = p
		}
	}
	out := make([][]Check, len(pods))
	for i, p := range pods {
		out[i] = p.checks
	}
	return out
}

// chunk is one pod's checks, where each of its connections is first made, and the
// size of its checks in the probe's argument.
type chunk struct {
	checks []Check
	made   map[Connection]int
	bytes  int
}

// fits says whether the chunk can take a check with a new connection.
func (c *chunk) fits(check Check, perPod int) bool {
	return len(c.made) < perPod && c.lists(check)
}

// lists says whether the chunk's argument has room for one more check.
func (c *chunk) lists(check Check) bool {
	return c.bytes+listedBytes(check) <= MaxListedBytes
}

func (c *chunk) add(check Check, conn Connection) {
	c.bytes += listedBytes(check)
	check.Same = 0
	if first, ok := c.made[conn]; ok {
		check.Same = first + 1
	} else {
		c.made[conn] = len(c.checks)
	}
	c.checks = append(c.checks, check)
}

// joinable returns the first chunk that makes the check's connection and can list it:
// the one that first made it, unless its argument is full.
func joinable(pods []*chunk, first *chunk, conn Connection, check Check) *chunk {
	if first == nil || first.lists(check) {
		return first
	}
	for _, p := range pods {
		if _, ok := p.made[conn]; ok && p.lists(check) {
			return p
		}
	}
	return nil
}
