// Why one long file: the tests of every sampler and of their chain share
// its logit fixtures and helpers.

package sample

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
)

// randomLogits returns n logits drawn from a normal distribution scaled like
// a language model's, with some deliberate ties.
func randomLogits(n int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	l := make([]float32, n)
	for i := range l {
		l[i] = float32(r.NormFloat64() * 3)
		if i%97 == 0 && i > 0 {
			l[i] = l[i-1] // ties
		}
	}
	return l
}

func candidatesOf(logits []float32) []candidate {
	c := make([]candidate, len(logits))
	for i, l := range logits {
		c[i] = candidate{id: int32(i), logit: l}
	}
	return c
}

// bestFirst returns the token ids sorted by logit, highest first, lowest id on ties.
func bestFirst(logits []float32) []int32 {
	ids := make([]int32, len(logits))
	for i := range ids {
		ids[i] = int32(i)
	}
	sort.SliceStable(ids, func(a, b int) bool { return logits[ids[a]] > logits[ids[b]] })
	return ids
}

func softmax(logits []float32, ids []int32) []float64 {
	maxL := math.Inf(-1)
	for _, id := range ids {
		maxL = math.Max(maxL, float64(logits[id]))
	}
	p := make([]float64, len(ids))
	var sum float64
	for i, id := range ids {
		p[i] = math.Exp(float64(logits[id]) - maxL)
		sum += p[i]
	}
	for i := range p {
		p[i] /= sum
	}
	return p
}

func idsOf(c []candidate) []int32 {
	ids := make([]int32, len(c))
	for i, x := range c {
		ids[i] = x.id
	}
	return ids
}

func sortedIDs(ids []int32) []int32 {
	s := slices.Clone(ids)
	slices.Sort(s)
	return s
}

func TestValidate(t *testing.T) {
	nan := float32(math.NaN())
	tests := []struct {
		name string
		edit func(*Params)
		ok   bool
	}{
		{"defaults", func(*Params) {}, true},
		{"zero value", func(p *Params) { *p = Params{} }, true},
		{"negative temperature", func(p *Params) { p.Temperature = -0.1 }, false},
		{"NaN temperature", func(p *Params) { p.Temperature = nan }, false},
		{"infinite temperature", func(p *Params) { p.Temperature = float32(math.Inf(1)) }, false},
		{"negative top-k", func(p *Params) { p.TopK = -1 }, false},
		{"top-p above 1", func(p *Params) { p.TopP = 1.01 }, false},
		{"negative top-p", func(p *Params) { p.TopP = -0.5 }, false},
		{"top-p 1", func(p *Params) { p.TopP = 1 }, true},
		{"min-p above 1", func(p *Params) { p.MinP = 2 }, false},
		{"NaN min-p", func(p *Params) { p.MinP = nan }, false},
		{"negative repeat penalty", func(p *Params) { p.RepeatPenalty = -1 }, false},
		{"repeat window -1", func(p *Params) { p.RepeatLastN = -1 }, true},
		{"repeat window -2", func(p *Params) { p.RepeatLastN = -2 }, false},
		{"negative presence", func(p *Params) { p.PresencePenalty = -0.5 }, true},
		{"NaN frequency", func(p *Params) { p.FrequencyPenalty = nan }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := DefaultParams()
			tt.edit(&p)
			_, err := New(p)
			if (err == nil) != tt.ok {
				t.Fatalf("New(%+v) error = %v, want ok=%v", p, err, tt.ok)
			}
		})
	}
}

func TestDefaultParams(t *testing.T) {
	p := DefaultParams()
	want := Params{Temperature: 0.8, TopK: 40, TopP: 0.95, MinP: 0.05, RepeatPenalty: 1, RepeatLastN: 64}
	if p != want {
		t.Fatalf("DefaultParams() = %+v, want %+v", p, want)
	}
}

