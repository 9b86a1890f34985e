package assets

import (
	_ "embed"
	"slices"
)

//go:generate go run ./icongen -o icon.png

//go:embed icon.png
var iconPNG []byte

// IconPNG returns the application icon, a 512×512 PNG drawn by
// assets/icongen (a llama's face in a speech bubble). The caller owns the
// returned copy.
func IconPNG() []byte { return slices.Clone(iconPNG) }
