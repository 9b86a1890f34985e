package sample

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// pcgStream is the second word of the PCG state; the first is the seed.
const pcgStream = 0x9e3779b97f4a7c15

// topPFirstGuess is how many of the best candidates top-p sorts before it
// knows whether it needs more: with a 32,000-token vocabulary the nucleus is
// almost always far smaller, so the full sort is rarely paid for.
const topPFirstGuess = 256

// candidate is one token still in the running.
type candidate struct {
	id    int32
	logit float32
}

// better orders candidates by logit, highest first, and by token id, lowest
// first, on ties: a total order, so every selection is deterministic.
func better(a, b candidate) bool {
	return a.logit > b.logit || (a.logit == b.logit && a.id < b.id)
}

func compareCandidates(a, b candidate) int {
	switch {
	case better(a, b):
		return -1
	case better(b, a):
		return 1
	}
	return 0
}

// Sampler chooses tokens from logits. It applies, in llama.cpp's order:
// penalties, top-k, top-p, min-p, temperature, then a draw from the
// resulting distribution. It owns its random number generator and scratch
// space, so it is not safe for concurrent use; give each session its own.
type Sampler struct {
	params  Params
	rng     *rand.Rand
	cands   []candidate
	weights []float64
	counts  map[int32]int
}

// New validates p and returns a Sampler seeded with p.Seed.
func New(p Params) (*Sampler, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("new sampler: %w", err)
	}
	return &Sampler{
		params: p,
		rng:    rand.New(rand.NewPCG(p.Seed, pcgStream)),
		counts: make(map[int32]int),
	}, nil
}

// Params returns the parameters the Sampler was made with.
func (s *Sampler) Params() Params { return s.params }

// Sample returns the id of the chosen token. logits holds one logit per
// token id and is not modified; recent holds the tokens seen so far (prompt
// and reply, oldest first), of which the penalties look at the last
// RepeatLastN; ids outside the vocabulary are ignored. NaN logits count as
// -Inf. It returns -1 only when logits is empty.
func (s *Sampler) Sample(logits []float32, recent []int32) int32 {
	if len(logits) == 0 {
		return -1
	}
	c := s.load(logits)
	if s.params.penalizes() {
		s.penalize(c, recent)
	}
	best := argmax(c)
	if s.params.Greedy() || math.IsInf(float64(best.logit), 0) {
		// Greedy decoding, or a degenerate distribution (every logit -Inf,
		// or a +Inf one that takes all the mass): the best token wins.
		return best.id
	}
	sorted := false
	if k := s.params.TopK; k > 0 && k < len(c) {
		c = topK(c, k)
		sorted = true
	}
	if p := s.params.TopP; p > 0 && p < 1 {
		c = topP(c, float64(p), sorted)
	}
	if p := s.params.MinP; p > 0 {
		c = minP(c, float64(p), best.logit)
	}
	return s.draw(c, best.logit)
}

// load copies logits into the scratch candidates, in token id order.
func (s *Sampler) load(logits []float32) []candidate {
	c := slices.Grow(s.cands[:0], len(logits))[:len(logits)]
	for i, l := range logits {
		if l != l { // NaN
			l = float32(math.Inf(-1))
		}
		c[i] = candidate{id: int32(i), logit: l}
	}
	s.cands = c
	return c
}

// penalize applies the repeat, presence and frequency penalties to c, which
// must still be indexed by token id.
func (s *Sampler) penalize(c []candidate, recent []int32) {
	window := recent
	if n := s.params.RepeatLastN; n > 0 && n < len(recent) {
		window = recent[len(recent)-n:]
	}
	clear(s.counts)
	for _, id := range window {
		if id >= 0 && int(id) < len(c) {
			s.counts[id]++
		}
	}
	rp := s.params.RepeatPenalty
	repeat := rp != 0 && rp != 1
	for id, n := range s.counts {
		l := c[id].logit
		if repeat {
			if l <= 0 {
				l *= rp
			} else {
				l /= rp
			}
		}
		l -= float32(n)*s.params.FrequencyPenalty + s.params.PresencePenalty
		c[id].logit = l
	}
}

// argmax returns the best candidate: the highest logit, the lowest id on ties.
func argmax(c []candidate) candidate {
	best := c[0]
	for _, x := range c[1:] {
		if better(x, best) {
			best = x
		}
	}
	return best
}

// topK returns the k best candidates, best first. It selects them in linear
// expected time and sorts only those k.
func topK(c []candidate, k int) []candidate {
	selectBest(c, k)
	c = c[:k]
	slices.SortFunc(c, compareCandidates)
	return c
}

