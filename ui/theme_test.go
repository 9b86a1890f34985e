package ui

import (
	"image/color"
	"math"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"

	"github.com/llamadesk/llamadesk/app"
)

// luminance is WCAG 2's relative luminance of an opaque colour.
func luminance(c color.Color) float64 {
	r, g, b, _ := c.RGBA()
	lin := func(v uint32) float64 {
		s := float64(v) / 0xffff
		if s <= 0.03928 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(r) + 0.7152*lin(g) + 0.0722*lin(b)
}

// contrast is WCAG 2's contrast ratio of two opaque colours.
func contrast(a, b color.Color) float64 {
	la, lb := luminance(a), luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// over composites a (possibly translucent) colour over an opaque one.
func over(top, bottom color.Color) color.Color {
	t := color.NRGBAModel.Convert(top).(color.NRGBA)
	b := color.NRGBAModel.Convert(bottom).(color.NRGBA)
	a := float64(t.A) / 255
	mix := func(x, y uint8) uint8 { return uint8(math.Round(float64(x)*a + float64(y)*(1-a))) }
	return color.NRGBA{R: mix(t.R, b.R), G: mix(t.G, b.G), B: mix(t.B, b.B), A: 0xff}
}

// TestContrastMeetsWCAGAA checks every text colour on every surface it is
// drawn on, in both themes, from the theme's own colours: 4.5:1 (WCAG AA
// for normal text; captions are small, so no text gets the large-text 3:1).
func TestContrastMeetsWCAGAA(t *testing.T) {
	texts := []fyne.ThemeColorName{theme.ColorNameForeground, theme.ColorNameDisabled, theme.ColorNamePrimary,
		theme.ColorNameHyperlink, theme.ColorNameError, theme.ColorNameWarning, theme.ColorNameSuccess}
	surfaces := []fyne.ThemeColorName{theme.ColorNameBackground, theme.ColorNameInputBackground, theme.ColorNameButton,
		theme.ColorNameMenuBackground, theme.ColorNameOverlayBackground, theme.ColorNameHeaderBackground}
	for _, name := range []string{app.ThemeDark, app.ThemeLight} {
		th := themeFor(name)
		c := func(n fyne.ThemeColorName) color.Color { return th.Color(n, theme.VariantDark) }
		bg := c(theme.ColorNameBackground)
		check := func(what string, fg, back color.Color) {
			t.Helper()
			if r := contrast(fg, back); r < 4.5 {
				t.Errorf("%s theme: %s: contrast %.2f:1, want at least 4.5:1", name, what, r)
			}
		}
		for _, s := range surfaces {
			back := over(c(s), bg)
			for _, tx := range texts {
				check(string(tx)+" text on "+string(s), c(tx), back)
			}
		}
		// Rows under the pointer, selected rows, pressed buttons.
		for _, tint := range []fyne.ThemeColorName{theme.ColorNameHover, theme.ColorNameSelection, theme.ColorNamePressed} {
			check("foreground on "+string(tint), c(theme.ColorNameForeground), over(c(tint), bg))
			check("secondary text on "+string(tint), c(theme.ColorNameDisabled), over(c(tint), bg))
		}
		check("placeholder in an input", c(theme.ColorNamePlaceHolder), over(c(theme.ColorNameInputBackground), bg))
		// Coloured buttons: primary (Send, New chat), danger (Stop, Delete), warning, success.
		for _, pair := range [][2]fyne.ThemeColorName{
			{theme.ColorNameForegroundOnPrimary, theme.ColorNamePrimary},
			{theme.ColorNameForegroundOnError, theme.ColorNameError},
			{theme.ColorNameForegroundOnWarning, theme.ColorNameWarning},
			{theme.ColorNameForegroundOnSuccess, theme.ColorNameSuccess},
		} {
			check(string(pair[0])+" on "+string(pair[1]), c(pair[0]), over(c(pair[1]), bg))
		}
	}
}

// TestDefaultThemeFailsContrast shows the test can fail: Fyne's own
// palette does not pass it.
func TestDefaultThemeFailsContrast(t *testing.T) {
	def := theme.DefaultTheme()
	fg := def.Color(theme.ColorNameDisabled, theme.VariantDark)
	if r := contrast(fg, def.Color(theme.ColorNameBackground, theme.VariantDark)); r >= 4.5 {
		t.Fatalf("Fyne's dark secondary text has %.2f:1; the test above would not catch it", r)
	}
}
