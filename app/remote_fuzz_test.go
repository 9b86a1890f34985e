package app

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzRemoteStream feeds any bytes to the reading of a remote server's
// streamed reply and to the reading of its error bodies: they end in chunks
// or an error, never a panic.
func FuzzRemoteStream(f *testing.F) {
	for _, seed := range []string{
		"data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"Hi\"},\"finish_reason\":null}]}\n\n" +
			"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":34,\"completion_tokens\":2,\"prompt_tokens_details\":{\"cached_tokens\":33}}}\n\ndata: [DONE]\n\n",
		": keep-alive\n\nevent: message\ndata:{\"choices\":[{\"delta\":{\"content\":null},\"finish_reason\":\"length\"}]}\n",
		"data: {\"error\":{\"message\":\"boom\",\"type\":\"server_error\"}}\n\n",
		"data: {\"error\":\"plain\"}\n", "data: not json\n", "data: [DONE]", "",
		`{"error":{"message":"bad key"}}`, `{"detail":[{"msg":"x"}]}`, `<html>502</html>`,
	} {
		f.Add([]byte(seed))
	}
	c := &remoteClient{remote: Remote{Name: "box", URL: "http://box"}}
	f.Fuzz(func(t *testing.T, data []byte) {
		var text strings.Builder
		err := c.readStream(bytes.NewReader(data), func(ch remoteChunk) error {
			for _, choice := range ch.Choices {
				if choice.Delta.Content != nil {
					text.WriteString(*choice.Delta.Content)
				}
			}
			return nil
		})
		if err != nil && err.Error() == "" {
			t.Fatal("an error without words")
		}
		if msg := errorMessage(data); len(msg) > maxMessage+len("…") || !utf8.ValidString(msg) {
			t.Fatalf("error message %q: want valid UTF-8, at most %d bytes", msg, maxMessage)
		}
	})
}