func TestGreedyIsArgmax(t *testing.T) {
	tests := []struct {
		name   string
		logits []float32
		want   int32
	}{
		{"single", []float32{-3}, 0},
		{"max in the middle", []float32{1, 5, 2}, 1},
		{"ties go to the lowest id", []float32{1, 7, 3, 7, 7}, 1},
		{"NaN is ignored", []float32{float32(math.NaN()), -1, -2}, 1},
		{"all -Inf", []float32{float32(math.Inf(-1)), float32(math.Inf(-1))}, 0},
		{"negative logits", []float32{-9, -0.5, -0.25, -4}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(Params{TopK: 2, TopP: 0.5, MinP: 0.5}) // filters must not change argmax
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Sample(tt.logits, nil); got != tt.want {
				t.Fatalf("Sample(%v) = %d, want %d", tt.logits, got, tt.want)
			}
		})
	}
	logits := randomLogits(32000, 7)
	s, _ := New(Params{})
	if got, want := s.Sample(logits, nil), bestFirst(logits)[0]; got != want {
		t.Fatalf("greedy over 32000 logits = %d, want %d", got, want)
	}
}

func TestSampleEmptyLogits(t *testing.T) {
	s, _ := New(DefaultParams())
	if got := s.Sample(nil, nil); got != -1 {
		t.Fatalf("Sample(nil) = %d, want -1", got)
	}
}

func TestInfiniteLogitWins(t *testing.T) {
	s, _ := New(Params{Temperature: 1})
	logits := []float32{1, float32(math.Inf(1)), 2}
	for range 20 {
		if got := s.Sample(logits, nil); got != 1 {
			t.Fatalf("Sample = %d, want the +Inf token 1", got)
		}
	}
}

func TestSampleDoesNotModifyLogits(t *testing.T) {
	logits := randomLogits(5000, 3)
	orig := slices.Clone(logits)
	p := DefaultParams()
	p.PresencePenalty, p.FrequencyPenalty = 0.5, 0.25
	s, _ := New(p)
	recent := []int32{1, 2, 3, 3, 4000, 17, 99999, -5}
	for range 10 {
		s.Sample(logits, recent)
	}
	if !slices.Equal(logits, orig) {
		t.Fatal("Sample modified the caller's logits")
	}
}

func TestSameSeedSameSequence(t *testing.T) {
	run := func(seed uint64) []int32 {
		p := DefaultParams()
		p.Seed = seed
		p.TopK = 0 // the widest distribution, so seeds matter
		p.MinP = 0
		p.Temperature = 1.5
		s, err := New(p)
		if err != nil {
			t.Fatal(err)
		}
		var out []int32
		for i := range 200 {
			logits := randomLogits(2000, uint64(i))
			out = append(out, s.Sample(logits, out))
		}
		return out
	}
	a, b := run(42), run(42)
	if !slices.Equal(a, b) {
		t.Fatal("the same seed gave different sequences")
	}
	if c := run(43); slices.Equal(a, c) {
		t.Fatal("seeds 42 and 43 gave the same 200 tokens")
	}
}

func TestTopKKeepsExactlyK(t *testing.T) {
	tests := []struct {
		n, k int
		seed uint64
	}{
		{10, 1, 1}, {10, 3, 2}, {10, 9, 3}, {1000, 40, 4}, {32000, 40, 5}, {32000, 1, 6}, {32000, 5000, 7}, {300, 299, 8},
	}
	for _, tt := range tests {
		logits := randomLogits(tt.n, tt.seed)
		got := topK(candidatesOf(logits), tt.k)
		want := bestFirst(logits)[:tt.k]
		if len(got) != tt.k {
			t.Fatalf("n=%d k=%d: kept %d", tt.n, tt.k, len(got))
		}
		if !slices.Equal(idsOf(got), want) {
			t.Fatalf("n=%d k=%d: kept %v..., want %v...", tt.n, tt.k, idsOf(got)[:min(5, tt.k)], want[:min(5, tt.k)])
		}
	}
	// All-equal logits: still exactly k, the lowest ids.
	flat := make([]float32, 100)
	if got := idsOf(topK(candidatesOf(flat), 5)); !slices.Equal(got, []int32{0, 1, 2, 3, 4}) {
		t.Fatalf("flat logits: top-5 = %v, want 0..4", got)
	}
}

