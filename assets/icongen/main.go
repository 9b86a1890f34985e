// Command icongen draws Llamadesk's application icon (a llama's face in a
// speech bubble on a warm rounded square) and writes it as a 512×512 PNG.
// It is drawn from simple shapes, so the icon is our own artwork:
//
//	go run ./assets/icongen -o assets/icon.png
package main

import (
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
)

// size is the icon's width and height in pixels.
const size = 512

// samples is the supersampling grid per pixel axis (antialiasing).
const samples = 4

// shape reports whether a point (in icon pixels) is inside it.
type shape func(x, y float64) bool

// layer is a shape painted in one colour, or in a vertical gradient from
// top to bottom when bottom is set.
type layer struct {
	inside      shape
	top, bottom color.NRGBA
	y0, y1      float64 // gradient extent
}

func roundedRect(x0, y0, x1, y1, r float64) shape {
	return func(x, y float64) bool {
		if x < x0 || x > x1 || y < y0 || y > y1 {
			return false
		}
		cx := math.Max(x0+r, math.Min(x, x1-r))
		cy := math.Max(y0+r, math.Min(y, y1-r))
		return (x-cx)*(x-cx)+(y-cy)*(y-cy) <= r*r
	}
}

func ellipse(cx, cy, rx, ry, degrees float64) shape {
	a := degrees * math.Pi / 180
	sin, cos := math.Sincos(a)
	return func(x, y float64) bool {
		dx, dy := x-cx, y-cy
		u := dx*cos + dy*sin
		v := -dx*sin + dy*cos
		return (u*u)/(rx*rx)+(v*v)/(ry*ry) <= 1
	}
}

func circle(cx, cy, r float64) shape { return ellipse(cx, cy, r, r, 0) }

func triangle(ax, ay, bx, by, cx, cy float64) shape {
	side := func(px, py, qx, qy, x, y float64) float64 { return (qx-px)*(y-py) - (qy-py)*(x-px) }
	return func(x, y float64) bool {
		d1 := side(ax, ay, bx, by, x, y)
		d2 := side(bx, by, cx, cy, x, y)
		d3 := side(cx, cy, ax, ay, x, y)
		neg := d1 < 0 || d2 < 0 || d3 < 0
		pos := d1 > 0 || d2 > 0 || d3 > 0
		return !(neg && pos)
	}
}

func solid(s shape, c color.NRGBA) layer { return layer{inside: s, top: c} }

func hex(v uint32) color.NRGBA {
	return color.NRGBA{uint8(v >> 16), uint8(v >> 8), uint8(v), 255}
}

// layers lists the icon's shapes, back to front.
func layers() []layer {
	wool := hex(0xF6EAD3)
	fur := hex(0xC98E5C)
	dark := hex(0x3A2A22)
	return []layer{
		{inside: roundedRect(16, 16, 496, 496, 104), top: hex(0xFFB14E), bottom: hex(0xF0605D), y0: 16, y1: 496},
		solid(roundedRect(64, 84, 448, 384, 84), hex(0xFFFFFF)),
		solid(triangle(128, 360, 214, 374, 98, 452), hex(0xFFFFFF)),
		// Ears, then the head with its woolly top, then the face.
		solid(ellipse(204, 146, 24, 54, -18), hex(0x9C6A42)),
		solid(ellipse(308, 146, 24, 54, 18), hex(0x9C6A42)),
		solid(ellipse(206, 152, 11, 34, -18), hex(0xE7B98E)),
		solid(ellipse(306, 152, 11, 34, 18), hex(0xE7B98E)),
		solid(ellipse(256, 238, 80, 92, 0), fur),
		solid(circle(222, 164, 30), wool),
		solid(circle(256, 152, 32), wool),
		solid(circle(290, 164, 30), wool),
		solid(ellipse(256, 292, 52, 40, 0), wool),
		solid(circle(224, 228, 11), dark),
		solid(circle(288, 228, 11), dark),
		solid(circle(227, 224, 3.5), hex(0xFFFFFF)),
		solid(circle(291, 224, 3.5), hex(0xFFFFFF)),
		solid(ellipse(243, 284, 6, 4.5, 0), dark),
		solid(ellipse(269, 284, 6, 4.5, 0), dark),
		solid(roundedRect(246, 304, 266, 310, 3), dark),
	}
}

// colourAt returns a layer's colour at height y.
func (l layer) colourAt(y float64) color.NRGBA {
	if l.bottom == (color.NRGBA{}) {
		return l.top
	}
	t := math.Max(0, math.Min(1, (y-l.y0)/(l.y1-l.y0)))
	mix := func(a, b uint8) uint8 { return uint8(math.Round(float64(a)*(1-t) + float64(b)*t)) }
	return color.NRGBA{mix(l.top.R, l.bottom.R), mix(l.top.G, l.bottom.G), mix(l.top.B, l.bottom.B), 255}
}

// draw renders the layers with samples×samples supersampling.
func draw(ls []layer) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	for py := 0; py < size; py++ {
		for px := 0; px < size; px++ {
			var r, g, b, a float64 // premultiplied sums
			for sy := 0; sy < samples; sy++ {
				for sx := 0; sx < samples; sx++ {
					x := float64(px) + (float64(sx)+0.5)/samples
					y := float64(py) + (float64(sy)+0.5)/samples
					var cr, cg, cb, ca float64
					for _, l := range ls {
						if l.inside(x, y) {
							c := l.colourAt(y)
							cr, cg, cb, ca = float64(c.R), float64(c.G), float64(c.B), 1
						}
					}
					r, g, b, a = r+cr*ca, g+cg*ca, b+cb*ca, a+ca
				}
			}
			if a == 0 {
				continue
			}
			n := float64(samples * samples)
			img.SetNRGBA(px, py, color.NRGBA{
				R: uint8(math.Round(r / a)), G: uint8(math.Round(g / a)), B: uint8(math.Round(b / a)),
				A: uint8(math.Round(255 * a / n)),
			})
		}
	}
	return img
}

func main() {
	out := flag.String("o", "icon.png", "where to write the PNG")
	flag.Parse()
	f, err := os.Create(*out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "icongen:", err)
		os.Exit(1)
	}
	if err := png.Encode(f, draw(layers())); err != nil {
		f.Close()
		fmt.Fprintln(os.Stderr, "icongen:", err)
		os.Exit(1)
	}
	if err := f.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "icongen:", err)
		os.Exit(1)
	}
}
