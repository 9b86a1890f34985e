package main

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/png"
	"testing"
)

// TestEncode checks the .ico directory against the images it points to.
func TestEncode(t *testing.T) {
	src := image.NewRGBA(image.Rect(0, 0, 512, 512))
	for y := range 512 {
		for x := range 512 {
			src.SetRGBA(x, y, color.RGBA{uint8(x / 2), uint8(y / 2), 100, 255})
		}
	}
	sizes := []int{256, 64, 48, 32, 16}
	ico, err := encode(src, sizes)
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	if le.Uint16(ico[2:]) != 1 || int(le.Uint16(ico[4:])) != len(sizes) {
		t.Fatalf("header % x", ico[:6])
	}
	for i, s := range sizes {
		e := ico[6+16*i:]
		size, off := le.Uint32(e[8:]), le.Uint32(e[12:])
		img, err := png.Decode(bytes.NewReader(ico[off : off+size]))
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		if img.Bounds().Dx() != s || img.Bounds().Dy() != s || (int(e[0]) != s%256) {
			t.Errorf("entry %d: %v, directory says %d", i, img.Bounds(), e[0])
		}
	}
}
