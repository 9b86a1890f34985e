package ui

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"

	"github.com/llamadesk/llamadesk/app"
)

// llamaTheme is Fyne's default theme with colours chosen so that every
// text reaches WCAG AA contrast (4.5:1) on the backgrounds it is drawn on,
// in both variants: secondary text (captions, headings of groups, status
// lines: Fyne's "disabled" colour, which low-importance labels use),
// placeholders, warnings, errors, links, and the text on coloured buttons.
// With forced set, the variant is fixed whatever the system prefers.
type llamaTheme struct {
	fyne.Theme
	forced  bool
	variant fyne.ThemeVariant
}

// Color returns the palette's colour, or the default theme's.
func (t llamaTheme) Color(n fyne.ThemeColorName, v fyne.ThemeVariant) color.Color {
	if t.forced {
		v = t.variant
	}
	p := darkPalette
	if v == theme.VariantLight {
		p = lightPalette
	}
	if c, ok := p[n]; ok {
		return c
	}
	return t.Theme.Color(n, v)
}

func rgb(hex uint32) color.NRGBA {
	return color.NRGBA{R: uint8(hex >> 16), G: uint8(hex >> 8), B: uint8(hex), A: 0xff}
}

func rgba(hex uint32, a uint8) color.NRGBA {
	c := rgb(hex)
	c.A = a
	return c
}

// The palettes: where Fyne's defaults fall short of 4.5:1 (secondary text
// #39393A on #171718 in dark, #E3E3E3 on white in light; orange warnings
// and a white-on-light-blue primary button in light), and the colours the
// window's own elements use (the generating mark, failure states).
var (
	darkPalette = map[fyne.ThemeColorName]color.Color{
		theme.ColorNameBackground:          rgb(0x171718),
		theme.ColorNameForeground:          rgb(0xF3F3F3),
		theme.ColorNameDisabled:            rgb(0xA3A3AB), // secondary text; 5.6:1 on buttons
		theme.ColorNamePlaceHolder:         rgb(0xA8A8AE),
		theme.ColorNamePrimary:             rgb(0x6CB4FA),
		theme.ColorNameHyperlink:           rgb(0x6CB4FA),
		theme.ColorNameForegroundOnPrimary: rgb(0x10141A),
		theme.ColorNameError:               rgb(0xFF7066),
		theme.ColorNameForegroundOnError:   rgb(0x171718),
		theme.ColorNameWarning:             rgb(0xFFA726),
		theme.ColorNameForegroundOnWarning: rgb(0x171718),
		theme.ColorNameSuccess:             rgb(0x66D96B),
		theme.ColorNameForegroundOnSuccess: rgb(0x171718),
		theme.ColorNameSelection:           rgba(0x6CB4FA, 0x38),
		theme.ColorNameFocus:               rgba(0x6CB4FA, 0x7F),
		theme.ColorNamePressed:             rgba(0xFFFFFF, 0x24),
	}
	lightPalette = map[fyne.ThemeColorName]color.Color{
		theme.ColorNameBackground:          rgb(0xFFFFFF),
		theme.ColorNameForeground:          rgb(0x2A2A2E),
		theme.ColorNameDisabled:            rgb(0x5F5F66), // 5.7:1 on the input background
		theme.ColorNamePlaceHolder:         rgb(0x66666D),
		theme.ColorNamePrimary:             rgb(0x1565C0),
		theme.ColorNameHyperlink:           rgb(0x1565C0),
		theme.ColorNameForegroundOnPrimary: rgb(0xFFFFFF),
		theme.ColorNameError:               rgb(0xC62828),
		theme.ColorNameForegroundOnError:   rgb(0xFFFFFF),
		theme.ColorNameWarning:             rgb(0xA8510A),
		theme.ColorNameForegroundOnWarning: rgb(0xFFFFFF),
		theme.ColorNameSuccess:             rgb(0x2E7D32),
		theme.ColorNameForegroundOnSuccess: rgb(0xFFFFFF),
		theme.ColorNameSelection:           rgba(0x1565C0, 0x30),
		theme.ColorNameFocus:               rgba(0x1565C0, 0x7F),
	}
)

// themeFor returns the Fyne theme for a Settings.Theme value.
func themeFor(name string) fyne.Theme {
	switch name {
	case app.ThemeLight:
		return llamaTheme{Theme: theme.DefaultTheme(), forced: true, variant: theme.VariantLight}
	case app.ThemeDark:
		return llamaTheme{Theme: theme.DefaultTheme(), forced: true, variant: theme.VariantDark}
	}
	return llamaTheme{Theme: theme.DefaultTheme()}
}

// applyTheme sets the app's theme from a Settings.Theme value.
func applyTheme(fa fyne.App, name string) { fa.Settings().SetTheme(themeFor(name)) }
