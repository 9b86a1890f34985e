//go:build darwin && cgo

package metal

/*
#cgo LDFLAGS: -framework Metal -framework Foundation -framework CoreGraphics
#include <stdlib.h>
#include "lmtl.h"
*/
import "C"

import (
	"fmt"
	"strings"
	"sync/atomic"
	"unsafe"

	"github.com/llamadesk/llamadesk/gpu/compute"
	"github.com/llamadesk/llamadesk/gpu/kernels"
	"github.com/llamadesk/llamadesk/gpu/kernels/msl"
)

// Built reports whether this build has the Metal backend.
const Built = true

// perCommandBuffer is the most commands one command buffer holds: Stop
// takes effect between command buffers (about a layer of a 7B model).
const perCommandBuffer = 64

// Backend is the Metal implementation of engine.Backend: the plan of
// package compute run by a Metal device, with the kernels of package
// kernels translated to MSL (package msl).
type Backend struct {
	*compute.Backend
	info Info
}

// New opens the system's default Metal device and prepares the backend's
// programs. It fails, wrapping ErrUnavailable, when there is no device or
// a program does not compile.
func New(opts Options) (*Backend, error) {
	d, err := open()
	if err != nil {
		return nil, err
	}
	cb, err := compute.New(d, "metal", d.info.Name, opts)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return &Backend{Backend: cb, info: d.info}, nil
}

// Probe reports the device New would use.
func Probe() (Info, error) {
	d, err := open()
	if err != nil {
		return Info{}, err
	}
	defer d.Close()
	return d.info, nil
}

// Info describes the backend's GPU.
func (b *Backend) Info() Info { return b.info }

// device is the Metal compute.Device.
type device struct {
	m    *C.lmtl
	info Info
	stop *C.int32_t // the interrupt flag lmtl_exec reads (C memory)
}

// The commands of package compute go to lmtl_exec as they are.
var (
	_ = [1]int{}[unsafe.Sizeof(compute.Cmd{})-C.sizeof_lmtl_cmd]
	_ = [1]int{}[C.sizeof_lmtl_cmd-unsafe.Sizeof(compute.Cmd{})]
	_ = [1]int{}[unsafe.Offsetof(compute.Cmd{}.Buf)-unsafe.Offsetof(C.lmtl_cmd{}.buf)]
	_ = [1]int{}[unsafe.Offsetof(compute.Cmd{}.Off)-unsafe.Offsetof(C.lmtl_cmd{}.off)]
	_ = [1]int{}[unsafe.Offsetof(compute.Cmd{}.Size)-unsafe.Offsetof(C.lmtl_cmd{}.size)]
	_ = [1]int{}[compute.MaxBind-C.LMTL_CMD_MAXBIND]
)

func open() (*device, error) {
	var msg [1024]C.char
	m := C.lmtl_create(&msg[0], C.int(len(msg)))
	if m == nil {
		return nil, fmt.Errorf("%w: %s", ErrUnavailable, C.GoString(&msg[0]))
	}
	var ci C.lmtl_info
	C.lmtl_query(m, &ci)
	d := &device{m: m, stop: (*C.int32_t)(C.calloc(1, 4))}
	d.info = Info{
		Name:           C.GoString(&ci.name[0]),
		Unified:        ci.unified != 0,
		SIMDReductions: ci.simd_reduce != 0,
		WorkingSet:     int64(ci.working_set),
		MaxBuffer:      int64(ci.max_buffer),
	}
	if ci.max_threads < kernels.ElementwiseWG {
		d.Close()
		return nil, fmt.Errorf("%w: %s allows %d threads per threadgroup; the kernels need %d", ErrUnavailable, d.info.Name, ci.max_threads, kernels.ElementwiseWG)
	}
	return d, nil
}

// Limits implements compute.Device.
func (d *device) Limits() compute.Limits {
	return compute.Limits{
		// Shaders index words and floats with 32-bit integers: 2 GiB bindings keep them in range.
		MaxBinding:  min(d.info.MaxBuffer, 1<<31),
		BindAlign:   16,
		ParamsAlign: 16,
		MaxGroups:   65535,
		Subgroups:   d.info.SIMDReductions,
	}
}