// wantTopP is top-p by its definition: the smallest best-first prefix whose
// probability mass is at least p.
func wantTopP(logits []float32, p float64) []int32 {
	order := bestFirst(logits)
	probs := softmax(logits, order)
	var cum float64
	for i, q := range probs {
		cum += q
		if cum >= p {
			return order[:i+1]
		}
	}
	return order
}

func TestTopPSmallestPrefix(t *testing.T) {
	tests := []struct {
		name   string
		logits []float32
		p      float64
	}{
		{"three tokens", []float32{float32(math.Log(0.5)), float32(math.Log(0.3)), float32(math.Log(0.2))}, 0.75},
		{"exactly the first mass", []float32{float32(math.Log(0.5)), float32(math.Log(0.25)), float32(math.Log(0.25))}, 0.5},
		{"tiny p keeps one", []float32{3, 2, 1}, 0.01},
		{"32000 random", randomLogits(32000, 11), 0.9},
		{"32000 random, p 0.5", randomLogits(32000, 12), 0.5},
		{"flat: nucleus beyond the first guess", make([]float32, 2000), 0.5},
		{"gentle slope", func() []float32 {
			l := make([]float32, 5000)
			for i := range l {
				l[i] = float32(i) * 0.001
			}
			return l
		}(), 0.95},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := wantTopP(tt.logits, tt.p)
			for _, sorted := range []bool{false, true} {
				c := candidatesOf(tt.logits)
				if sorted {
					slices.SortFunc(c, compareCandidates)
				}
				got := idsOf(topP(c, tt.p, sorted))
				if !slices.Equal(got, want) {
					t.Fatalf("sorted=%v: kept %d tokens, want %d", sorted, len(got), len(want))
				}
			}
		})
	}
	// The three-token case by hand: 0.5 + 0.3 ≥ 0.75, so two tokens.
	if got := wantTopP(tests[0].logits, 0.75); len(got) != 2 {
		t.Fatalf("reference top-p kept %d tokens, want 2", len(got))
	}
}

func TestMinPDropsUnlikely(t *testing.T) {
	tests := []struct {
		name   string
		logits []float32
		p      float64
		want   []int32 // nil: compare with the definition only
	}{
		{"by hand", []float32{float32(math.Log(0.5)), float32(math.Log(0.2)), float32(math.Log(0.04)), float32(math.Log(0.26))}, 0.1, []int32{0, 1, 3}},
		{"p 1 keeps the best and its ties", []float32{2, 5, 5, 1}, 1, []int32{1, 2}},
		{"32000 random", randomLogits(32000, 21), 0.05, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			all := make([]int32, len(tt.logits))
			for i := range all {
				all[i] = int32(i)
			}
			probs := softmax(tt.logits, all)
			pmax := slices.Max(probs)
			var want []int32
			for i, q := range probs {
				if q >= tt.p*pmax*(1-1e-6) {
					want = append(want, int32(i))
				}
			}
			if tt.want != nil && !slices.Equal(want, tt.want) {
				t.Fatalf("reference min-p = %v, want %v", want, tt.want)
			}
			c := candidatesOf(tt.logits)
			got := idsOf(minP(c, tt.p, argmax(c).logit))
			if !slices.Equal(sortedIDs(got), want) {
				t.Fatalf("min-p kept %d tokens, want %d", len(got), len(want))
			}
		})
	}
}

