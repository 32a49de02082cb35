package mailbox

import (
	"math/rand/v2"
	"time"
)

// backoff yields capped exponential delays with jitter: the n-th delay is
// drawn from [d/2, d] with d = min·2ⁿ capped at max, and never below min.
// The jitter keeps many daemons behind one server from reconnecting in step.
type backoff struct {
	min, max time.Duration
	n        int
}

func (b *backoff) next() time.Duration {
	d := b.max
	if b.n < 62 {
		if e := b.min << b.n; e > 0 && e < b.max {
			d = e
			b.n++
		}
	}
	j := d/2 + rand.N(d/2+1)
	return max(j, b.min)
}

func (b *backoff) reset() { b.n = 0 }
