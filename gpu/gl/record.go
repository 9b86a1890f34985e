//go:build linux && cgo

package gl

/*
#include "lgl.h"
*/
import "C"

import (
	"encoding/binary"
	"math"
	"unsafe"
)

// paramsSize is the size of the std140 Params block of common.glsl.
const paramsSize = 48

// params are one dispatch's uniform parameters (P0, P1, PF of common.glsl).
type params struct {
	u [8]uint32
	f [4]float32
}

// binding is a range of a buffer bound to a shader storage block.
type binding struct {
	name      uint32
	off, size int64 // bytes
}

// recorder collects the commands of the engine's calls until a flush, and
// decides where memory barriers are needed: before a command that touches
// a buffer written by a shader since the last barrier, or that writes a
// buffer read by a shader since then.
type recorder struct {
	cmds     []C.lgl_cmd
	params   []byte
	data     []byte
	uboAlign int
	reads    map[uint32]bool
	writes   map[uint32]bool
	versions map[uint32]uint64 // bumped at every write of a buffer
}

func newRecorder(uboAlign int) recorder {
	return recorder{uboAlign: uboAlign, reads: map[uint32]bool{}, writes: map[uint32]bool{}, versions: map[uint32]uint64{}}
}

func (r *recorder) pending() int { return len(r.cmds) }

// take returns the recorded commands and starts a new list.
func (r *recorder) take() (cmds []C.lgl_cmd, params, data []byte) {
	cmds, params, data = r.cmds, r.params, r.data
	r.cmds, r.params, r.data = nil, nil, nil
	return cmds, params, data
}

// bump records a write of a buffer.
func (r *recorder) bump(name uint32) { r.versions[name]++ }

// version identifies the contents of a buffer: it changes at every write.
func (r *recorder) version(name uint32) uint64 { return r.versions[name] }

// resetHazards forgets pending accesses once a barrier has ordered them.
func (r *recorder) resetHazards() {
	clear(r.reads)
	clear(r.writes)
}

// dispatch records a compute dispatch; bit i of written marks binds[i] as
// written by the shader (the others are read).
func (r *recorder) dispatch(program uint32, groups [3]int, p params, binds [C.LGL_CMD_MAXBIND]binding, written uint8) {
	var barrier uint32
	for i, b := range binds {
		if b.name == 0 {
			continue
		}
		if r.writes[b.name] || (written&(1<<i) != 0 && r.reads[b.name]) {
			barrier = C.LGL_SHADER_STORAGE_BARRIER_BIT
		}
	}
	if barrier != 0 {
		r.resetHazards()
	}
	for i, b := range binds {
		if b.name == 0 {
			continue
		}
		if written&(1<<i) != 0 {
			r.writes[b.name] = true
			r.bump(b.name)
		} else {
			r.reads[b.name] = true
		}
	}
	off := len(r.params)
	var blk [paramsSize]byte
	for i, v := range p.u {
		binary.LittleEndian.PutUint32(blk[4*i:], v)
	}
	for i, v := range p.f {
		binary.LittleEndian.PutUint32(blk[32+4*i:], math.Float32bits(v))
	}
	r.params = append(r.params, blk[:]...)
	for len(r.params)%r.uboAlign != 0 {
		r.params = append(r.params, 0)
	}
	c := C.lgl_cmd{kind: C.LGL_CMD_DISPATCH, barrier: C.uint32_t(barrier), program: C.uint32_t(program), params: C.uint32_t(off)}
	for i, g := range groups {
		c.groups[i] = C.uint32_t(g)
	}
	for i, b := range binds {
		c.buf[i] = C.uint32_t(b.name)
		c.off[i] = C.int64_t(b.off)
		c.size[i] = C.int64_t(b.size)
	}
	r.cmds = append(r.cmds, c)
}

// apiBarrier returns the barrier a buffer command (copy, upload) touching
// the named buffers needs.
func (r *recorder) apiBarrier(names ...uint32) uint32 {
	for _, n := range names {
		if r.writes[n] || r.reads[n] {
			r.resetHazards()
			return C.LGL_SHADER_STORAGE_BARRIER_BIT | C.LGL_BUFFER_UPDATE_BARRIER_BIT
		}
	}
	return 0
}

// copyBuffer records a copy of size bytes from src@srcOff to dst@dstOff.
func (r *recorder) copyBuffer(dst uint32, dstOff int64, src uint32, srcOff, size int64) {
	c := C.lgl_cmd{kind: C.LGL_CMD_COPY, barrier: C.uint32_t(r.apiBarrier(src, dst))}
	c.buf[0], c.off[0], c.size[0] = C.uint32_t(src), C.int64_t(srcOff), C.int64_t(size)
	c.buf[1], c.off[1] = C.uint32_t(dst), C.int64_t(dstOff)
	r.cmds = append(r.cmds, c)
	r.bump(dst)
}

// upload records a write of src to dst at byte offset off.
func (r *recorder) upload(dst uint32, off int64, src []float32) {
	if len(src) == 0 {
		return
	}
	c := C.lgl_cmd{kind: C.LGL_CMD_UPLOAD, barrier: C.uint32_t(r.apiBarrier(dst))}
	c.buf[0], c.off[0], c.size[0] = C.uint32_t(dst), C.int64_t(off), C.int64_t(4*len(src))
	c.off[1] = C.int64_t(len(r.data))
	r.data = append(r.data, unsafe.Slice((*byte)(unsafe.Pointer(&src[0])), 4*len(src))...)
	r.cmds = append(r.cmds, c)
	r.bump(dst)
}

// readBarrier returns the barrier reading a buffer back needs.
func (r *recorder) readBarrier(name uint32) uint32 {
	if r.writes[name] {
		return C.LGL_BUFFER_UPDATE_BARRIER_BIT
	}
	return 0
}