func TestPenalties(t *testing.T) {
	tests := []struct {
		name   string
		params Params
		logits []float32
		recent []int32
		want   []float32
	}{
		{
			name:   "repeat penalty divides positive, multiplies negative, once per distinct token",
			params: Params{RepeatPenalty: 2, RepeatLastN: 64},
			logits: []float32{4, -3, 0, 1},
			recent: []int32{0, 1, 1, 1, 2},
			want:   []float32{2, -6, 0, 1},
		},
		{
			name:   "only the last N count",
			params: Params{RepeatPenalty: 2, RepeatLastN: 2},
			logits: []float32{4, -3, 6, 1},
			recent: []int32{0, 1, 2, 3},
			want:   []float32{4, -3, 3, 0.5},
		},
		{
			name:   "window -1 is everything",
			params: Params{RepeatPenalty: 2, RepeatLastN: -1},
			logits: []float32{4, -3, 6, 1},
			recent: []int32{0, 1, 2, 3},
			want:   []float32{2, -6, 3, 0.5},
		},
		{
			name:   "presence once, frequency per occurrence",
			params: Params{PresencePenalty: 0.5, FrequencyPenalty: 0.25, RepeatLastN: 64},
			logits: []float32{1, 1, 1},
			recent: []int32{0, 0, 0, 2},
			want:   []float32{1 - 3*0.25 - 0.5, 1, 1 - 0.25 - 0.5},
		},
		{
			name:   "repeat then presence and frequency",
			params: Params{RepeatPenalty: 1.25, PresencePenalty: 1, FrequencyPenalty: 0.5, RepeatLastN: 64},
			logits: []float32{5, -2},
			recent: []int32{0, 0, 1},
			want:   []float32{5/1.25 - 2*0.5 - 1, -2*1.25 - 0.5 - 1},
		},
		{
			name:   "ids outside the vocabulary are ignored",
			params: Params{RepeatPenalty: 2, RepeatLastN: 64},
			logits: []float32{4, 4},
			recent: []int32{-1, 2, 1000},
			want:   []float32{4, 4},
		},
		{
			name:   "window 0 disables",
			params: Params{RepeatPenalty: 2, PresencePenalty: 1, RepeatLastN: 0},
			logits: []float32{4, -4},
			recent: []int32{0, 1},
			want:   []float32{4, -4},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.params)
			if err != nil {
				t.Fatal(err)
			}
			c := s.load(tt.logits)
			if tt.params.penalizes() {
				s.penalize(c, tt.recent)
			}
			for i, x := range c {
				if math.Abs(float64(x.logit-tt.want[i])) > 1e-6 {
					t.Fatalf("token %d: logit %v, want %v (all: %v)", i, x.logit, tt.want[i], c)
				}
			}
		})
	}
}

// TestPenaltyChangesGreedyChoice checks the penalties through Sample itself.
func TestPenaltyChangesGreedyChoice(t *testing.T) {
	logits := []float32{3, 2.9, 1}
	plain, _ := New(Params{})
	penalized, _ := New(Params{RepeatPenalty: 1.1, RepeatLastN: 64})
	if got := plain.Sample(logits, []int32{0}); got != 0 {
		t.Fatalf("no penalty: %d, want 0", got)
	}
	if got := penalized.Sample(logits, []int32{0}); got != 1 {
		t.Fatalf("3/1.1 < 2.9: got %d, want 1", got)
	}
	negative, _ := New(Params{RepeatPenalty: 1.5, RepeatLastN: 64})
	if got := negative.Sample([]float32{-1, -1.2}, []int32{0}); got != 1 {
		t.Fatalf("-1*1.5 < -1.2: got %d, want 1", got)
	}
}

