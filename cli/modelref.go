package cli

import (
	"os"
)

// modelPath resolves a --model value: a path to a file is used as it is;
// anything else is looked up as a catalog name or a file of the models
// folder (see app.Models.ModelPath).
func modelPath(env *Env, ref string) (string, error) {
	if ref == "" {
		return "", usageError("--model is required (a file, a catalog name such as llama-2-7b-chat:Q4_K_M, or a file of the models folder)")
	}
	if fi, err := os.Stat(ref); err == nil && !fi.IsDir() {
		return ref, nil
	}
	if env == nil {
		return ref, nil
	}
	svc, err := openModels(env, 0, 0)
	if err != nil {
		return "", err
	}
	return svc.ModelPath(ref)
}
