package cpu

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/llamadesk/llamadesk/engine"
	"github.com/llamadesk/llamadesk/engine/quant"
)

// kvCache is one layer's key and value cache in the layouts of
// kern_attn_tmpl.h, shared by the native and the portable Go kernels: per
// KV head, keys transposed in blocks of 16 positions ([block][d][16]) and
// values as rows ([position][hd]), as float32, binary16 or Q8_0 (keys:
// per 16 positions and 32 dimensions, 16 binary16 scales then 32×16
// quants; values: ggml's Q8_0 blocks along each row).
type kvCache struct {
	typ      engine.KVType
	k, v     []byte
	capacity int // positions the engine may use
	slots    int // positions allocated: capacity rounded up to 16
	dim      int // KV heads × head size
}

func (c *kvCache) Capacity() int { return c.capacity }

// q8Group is the bytes of one Q8_0 key group (LK_KQ8_GROUP).
const q8Group = 32 + 32*16

// kvSlots returns the positions a cache of capacity positions allocates.
func kvSlots(capacity int) int { return (capacity + 15) &^ 15 }

// KVCacheBytes returns the bytes a CPU cache of capacity positions of kvDim
// values of type typ allocates (keys and values), or an error for sizes or
// types it cannot hold.
func KVCacheBytes(capacity, kvDim int, typ engine.KVType) (int64, error) {
	if capacity <= 0 || kvDim <= 0 || capacity > maxFloats/kvDim {
		return 0, fmt.Errorf("invalid KV cache size: %d positions of %d values", capacity, kvDim)
	}
	n := int64(kvSlots(capacity)) * int64(kvDim)
	switch typ {
	case engine.KVF32:
		return 2 * 4 * n, nil
	case engine.KVF16:
		return 2 * 2 * n, nil
	case engine.KVQ8_0:
		if kvDim%32 != 0 {
			return 0, fmt.Errorf("cpu: %w: q8_0 needs a multiple of 32 values per position, not %d", engine.ErrUnsupportedKV, kvDim)
		}
		return 2 * n / 32 * 34, nil
	}
	return 0, fmt.Errorf("cpu: %w: %s", engine.ErrUnsupportedKV, typ)
}

// AllocKV implements engine.Backend.
func (b *Backend) AllocKV(capacity, kvDim int, typ engine.KVType) (engine.KVCache, error) {
	total, err := KVCacheBytes(capacity, kvDim, typ)
	if err != nil {
		return nil, err
	}
	if nativeBuilt {
		if n := nativeKVBytes(int(typ), kvSlots(capacity), kvDim); int64(2*n) != total {
			return nil, errors.New("cpu: KV cache layouts disagree")
		}
	}
	c := &kvCache{typ: typ, capacity: capacity, slots: kvSlots(capacity), dim: kvDim}
	if c.k, err = cacheBytes(c, total/2); err != nil {
		return nil, err
	}
	if c.v, err = cacheBytes(c, total/2); err != nil {
		return nil, err
	}
	b.allocated.Add(total)
	return c, nil
}

// storeKV writes tokens rows of keys and values at positions start.. in Go.
func (c *kvCache) storeKV(k, v []float32, start, tokens, kvHeads, hd int) {
	for t := 0; t < tokens; t++ {
		p := start + t
		pb, l := p/16, p%16
		for h := 0; h < kvHeads; h++ {
			kr := k[t*c.dim+h*hd : t*c.dim+(h+1)*hd]
			vr := v[t*c.dim+h*hd : t*c.dim+(h+1)*hd]
			switch c.typ {
			case engine.KVF32:
				kb := (h*c.slots + pb*16) * hd
				for d, x := range kr {
					binary.LittleEndian.PutUint32(c.k[4*(kb+16*d+l):], math.Float32bits(x))
				}
				for d, x := range vr {
					binary.LittleEndian.PutUint32(c.v[4*((h*c.slots+p)*hd+d):], math.Float32bits(x))
				}
			case engine.KVF16:
				kb := (h*c.slots + pb*16) * hd
				for d, x := range kr {
					binary.LittleEndian.PutUint16(c.k[2*(kb+16*d+l):], quant.FP32ToFP16(x))
				}
				for d, x := range vr {
					binary.LittleEndian.PutUint16(c.v[2*((h*c.slots+p)*hd+d):], quant.FP32ToFP16(x))
				}
			case engine.KVQ8_0:
				nb := hd / 32
				for blk := 0; blk < nb; blk++ {
					g := ((h*c.slots/16+pb)*nb + blk) * q8Group
					d, qs := quantizeQ8(kr[32*blk : 32*blk+32])
					binary.LittleEndian.PutUint16(c.k[g+2*l:], d)
					for j, q := range qs {
						c.k[g+32+16*j+l] = byte(q)
					}
					o := ((h*c.slots+p)*nb + blk) * 34
					d, qs = quantizeQ8(vr[32*blk : 32*blk+32])
					binary.LittleEndian.PutUint16(c.v[o:], d)
					for j, q := range qs {
						c.v[o+2+j] = byte(q)
					}
				}
			}
		}
	}
}

