package ui

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"

	"github.com/llamadesk/llamadesk/app"
)

// variantTheme is Fyne's default theme with its light/dark variant forced,
// whatever the system prefers (theme.LightTheme and DarkTheme are
// deprecated).
type variantTheme struct {
	fyne.Theme
	variant fyne.ThemeVariant
}

// Color returns the default theme's colour in the forced variant.
func (t variantTheme) Color(n fyne.ThemeColorName, _ fyne.ThemeVariant) color.Color {
	return t.Theme.Color(n, t.variant)
}

// themeFor returns the Fyne theme for a Settings.Theme value.
func themeFor(name string) fyne.Theme {
	switch name {
	case app.ThemeLight:
		return variantTheme{Theme: theme.DefaultTheme(), variant: theme.VariantLight}
	case app.ThemeDark:
		return variantTheme{Theme: theme.DefaultTheme(), variant: theme.VariantDark}
	}
	return theme.DefaultTheme()
}

// applyTheme sets the app's theme from a Settings.Theme value.
func applyTheme(fa fyne.App, name string) { fa.Settings().SetTheme(themeFor(name)) }
