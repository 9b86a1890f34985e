package chat

import (
	"bytes"
	"strings"
	"testing"

	"github.com/llamadesk/llamadesk/engine/gguf"
	"github.com/llamadesk/llamadesk/internal/testenv"
)

// metaFile writes and parses a real GGUF file holding the given string
// metadata and no tensors.
func metaFile(t *testing.T, kv map[string]string) *gguf.File {
	t.Helper()
	w := gguf.NewWriter()
	if err := w.Set("general.architecture", "llama"); err != nil {
		t.Fatal(err)
	}
	for k, v := range kv {
		if err := w.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// metaLlama2HF is Meta's template for the Llama-2-*-chat-hf models, as it
// appears in GGUF files converted from them.
const metaLlama2HF = "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}"

// llama2WithDefault is a Llama 2 template variant that adds Meta's default
// system prompt when there is none: not a known text, but all the markers.
const llama2WithDefault = "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = 'You are a helpful, respectful and honest assistant.' %}{% endif %}{% for message in loop_messages %}{% if loop.index0 == 0 %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' ' + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}"

// mistralInstruct is Mistral-7B-Instruct-v0.1's template: [INST] but no <<SYS>>.
const mistralInstruct = "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}"

const chatML = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"

func TestDetect(t *testing.T) {
	tests := []struct {
		name     string
		meta     map[string]string
		fileName string
		source   Source
		style    Style
	}{
		{"Meta's HF template", map[string]string{keyChatTemplate: metaLlama2HF, keyName: "LLaMA v2"}, "", FileTemplate, Llama2Chat},
		{"HF template without the alternation check", map[string]string{keyChatTemplate: llama2Templates[1]}, "", FileTemplate, Llama2Chat},
		{"HF template, whitespace changed", map[string]string{keyChatTemplate: strings.ReplaceAll(metaLlama2HF, "%}{%", "%}\n  {%")}, "", FileTemplate, Llama2Chat},
		{"Llama 2 variant with a default system prompt", map[string]string{keyChatTemplate: llama2WithDefault}, "", FileTemplate, Llama2Chat},
		{"Mistral template", map[string]string{keyChatTemplate: mistralInstruct, keyName: "mistral-7b-instruct"}, "", UnsupportedTemplate, Llama2Chat},
		{"ChatML template", map[string]string{keyChatTemplate: chatML}, "", UnsupportedTemplate, Llama2Chat},
		{"blank template counts as none", map[string]string{keyChatTemplate: " \n", keyName: "Llama-2-7b-chat-hf"}, "", NoTemplate, Llama2Chat},
		{"no template, chat in the name", map[string]string{keyName: "Llama-2-13b-chat-hf"}, "", NoTemplate, Llama2Chat},
		{"no template, instruct fine-tune", map[string]string{keyName: "Llama 2", keyFinetune: "Instruct"}, "", NoTemplate, Llama2Chat},
		{"no template, chat in the base name", map[string]string{keyName: "x", keyBasename: "llama-2-chat"}, "", NoTemplate, Llama2Chat},
		{"no template, base model", map[string]string{keyName: "LLaMA v2"}, "", BaseModel, Completion},
		{"no metadata at all", nil, "", BaseModel, Completion},
		{"no template, chat in the file name", map[string]string{keyName: "LLaMA v2"}, "/models/llama-2-7b-chat.Q4_K_M.gguf", NoTemplate, Llama2Chat},
		{"no template, base file name", map[string]string{keyName: "LLaMA v2"}, "/models/chat/llama-2-7b.Q4_K_M.gguf", BaseModel, Completion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := metaFile(t, tt.meta)
			got := DetectNamed(f, tt.fileName)
			if got.Source != tt.source || got.Style != tt.style {
				t.Fatalf("DetectNamed = %+v (%s), want source %d, style %s", got, got.Describe(), tt.source, tt.style)
			}
			if tt.fileName == "" && Detect(f) != got {
				t.Fatalf("Detect and DetectNamed(f, \"\") differ")
			}
			if (got.Warning() != "") != (tt.source == UnsupportedTemplate) {
				t.Fatalf("Warning() = %q for source %d", got.Warning(), got.Source)
			}
		})
	}
}

func TestDetectSharedModels(t *testing.T) {
	for _, name := range []string{"chat-q4_k_m", "tiny-f16"} {
		f, err := gguf.Open(testenv.Path(t, "models", name+".gguf"))
		if err != nil {
			t.Fatal(err)
		}
		got := Detect(f)
		f.Close()
		if got.Source != FileTemplate {
			t.Fatalf("%s: Detect = %s, want the file's Llama 2 template", name, got.Describe())
		}
	}
}

func TestFormatDescribe(t *testing.T) {
	tests := []struct {
		f    Format
		want string
	}{
		{Format{Style: Llama2Chat, Source: FileTemplate}, "file's chat_template (Llama 2)"},
		{Format{Style: Llama2Chat, Source: NoTemplate}, "built-in Llama 2 format (file has no chat template)"},
		{Format{Style: Llama2Chat, Source: UnsupportedTemplate}, "built-in Llama 2 format (the file's chat_template is not the Llama 2 template and is not supported)"},
		{Format{Style: Completion, Source: BaseModel}, "plain completion (base model: no chat template, and the name does not say chat or instruct)"},
		{Llama2(), "Llama 2 chat (chosen)"},
		{PlainCompletion(), "plain completion (chosen)"},
	}
	for _, tt := range tests {
		if got := tt.f.Describe(); got != tt.want {
			t.Errorf("Describe() = %q, want %q", got, tt.want)
		}
	}
}

func TestIsLlama2Template(t *testing.T) {
	tests := []struct {
		name string
		tmpl string
		want bool
	}{
		{"Meta's", metaLlama2HF, true},
		{"with default system prompt", llama2WithDefault, true},
		{"Mistral", mistralInstruct, false},
		{"ChatML", chatML, false},
		{"empty", "", false},
		{"markers without BOS per turn", "[INST] <<SYS>> [/INST]", false},
	}
	for _, tt := range tests {
		if got := IsLlama2Template(tt.tmpl); got != tt.want {
			t.Errorf("%s: IsLlama2Template = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// FuzzIsLlama2Template feeds arbitrary template text (outside data) to the
// recogniser: it must not panic, and must agree with its marker rule.
func FuzzIsLlama2Template(f *testing.F) {
	f.Add(metaLlama2HF)
	f.Add(chatML)
	f.Add("")
	f.Fuzz(func(t *testing.T, tmpl string) {
		got := IsLlama2Template(tmpl)
		markers := true
		for _, m := range llama2Markers {
			markers = markers && strings.Contains(tmpl, m)
		}
		if markers && !got {
			t.Fatalf("template with every marker not recognised: %q", tmpl)
		}
	})
}
