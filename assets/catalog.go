package assets

import (
	_ "embed"
	"slices"
)

//go:embed catalog.json
var catalogJSON []byte

// CatalogJSON returns the Llama 2 model catalog (catalog.json): the GGUF
// files of each model with their repository, size, architecture numbers and
// licence. Package models parses it. The caller owns the returned copy.
func CatalogJSON() []byte { return slices.Clone(catalogJSON) }