// quantizeQ8 quantizes 32 values as ggml's quantize_row_q8_0 reference.
func quantizeQ8(x []float32) (uint16, [32]int8) {
	var amax float32
	for _, v := range x {
		amax = max(amax, float32(math.Abs(float64(v))))
	}
	d := amax / 127
	var id float32
	if d != 0 {
		id = 1 / d
	}
	var q [32]int8
	for j, v := range x {
		r := float32(math.Round(float64(v * id)))
		if r >= -128 && r <= 127 {
			q[j] = int8(r)
		}
	}
	return quant.FP32ToFP16(d), q
}

// key returns dimension d of the key at position p of KV head h.
func (c *kvCache) key(h, p, d, hd int) float32 {
	pb, l := p/16, p%16
	switch c.typ {
	case engine.KVF32:
		return math.Float32frombits(binary.LittleEndian.Uint32(c.k[4*((h*c.slots+pb*16)*hd+16*d+l):]))
	case engine.KVF16:
		return quant.FP16ToFP32(binary.LittleEndian.Uint16(c.k[2*((h*c.slots+pb*16)*hd+16*d+l):]))
	}
	nb := hd / 32
	g := ((h*c.slots/16+pb)*nb + d/32) * q8Group
	s := quant.FP16ToFP32(binary.LittleEndian.Uint16(c.k[g+2*l:]))
	return s * float32(int8(c.k[g+32+16*(d%32)+l]))
}

// value returns dimension d of the value at position p of KV head h.
func (c *kvCache) value(h, p, d, hd int) float32 {
	switch c.typ {
	case engine.KVF32:
		return math.Float32frombits(binary.LittleEndian.Uint32(c.v[4*((h*c.slots+p)*hd+d):]))
	case engine.KVF16:
		return quant.FP16ToFP32(binary.LittleEndian.Uint16(c.v[2*((h*c.slots+p)*hd+d):]))
	}
	o := ((h*c.slots+p)*(hd/32) + d/32) * 34
	return quant.FP16ToFP32(binary.LittleEndian.Uint16(c.v[o:])) * float32(int8(c.v[o+2+d%32]))
}

// attendGeneric computes one query row's attention output over positions
// 0..n-1 of KV head h (the portable Go kernel).
func (c *kvCache) attendGeneric(out, q []float32, h, n, hd int, scale float32, scores []float32) {
	maxScore := float32(math.Inf(-1))
	for j := 0; j < n; j++ {
		var s float32
		for d, qv := range q {
			s += qv * c.key(h, j, d, hd)
		}
		s *= scale
		scores[j] = s
		maxScore = max(maxScore, s)
	}
	var sum float64
	for j := 0; j < n; j++ {
		e := float32(math.Exp(float64(scores[j] - maxScore)))
		scores[j] = e
		sum += float64(e)
	}
	inv := float32(1 / sum)
	clear(out)
	for j := 0; j < n; j++ {
		pj := scores[j] * inv
		for d := range out {
			out[d] += pj * c.value(h, j, d, hd)
		}
	}
}
