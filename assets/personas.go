package assets

import (
	"bytes"
	_ "embed"
)

// personasJSON is the built-in persona set (format "llamadesk.personas",
// version 1; see package history).
//
//go:embed personas.json
var personasJSON []byte

// Personas returns the built-in personas as JSON: an object with "format"
// ("llamadesk.personas"), "version" (1) and "personas", each with a name, a
// system prompt and optional sampling defaults and preferred model. The
// caller owns the returned bytes.
func Personas() []byte { return bytes.Clone(personasJSON) }
