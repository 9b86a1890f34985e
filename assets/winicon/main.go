// Command winicon writes the application icon (assets/icon.png) as a
// Windows icon file: PNG-compressed images of 256, 64, 48, 32 and 16
// pixels, each halved from the one before by averaging. `make windows`
// compiles it into llamadesk.exe's resources.
//
//	go run ./assets/winicon -in assets/icon.png -out llamadesk.ico
package main

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
)

func main() {
	in := flag.String("in", "assets/icon.png", "the square PNG icon")
	out := flag.String("out", "llamadesk.ico", "the .ico file to write")
	flag.Parse()
	if err := run(*in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "winicon:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	ico, err := encode(img, []int{256, 64, 48, 32, 16})
	if err != nil {
		return err
	}
	return os.WriteFile(out, ico, 0o644)
}

// encode makes an .ico of img at each size (largest first).
func encode(img image.Image, sizes []int) ([]byte, error) {
	var pngs [][]byte
	cur := img
	for _, s := range sizes {
		for cur.Bounds().Dx() >= 2*s {
			cur = halve(cur)
		}
		scaled := cur
		if cur.Bounds().Dx() != s {
			scaled = resize(cur, s)
		}
		var b bytes.Buffer
		if err := png.Encode(&b, scaled); err != nil {
			return nil, err
		}
		pngs = append(pngs, b.Bytes())
	}
	var b bytes.Buffer
	le := binary.LittleEndian
	binary.Write(&b, le, [3]uint16{0, 1, uint16(len(sizes))}) // reserved, type icon, count
	off := 6 + 16*len(sizes)
	for i, s := range sizes {
		dim := byte(s)
		if s >= 256 {
			dim = 0 // 256
		}
		b.Write([]byte{dim, dim, 0, 0})
		binary.Write(&b, le, [2]uint16{1, 32}) // planes, bits per pixel
		binary.Write(&b, le, [2]uint32{uint32(len(pngs[i])), uint32(off)})
		off += len(pngs[i])
	}
	for _, p := range pngs {
		b.Write(p)
	}
	return b.Bytes(), nil
}

// halve averages 2×2 blocks of pixels (premultiplied colours).
func halve(img image.Image) image.Image {
	r := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, r.Dx()/2, r.Dy()/2))
	for y := range out.Rect.Dy() {
		for x := range out.Rect.Dx() {
			var s [4]uint32
			for _, d := range [4][2]int{{0, 0}, {1, 0}, {0, 1}, {1, 1}} {
				c := color.RGBAModel.Convert(img.At(r.Min.X+2*x+d[0], r.Min.Y+2*y+d[1])).(color.RGBA)
				s[0] += uint32(c.R)
				s[1] += uint32(c.G)
				s[2] += uint32(c.B)
				s[3] += uint32(c.A)
			}
			out.SetRGBA(x, y, color.RGBA{uint8((s[0] + 2) / 4), uint8((s[1] + 2) / 4), uint8((s[2] + 2) / 4), uint8((s[3] + 2) / 4)})
		}
	}
	return out
}

// resize scales img to s×s by nearest-neighbour sampling of the
// pre-halved image (a step of less than two).
func resize(img image.Image, s int) image.Image {
	r := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, s, s))
	for y := range s {
		for x := range s {
			out.Set(x, y, img.At(r.Min.X+x*r.Dx()/s, r.Min.Y+y*r.Dy()/s))
		}
	}
	return out
}