// TestSampleStaysInFilteredSet draws many times and checks that every draw
// comes from the set the filters define and that every member of a small set
// shows up.
func TestSampleStaysInFilteredSet(t *testing.T) {
	logits := randomLogits(32000, 31)
	for i, l := range []float32{14, 13.5, 13, 12.5, 12, 11} { // a peak, as real models have
		logits[i*1000+7] = l
	}
	order := bestFirst(logits)
	tests := []struct {
		name   string
		params Params
		want   []int32
	}{
		{"top-k 3", Params{Temperature: 1, TopK: 3}, order[:3]},
		{"top-p 0.6", Params{Temperature: 1, TopP: 0.6}, wantTopP(logits, 0.6)},
		{"top-k 40 then top-p 0.3", Params{Temperature: 1, TopK: 40, TopP: 0.3}, func() []int32 {
			sub := make([]float32, len(logits))
			for i := range sub {
				sub[i] = float32(math.Inf(-1))
			}
			for _, id := range order[:40] {
				sub[id] = logits[id]
			}
			return wantTopP(sub, 0.3)
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.want) > 20 {
				t.Fatalf("test set too large to observe every member: %d", len(tt.want))
			}
			allowed := map[int32]bool{}
			for _, id := range tt.want {
				allowed[id] = true
			}
			s, _ := New(tt.params)
			seen := map[int32]bool{}
			for range 4000 {
				id := s.Sample(logits, nil)
				if !allowed[id] {
					t.Fatalf("drew %d, outside the kept set %v", id, tt.want)
				}
				seen[id] = true
			}
			if len(seen) != len(allowed) {
				t.Fatalf("saw %d of the %d kept tokens in 4000 draws", len(seen), len(allowed))
			}
		})
	}
}

// TestDrawDistribution compares the frequencies of many draws with the
// softmax at the given temperature, by Pearson's chi-square. The seed is
// fixed, so the test is deterministic; the bound is the 0.001 critical value
// for 7 degrees of freedom, so a correct sampler passes for almost any seed,
// while one that ignores the temperature, drops a token or is off by one
// fails by orders of magnitude.
func TestDrawDistribution(t *testing.T) {
	const draws = 40000
	const critical = 24.32 // chi-square, 7 degrees of freedom, p = 0.001
	logits := []float32{2, 1.5, 1, 0.5, 0, -0.5, -1, 1.2}
	for _, temp := range []float32{1, 0.5, 2} {
		s, err := New(Params{Temperature: temp, Seed: 1234})
		if err != nil {
			t.Fatal(err)
		}
		counts := make([]int, len(logits))
		for range draws {
			counts[s.Sample(logits, nil)]++
		}
		scaled := make([]float32, len(logits))
		for i, l := range logits {
			scaled[i] = l / temp
		}
		all := []int32{0, 1, 2, 3, 4, 5, 6, 7}
		probs := softmax(scaled, all)
		var chi2 float64
		for i, p := range probs {
			e := p * draws
			d := float64(counts[i]) - e
			chi2 += d * d / e
		}
		if chi2 > critical {
			t.Errorf("temperature %v: chi-square %.1f > %.2f; counts %v, expected probabilities %.4f", temp, chi2, critical, counts, probs)
		}
		// The wrong temperature must fail the same test, or the test proves nothing.
		wrong := softmax(logits, all)
		var chi2wrong float64
		for i, p := range wrong {
			e := p * draws
			d := float64(counts[i]) - e
			chi2wrong += d * d / e
		}
		if temp != 1 && chi2wrong < 10*critical {
			t.Errorf("temperature %v: counts fit temperature 1 too (chi-square %.1f)", temp, chi2wrong)
		}
	}
}

func TestSelectBest(t *testing.T) {
	for _, n := range []int{2, 3, 10, 257, 4096} {
		for _, k := range []int{1, n / 2, n - 1, heapSelectMax, heapSelectMax + 1} {
			if k >= n {
				continue
			}
			for _, shape := range []string{"random", "ascending", "descending", "flat"} {
				logits := make([]float32, n)
				if shape == "random" {
					logits = randomLogits(n, uint64(n*k))
				}
				for i := range logits {
					switch shape {
					case "ascending":
						logits[i] = float32(i)
					case "descending":
						logits[i] = float32(-i)
					}
				}
				c := candidatesOf(logits)
				selectBest(c, k)
				got := sortedIDs(idsOf(c[:k]))
				want := sortedIDs(bestFirst(logits)[:k])
				if !slices.Equal(got, want) {
					t.Fatalf("n=%d k=%d %s: wrong selection", n, k, shape)
				}
			}
		}
	}
}

