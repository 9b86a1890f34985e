package gguf

import "sort"

// fileTypeNames maps general.file_type (llama.cpp's llama_ftype) to the
// quantization names people know, such as "Q4_K_M".
var fileTypeNames = map[uint64]string{
	0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1",
	10: "Q2_K", 11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M",
	16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K", 21: "Q2_K_S", 32: "BF16",
}

// TypeUsage counts the tensors, elements and bytes of one tensor type.
type TypeUsage struct {
	Type       string `json:"type"`
	Tensors    int    `json:"tensors"`
	Parameters int64  `json:"parameters"`
	Bytes      int64  `json:"bytes"`
}

// Summary describes a file's contents in the terms a person uses.
type Summary struct {
	Name         string      `json:"name"`
	Architecture string      `json:"architecture"`
	Parameters   int64       `json:"parameters"`
	Quantization string      `json:"quantization"`
	TensorTypes  []TypeUsage `json:"tensor_types"`
	TensorBytes  int64       `json:"tensor_bytes"`
}

// Summarize counts the parameters and the quantization mix of a file. The
// quantization is general.file_type's name when the file has one, else the
// tensor type holding the most parameters.
func Summarize(f *File) Summary {
	s := Summary{Architecture: f.Architecture()}
	s.Name, _ = f.String("general.name")
	byType := map[TensorType]*TypeUsage{}
	for i := range f.Tensors {
		t := &f.Tensors[i]
		u := byType[t.Type]
		if u == nil {
			u = &TypeUsage{Type: t.Type.String()}
			byType[t.Type] = u
		}
		u.Tensors++
		u.Parameters += int64(t.Elements())
		u.Bytes += int64(t.Size)
		s.Parameters += int64(t.Elements())
		s.TensorBytes += int64(t.Size)
	}
	for _, u := range byType {
		s.TensorTypes = append(s.TensorTypes, *u)
	}
	sort.Slice(s.TensorTypes, func(i, j int) bool {
		a, b := s.TensorTypes[i], s.TensorTypes[j]
		if a.Parameters != b.Parameters {
			return a.Parameters > b.Parameters
		}
		return a.Type < b.Type
	})
	if ft, ok := f.Uint("general.file_type"); ok && fileTypeNames[ft] != "" {
		s.Quantization = fileTypeNames[ft]
	} else if len(s.TensorTypes) > 0 {
		s.Quantization = s.TensorTypes[0].Type
	}
	return s
}
