// Package assets holds Llamadesk's data files, embedded in the binary: the
// application icon, the built-in personas and the Llama 2 model catalog.
package assets
