package gguf

import (
	"encoding/binary"
	"math"
)

// Decoding metadata values: scalars, strings and (nested) arrays.

func readValue(r *reader, vt ValueType, key string, depth int) any {
	l := loc{"metadata %q", key, 0}
	switch vt {
	case ValueUint8:
		return r.u8(l)
	case ValueInt8:
		return int8(r.u8(l))
	case ValueUint16:
		return r.u16(l)
	case ValueInt16:
		return int16(r.u16(l))
	case ValueUint32:
		return r.u32(l)
	case ValueInt32:
		return int32(r.u32(l))
	case ValueFloat32:
		return math.Float32frombits(r.u32(l))
	case ValueBool:
		b := r.u8(l)
		if b > 1 {
			r.fail("metadata %q: bool value %d is neither 0 nor 1", key, b)
		}
		return b == 1
	case ValueString:
		return r.str(l)
	case ValueUint64:
		return r.u64(l)
	case ValueInt64:
		return int64(r.u64(l))
	case ValueFloat64:
		return math.Float64frombits(r.u64(l))
	case ValueArray:
		if depth >= maxArrayDepth {
			r.fail("metadata %q: arrays nested deeper than %d", key, maxArrayDepth)
			return nil
		}
		return readArray(r, key, depth+1)
	}
	r.fail("metadata %q has unknown value type %d", key, uint32(vt))
	return nil
}

func readArray(r *reader, key string, depth int) Array {
	et := ValueType(r.u32(loc{"metadata %q array element type", key, 0}))
	if r.err != nil {
		return Array{}
	}
	if et > ValueFloat64 {
		r.fail("metadata %q: array of unknown value type %d", key, uint32(et))
		return Array{}
	}
	n := r.count(loc{"metadata %q array length", key, 0}, et.minSize())
	if r.err != nil {
		return Array{}
	}
	a := Array{Type: et}
	if sz := et.fixedSize(); sz > 0 {
		raw := r.take(n*sz, loc{"metadata %q array", key, 0})
		if r.err != nil || !r.charge(costArray+int64(n*sz), loc{"metadata %q array", key, 0}) {
			return Array{}
		}
		a.Values = decodeFixed(et, raw, n)
		if et == ValueBool {
			for i, b := range raw {
				if b > 1 {
					r.fail("metadata %q: bool element %d is %d, neither 0 nor 1", key, i, b)
					return Array{}
				}
			}
		}
		return a
	}
	switch et {
	case ValueString:
		if !r.charge(costArray+int64(n)*costString, loc{"metadata %q array", key, 0}) {
			return Array{}
		}
		var s []string // a nil slice boxes without allocating
		if n > 0 {
			s = make([]string, n)
		}
		for i := range s {
			s[i] = readStringElement(r, key, i)
			if r.err != nil {
				return Array{}
			}
		}
		a.Values = s
	case ValueArray:
		if !r.charge(costArray+int64(n)*costArray, loc{"metadata %q array", key, 0}) {
			return Array{}
		}
		var s []Array
		if n > 0 {
			s = make([]Array, n)
		}
		for i := range s {
			if depth >= maxArrayDepth {
				r.fail("metadata %q: arrays nested deeper than %d", key, maxArrayDepth)
				return Array{}
			}
			s[i] = readArray(r, key, depth+1)
			if r.err != nil {
				return Array{}
			}
		}
		a.Values = s
	}
	return a
}

// readStringElement reads element i of a string array. Its header was
// charged with the array; only its bytes are charged here, and an empty
// string allocates nothing.
func readStringElement(r *reader, key string, i int) string {
	n := r.u64(loc{"metadata %q element %d", key, i})
	if r.err != nil {
		return ""
	}
	if n > uint64(r.remaining()) {
		r.fail("metadata %q element %d length %d exceeds the %d bytes left in the file", key, i, n, r.remaining())
		return ""
	}
	if n == 0 {
		return ""
	}
	if !r.charge(int64(n), loc{"metadata %q element %d", key, i}) {
		return ""
	}
	return string(r.take(int(n), loc{"metadata %q element %d", key, i}))
}

func decodeFixed(et ValueType, raw []byte, n int) any {
	le := binary.LittleEndian
	if n == 0 {
		return emptyFixed(et)
	}
	switch et {
	case ValueUint8:
		return append([]uint8(nil), raw...)
	case ValueInt8:
		v := make([]int8, n)
		for i := range v {
			v[i] = int8(raw[i])
		}
		return v
	case ValueBool:
		v := make([]bool, n)
		for i := range v {
			v[i] = raw[i] == 1
		}
		return v
	case ValueUint16:
		v := make([]uint16, n)
		for i := range v {
			v[i] = le.Uint16(raw[2*i:])
		}
		return v
	case ValueInt16:
		v := make([]int16, n)
		for i := range v {
			v[i] = int16(le.Uint16(raw[2*i:]))
		}
		return v
	case ValueUint32:
		v := make([]uint32, n)
		for i := range v {
			v[i] = le.Uint32(raw[4*i:])
		}
		return v
	case ValueInt32:
		v := make([]int32, n)
		for i := range v {
			v[i] = int32(le.Uint32(raw[4*i:]))
		}
		return v
	case ValueFloat32:
		v := make([]float32, n)
		for i := range v {
			v[i] = math.Float32frombits(le.Uint32(raw[4*i:]))
		}
		return v
	case ValueUint64:
		v := make([]uint64, n)
		for i := range v {
			v[i] = le.Uint64(raw[8*i:])
		}
		return v
	case ValueInt64:
		v := make([]int64, n)
		for i := range v {
			v[i] = int64(le.Uint64(raw[8*i:]))
		}
		return v
	case ValueFloat64:
		v := make([]float64, n)
		for i := range v {
			v[i] = math.Float64frombits(le.Uint64(raw[8*i:]))
		}
		return v
	}
	return nil
}

// emptyFixed returns a nil slice of et's Go type: boxing a nil slice takes
// no memory, so a file of empty arrays costs only their Array values.
func emptyFixed(et ValueType) any {
	switch et {
	case ValueUint8:
		return []uint8(nil)
	case ValueInt8:
		return []int8(nil)
	case ValueBool:
		return []bool(nil)
	case ValueUint16:
		return []uint16(nil)
	case ValueInt16:
		return []int16(nil)
	case ValueUint32:
		return []uint32(nil)
	case ValueInt32:
		return []int32(nil)
	case ValueFloat32:
		return []float32(nil)
	case ValueUint64:
		return []uint64(nil)
	case ValueInt64:
		return []int64(nil)
	case ValueFloat64:
		return []float64(nil)
	}
	return nil
}