// topP returns the shortest best-first prefix of c whose probability mass
// (softmax at temperature 1 over c) is at least p. When c is not sorted it
// sorts only as much of it as the prefix needs.
func topP(c []candidate, p float64, sorted bool) []candidate {
	maxLogit := float64(argmax(c).logit)
	var sum float64
	for _, x := range c {
		sum += math.Exp(float64(x.logit) - maxLogit)
	}
	target := p * sum
	done := len(c) // how many of the best are sorted at the front
	if !sorted {
		done = min(topPFirstGuess, len(c))
		selectBest(c, done)
		slices.SortFunc(c[:done], compareCandidates)
	}
	var cum float64
	for i := 0; i < len(c); i++ {
		if i == done {
			// Everything left is worse than what was sorted: sort the next
			// best few, four times as many as before.
			next := min(4*done, len(c))
			selectBest(c[done:], next-done)
			slices.SortFunc(c[done:next], compareCandidates)
			done = next
		}
		cum += math.Exp(float64(c[i].logit) - maxLogit)
		if cum >= target {
			return c[:i+1]
		}
	}
	return c // rounding kept the mass just short of the target: keep all
}

// minP keeps, in order, the candidates whose probability is at least p times
// that of the best one, whose logit is maxLogit.
func minP(c []candidate, p float64, maxLogit float32) []candidate {
	threshold := float64(maxLogit) + math.Log(p)
	kept := c[:0]
	for _, x := range c {
		if float64(x.logit) >= threshold {
			kept = append(kept, x)
		}
	}
	return kept
}

// draw picks one candidate with probability softmax(logit / temperature).
// maxLogit is the largest logit among c (c always still holds the best).
func (s *Sampler) draw(c []candidate, maxLogit float32) int32 {
	if len(c) == 1 {
		return c[0].id
	}
	t := float64(s.params.Temperature)
	w := slices.Grow(s.weights[:0], len(c))[:len(c)]
	s.weights = w
	var sum float64
	for i, x := range c {
		w[i] = math.Exp((float64(x.logit) - float64(maxLogit)) / t)
		sum += w[i]
	}
	target := s.rng.Float64() * sum
	var cum float64
	last := c[0].id
	for i, x := range c {
		if w[i] == 0 {
			continue
		}
		cum += w[i]
		last = x.id
		if cum > target {
			return x.id
		}
	}
	return last
}

// heapSelectMax is the largest k for which selectBest keeps a heap of the
// best k rather than partitioning: scanning past a small heap is mostly one
// well-predicted comparison per candidate.
const heapSelectMax = 512

// selectBest rearranges c so that its first k elements are its k best, in no
// particular order.
func selectBest(c []candidate, k int) {
	if k <= 0 || k >= len(c) {
		return
	}
	if k <= heapSelectMax {
		heapSelect(c, k)
		return
	}
	quickSelect(c, k)
}

// heapSelect keeps c[:k] as a heap whose root is the worst of the best k seen
// so far, and swaps every better candidate of c[k:] in for the root.
func heapSelect(c []candidate, k int) {
	h := c[:k]
	for i := k/2 - 1; i >= 0; i-- {
		siftDown(h, i)
	}
	for j := k; j < len(c); j++ {
		if better(c[j], h[0]) {
			h[0], c[j] = c[j], h[0]
			siftDown(h, 0)
		}
	}
}

// siftDown restores the heap order (worst at the root) below position i.
func siftDown(h []candidate, i int) {
	for {
		worst := i
		l, r := 2*i+1, 2*i+2
		if l < len(h) && better(h[worst], h[l]) {
			worst = l
		}
		if r < len(h) && better(h[worst], h[r]) {
			worst = r
		}
		if worst == i {
			return
		}
		h[i], h[worst] = h[worst], h[i]
		i = worst
	}
}

// quickSelect partitions around a median-of-three pivot until the k best are
// at the front, falling back to a sort should the partitions keep coming out
// lopsided.
func quickSelect(c []candidate, k int) {
	lo, hi := 0, len(c)-1
	target := k - 1
	for rounds := 0; lo < hi; rounds++ {
		if rounds > 64 {
			slices.SortFunc(c[lo:hi+1], compareCandidates)
			return
		}
		p := partition(c, lo, hi)
		switch {
		case p == target:
			return
		case p < target:
			lo = p + 1
		default:
			hi = p - 1
		}
	}
}

// partition partitions c[lo..hi] around the median of its first, middle and
// last elements: better candidates before the returned index, worse after.
func partition(c []candidate, lo, hi int) int {
	mid := lo + (hi-lo)/2
	if better(c[mid], c[lo]) {
		c[mid], c[lo] = c[lo], c[mid]
	}
	if better(c[hi], c[lo]) {
		c[hi], c[lo] = c[lo], c[hi]
	}
	if better(c[hi], c[mid]) {
		c[hi], c[mid] = c[mid], c[hi]
	}
	// Now c[lo] ≥ c[mid] ≥ c[hi]: use the median as the pivot, parked at hi.
	c[mid], c[hi] = c[hi], c[mid]
	pivot := c[hi]
	i := lo
	for j := lo; j < hi; j++ {
		if better(c[j], pivot) {
			c[i], c[j] = c[j], c[i]
			i++
		}
	}
	c[i], c[hi] = c[hi], c[i]
	return i
}