// Program implements compute.Device: it compiles the kernel's MSL
// translation.
func (d *device) Program(k kernels.Spec, subgroups bool) (uint32, error) {
	src, err := msl.Source(k, subgroups)
	if err != nil {
		return 0, err
	}
	csrc, entry := C.CString(src), C.CString(kernels.MSLEntry)
	defer C.free(unsafe.Pointer(csrc))
	defer C.free(unsafe.Pointer(entry))
	var log [8192]C.char
	p := C.lmtl_program(d.m, csrc, entry, C.uint32_t(k.WG), &log[0], C.int(len(log)))
	if p == 0 {
		return 0, fmt.Errorf("%s", strings.TrimSpace(C.GoString(&log[0])))
	}
	return uint32(p), nil
}

// NewBuffer implements compute.Device.
func (d *device) NewBuffer(size int64, data []byte) (uint32, error) {
	var ptr unsafe.Pointer
	if data != nil {
		ptr = unsafe.Pointer(unsafe.SliceData(data))
	}
	var oom C.int32_t
	id := C.lmtl_buffer(d.m, C.int64_t(size), ptr, &oom)
	switch {
	case id == 0 && oom != 0:
		return 0, fmt.Errorf("allocate %d MiB on %s: %w", size>>20, d.info.Name, compute.ErrOutOfMemory)
	case id == 0:
		return 0, fmt.Errorf("allocate %d MiB on %s: the buffer could not be filled", size>>20, d.info.Name)
	}
	return uint32(id), nil
}

// WrapBuffer implements compute.Device: on unified memory, weights that
// lie in a mapped file are used in place (newBufferWithBytesNoCopy over
// their pages). The C side checks that the memory maps a file, so Go
// memory is never kept by Metal.
func (d *device) WrapBuffer(data []byte) (uint32, int64, bool) {
	if len(data) == 0 || !d.info.Unified {
		return 0, 0, false
	}
	var off C.int64_t
	id := C.lmtl_wrap(d.m, unsafe.Pointer(unsafe.SliceData(data)), C.int64_t(len(data)), &off)
	return uint32(id), int64(off), id != 0
}

// Run implements compute.Device: the commands run in command buffers of
// perCommandBuffer commands, then the read back; collected buffers are
// released after.
func (d *device) Run(b *compute.Batch) error {
	var cmds *C.lmtl_cmd
	if len(b.Cmds) > 0 {
		cmds = (*C.lmtl_cmd)(unsafe.Pointer(&b.Cmds[0]))
	}
	var params, data, dst unsafe.Pointer
	if len(b.Params) > 0 {
		params = unsafe.Pointer(&b.Params[0])
	}
	if len(b.Data) > 0 {
		data = unsafe.Pointer(&b.Data[0])
	}
	var readBuf C.uint32_t
	var readOff, readLen C.int64_t
	if r := b.Read; r != nil && len(r.Dst) > 0 {
		readBuf, readOff, readLen, dst = C.uint32_t(r.Buf), C.int64_t(r.Off), C.int64_t(len(r.Dst)), unsafe.Pointer(&r.Dst[0])
	}
	var msg [1024]C.char
	status := C.lmtl_exec(d.m, cmds, C.int(len(b.Cmds)), perCommandBuffer, params, C.int64_t(len(b.Params)),
		C.uint32_t(kernels.ParamsSize), data, C.int64_t(len(b.Data)), readBuf, readOff, dst, readLen, d.stop, &msg[0], C.int(len(msg)))
	if len(b.Delete) > 0 {
		C.lmtl_release(d.m, (*C.uint32_t)(unsafe.Pointer(&b.Delete[0])), C.int(len(b.Delete)))
	}
	switch status {
	case 0:
		return nil
	case 2:
		return fmt.Errorf("Metal on %s: %s: %w", d.info.Name, C.GoString(&msg[0]), compute.ErrOutOfMemory)
	}
	return fmt.Errorf("Metal on %s: %s", d.info.Name, C.GoString(&msg[0]))
}

// Interrupt implements compute.Device: lmtl_exec commits no further
// command buffer while the flag is set.
func (d *device) Interrupt(on bool) {
	v := int32(0)
	if on {
		v = 1
	}
	atomic.StoreInt32((*int32)(unsafe.Pointer(d.stop)), v)
}

// Close implements compute.Device.
func (d *device) Close() error {
	C.lmtl_destroy(d.m)
	C.free(unsafe.Pointer(d.stop))
	return nil
}