// BenchmarkSample measures one choice from a 32,000-token vocabulary.
// "flat" logits are normally distributed (a wide nucleus, the worst case for
// top-p); "peaked" ones have a few clear favourites, as a trained model's do.
func BenchmarkSample(b *testing.B) {
	flat := randomLogits(32000, 99)
	peaked := slices.Clone(flat)
	for i := range peaked {
		peaked[i] -= 15
	}
	for i, l := range []float32{6, 5, 4.5, 4, 3, 2.5, 2} {
		peaked[i*4000+3] = l
	}
	recent := make([]int32, 512)
	for i := range recent {
		recent[i] = int32(i * 61 % 32000)
	}
	cases := []struct {
		name string
		p    Params
	}{
		{"defaults", DefaultParams()},
		{"greedy", Params{}},
		{"top-p only", Params{Temperature: 0.8, TopP: 0.95}},
		{"no filters", Params{Temperature: 0.8}},
	}
	for _, c := range cases {
		for _, shape := range []struct {
			name   string
			logits []float32
		}{{"flat", flat}, {"peaked", peaked}} {
			b.Run(c.name+"/"+shape.name, func(b *testing.B) {
				s, _ := New(c.p)
				for b.Loop() {
					s.Sample(shape.logits, recent)
				}
			})
		}
	}
}

// FuzzSample feeds arbitrary logits (NaN, ±Inf, huge, tiny) and parameters:
// Sample must never panic and must return a valid id, one whose logit is
// not NaN while some logit is above -Inf.
func FuzzSample(f *testing.F) {
	f.Add([]byte{0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 192, 127}, uint64(1), 0.8, uint8(40), 0.95, 0.05, 1.1, []byte{0, 1})
	f.Add([]byte{0, 0, 128, 255, 0, 0, 128, 255}, uint64(2), 1.0, uint8(0), 0.0, 0.0, 1.0, []byte{})
	f.Fuzz(func(t *testing.T, raw []byte, seed uint64, temp float64, topK uint8, topP, minP, repeat float64, recentRaw []byte) {
		logits := make([]float32, len(raw)/4)
		for i := range logits {
			logits[i] = math.Float32frombits(uint32(raw[4*i]) | uint32(raw[4*i+1])<<8 | uint32(raw[4*i+2])<<16 | uint32(raw[4*i+3])<<24)
		}
		recent := make([]int32, len(recentRaw))
		for i, b := range recentRaw {
			recent[i] = int32(b) - 8
		}
		p := Params{
			Temperature: float32(temp), TopK: int(topK), TopP: float32(topP), MinP: float32(minP),
			RepeatPenalty: float32(repeat), RepeatLastN: 64, PresencePenalty: 0.5, FrequencyPenalty: 0.1, Seed: seed,
		}
		s, err := New(p)
		if err != nil {
			return // out-of-range parameters are refused, not used
		}
		id := s.Sample(logits, recent)
		if len(logits) == 0 {
			if id != -1 {
				t.Fatalf("empty logits: %d", id)
			}
			return
		}
		if id < 0 || int(id) >= len(logits) {
			t.Fatalf("id %d out of range for %d logits", id, len(logits))
		}
		// A NaN logit counts as -Inf, so it may win only when no logit is
		// above -Inf.
		noneLikely := true
		for _, l := range logits {
			noneLikely = noneLikely && (l != l || math.IsInf(float64(l), -1))
		}
		if l := logits[id]; l != l && !noneLikely {
			t.Fatalf("chose token %d with a NaN logit", id)
		}
	})
}
