package chat

import (
	"path/filepath"
	"strings"

	"github.com/llamadesk/llamadesk/engine/gguf"
)

// Metadata keys Detect reads.
const (
	keyChatTemplate = "tokenizer.chat_template"
	keyName         = "general.name"
	keyBasename     = "general.basename"
	keyFinetune     = "general.finetune"
)

// Style is how a conversation becomes a prompt.
type Style int

const (
	// Llama2Chat is the Llama 2 chat format:
	// <s>[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST] {assistant} </s><s>[INST] {user} [/INST]
	Llama2Chat Style = iota
	// Completion is plain text completion for base (non-chat) models: the
	// system prompt, then the messages' text as it is, for the model to
	// continue.
	Completion
)

// String names the style.
func (s Style) String() string {
	switch s {
	case Llama2Chat:
		return "Llama 2 chat"
	case Completion:
		return "plain completion"
	}
	return "unknown style"
}

// Source says why a Format was chosen.
type Source int

const (
	// Chosen: the caller chose the format (Llama2 or PlainCompletion).
	Chosen Source = iota
	// FileTemplate: the file's chat_template is the Llama 2 template.
	FileTemplate
	// NoTemplate: the file has no chat template; its name says it is a chat model.
	NoTemplate
	// UnsupportedTemplate: the file's chat_template is not the Llama 2
	// template; the built-in Llama 2 format is used instead.
	UnsupportedTemplate
	// BaseModel: the file has no chat template and its name does not say
	// "chat" or "instruct", so it is taken for a base model.
	BaseModel
)

// Format is the prompt format of a model and the reason it was chosen.
type Format struct {
	Style  Style
	Source Source
	// Template is the file's tokenizer.chat_template, "" when it has none.
	Template string
}

// Llama2 returns the built-in Llama 2 chat format, as chosen by the caller.
func Llama2() Format { return Format{Style: Llama2Chat, Source: Chosen} }

// PlainCompletion returns plain completion, as chosen by the caller.
func PlainCompletion() Format { return Format{Style: Completion, Source: Chosen} }

// IsChat reports whether the format wraps messages in [INST] … [/INST].
func (f Format) IsChat() bool { return f.Style == Llama2Chat }

// Describe says, for a person, which format is used and why.
func (f Format) Describe() string {
	switch f.Source {
	case FileTemplate:
		return "file's chat_template (Llama 2)"
	case NoTemplate:
		return "built-in Llama 2 format (file has no chat template)"
	case UnsupportedTemplate:
		return "built-in Llama 2 format (the file's chat_template is not the Llama 2 template and is not supported)"
	case BaseModel:
		return "plain completion (base model: no chat template, and the name does not say chat or instruct)"
	}
	return f.Style.String() + " (chosen)"
}

// Warning returns a message worth showing a person, or "" when all is well.
func (f Format) Warning() string {
	if f.Source == UnsupportedTemplate {
		return "this model's chat template is not the Llama 2 template and is not supported; using the built-in Llama 2 format, which may not suit the model"
	}
	return ""
}

// llama2Templates are the Jinja chat templates known to be Llama 2's, with
// whitespace normalised: Meta's Hugging Face template for the Llama-2-*-chat
// models, with and without its check that roles alternate.
var llama2Templates = []string{
	normalizeSpace("{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}"),
	normalizeSpace("{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}"),
}

// llama2Markers are what every variant of the Llama 2 template contains:
// the instruction brackets, the system block, and a BOS before each [INST].
var llama2Markers = []string{"[INST]", "[/INST]", "<<SYS>>", "bos_token + '[INST] '"}

func normalizeSpace(s string) string { return strings.Join(strings.Fields(s), " ") }

// IsLlama2Template reports whether a Jinja chat template is the Llama 2
// template: one of the known ones, whitespace aside, or one with all of its
// distinctive markers.
func IsLlama2Template(tmpl string) bool {
	norm := normalizeSpace(tmpl)
	for _, known := range llama2Templates {
		if norm == known {
			return true
		}
	}
	for _, m := range llama2Markers {
		if !strings.Contains(tmpl, m) {
			return false
		}
	}
	return true
}

// Detect chooses the format for a model from its metadata: the Llama 2 chat
// format when the file's chat_template is the Llama 2 template; the built-in
// Llama 2 format, with a warning, when it is another template; and, when the
// file has no template, the built-in Llama 2 format if the model's name says
// "chat" or "instruct", plain completion otherwise. Many 2023 Llama 2 chat
// GGUFs carry neither a template nor "chat" in general.name; DetectNamed
// also looks at the file name.
func Detect(f *gguf.File) Format { return DetectNamed(f, "") }

// DetectNamed is Detect that also looks for "chat" or "instruct" in the name
// of the model file (a path or a base name; "" for none).
func DetectNamed(f *gguf.File, fileName string) Format {
	if tmpl, ok := f.String(keyChatTemplate); ok && strings.TrimSpace(tmpl) != "" {
		if IsLlama2Template(tmpl) {
			return Format{Style: Llama2Chat, Source: FileTemplate, Template: tmpl}
		}
		return Format{Style: Llama2Chat, Source: UnsupportedTemplate, Template: tmpl}
	}
	var names []string
	if fileName != "" {
		names = append(names, filepath.Base(fileName))
	}
	for _, key := range []string{keyName, keyBasename, keyFinetune} {
		if s, ok := f.String(key); ok {
			names = append(names, s)
		}
	}
	if namesChat(names) {
		return Format{Style: Llama2Chat, Source: NoTemplate}
	}
	return Format{Style: Completion, Source: BaseModel}
}

// namesChat reports whether any of the names marks a chat-tuned model.
func namesChat(names []string) bool {
	for _, n := range names {
		n = strings.ToLower(n)
		if strings.Contains(n, "chat") || strings.Contains(n, "instruct") {
			return true
		}
	}
	return false
}
