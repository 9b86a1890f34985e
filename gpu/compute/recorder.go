package compute

import (
	"encoding/binary"
	"math"
	"unsafe"

	"github.com/llamadesk/llamadesk/gpu/kernels"
)

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
	cmds        []Cmd
	params      []byte
	data        []byte
	paramsAlign int
	reads       map[uint32]bool
	writes      map[uint32]bool
	versions    map[uint32]uint64 // bumped at every write of a buffer
}

func newRecorder(paramsAlign int) recorder {
	return recorder{paramsAlign: max(paramsAlign, 16), reads: map[uint32]bool{}, writes: map[uint32]bool{}, versions: map[uint32]uint64{}}
}

func (r *recorder) pending() int { return len(r.cmds) }

// take returns the recorded commands and starts a new list.
func (r *recorder) take() (cmds []Cmd, params, data []byte) {
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
func (r *recorder) dispatch(program uint32, groups [3]int, p params, binds [MaxBind]binding, written uint8) {
	var barrier uint32
	for i, b := range binds {
		if b.name == 0 {
			continue
		}
		if r.writes[b.name] || (written&(1<<i) != 0 && r.reads[b.name]) {
			barrier = BarrierShader
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
	var blk [kernels.ParamsSize]byte
	for i, v := range p.u {
		binary.LittleEndian.PutUint32(blk[4*i:], v)
	}
	for i, v := range p.f {
		binary.LittleEndian.PutUint32(blk[32+4*i:], math.Float32bits(v))
	}
	r.params = append(r.params, blk[:]...)
	for len(r.params)%r.paramsAlign != 0 {
		r.params = append(r.params, 0)
	}
	c := Cmd{Kind: CmdDispatch, Barrier: barrier, Program: program, Params: uint32(off)}
	for i, g := range groups {
		c.Groups[i] = uint32(g)
	}
	for i, b := range binds {
		c.Buf[i], c.Off[i], c.Size[i] = b.name, b.off, b.size
	}
	r.cmds = append(r.cmds, c)
}

// transferBarrier returns the barrier a buffer command (copy, upload)
// touching the named buffers needs.
func (r *recorder) transferBarrier(names ...uint32) uint32 {
	for _, n := range names {
		if r.writes[n] || r.reads[n] {
			r.resetHazards()
			return BarrierShader | BarrierTransfer
		}
	}
	return 0
}

// copyBuffer records a copy of size bytes from src@srcOff to dst@dstOff.
func (r *recorder) copyBuffer(dst uint32, dstOff int64, src uint32, srcOff, size int64) {
	c := Cmd{Kind: CmdCopy, Barrier: r.transferBarrier(src, dst)}
	c.Buf[0], c.Off[0], c.Size[0] = src, srcOff, size
	c.Buf[1], c.Off[1] = dst, dstOff
	r.cmds = append(r.cmds, c)
	r.bump(dst)
}

// upload records a write of src to dst at byte offset off.
func (r *recorder) upload(dst uint32, off int64, src []float32) {
	if len(src) == 0 {
		return
	}
	c := Cmd{Kind: CmdUpload, Barrier: r.transferBarrier(dst)}
	c.Buf[0], c.Off[0], c.Size[0] = dst, off, int64(4*len(src))
	c.Off[1] = int64(len(r.data))
	r.data = append(r.data, unsafe.Slice((*byte)(unsafe.Pointer(&src[0])), 4*len(src))...)
	r.cmds = append(r.cmds, c)
	r.bump(dst)
}

// readBarrier returns the barrier reading a buffer back needs.
func (r *recorder) readBarrier(name uint32) uint32 {
	if r.writes[name] {
		return BarrierTransfer
	}
	return 0
}
